//! The project file, `nplc.toml` (docs/project.md): where a repository's
//! sources are, where `nplc build` writes, the population file of
//! `matrix`, `explain` and the language server, and the warnings that
//! fail a build. Input: a directory to search from (upwards, as cargo
//! finds `Cargo.toml`) and the file's text. Output: a [`Project`] with
//! paths resolved against the file's directory, or a diagnostic (E0004)
//! that points at the line of the mistake.

use crate::diag::{Diagnostic, Severity};
use crate::source::{SourceMap, Span};
use serde::Deserialize;
use std::path::{Component, Path, PathBuf};

pub const FILE_NAME: &str = "nplc.toml";

/// A loaded project file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The project file itself.
    pub file: PathBuf,
    /// Its directory: relative paths in it are relative to this.
    pub root: PathBuf,
    /// `.npl` files or directories (default: the root).
    pub sources: Vec<PathBuf>,
    /// `nplc build`'s output directory.
    pub output: Option<PathBuf>,
    /// A population file (docs/population.md).
    pub population: Option<PathBuf>,
    /// Warning codes that fail the build as errors; `warnings` for all.
    pub deny: Vec<String>,
    /// `nplc build`'s target (`k8s` or `cilium`, docs/targets.md), if given.
    pub target: Option<crate::emit::Target>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    sources: Option<Vec<toml::Spanned<String>>>,
    output: Option<String>,
    population: Option<String>,
    deny: Option<Vec<toml::Spanned<String>>>,
    target: Option<toml::Spanned<String>>,
}

/// Why a project file could not be used.
#[derive(Debug)]
pub enum ProjectError {
    /// It cannot be read (exit 2, E0002).
    Io(String),
    /// It is not a valid project file (exit 2): the diagnostic points into
    /// `sources`, which holds the file.
    Malformed {
        sources: SourceMap,
        diagnostic: Box<Diagnostic>,
    },
}

/// The nearest `nplc.toml` in `start` or a directory above it.
pub fn find(start: &Path) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let f = d.join(FILE_NAME);
        if f.is_file() {
            return Some(f);
        }
        dir = d.parent();
    }
    None
}

/// Reads and checks a project file.
pub fn load(file: &Path) -> Result<Project, ProjectError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        ProjectError::Io(format!(
            "cannot read `{}`: {}",
            file.display(),
            crate::diag::io_msg(&e)
        ))
    })?;
    parse(file, &text)
}

/// Checks the text of a project file found at `file`.
pub fn parse(file: &Path, text: &str) -> Result<Project, ProjectError> {
    let mut sources = SourceMap::new();
    let id = sources.add(display(file), text.to_string());
    let malformed = |sources: SourceMap, d: Diagnostic| ProjectError::Malformed {
        sources,
        diagnostic: Box::new(d),
    };
    let raw: Raw = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let span = e
                .span()
                .map(|r| Span::new(id, r.start, r.end.max(r.start)))
                .unwrap_or(Span::new(id, 0, 0));
            let msg = e.message().trim_end_matches('.').to_string();
            let msg = lowercase_first(&msg);
            let d = Diagnostic::error("E0004", format!("`{FILE_NAME}` is not a valid project file: {msg}"))
                .at(span, "here")
                .with_help("the keys are `sources` (a list of paths), `output`, `population` (paths), `deny` (a list of warning codes, or `warnings`) and `target` (`k8s` or `cilium`); see docs/project.md");
            return Err(malformed(sources, d));
        }
    };
    let root = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut deny = Vec::new();
    for c in raw.deny.into_iter().flatten() {
        let code = c.get_ref().clone();
        let ok = code == "warnings"
            || crate::codes::lookup(&code).is_some_and(|k| k.severity == Severity::Warning);
        if !ok {
            let r = c.span();
            let d = Diagnostic::error("E0004", format!("`{code}` is not a warning code"))
                .at(Span::new(id, r.start, r.end), "in `deny`")
                .with_help("list warning codes such as `W0706` (docs/diagnostics.md), or `warnings` for every warning; errors fail a build anyway, and notes are not findings");
            return Err(malformed(sources, d));
        }
        deny.push(code);
    }
    let target = match raw.target {
        None => None,
        Some(t) => match crate::emit::Target::from_name(t.get_ref()) {
            Some(t) => Some(t),
            None => {
                let r = t.span();
                let d = Diagnostic::error(
                    "E0004",
                    format!("`{}` is not a target", t.get_ref()),
                )
                .at(Span::new(id, r.start, r.end), "in `target`")
                .with_help("the targets are `k8s` (NetworkPolicy, the default) and `cilium` (CiliumNetworkPolicy); see docs/targets.md");
                return Err(malformed(sources, d));
            }
        },
    };
    let srcs: Vec<PathBuf> = match raw.sources {
        Some(list) => {
            if list.is_empty() {
                let d = Diagnostic::error("E0004", "`sources` is empty")
                    .at(Span::new(id, 0, 0), "in this file")
                    .with_help("name the `.npl` files or directories to read, or leave `sources` out to read every `.npl` file under this directory");
                return Err(malformed(sources, d));
            }
            list.into_iter()
                .map(|s| root.join(s.into_inner()))
                .collect()
        }
        None => vec![root.clone()],
    };
    Ok(Project {
        file: file.to_path_buf(),
        sources: srcs.iter().map(|p| normal(p)).collect(),
        output: raw.output.map(|o| normal(&root.join(o))),
        population: raw.population.map(|p| normal(&root.join(p))),
        deny,
        target,
        root,
    })
}

