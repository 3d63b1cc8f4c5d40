//! Stage 6, emission: the file list of a build. Input: a compilation's
//! manifests and node firewall. Output: every file `nplc build` writes,
//! relative to the output directory, in a documented order (the manifests
//! by path, then `kustomization.yaml`, then `firewall/` files), each
//! rendered on demand so that the writer (`crate::outdir`) renders and
//! writes a file on one thread and no build holds all its output in memory.
//! Other tools reproduce a build with [`BuildFiles`] and [`Tree::render`].

use crate::emit::k8s::{self, Manifest};
use crate::emit::Object;
use crate::firewall::FirewallSpec;

/// A file with its contents already rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Relative path with `/` separators.
    pub path: String,
    pub contents: String,
}

/// The files of a build: relative paths (with `/` separators), and each
/// file's contents, rendered on the thread that writes it so that no
/// build holds all its output in memory at once.
pub trait Tree: Sync {
    fn count(&self) -> usize;
    fn path(&self, i: usize) -> &str;
    /// Appends file `i`'s contents to `out`.
    fn render(&self, i: usize, out: &mut String);
}

impl Tree for [File] {
    fn count(&self) -> usize {
        self.len()
    }
    fn path(&self, i: usize) -> &str {
        &self[i].path
    }
    fn render(&self, i: usize, out: &mut String) {
        out.push_str(&self[i].contents)
    }
}

/// Every file a build writes: `<namespace>/<policy>.yaml` for each
/// manifest (rendered to YAML as it is written), then
/// `kustomization.yaml`, then, when the sources have `nodes` blocks, the
/// node firewall files (`firewall/ports.txt`, `ports.json`, `ports.csv`,
/// one `ROLE.nft` per role).
pub struct BuildFiles<'a, M: Object = Manifest> {
    manifests: &'a [M],
    paths: Vec<String>,
    rest: Vec<File>,
}

impl<'a, M: Object> BuildFiles<'a, M> {
    pub fn new(manifests: &'a [M], firewall: Option<&FirewallSpec>) -> BuildFiles<'a, M> {
        let mut paths: Vec<String> = manifests.iter().map(Object::path).collect();
        let mut rest = vec![File {
            path: "kustomization.yaml".into(),
            contents: k8s::kustomization(&paths),
        }];
        if let Some(fw) = firewall {
            rest.extend(crate::firewall::emit::files(fw));
        }
        paths.extend(rest.iter().map(|f| f.path.clone()));
        BuildFiles {
            manifests,
            paths,
            rest,
        }
    }

    /// Every file rendered, in order (for tools and tests; `nplc build`
    /// renders each file on the thread that writes it).
    pub fn rendered(&self) -> Vec<File> {
        (0..self.count())
            .map(|i| {
                let mut contents = String::new();
                self.render(i, &mut contents);
                File {
                    path: self.path(i).to_string(),
                    contents,
                }
            })
            .collect()
    }
}

impl<M: Object> Tree for BuildFiles<'_, M> {
    fn count(&self) -> usize {
        self.paths.len()
    }
    fn path(&self, i: usize) -> &str {
        &self.paths[i]
    }
    fn render(&self, i: usize, out: &mut String) {
        match self.manifests.get(i) {
            Some(m) => m.write_yaml(out),
            None => {
                if let Some(f) = self.rest.get(i - self.manifests.len()) {
                    out.push_str(&f.contents)
                }
            }
        }
    }
}
