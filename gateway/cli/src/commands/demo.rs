//! `jurisgate demo`: the embedded default, on loopback.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

/// Arguments of `demo`.
#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Keep the demo's config, audit log, policy and verifier key in DIR.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// Serve the gateway over TLS with (optional) mTLS; the tour's client presents a certificate.
    #[arg(long)]
    tls: bool,
}

pub(crate) fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    super::serve::init_logging(false, "error");
    let ok = jurisgate_demo::run(&jurisgate_demo::DemoOptions {
        keep: args.keep.clone(),
        tls: args.tls,
    })?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
