//! `policy check`: everything that can be found wrong with a policy folder
//! without running its tests. Parse errors with file, line and column; a
//! missing `decision` rule; modules that do not compile; sample inputs
//! (`samples/*.json`) whose decision is undefined or has the wrong shape; and,
//! as warnings, references to `data.<key>` that neither `data.json` nor a
//! package provides (a cheap textual scan, so it can be fooled by odd code).
//!
//! [`load_checked`] is the only way the gateway swaps in a new policy: it
//! loads, checks, and runs the folder's tests, and refuses on any failure.
//! A compiled (`wasm`) policy has no sources to check or tests to run: it is
//! loaded (which checks its ABI, builtins and entrypoint) and must decide
//! every sample input; its Rego tests are run on the sources before
//! `opa build`.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::{add_module, build};
use crate::files::{DATA_FILE, PolicySources, sample_paths};
use crate::runner::{TestOptions, TestOutcome, run_tests_on};
use crate::{EngineKind, EngineOptions, PolicyEngine, PolicyError};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The folder must not be loaded.
    Error,
    /// Probably a mistake; loading is still allowed.
    Warning,
}

/// One finding, located as precisely as known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// The file (or the folder, when no one file is at fault).
    pub file: PathBuf,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based column.
    pub column: Option<u32>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, ": {sev}: {}", self.message)
    }
}

/// What `check` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    /// The folder.
    pub dir: PathBuf,
    /// The revision, when the files could be read.
    pub revision: Option<String>,
    /// Sample inputs evaluated.
    pub samples_checked: usize,
    /// Findings, errors first.
    pub problems: Vec<Problem>,
}

impl CheckReport {
    /// Whether there is no error (warnings allowed).
    #[must_use]
    pub fn ok(&self) -> bool {
        self.problems
            .iter()
            .all(|p| p.severity == Severity::Warning)
    }
}

/// Checks the policy folder `dir`.
#[must_use]
pub fn check(dir: &Path) -> CheckReport {
    match PolicySources::read(dir) {
        Ok(sources) => check_sources(&sources),
        Err(e) => CheckReport {
            dir: dir.to_path_buf(),
            revision: None,
            samples_checked: 0,
            problems: vec![problem_from(dir, &e)],
        },
    }
}

/// Checks the policy folder `dir` as the engine `kind` would load it:
/// [`check`] for Rego; for a compiled policy, loading it and deciding its
/// sample inputs.
#[must_use]
pub fn check_engine(dir: &Path, kind: EngineKind) -> CheckReport {
    if kind == EngineKind::Rego {
        return check(dir);
    }
    let mut report = CheckReport {
        dir: dir.to_path_buf(),
        revision: None,
        samples_checked: 0,
        problems: Vec::new(),
    };
    let opts = EngineOptions {
        kind,
        ..EngineOptions::default()
    };
    match PolicyEngine::load(dir, &opts) {
        Ok(engine) => {
            report.revision = Some(engine.revision().to_string());
            check_samples(dir, &engine, &mut report);
        }
        Err(e) => report.problems.push(problem_from(dir, &e)),
    }
    report
}

fn check_sources(sources: &PolicySources) -> CheckReport {
    let mut report = CheckReport {
        dir: sources.dir.clone(),
        revision: Some(sources.revision.clone()),
        samples_checked: 0,
        problems: Vec::new(),
    };
    // Parse every file on its own, so all parse errors show at once.
    for file in sources.modules.iter().chain(&sources.tests) {
        if let Err(e) = add_module(&mut regorus::Engine::new(), file) {
            report.problems.push(problem_from(&sources.dir, &e));
        }
    }
    if !report.problems.is_empty() {
        return report;
    }
    let engine = match PolicyEngine::from_sources(sources, &EngineOptions::default()) {
        Ok(engine) => engine,
        Err(e) => {
            report.problems.push(problem_from(&sources.dir, &e));
            return report;
        }
    };
    if let Err(e) = build(sources, true, EngineOptions::default().timeout) {
        report.problems.push(problem_from(&sources.dir, &e));
    }
    check_samples(&sources.dir, &engine, &mut report);
    report.problems.extend(unknown_data_refs(sources));
    report
}

