//! `jurisgate audit …`: the auditor's tools. Thin: argument parsing and
//! output formatting only; every check lives in the `jurisgate-audit`
//! library so it is tested there and usable without this binary.
//!
//! Exit codes: 0 success, 1 a check failed (verification, proof), 2 bad
//! usage or bad input (returned as `Err`, which `main` turns into 2).

use std::fs::OpenOptions;
use std::io::{self, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use jurisgate_audit::{
    Event, ProofDoc, QueryFilter, Record, check_proof, load_verifier_key, parse_ts,
    prove_consistency, prove_inclusion, query_many, try_keygen, verify_all,
};
use jurisgate_audit_ship::{LockMode, Retention, Shipper, Target, TargetOptions};

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
    ///
    /// Several folders (one per replica) are each verified on their own,
    /// and must have distinct origins.
    Verify {
        /// Audit folders, one per replica.
        #[arg(required_unless_present = "from_bucket")]
        dirs: Vec<PathBuf>,
        /// Verifier key: its text (`name+id+base64`) or a file holding it.
        /// Once for every folder, or once per folder in the same order.
        #[arg(long, required = true)]
        key: Vec<String>,
        #[command(flatten)]
        shipped: ShippedLogs,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Upload the sealed segments and checkpoints of an audit folder to
    /// WORM object storage, under the log's origin; read each back and
    /// compare before recording it in `DIR/shipped.json`.
    Ship {
        /// The audit folder.
        dir: PathBuf,
        /// Where to: `s3://bucket/prefix` or `file:///folder`.
        #[arg(long, value_name = "URL")]
        to: String,
        #[command(flatten)]
        bucket: BucketArgs,
        /// Lock each uploaded object with S3 Object Lock for this many days.
        #[arg(long)]
        retention_days: Option<u32>,
        /// S3 Object Lock mode for --retention-days.
        #[arg(long, value_enum, default_value_t = LockArg::Compliance)]
        lock_mode: LockArg,
    },
    /// Print the records that match every filter given. With several
    /// folders (one per replica), records are merged by time and labelled
    /// with their log's origin.
    Query {
        /// Audit folders, one per replica.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
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
        /// Region the request was forwarded to (its decisions and failed forwards).
        #[arg(long)]
        region: Option<String>,
        /// Requester id.
        #[arg(long)]
        requester: Option<String>,
        /// One request's records: its decision and any `forward_failed`.
        #[arg(long)]
        request_id: Option<String>,
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
    /// Verify the log(s), then write one self-contained HTML report (flows,
    /// decisions over time, denials, cross-border access, policy revisions,
    /// anomalies, a sampled table of records); exit 1 if verification
    /// failed (the report is still written and says so first).
    Report {
        /// Audit folders, one per replica.
        #[arg(required_unless_present = "from_bucket")]
        dirs: Vec<PathBuf>,
        /// Verifier key: its text or a file holding it. Once for every
        /// folder, or once per folder in the same order.
        #[arg(long, required = true)]
        key: Vec<String>,
        #[command(flatten)]
        shipped: ShippedLogs,
        /// Where to write the report.
        #[arg(long)]
        out: PathBuf,
        /// Records at or after this time (RFC 3339, or a date `YYYY-MM-DD`).
        #[arg(long)]
        since: Option<String>,
        /// Records before this time (RFC 3339, or a date `YYYY-MM-DD`).
        #[arg(long)]
        until: Option<String>,
        /// List silences longer than this many minutes while the gateway
        /// was up as audit gaps.
        #[arg(long, default_value_t = 15)]
        gap_minutes: u32,
    },
}

/// Logs shipped to a bucket, read besides (or instead of) local folders.
#[derive(clap::Args, Debug)]
pub(crate) struct ShippedLogs {
    /// Also read the logs shipped to this bucket (`s3://bucket/prefix` or
    /// `file:///folder`): each replica's folder is downloaded, then
    /// verified like a local one (the bucket is trusted no more than a disk).
    #[arg(long, value_name = "URL")]
    from_bucket: Option<String>,
    #[command(flatten)]
    bucket: BucketArgs,
    /// Keep the download in this folder instead of a temporary one.
    #[arg(long, requires = "from_bucket")]
    download_to: Option<PathBuf>,
}

/// How to reach an S3-compatible bucket.
#[derive(clap::Args, Debug)]
pub(crate) struct BucketArgs {
    /// S3-compatible endpoint, e.g. `http://127.0.0.1:9000` (AWS when
    /// omitted). Credentials come from `AWS_ACCESS_KEY_ID` and friends.
    #[arg(long)]
    endpoint: Option<String>,
    /// S3 region (default `AWS_REGION`, else us-east-1).
    #[arg(long = "s3-region")]
    s3_region: Option<String>,
}

impl BucketArgs {
    fn target(&self, url: &str, retention: Option<Retention>) -> anyhow::Result<Target> {
        Ok(Target::open(TargetOptions {
            url: url.to_string(),
            endpoint: self.endpoint.clone(),
            region: self.s3_region.clone(),
            retention,
        })?)
    }
}

/// `--lock-mode`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockArg {
    /// Nobody can delete or shorten it, the bucket owner included.
    Compliance,
    /// Users allowed to bypass governance retention can lift it.
    Governance,
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
        AuditCommand::Verify {
            dirs,
            key,
            shipped,
            json,
        } => {
            let (all, _fetched) = with_bucket_logs(dirs, &shipped)?;
            verify_cmd(&all, &key, json)
        }
        AuditCommand::Ship {
            dir,
            to,
            bucket,
            retention_days,
            lock_mode,
        } => {
            let retention = retention_days.map(|days| Retention {
                mode: match lock_mode {
                    LockArg::Compliance => LockMode::Compliance,
                    LockArg::Governance => LockMode::Governance,
                },
                days,
            });
            ship_cmd(&dir, bucket.target(&to, retention)?)
        }
        AuditCommand::Query {
            dirs,
            since,
            until,
            jurisdiction,
            decision,
            route,
            region,
            requester,
            request_id,
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
                request_id,
            };
            query_cmd(&dirs, &filter, format)
        }
        AuditCommand::Prove {
            dir,
            seq,
            from,
            to,
            out,
        } => prove_cmd(&dir, seq, from.zip(to), out.as_deref()),
        AuditCommand::CheckProof { proof, key } => check_proof_cmd(&proof, &key),
        AuditCommand::Report {
            dirs,
            key,
            shipped,
            out,
            since,
            until,
            gap_minutes,
        } => {
            let (dirs, _fetched) = with_bucket_logs(dirs, &shipped)?;
            let opts = jurisgate_audit_report::ReportOptions {
                since: since
                    .as_deref()
                    .map(|s| time_arg("--since", s))
                    .transpose()?,
                until: until
                    .as_deref()
                    .map(|s| time_arg("--until", s))
                    .transpose()?,
                gap_threshold: time::Duration::minutes(i64::from(gap_minutes)),
            };
            report_cmd(&dirs, &key, &out, &opts)
        }
    }
}

