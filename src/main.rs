//! `seam`: the command-line interface. Thin: each subcommand parses its flags in `cmd/` and
//! hands the work to the crates (the compiler, the sandbox, the runtime).

use seam::cmd;

/// mimalloc rather than glibc's malloc: the compiler allocates and frees hundreds of megabytes of
/// small nodes on two threads, where it takes a quarter less CPU and ~80 MB less peak memory on
/// the 100k spec (DESIGN.md, "The allocator"). Built with `no_thp`: with transparent huge pages
/// advised, the kernel's huge-page faults cost more system time than they saved.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A governed seam between Salesforce and ServiceNow.
///
/// Declare in a `.seam` file who owns each field, how the same customer is matched on both
/// sides, which fields cross and which workflows run; `seam check` rejects conflicting owners
/// and sync cycles before anything runs.
#[derive(Parser)]
#[command(name = "seam", version, propagate_version = true)]
#[command(
    after_help = "Examples:\n  seam check examples/case_incident.seam\n  seam check --format sarif specs/*.seam > seam.sarif"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Check(cmd::check::CheckArgs),
    Compile(cmd::compile::CompileArgs),
    Fmt(cmd::fmt::FmtArgs),
    Table(cmd::table::TableArgs),
    Graph(cmd::graph::GraphArgs),
    Diff(cmd::diff::DiffArgs),
    /// Local emulators of Salesforce, ServiceNow and Slack, with webhooks and fault injection.
    Sandbox(Box<cmd::sandbox::SandboxArgs>),
    Run(Box<cmd::run::RunArgs>),
    Dlq(cmd::dlq::DlqArgs),
    Why(cmd::why::WhyArgs),
    Links(cmd::links::LinksArgs),
    Reconcile(cmd::reconcile::ReconcileArgs),
    Demo(cmd::demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => cmd::check::run(&args),
        Command::Compile(args) => cmd::compile::run(&args),
        Command::Table(args) => cmd::table::run(&args),
        Command::Graph(args) => cmd::graph::run(&args),
        Command::Fmt(args) => cmd::fmt::run(&args),
        Command::Diff(args) => cmd::diff::run(&args),
        Command::Sandbox(args) => cmd::sandbox::run(*args),
        Command::Run(args) => cmd::run::run(*args),
        Command::Dlq(args) => cmd::dlq::run(&args),
        Command::Why(args) => cmd::why::run(&args),
        Command::Links(args) => cmd::links::run(&args),
        Command::Reconcile(args) => cmd::reconcile::run(&args),
        Command::Demo(args) => cmd::demo::run(&args),
    }
}
