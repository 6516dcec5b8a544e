//! `jurisgate policy …`: the policy author's tools, on the same engine the
//! gateway runs. `test` runs the folder's Rego tests like `opa test`, `eval`
//! decides one input (or a JSON-lines batch), `check` finds what would stop a
//! folder from loading, and `replay` re-decides recorded audit traffic with a
//! candidate policy and shows which decisions would change.
//!
//! `eval`, `check` and `replay` take `--engine rego|wasm` (the same choice
//! as `policy.engine` in the config; `wasm` needs a build with the `wasm`
//! feature). `test` runs Rego tests, so it is Rego only.
//!
//! This module only parses arguments, reads files and prints; the work is in
//! `jurisgate_policy`. Exit codes: 0 ok, 1 a check failed (tests, coverage,
//! `--fail-on-change`), 2 bad usage or bad input (including a policy that
//! `check` finds errors in).

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use jurisgate_audit::{Event, read_records};
use jurisgate_policy::{
    EngineKind, EngineOptions, EvalError, PolicyEngine, ReplayRecord, TestOptions, check_engine,
    replay, run_tests,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The `policy` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum PolicyCommand {
    /// Run the Rego unit tests (`test_*` rules in `*_test.rego`), like `opa test`.
    Test {
        /// Policy folders, or folders of policy folders (default: `policies`).
        dirs: Vec<PathBuf>,
        /// Report line coverage of the policy modules.
        #[arg(long)]
        coverage: bool,
        /// Fail (exit 1) when coverage is below N percent; implies --coverage.
        #[arg(long, value_name = "N")]
        threshold: Option<f64>,
        /// List every test, not only failures.
        #[arg(short, long)]
        verbose: bool,
    },
    /// Print the decision of a policy for one input.
    Eval {
        /// The policy folder.
        #[arg(long, value_name = "DIR")]
        policy: PathBuf,
        /// The input as JSON: a file, or `-` for stdin.
        #[arg(long, value_name = "FILE|-", required_unless_present = "inputs")]
        input: Option<String>,
        /// A JSON-lines file of inputs: prints one decision per line.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["input", "explain"])]
        inputs: Option<PathBuf>,
        /// Also print every rule of package `jurisgate` defined for the input.
        #[arg(long)]
        explain: bool,
        /// Print `data.jurisgate.decision` as the policy produced it, unchecked
        /// (`{"undefined": true}` or `{"error": …}` when there is none).
        #[arg(long)]
        raw: bool,
        /// The engine that loads the folder.
        #[arg(long, value_enum, default_value_t = Engine::Rego)]
        engine: Engine,
    },
    /// Parse a policy folder, find its decision rule, check its samples' decisions.
    Check {
        /// The policy folder.
        dir: PathBuf,
        /// The engine that loads the folder.
        #[arg(long, value_enum, default_value_t = Engine::Rego)]
        engine: Engine,
    },
    /// Re-decide recorded traffic with a candidate policy; show what would change.
    Replay {
        /// The candidate policy folder.
        #[arg(long, value_name = "DIR")]
        policy: PathBuf,
        /// The audit log folder.
        #[arg(long, value_name = "DIR")]
        audit: PathBuf,
        /// Only records at or after this time (RFC 3339, or a date YYYY-MM-DD, UTC).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Exit 1 when any decision would change.
        #[arg(long)]
        fail_on_change: bool,
        /// The engine that loads the candidate policy.
        #[arg(long, value_enum, default_value_t = Engine::Rego)]
        engine: Engine,
    },
}

/// The policy engine, as `policy.engine` names it in the config.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Engine {
    /// Rego source (`*.rego`, `data.json`), evaluated by regorus.
    Rego,
    /// An OPA wasm bundle (`bundle.tar.gz`, or `policy.wasm` and `data.json`).
    Wasm,
}

impl Engine {
    fn kind(self) -> EngineKind {
        match self {
            Self::Rego => EngineKind::Rego,
            Self::Wasm => EngineKind::Wasm,
        }
    }
}

/// Output format of `replay`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// An aligned text table.
    Table,
    /// One JSON document.
    Json,
}

