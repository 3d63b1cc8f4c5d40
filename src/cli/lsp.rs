//! `nplc lsp`: the language server on standard input and output
//! (docs/editors.md). The server is in the library (`crate::lsp`).

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Accepted for editors that pass it; standard I/O is the only transport.
    #[arg(long)]
    pub stdio: bool,
}

pub fn run(_: Args) -> i32 {
    match crate::lsp::run_stdio() {
        Ok(()) => super::EXIT_OK,
        Err(e) => {
            eprintln!("nplc lsp: {e}");
            super::EXIT_USAGE
        }
    }
}
