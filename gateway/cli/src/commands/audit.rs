//! `jurisgate audit …`: the auditor's tools. Thin: argument parsing and
//! output formatting only; every check lives in the `jurisgate-audit`
//! library so it is tested there and usable without this binary.
//!
//! Exit codes: 0 success, 1 a check failed (verification, proof), 2 bad
//! usage or bad input (returned as `Err`, which `main` turns into 2).

use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use jurisgate_audit::{
    Event, ProofDoc, QueryFilter, Record, check_proof, load_verifier_key, parse_ts,
    prove_consistency, prove_inclusion, query, try_keygen, verify,
};

/// The auditor's subcommands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum AuditCommand {
    /// Make an Ed25519 signing key for the audit log (FILE, mode 0600) and
    /// its verifier key (FILE.vkey, also printed) for auditors.
    Keygen {
        /// Key name, usually the log's origin, e.g. `jurisgate.example/replica-1`.
        #[arg(long)]
        name: String,
        /// Where to write the signing key. Never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Recompute every hash, check every checkpoint signature and that the
    /// log only grew; exit 1 naming the first bad file and line.
    Verify {
        /// The audit folder.
        dir: PathBuf,
        /// Verifier key: its text (`name+id+base64`) or a file holding it.
        #[arg(long)]
        key: String,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the records that match every filter given.
    Query {
        /// The audit folder.
        dir: PathBuf,
        /// Records at or after this time (RFC 3339, or a date `YYYY-MM-DD`).
        #[arg(long)]
        since: Option<String>,
        /// Records before this time (RFC 3339, or a date `YYYY-MM-DD`).
        #[arg(long)]
        until: Option<String>,
        /// Subject jurisdiction, e.g. `US`.
        #[arg(long)]
        jurisdiction: Option<String>,
        /// Allowed or denied decisions only.
        #[arg(long, value_enum)]
        decision: Option<DecisionArg>,
        /// Matched route name.
        #[arg(long)]
        route: Option<String>,
        /// Region the request was forwarded to.
        #[arg(long)]
        region: Option<String>,
        /// Requester id.
        #[arg(long)]
        requester: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Print an inclusion proof (`--seq N`, against the latest checkpoint) or
    /// a consistency proof (`--from A --to B`, two checkpoint sizes) as JSON.
    Prove {
        /// The audit folder.
        dir: PathBuf,
        /// Record to prove included.
        #[arg(long, conflicts_with_all = ["from", "to"], required_unless_present = "from")]
        seq: Option<u64>,
        /// Older checkpoint size.
        #[arg(long, requires = "to")]
        from: Option<u64>,
        /// Newer checkpoint size.
        #[arg(long, requires = "from")]
        to: Option<u64>,
        /// Write the proof here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a proof printed by `prove`, offline, with only the verifier key.
    CheckProof {
        /// The proof JSON file (`-` for standard input).
        #[arg(long)]
        proof: PathBuf,
        /// Verifier key: its text or a file holding it.
        #[arg(long)]
        key: String,
    },
}

/// `--decision`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecisionArg {
    /// Allowed requests.
    Allow,
    /// Denied requests.
    Deny,
}

/// `--format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON record per line, as stored.
    Json,
}

/// Runs one audit subcommand.
pub(crate) fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Keygen { name, out } => keygen(&name, &out),
        AuditCommand::Verify { dir, key, json } => verify_cmd(&dir, &key, json),
        AuditCommand::Query {
            dir,
            since,
            until,
            jurisdiction,
            decision,
            route,
            region,
            requester,
            format,
        } => {
            let filter = QueryFilter {
                since: since
                    .as_deref()
                    .map(|s| time_arg("--since", s))
                    .transpose()?,
                until: until
                    .as_deref()
                    .map(|s| time_arg("--until", s))
                    .transpose()?,
                jurisdiction,
                allow: decision.map(|d| d == DecisionArg::Allow),
                route,
                region,
                requester,
            };
            query_cmd(&dir, filter, format)
        }
        AuditCommand::Prove {
            dir,
            seq,
            from,
            to,
            out,
        } => prove_cmd(&dir, seq, from.zip(to), out.as_deref()),
        AuditCommand::CheckProof { proof, key } => check_proof_cmd(&proof, &key),
    }
}

fn keygen(name: &str, out: &Path) -> anyhow::Result<ExitCode> {
    let (signing, vkey) = try_keygen(name)?;
    write_new(out, &signing, 0o600)
        .with_context(|| format!("writing the signing key {}", out.display()))?;
    let mut vkey_path = out.as_os_str().to_owned();
    vkey_path.push(".vkey");
    let vkey_path = PathBuf::from(vkey_path);
    write_new(&vkey_path, &vkey, 0o644)
        .with_context(|| format!("writing the verifier key {}", vkey_path.display()))?;
    eprintln!(
        "signing key written to {} (keep it secret); verifier key written to {}:",
        out.display(),
        vkey_path.display()
    );
    println!("{vkey}");
    Ok(ExitCode::SUCCESS)
}