/// Runs a `policy` subcommand.
pub(crate) fn run(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::Test {
            dirs,
            coverage,
            threshold,
            verbose,
        } => test(&dirs, coverage || threshold.is_some(), threshold, verbose),
        PolicyCommand::Eval {
            policy,
            input,
            inputs,
            explain,
            raw,
            engine,
        } => {
            let engine = load(&policy, engine)?;
            match (input, inputs) {
                (_, Some(batch)) => eval_batch(&engine, &batch, raw),
                (Some(one), None) => eval_one(&engine, &one, explain, raw),
                (None, None) => bail!("give --input FILE|- or --inputs FILE.jsonl"),
            }
        }
        PolicyCommand::Check { dir, engine } => Ok(check_dir(&dir, engine)),
        PolicyCommand::Replay {
            policy,
            audit,
            since,
            format,
            fail_on_change,
            engine,
        } => {
            let engine = load(&policy, engine)?;
            replay_audit(&engine, &audit, since.as_deref(), format, fail_on_change)
        }
    }
}

fn load(dir: &Path, engine: Engine) -> anyhow::Result<PolicyEngine> {
    let opts = EngineOptions {
        kind: engine.kind(),
        ..EngineOptions::default()
    };
    PolicyEngine::load(dir, &opts).with_context(|| format!("loading policy {}", dir.display()))
}

fn ok_or_failed(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// A folder holding `.rego` files is a policy set; otherwise each of its
/// subfolders that holds one is (so `policy test policies` runs them all).
fn policy_sets(dirs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let has_rego = |d: &Path| {
        std::fs::read_dir(d).is_ok_and(|entries| {
            entries
                .filter_map(Result::ok)
                .any(|e| e.path().extension().is_some_and(|x| x == "rego"))
        })
    };
    let defaults = [PathBuf::from("policies")];
    let dirs = if dirs.is_empty() { &defaults[..] } else { dirs };
    let mut sets = Vec::new();
    for dir in dirs {
        if has_rego(dir) {
            sets.push(dir.clone());
            continue;
        }
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("reading {} (give a policy folder)", dir.display()))?;
        let mut subs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir() && has_rego(p))
            .collect();
        if subs.is_empty() {
            bail!(
                "{} holds no .rego files, nor do its subfolders",
                dir.display()
            );
        }
        subs.sort();
        sets.extend(subs);
    }
    Ok(sets)
}

fn test(
    dirs: &[PathBuf],
    coverage: bool,
    threshold: Option<f64>,
    verbose: bool,
) -> anyhow::Result<ExitCode> {
    let opts = TestOptions {
        coverage,
        ..TestOptions::default()
    };
    let mut ok = true;
    for (i, dir) in policy_sets(dirs)?.iter().enumerate() {
        if i > 0 {
            println!();
        }
        let report = run_tests(dir, &opts).with_context(|| format!("loading {}", dir.display()))?;
        print!("{}", report.render(verbose));
        ok &= report.all_passed();
        if let (Some(min), Some(cov)) = (threshold, &report.coverage)
            && cov.percent() < min
        {
            println!(
                "coverage {:.1}% is below the threshold of {min}%",
                cov.percent()
            );
            ok = false;
        }
    }
    Ok(ok_or_failed(ok))
}

fn read_input(source: &str) -> anyhow::Result<serde_json::Value> {
    let (name, text) = if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the input from stdin")?;
        ("<stdin>".to_string(), text)
    } else {
        let text = std::fs::read_to_string(source).with_context(|| format!("reading {source}"))?;
        (source.to_string(), text)
    };
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{name}:{}:{}: not valid JSON: {e}", e.line(), e.column()))
}

