//! `nplc fmt [--check] PATH...`: lay out `.npl` files canonically
//! (docs/fmt.md). Without `--check` it rewrites the files that change and
//! says nothing; with `--check` it writes nothing, lists on standard output
//! the files that would change and exits 1 if there are any. A file with a
//! syntax error is reported (exit 1) and left as it is.

use super::{report, Common, EXIT_ERRORS, EXIT_OK};
use crate::driver;
use crate::source::SourceMap;
use crate::syntax::fmt::format_source;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Write nothing: list the files that are not formatted (exit 1 if any).
    #[arg(long)]
    pub check: bool,
}

pub fn run(a: Args) -> i32 {
    let fmt = a.common.error_format;
    let inputs = match driver::read_inputs(&a.common.paths) {
        Ok(i) => i,
        Err(e) => return super::fail_io(fmt, e.0),
    };
    let mut sources = SourceMap::new();
    let mut diags = Vec::new();
    let mut changed = Vec::new();
    for input in &inputs {
        let id = sources.add(input.name.clone(), input.text.clone());
        match format_source(id, &input.text) {
            Ok(out) if out != input.text => changed.push((input.name.clone(), out)),
            Ok(_) => {}
            Err(d) => diags.push(d),
        }
    }
    report(fmt, &sources, &diags);
    if a.check {
        for (name, _) in &changed {
            println!("{name}");
        }
        if !diags.is_empty() || !changed.is_empty() {
            return EXIT_ERRORS;
        }
        return EXIT_OK;
    }
    for (name, out) in &changed {
        if let Err(e) = std::fs::write(name, out) {
            return super::fail_io(
                fmt,
                format!("cannot write `{name}`: {}", crate::diag::io_msg(&e)),
            );
        }
    }
    if diags.is_empty() {
        EXIT_OK
    } else {
        EXIT_ERRORS
    }
}
