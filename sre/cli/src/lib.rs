//! The `ballast` command line and the embedded platform it runs.
//!
//! - [`cli`]: the clap definition of every role
//! - [`config`]: the platform configuration (one file plus `BALLAST_*` overrides)
//! - [`platform`]: the embedded platform (`ballast up`), also used by the integration tests
//! - [`up`], [`serve`], [`ctl`], [`load`], [`verify`], [`metrics`], [`bench`], [`slo`]: one
//!   module per role

pub mod alerts;
pub mod bench;
pub mod cli;
pub mod config;
pub mod ctl;
pub mod load;
pub mod metrics;
pub mod platform;
pub mod serve;
pub mod slo;
pub mod suite;
pub mod up;
pub mod verify;

use cli::{Cli, Command};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => up::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Ctl(args) => ctl::run(args).await,
        Command::Load(args) => load::run(args).await.map(|_| ()),
        Command::Bench(args) => bench::run(args).await.map(|_| ()),
        Command::Metrics(args) => metrics::run(args).await,
        Command::Slo(args) => slo::run(args).await,
        Command::Alerts(args) => alerts::run(args).await,
        Command::Verify(args) => {
            let violations = verify::run(args).await?;
            anyhow::ensure!(
                violations.is_empty(),
                "{} invariant violations",
                violations.len()
            );
            Ok(())
        }
    }
}