/// Creates `path` (refusing to overwrite) with `mode`, and writes `text` and a newline.
fn write_new(path: &Path, text: &str, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    writeln!(f, "{text}")?;
    f.sync_all()
}

fn verify_cmd(dir: &Path, key: &str, json: bool) -> anyhow::Result<ExitCode> {
    let key = load_verifier_key(key).context("--key")?;
    if !dir.is_dir() {
        bail!("{}: not an audit folder", dir.display());
    }
    match verify(dir, &key) {
        Ok(summary) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                println!("OK: {summary}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("FAILED: {}: {e}", dir.display());
            Ok(ExitCode::from(1))
        }
    }
}

fn time_arg(flag: &str, s: &str) -> anyhow::Result<time::OffsetDateTime> {
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_string()
    };
    parse_ts(&full).with_context(|| {
        format!("{flag} {s:?}: expected RFC 3339 (2026-11-27T18:00:00Z) or a date (2026-11-27)")
    })
}

fn query_cmd(dir: &Path, filter: QueryFilter, format: Format) -> anyhow::Result<ExitCode> {
    let records = query(dir, filter)?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = (|| -> anyhow::Result<()> {
        if format == Format::Table {
            writeln!(
                out,
                "{:>8}  {:<27}  {:<13}  {:<8}  {:<5}  {:<12}  {:<10}  {:<14}  REASON",
                "SEQ", "TIME", "KIND", "SUBJ", "ALLOW", "ROUTE", "REGION", "REQUESTER"
            )?;
        }
        for record in records {
            let record = record?;
            match format {
                Format::Json => writeln!(out, "{}", serde_json::to_string(&record)?)?,
                Format::Table => writeln!(out, "{}", table_row(&record))?,
            }
        }
        out.flush()?;
        Ok(())
    })();
    match result {
        // `audit query … | head` closes the pipe early: not an error.
        Err(e)
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e),
        Ok(()) => Ok(ExitCode::SUCCESS),
    }
}

fn table_row(r: &Record) -> String {
    let dash = || "-".to_string();
    let (kind, subj, allow, route, region, requester, reason) = match &r.event {
        Event::Decision(d) => (
            "decision",
            d.subject.jurisdiction.clone(),
            if d.decision.allow { "yes" } else { "no" }.to_string(),
            d.route.clone().unwrap_or_else(dash),
            d.region.clone().unwrap_or_else(dash),
            d.requester
                .id
                .clone()
                .unwrap_or_else(|| d.requester.kind.clone()),
            d.decision.reason.clone(),
        ),
        other => {
            let (kind, detail) = match other {
                Event::PolicyLoaded(p) => ("policy_loaded", format!("revision {}", p.revision)),
                Event::Startup(s) => (
                    "startup",
                    match &s.quarantined {
                        Some(q) => format!("version {}, quarantined {q}", s.version),
                        None => format!("version {}", s.version),
                    },
                ),
                Event::Shutdown(s) => ("shutdown", s.reason.clone()),
                Event::Checkpoint(c) => ("checkpoint", format!("size {}", c.size)),
                Event::ConfigLoaded(c) => ("config_loaded", format!("config {}", c.config_sha256)),
                Event::Decision(_) => ("decision", String::new()),
            };
            (kind, dash(), dash(), dash(), dash(), dash(), detail)
        }
    };
    format!(
        "{:>8}  {:<27}  {:<13}  {:<8}  {:<5}  {:<12}  {:<10}  {:<14}  {}",
        r.seq, r.ts, kind, subj, allow, route, region, requester, reason
    )
}

fn prove_cmd(
    dir: &Path,
    seq: Option<u64>,
    range: Option<(u64, u64)>,
    out: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let doc = match (seq, range) {
        (Some(seq), _) => ProofDoc::Inclusion(prove_inclusion(dir, seq)?),
        (None, Some((from, to))) => ProofDoc::Consistency(prove_consistency(dir, from, to)?),
        (None, None) => bail!("give --seq N, or --from A --to B"),
    };
    let json = serde_json::to_string_pretty(&doc)?;
    match out {
        Some(path) => std::fs::write(path, format!("{json}\n"))
            .with_context(|| format!("writing {}", path.display()))?,
        None => println!("{json}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn check_proof_cmd(proof: &Path, key: &str) -> anyhow::Result<ExitCode> {
    let key = load_verifier_key(key).context("--key")?;
    let text = if proof == Path::new("-") {
        io::read_to_string(io::stdin()).context("reading the proof from standard input")?
    } else {
        std::fs::read_to_string(proof).with_context(|| format!("reading {}", proof.display()))?
    };
    let doc: ProofDoc = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a proof printed by `jurisgate audit prove`",
            proof.display()
        )
    })?;
    match check_proof(&doc, &key) {
        Ok(()) => {
            match &doc {
                ProofDoc::Inclusion(p) => println!(
                    "OK: record seq {} is in the log at tree size {} (signed by {})",
                    p.seq,
                    p.tree_size,
                    key.name()
                ),
                ProofDoc::Consistency(p) => println!(
                    "OK: the log at size {} extends the log at size {} (signed by {})",
                    p.second_size,
                    p.first_size,
                    key.name()
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("FAILED: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