impl Project {
    /// Turns the warnings the project denies into errors (with a note
    /// saying why).
    pub fn deny(&self, diags: &mut [Diagnostic]) {
        if self.deny.is_empty() {
            return;
        }
        let all = self.deny.iter().any(|d| d == "warnings");
        for d in diags.iter_mut() {
            if d.severity == Severity::Warning && (all || self.deny.iter().any(|c| c == d.code)) {
                d.severity = Severity::Error;
                d.notes
                    .push(format!("`{}` is denied by `{FILE_NAME}`", d.code));
            }
        }
    }
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn display(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// `p` without `.` components, and relative to the working directory when
/// it lies under it (so that diagnostics name `policies/a.npl`, as when
/// the path is given on the command line).
fn normal(p: &Path) -> PathBuf {
    let clean: PathBuf = p.components().filter(|c| *c != Component::CurDir).collect();
    let clean = if clean.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        clean
    };
    if clean.is_absolute() {
        if let Ok(cwd) = std::env::current_dir() {
            if let Ok(rel) = clean.strip_prefix(&cwd) {
                return if rel.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    rel.to_path_buf()
                };
            }
        }
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (usize, String) {
        match parse(Path::new("/p/nplc.toml"), text) {
            Err(ProjectError::Malformed {
                sources,
                diagnostic,
            }) => {
                let p = diagnostic.primary.unwrap_or_default();
                (sources.line(p.file, p.start), diagnostic.message)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_every_key() {
        let p = parse(
            Path::new("/p/nplc.toml"),
            "sources = [\"policies\", \"more/x.npl\"]\noutput = \"out\"\npopulation = \"pop.yaml\"\ndeny = [\"W0706\"]\n",
        )
        .unwrap();
        assert_eq!(
            p.sources,
            vec![PathBuf::from("/p/policies"), PathBuf::from("/p/more/x.npl")]
        );
        assert_eq!(p.output, Some(PathBuf::from("/p/out")));
        assert_eq!(p.population, Some(PathBuf::from("/p/pop.yaml")));
        assert_eq!(p.deny, vec!["W0706".to_string()]);
        let d = parse(Path::new("/p/nplc.toml"), "").unwrap();
        assert_eq!(d.sources, vec![PathBuf::from("/p")]);
    }

    #[test]
    fn malformed_files_point_at_their_line() {
        assert_eq!(err("output = \"x\"\nsources = [1]\n").0, 2);
        let (line, msg) = err("output = \"x\"\n\nsourcs = [\"a\"]\n");
        assert_eq!(line, 3);
        assert!(msg.contains("sourcs"), "{msg}");
        let (line, msg) = err("deny = [\n  \"W0706\",\n  \"E0101\",\n]\n");
        assert_eq!(line, 3);
        assert!(msg.contains("`E0101` is not a warning code"), "{msg}");
        assert_eq!(err("output = \n").0, 1);
    }

    #[test]
    fn deny_turns_warnings_into_errors() {
        let p = parse(Path::new("/p/nplc.toml"), "deny = [\"W0706\"]").unwrap();
        let mut ds = vec![
            Diagnostic::warning("W0706", "x"),
            Diagnostic::warning("W0605", "y"),
        ];
        p.deny(&mut ds);
        assert!(ds[0].is_error());
        assert!(!ds[1].is_error());
    }
}
