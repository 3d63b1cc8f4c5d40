//! The `nplc` executable: parses arguments and hands over to `cli`.

mod cli;

// A compiler allocates many small strings and vectors on several threads
// at once; mimalloc's thread-local heaps cut a 10k-statement build by about
// a fifth against glibc's malloc (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    std::process::exit(cli::run(cli));
}
