//! The `nplc` executable: sets the allocator and hands over to the
//! library's command line (`nplc::cli`).

// A compiler allocates many small strings and vectors on several threads
// at once; mimalloc's thread-local heaps cut a 10k-statement build by about
// a fifth against glibc's malloc (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(nplc::cli::main());
}
