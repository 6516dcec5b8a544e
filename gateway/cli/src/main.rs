//! The `jurisgate` binary: one command line for the three people who use
//! the gateway — the platform team (`serve`, `check`), the auditor (`audit`)
//! and the policy author (`policy`) — plus `demo`, which runs all of it on
//! loopback.
//!
//! Exit codes: 0 success, 1 a check failed, 2 bad usage or bad input.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: under load the request path allocates on
/// the runtime's threads and the audit writer frees on its own, and glibc's
/// arena locks were the largest single cost in a profile (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "jurisgate",
    version,
    about = "A data-isolation gateway: jurisdiction-aware routing, Rego policy, verifiable audit log."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway.
    Serve(commands::serve::ServeArgs),
    /// Validate a config file (exit 0 when valid, 2 with the key and line when not).
    Check(commands::serve::CheckArgs),
    /// Run the embedded demo: gateway, regional stores, scripted traffic, verified audit log.
    Demo(commands::demo::DemoArgs),
    /// Policy authoring: test, eval, check, replay.
    #[command(subcommand)]
    Policy(commands::policy::PolicyCommand),
    /// The auditor's tools: keygen, verify, query, prove, check-proof, report, ship.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Certificates for trying TLS and mTLS locally.
    #[command(subcommand)]
    Certs(commands::certs::CertsCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => commands::serve::serve(&args),
        Command::Check(args) => commands::serve::check(&args),
        Command::Demo(args) => commands::demo::run(&args),
        Command::Policy(cmd) => commands::policy::run(cmd),
        Command::Audit(cmd) => commands::audit::run(cmd),
        Command::Certs(cmd) => commands::certs::run(&cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