fn eval_one(
    engine: &PolicyEngine,
    source: &str,
    explain: bool,
    raw: bool,
) -> anyhow::Result<ExitCode> {
    let input = read_input(source)?;
    let mut out = std::io::stdout().lock();
    if explain {
        writeln!(
            out,
            "policy {} ({})",
            engine.dir().display(),
            engine.revision()
        )?;
        writeln!(out, "rules defined in data.jurisgate for this input:")?;
        match engine.package_values(&input) {
            Ok(serde_json::Value::Object(rules)) => {
                for (name, value) in rules {
                    writeln!(out, "  {name} = {value}")?;
                }
            }
            Ok(other) => writeln!(out, "  {other}")?,
            Err(e) => writeln!(out, "  (evaluation failed: {e})")?,
        }
        writeln!(out, "decision:")?;
    }
    let decided = if raw {
        engine
            .evaluate_raw(&input)
            .map(|v| v.unwrap_or_else(undefined))
    } else {
        engine
            .evaluate(&input)
            .map(|d| serde_json::to_value(d).unwrap_or_default())
    };
    match decided {
        Ok(value) => {
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let denial = jurisgate_policy::Decision::policy_error();
            writeln!(out, "{}", serde_json::to_string_pretty(&denial)?)?;
            eprintln!("policy_error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

fn undefined() -> serde_json::Value {
    serde_json::json!({"undefined": true})
}

fn eval_batch(engine: &PolicyEngine, path: &Path, raw: bool) -> anyhow::Result<ExitCode> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let input: serde_json::Value = serde_json::from_str(&line).map_err(|e| {
            anyhow::anyhow!(
                "{}:{}:{}: not valid JSON: {e}",
                path.display(),
                n + 1,
                e.column()
            )
        })?;
        let value = if raw {
            match engine.evaluate_raw(&input) {
                Ok(v) => v.unwrap_or_else(undefined),
                Err(e) => serde_json::json!({"error": error_kind(&e)}),
            }
        } else {
            serde_json::to_value(engine.decide_value(&input))?
        };
        writeln!(out, "{value}")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn error_kind(e: &EvalError) -> String {
    match e {
        EvalError::Timeout(_) => "timeout".into(),
        other => other.to_string(),
    }
}

fn check_dir(dir: &Path, engine: Engine) -> ExitCode {
    let report = check_engine(dir, engine.kind());
    for p in &report.problems {
        println!("{p}");
    }
    if report.ok() {
        println!(
            "{}: ok ({} samples checked, revision {})",
            dir.display(),
            report.samples_checked,
            report.revision.as_deref().unwrap_or("-")
        );
        ExitCode::SUCCESS
    } else {
        // A policy that cannot load is bad input (exit 2), like a bad config.
        ExitCode::from(2)
    }
}

/// `T` as a UTC instant: full RFC 3339, or a bare date meaning its midnight.
fn parse_since(t: &str) -> anyhow::Result<OffsetDateTime> {
    OffsetDateTime::parse(t, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(&format!("{t}T00:00:00Z"), &Rfc3339))
        .map_err(|_| {
            anyhow::anyhow!(
                "--since {t:?}: expected RFC 3339 (2026-11-27T18:00:00Z) or a date (2026-11-27)"
            )
        })
}

fn replay_audit(
    engine: &PolicyEngine,
    audit: &Path,
    since: Option<&str>,
    format: Format,
    fail_on_change: bool,
) -> anyhow::Result<ExitCode> {
    let since = since.map(parse_since).transpose()?;
    let records =
        read_records(audit).with_context(|| format!("opening audit log {}", audit.display()))?;
    // The replay core takes plain records; a corrupt log line stops the
    // replay with its place rather than silently shortening the analysis.
    let mut failure = None;
    let decisions = records
        .map_while(|r| match r {
            Ok(record) => Some(record),
            Err(e) => {
                failure = Some(e);
                None
            }
        })
        .filter(|record| {
            since
                .is_none_or(|t| OffsetDateTime::parse(&record.ts, &Rfc3339).is_ok_and(|ts| ts >= t))
        })
        .filter_map(|record| match record.event {
            Event::Decision(d) => Some(ReplayRecord {
                input: d.policy_input(),
                request_id: d.request_id,
                route: d.route,
                jurisdiction: d.subject.jurisdiction,
                allow: d.decision.allow,
                regions: d.decision.regions,
                reason: d.decision.reason,
            }),
            _ => None,
        });
    let report = replay(engine, decisions);
    if let Some(e) = failure {
        return Err(anyhow::Error::new(e).context(format!("reading audit log {}", audit.display())));
    }
    match format {
        Format::Table => print!("{}", report.render_table()),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(ok_or_failed(!(fail_on_change && report.changed > 0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_timestamps_and_dates() {
        let a = parse_since("2026-11-27").unwrap();
        let b = parse_since("2026-11-27T00:00:00Z").unwrap();
        assert_eq!(a, b);
        assert!(parse_since("2026-11-27T01:00:00+02:00").unwrap() < a);
        assert!(parse_since("yesterday").is_err());
    }

    #[test]
    fn folders_of_policy_sets_expand_to_each_set() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
        let sets = policy_sets(std::slice::from_ref(&root)).unwrap();
        let names: Vec<_> = sets
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert!(names.contains(&"texas".to_string()) && names.contains(&"clover".to_string()));
        assert!(policy_sets(&[root.join("texas")]).unwrap().len() == 1);
        assert!(policy_sets(&[PathBuf::from("/nonexistent")]).is_err());
    }
}
