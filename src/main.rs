//! The `natlis` binary: see `natlis --help`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    natlis::cli::main().await
}