fn check_samples(dir: &Path, engine: &PolicyEngine, report: &mut CheckReport) {
    let paths = match sample_paths(dir) {
        Ok(paths) => paths,
        Err(e) => {
            report.problems.push(problem_from(dir, &e));
            return;
        }
    };
    for path in paths {
        report.samples_checked += 1;
        let error = |line, column, message| Problem {
            severity: Severity::Error,
            file: path.clone(),
            line,
            column,
            message,
        };
        let input: serde_json::Value = match std::fs::read(&path)
            .map_err(|e| (None, None, e.to_string()))
            .and_then(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| {
                    let line = u32::try_from(e.line()).ok();
                    let col = u32::try_from(e.column()).ok();
                    (line, col, e.to_string())
                })
            }) {
            Ok(v) => v,
            Err((line, col, message)) => {
                report.problems.push(error(line, col, message));
                continue;
            }
        };
        if let Err(e) = engine.evaluate(&input) {
            report
                .problems
                .push(error(None, None, format!("as input: {e}")));
        }
    }
}

/// `data.<key>` references whose first key is neither in `data.json` nor
/// the first component of a package.
fn unknown_data_refs(sources: &PolicySources) -> Vec<Problem> {
    let mut known: BTreeSet<String> = sources
        .data
        .as_ref()
        .and_then(|d| d.as_object())
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    for file in sources.modules.iter().chain(&sources.tests) {
        for line in file.text.lines() {
            if let Some(pkg) = line.strip_prefix("package ") {
                known.insert(first_ident(pkg.trim()));
            }
        }
    }
    let mut problems = Vec::new();
    for file in sources.modules.iter().chain(&sources.tests) {
        for (n, line) in file.text.lines().enumerate() {
            let code = line.split('#').next().unwrap_or_default();
            if code.trim_start().starts_with("import ") || code.trim_start().starts_with("package ")
            {
                continue;
            }
            for (at, _) in code.match_indices("data.") {
                let boundary = code[..at]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'));
                let key = first_ident(&code[at + 5..]);
                if boundary && !key.is_empty() && !known.contains(&key) {
                    problems.push(Problem {
                        severity: Severity::Warning,
                        file: file.path.clone(),
                        line: u32::try_from(n + 1).ok(),
                        column: u32::try_from(at + 1).ok(),
                        message: format!(
                            "data.{key} is not in {DATA_FILE} nor a package; it will be undefined"
                        ),
                    });
                }
            }
        }
    }
    problems
}

fn first_ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn problem_from(dir: &Path, e: &PolicyError) -> Problem {
    let (file, line, column, message) = match e {
        PolicyError::Parse {
            path,
            line,
            column,
            message,
        } => {
            // The message already starts with `file:line:col: `; keep the rest.
            let prefix = format!("{}:", path.display());
            let text = message
                .strip_prefix(&prefix)
                .map_or(message.as_str(), |rest| {
                    rest.split_once(": ").map_or(rest, |(_, m)| m)
                });
            let text = text.strip_prefix("error: ").unwrap_or(text);
            (path.clone(), *line, *column, text.to_string())
        }
        PolicyError::Data {
            path,
            line,
            column,
            message,
        } => (
            path.clone(),
            u32::try_from(*line).ok(),
            u32::try_from(*column).ok(),
            message.clone(),
        ),
        PolicyError::ReadFile { path, .. } => (path.clone(), None, None, e.to_string()),
        other => (dir.to_path_buf(), None, None, other.to_string()),
    };
    Problem {
        severity: Severity::Error,
        file,
        line,
        column,
        message,
    }
}