/// `dirs`, then the replica folders downloaded from the bucket, if one is
/// named (kept alive by the returned download, which removes a temporary
/// folder when dropped).
fn with_bucket_logs(
    mut dirs: Vec<PathBuf>,
    shipped: &ShippedLogs,
) -> anyhow::Result<(Vec<PathBuf>, Option<jurisgate_audit_ship::Fetched>)> {
    let Some(url) = shipped.from_bucket.as_deref() else {
        return Ok((dirs, None));
    };
    let fetched = block_on(jurisgate_audit_ship::fetch(
        &shipped.bucket.target(url, None)?,
        shipped.download_to.as_deref(),
    ))??;
    if fetched.logs.is_empty() {
        bail!("{url}: no audit segments in the bucket");
    }
    dirs.extend(fetched.logs.iter().cloned());
    Ok((dirs, Some(fetched)))
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

fn verify_cmd(dirs: &[PathBuf], keys: &[String], json: bool) -> anyhow::Result<ExitCode> {
    if keys.len() != 1 && keys.len() != dirs.len() {
        bail!(
            "--key: give one key for every folder, or one per folder ({} folders, {} keys)",
            dirs.len(),
            keys.len()
        );
    }
    let keys = keys
        .iter()
        .map(|k| load_verifier_key(k).with_context(|| format!("--key {k}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for dir in dirs {
        if !dir.is_dir() {
            bail!("{}: not an audit folder", dir.display());
        }
    }
    let logs: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_path(), &keys[i.min(keys.len() - 1)]))
        .collect();
    let results = if io::stderr().is_terminal() {
        let mut bar = ProgressLine::default();
        let results = jurisgate_audit::verify_all_with(&logs, &mut |i, p| bar.show(&dirs[i], p));
        bar.clear();
        results
    } else {
        verify_all(&logs)
    };
    let ok = results.iter().all(Result::is_ok);
    if let ([result], [dir]) = (results.as_slice(), dirs) {
        // One folder: the output auditors' scripts already read.
        match result {
            Ok(summary) if json => println!("{}", serde_json::to_string_pretty(summary)?),
            Ok(summary) => println!("OK: {summary}"),
            Err(e) => println!("FAILED: {}: {e}", dir.display()),
        }
    } else if json {
        let docs: Vec<_> = dirs
            .iter()
            .zip(&results)
            .map(|(dir, r)| match r {
                Ok(summary) => serde_json::json!({"dir": dir, "ok": true, "summary": summary}),
                Err(e) => serde_json::json!({"dir": dir, "ok": false, "error": e.to_string()}),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&docs)?);
    } else {
        for (dir, r) in dirs.iter().zip(&results) {
            match r {
                Ok(summary) => println!("OK: {}: {summary}", dir.display()),
                Err(e) => println!("FAILED: {}: {e}", dir.display()),
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `audit verify`'s progress on a terminal: one line on stderr, redrawn at
/// most ten times a second, with records and bytes checked, the rate and
/// the time left; erased before the result is printed.
#[derive(Default)]
struct ProgressLine {
    /// The folder being verified and when it started.
    current: Option<(PathBuf, Instant)>,
    drawn: Option<Instant>,
}

impl ProgressLine {
    fn show(&mut self, dir: &Path, p: jurisgate_audit::Progress) {
        let now = Instant::now();
        if self.current.as_ref().is_none_or(|(d, _)| d != dir) {
            self.current = Some((dir.to_path_buf(), now));
            self.drawn = None;
        }
        let started = self.current.as_ref().map_or(now, |(_, t)| *t);
        if self
            .drawn
            .is_some_and(|t| now - t < Duration::from_millis(100))
        {
            return;
        }
        self.drawn = Some(now);
        let mib = |b: u64| b as f64 / f64::from(1 << 20);
        let fraction = if p.total_bytes == 0 {
            1.0
        } else {
            (p.bytes as f64 / p.total_bytes as f64).min(1.0)
        };
        let width = 24;
        let filled = (fraction * f64::from(width)).round() as usize;
        let secs = (now - started).as_secs_f64();
        let rate = if secs > 0.0 {
            format!("{:.0} MiB/s", mib(p.bytes) / secs)
        } else {
            "…".to_string()
        };
        let left = if p.bytes > 0 && secs > 0.0 {
            let s = secs * (p.total_bytes.saturating_sub(p.bytes)) as f64 / p.bytes as f64;
            format!("{s:.0} s left")
        } else {
            "…".to_string()
        };
        eprint!(
            "\r\x1b[2K{}: [{}{}] {:>3.0}% {} records, {:.1}/{:.1} MiB, {rate}, {left}",
            dir.display(),
            "#".repeat(filled),
            "-".repeat(width as usize - filled),
            fraction * 100.0,
            p.records,
            mib(p.bytes),
            mib(p.total_bytes),
        );
    }

    fn clear(&self) {
        if self.current.is_some() {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Runs a future on a small runtime: the bucket clients are async, the
/// rest of the auditor's tools are not.
fn block_on<F: std::future::Future>(f: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    Ok(rt.block_on(f))
}

fn ship_cmd(dir: &Path, target: Target) -> anyhow::Result<ExitCode> {
    if !dir.is_dir() {
        bail!("{}: not an audit folder", dir.display());
    }
    let url = target.url().to_string();
    match block_on(Shipper::new(dir, target).ship_once())? {
        Ok(report) => {
            let Some(origin) = report.origin else {
                println!("nothing to ship yet: {} has no checkpoint", dir.display());
                return Ok(ExitCode::SUCCESS);
            };
            println!(
                "OK: {} files shipped to {url} under {origin}, {} already there",
                report.uploaded.len(),
                report.already
            );
            for f in &report.uploaded {
                println!("  shipped {f}");
            }
            if let Some(open) = report.open_segment {
                println!("  {open} is still being written; it ships once sealed");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("FAILED: {e}");
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

fn query_cmd(dirs: &[PathBuf], filter: &QueryFilter, format: Format) -> anyhow::Result<ExitCode> {
    let records = query_many(dirs, filter)?;
    // One folder prints each record's fields as stored (a decision's
    // `input_rest`, not the rebuilt input); several add the replica (origin).
    let labelled = dirs.len() > 1;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = (|| -> anyhow::Result<()> {
        if format == Format::Table {
            if labelled {
                write!(out, "{:<30}  ", "REPLICA")?;
            }
            writeln!(
                out,
                "{:>8}  {:<27}  {:<13}  {:<8}  {:<5}  {:<12}  {:<10}  {:<14}  REASON",
                "SEQ", "TIME", "KIND", "SUBJ", "ALLOW", "ROUTE", "REGION", "REQUESTER"
            )?;
        }
        for labeled in records {
            let labeled = labeled?;
            let record = &labeled.record;
            match format {
                Format::Json if labelled => {
                    let mut doc = serde_json::to_value(record)?;
                    if let Some(obj) = doc.as_object_mut() {
                        obj.insert("replica".into(), labeled.origin.clone().into());
                    }
                    writeln!(out, "{doc}")?;
                }
                Format::Json => writeln!(out, "{}", serde_json::to_string(record)?)?,
                Format::Table if labelled => {
                    writeln!(out, "{:<30}  {}", labeled.origin, table_row(record))?;
                }
                Format::Table => writeln!(out, "{}", table_row(record))?,
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
        Event::ForwardFailed(f) => (
            "forward_failed",
            dash(),
            dash(),
            dash(),
            f.region.clone(),
            dash(),
            format!("{} {} {}", f.request_id, f.status, f.reason),
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
                // Both have their own arms above.
                Event::Decision(_) | Event::ForwardFailed(_) => ("", String::new()),
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

fn report_cmd(
    dirs: &[PathBuf],
    keys: &[String],
    out: &Path,
    opts: &jurisgate_audit_report::ReportOptions,
) -> anyhow::Result<ExitCode> {
    if keys.len() != 1 && keys.len() != dirs.len() {
        bail!(
            "--key: give one key for every folder, or one per folder ({} folders, {} keys)",
            dirs.len(),
            keys.len()
        );
    }
    let mut logs = Vec::with_capacity(dirs.len());
    for (i, dir) in dirs.iter().enumerate() {
        if !dir.is_dir() {
            bail!("{}: not an audit folder", dir.display());
        }
        let key = &keys[i.min(keys.len() - 1)];
        let key = load_verifier_key(key).with_context(|| format!("--key {key}"))?;
        logs.push((dir.clone(), key));
    }
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let outcome = jurisgate_audit_report::write_report(&logs, opts, io::BufWriter::new(file))
        .with_context(|| format!("writing {}", out.display()))?;
    if outcome.verified {
        println!(
            "OK: verified; report of {} records ({} embedded rows, {} bytes) written to {}",
            outcome.records,
            outcome.rows,
            outcome.bytes,
            out.display()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for log in &outcome.logs {
            if let Err(e) = &log.result {
                println!("FAILED: {}: {e}", log.dir.display());
            }
        }
        println!(
            "report written to {} (it says first that verification failed)",
            out.display()
        );
        Ok(ExitCode::from(1))
    }
}
