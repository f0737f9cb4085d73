mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "seam",
    version,
    about = "A governed seam between Salesforce and ServiceNow"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Local emulators of Salesforce, ServiceNow and Slack, with webhooks and fault injection.
    Sandbox(cmd::sandbox::SandboxArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Sandbox(args) => cmd::sandbox::run(args),
    }
}
