//! `ballast`: one binary, every role of the platform.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = ballast_cli::cli::Cli::parse();
    match ballast_cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ballast: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