/// Loads `dir`, checks it and runs its tests; returns the engine only if
/// there is no check error and no test fails. The gateway swaps policies
/// only through this.
///
/// # Errors
/// The load error, or [`PolicyError::Rejected`] listing what failed.
pub fn load_checked(dir: &Path, opts: &EngineOptions) -> Result<PolicyEngine, PolicyError> {
    if opts.kind != EngineKind::Rego {
        let engine = PolicyEngine::load(dir, opts)?;
        let mut report = CheckReport {
            dir: dir.to_path_buf(),
            revision: Some(engine.revision().to_string()),
            samples_checked: 0,
            problems: Vec::new(),
        };
        check_samples(dir, &engine, &mut report);
        return if report.ok() {
            Ok(engine)
        } else {
            Err(PolicyError::Rejected {
                dir: dir.to_path_buf(),
                reasons: report.problems.iter().map(ToString::to_string).collect(),
            })
        };
    }
    let sources = PolicySources::read(dir)?;
    let engine = PolicyEngine::from_sources(&sources, opts)?;
    let mut reasons: Vec<String> = check_sources(&sources)
        .problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    let tests = run_tests_on(&sources, &TestOptions::default())?;
    reasons.extend(
        tests
            .cases
            .iter()
            .filter(|c| c.outcome != TestOutcome::Pass)
            .map(|c| format!("{} did not pass", c.rule)),
    );
    if reasons.is_empty() {
        Ok(engine)
    } else {
        Err(PolicyError::Rejected {
            dir: dir.to_path_buf(),
            reasons,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(set: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../policies")
            .join(set)
    }

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("samples")).unwrap();
        for (name, text) in files {
            std::fs::write(tmp.path().join(name), text).unwrap();
        }
        tmp
    }

    #[test]
    fn shipped_policies_check_clean_and_load_checked() {
        for set in ["texas", "clover"] {
            let report = check(&shipped(set));
            assert!(report.problems.is_empty(), "{set}: {:?}", report.problems);
            assert!(report.samples_checked >= 3, "{set}");
            load_checked(&shipped(set), &EngineOptions::default()).unwrap();
        }
    }

    #[test]
    fn every_parse_error_is_reported_with_its_place() {
        let tmp = folder(&[
            ("a.rego", "package jurisgate\ndecision := {\n"),
            ("b_test.rego", "package t\n\ntest_x if {{\n"),
        ]);
        let report = check(tmp.path());
        assert!(!report.ok());
        let places: Vec<_> = report
            .problems
            .iter()
            .map(|p| {
                (
                    p.file.file_name().unwrap().to_str().unwrap().to_string(),
                    p.line.is_some(),
                )
            })
            .collect();
        assert_eq!(
            places,
            [
                ("a.rego".to_string(), true),
                ("b_test.rego".to_string(), true)
            ]
        );
        let text = report.problems[1].to_string();
        assert!(
            text.contains("b_test.rego:4:1: error: expecting expression"),
            "{text}"
        );
    }

    #[test]
    fn bad_samples_and_unknown_data_are_found() {
        let tmp = folder(&[
            (
                "p.rego",
                "package jurisgate\ndecision := {\"allow\": true, \"regions\": data.regionz} if input.ok\n",
            ),
            ("data.json", "{\"regions\": [\"a\"]}"),
            ("samples/undefined.json", "{\"ok\": false}"),
            ("samples/broken.json", "{\n\"ok\": }"),
        ]);
        let report = check(tmp.path());
        let texts: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(texts.len(), 3, "{texts:#?}");
        assert!(texts[0].contains("broken.json:2:"), "{texts:#?}");
        assert!(
            texts[1].contains("undefined.json") && texts[1].contains("undefined"),
            "{texts:#?}"
        );
        assert!(
            texts[2].contains("p.rego:2:") && texts[2].contains("warning: data.regionz"),
            "{texts:#?}"
        );
        assert!(!report.ok());
    }

    #[test]
    fn load_checked_refuses_failing_tests_and_missing_rules() {
        let tmp = folder(&[
            (
                "p.rego",
                "package jurisgate\ndecision := {\"allow\": false}\n",
            ),
            (
                "p_test.rego",
                "package t\nimport data.jurisgate\ntest_allows if jurisgate.decision.allow\n",
            ),
        ]);
        let e = load_checked(tmp.path(), &EngineOptions::default()).unwrap_err();
        assert!(
            e.to_string().contains("data.t.test_allows did not pass"),
            "{e}"
        );
        std::fs::write(tmp.path().join("p.rego"), "package jurisgate\nx := 1\n").unwrap();
        let e = load_checked(tmp.path(), &EngineOptions::default()).unwrap_err();
        assert!(matches!(e, PolicyError::MissingDecisionRule { .. }), "{e}");
        assert!(
            check(tmp.path()).problems[0]
                .message
                .contains("declares `decision`")
        );
    }

    #[test]
    fn a_missing_folder_is_one_located_problem() {
        let report = check(Path::new("/nonexistent/policy"));
        assert_eq!(report.problems.len(), 1);
        assert!(
            report.problems[0]
                .to_string()
                .starts_with("/nonexistent/policy: error: cannot read")
        );
    }
}
