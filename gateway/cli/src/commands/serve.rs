//! `jurisgate serve` and `jurisgate check`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use tokio::signal::unix::{SignalKind, signal};

/// Arguments of `serve`.
#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// The config file.
    #[arg(long, short)]
    config: PathBuf,
    /// Log as JSON lines (for log shippers).
    #[arg(long)]
    log_json: bool,
}

/// Arguments of `check`.
#[derive(Args, Debug)]
pub(crate) struct CheckArgs {
    /// The config file.
    #[arg(long, short)]
    config: PathBuf,
}

/// Sets up logging from `RUST_LOG` (default `default_level`).
pub(crate) fn init_logging(json: bool, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| default_level.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub(crate) fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    match jurisgate_config::load(&args.config) {
        Ok(config) => {
            println!(
                "{}: ok ({} routes, {} pools, {} attribution sources)",
                args.config.display(),
                config.routes.len(),
                config.pools.len(),
                config.attribution.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(2))
        }
    }
}

pub(crate) fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging(args.log_json, "info");
    let config = match jurisgate_config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    // With `per_core` the proxy runs on its own runtimes (started by
    // `Running::start`, one per core); this one only keeps signals, the
    // admin listener, reloads, health checks and shipping.
    let runtime = match config.server.runtime {
        jurisgate_config::RuntimeFlavor::MultiThread => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(config.server.worker_count());
            builder
        }
        jurisgate_config::RuntimeFlavor::PerCore => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build()
    .context("starting the runtime")?;
    runtime.block_on(async move {
        let running = match jurisgate_proxy::start::Running::start(&config).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("cannot start: {e}");
                return Ok(ExitCode::from(2));
            }
        };
        // Handlers first, so a signal right after the listening line is never lost.
        let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
        let mut hup = signal(SignalKind::hangup()).context("installing SIGHUP handler")?;
        // A stable line on stdout, so scripts and tests started on port 0 learn the addresses.
        println!(
            "jurisgate: proxy listening on {}, admin on {}",
            running.proxy_addr(),
            running
                .admin_addr()
                .map_or_else(|| "none".to_string(), |a| a.to_string())
        );
        let reason = loop {
            tokio::select! {
                _ = term.recv() => break "SIGTERM",
                _ = int.recv() => break "SIGINT",
                _ = hup.recv() => {
                    // Logs its own outcome, as the certificate file watcher's reloads do.
                    let _ = running.reload_tls();
                    match running.reload_identity_keys().await {
                        Ok(changed) => tracing::info!(changed, "SIGHUP: identity and approval keys read again"),
                        Err(errors) => {
                            for e in errors {
                                tracing::error!(error = %e, "SIGHUP: identity key reload");
                            }
                        }
                    }
                    match running.reload_policy().await {
                        Ok(rev) => tracing::info!(revision = %rev, "SIGHUP: policy reloaded"),
                        Err(e) => tracing::error!(error = %e, "SIGHUP: policy reload refused"),
                    }
                }
            }
        };
        tracing::info!(
            signal = reason,
            "shutting down: finishing in-flight requests"
        );
        running.shutdown(reason).await.context("shutting down")?;
        Ok(ExitCode::SUCCESS)
    })
}
