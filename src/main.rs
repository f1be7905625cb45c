//! The `natlis` binary: see `natlis --help`. Its commands (serving, the demo dataset, imports
//! from the command line, audit checks, the benchmarks) are in [`cli`]; the product is the
//! library.

mod cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    cli::main().await
}
