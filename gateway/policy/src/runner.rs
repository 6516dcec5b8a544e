//! The Rego test runner: finds the `test_*` rules of a folder's
//! `*_test.rego` files, evaluates each with the policy and its data loaded,
//! and reports pass/fail like `opa test -v`, with line coverage of the policy
//! modules.
//!
//! A test passes when its rule is defined and not `false`. For a failing test
//! the runner re-evaluates growing prefixes of the test's body (see
//! [`crate::probe`]) to name the first statement that failed and the values
//! involved. This module does not load the gateway's engine: tests run on
//! their own engine with a generous time cap.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::PolicyError;
use crate::engine::{build, module_name};
use crate::files::{PolicySources, RegoFile};
use crate::probe::{FailureDetail, explain_failure};

/// How tests run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestOptions {
    /// Cap on one test's evaluation.
    pub timeout: Duration,
    /// Whether to record line coverage of the policy modules.
    pub coverage: bool,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            coverage: false,
        }
    }
}

/// How one test ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TestOutcome {
    /// Defined and not false.
    Pass,
    /// Undefined or false; with what the runner could find out.
    Fail {
        /// The failing statement and values, when found.
        detail: Option<FailureDetail>,
    },
    /// Evaluation raised an error (conflict, time-out, …).
    Error {
        /// The engine's message.
        message: String,
    },
}

/// One test's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestCase {
    /// The test file, as given (folder joined with the file name).
    pub file: String,
    /// The rule's full path, e.g. `data.jurisgate_test.test_us_stays`.
    pub rule: String,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: TestOutcome,
    /// Evaluation time.
    pub duration: Duration,
    /// Output of `print(...)` calls made by the test.
    pub prints: Vec<String>,
}

/// Line coverage of one policy module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileCoverage {
    /// The module's path.
    pub path: String,
    /// Lines evaluated at least once.
    pub covered: BTreeSet<u32>,
    /// Lines with code never evaluated.
    pub not_covered: BTreeSet<u32>,
}

/// Coverage of the policy modules (test files are not counted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    /// Per module.
    pub files: Vec<FileCoverage>,
}

impl Coverage {
    /// Covered lines over lines with code, in percent (100 when there is no code).
    #[must_use]
    pub fn percent(&self) -> f64 {
        let covered: usize = self.files.iter().map(|f| f.covered.len()).sum();
        let total: usize = covered
            + self
                .files
                .iter()
                .map(|f| f.not_covered.len())
                .sum::<usize>();
        percent(covered, total)
    }
}

/// The result of running one folder's tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestReport {
    /// The policy folder.
    pub dir: PathBuf,
    /// Every test, in file then source order.
    pub cases: Vec<TestCase>,
    /// Line coverage, when asked for.
    pub coverage: Option<Coverage>,
}

impl TestReport {
    /// Tests that passed.
    #[must_use]
    pub fn passed(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| c.outcome == TestOutcome::Pass)
            .count()
    }

    /// Whether there was at least one test and every test passed.
    #[must_use]
    pub fn all_passed(&self) -> bool {
        !self.cases.is_empty() && self.passed() == self.cases.len()
    }

    /// `opa test` style text: every test with `verbose`, else only failures;
    /// then totals and, if recorded, coverage.
    #[must_use]
    pub fn render(&self, verbose: bool) -> String {
        let mut out = String::new();
        let mut last_file = None;
        for case in &self.cases {
            if !verbose && case.outcome == TestOutcome::Pass {
                continue;
            }
            if last_file != Some(&case.file) {
                if last_file.is_some() {
                    out.push('\n');
                }
                let _ = writeln!(out, "{}:", case.file);
                last_file = Some(&case.file);
            }
            let status = match &case.outcome {
                TestOutcome::Pass => "PASS",
                TestOutcome::Fail { .. } => "FAIL",
                TestOutcome::Error { .. } => "ERROR",
            };
            let _ = writeln!(out, "{}: {status} ({:?})", case.rule, case.duration);
            match &case.outcome {
                TestOutcome::Pass => {}
                TestOutcome::Fail { detail: Some(d) } => {
                    out.push_str(&indent(&d.to_string(), "  "));
                }
                TestOutcome::Fail { detail: None } => {
                    out.push_str("  (the rule is undefined or false)\n");
                }
                TestOutcome::Error { message } => out.push_str(&indent(message, "  ")),
            }
            for p in &case.prints {
                let _ = writeln!(out, "  print: {p}");
            }
        }
        if self.cases.is_empty() {
            let _ = writeln!(
                out,
                "{}: no tests found (test_* rules in *_test.rego)",
                self.dir.display()
            );
        }
        out.push_str(&"-".repeat(80));
        out.push('\n');
        let total = self.cases.len();
        let count =
            |f: fn(&TestOutcome) -> bool| self.cases.iter().filter(|c| f(&c.outcome)).count();
        let (pass, fail, error) = (
            count(|o| matches!(o, TestOutcome::Pass)),
            count(|o| matches!(o, TestOutcome::Fail { .. })),
            count(|o| matches!(o, TestOutcome::Error { .. })),
        );
        for (label, n) in [("PASS", pass), ("FAIL", fail), ("ERROR", error)] {
            if n > 0 {
                let _ = writeln!(out, "{label}: {n}/{total}");
            }
        }
        if let Some(cov) = &self.coverage {
            out.push_str(&render_coverage(cov));
        }
        out
    }
}

fn render_coverage(cov: &Coverage) -> String {
    let mut out = String::from("COVERAGE\n");
    for f in &cov.files {
        let total = f.covered.len() + f.not_covered.len();
        let _ = write!(
            out,
            "  {}: {}/{} lines, {:.1}%",
            f.path,
            f.covered.len(),
            total,
            percent(f.covered.len(), total)
        );
        if !f.not_covered.is_empty() {
            let _ = write!(out, ", not covered: {}", ranges(&f.not_covered));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "  overall: {:.1}%", cov.percent());
    out
}

#[allow(clippy::cast_precision_loss)] // line counts are far below 2^52
fn percent(part: usize, total: usize) -> f64 {
    if total == 0 {
        100.0
    } else {
        part as f64 * 100.0 / total as f64
    }
}

/// `1, 3-5, 9` from a set of line numbers.
fn ranges(lines: &BTreeSet<u32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = lines.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(", ")
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines().map(|l| format!("{prefix}{l}\n")).collect()
}

/// Runs the tests of the policy folder `dir`.
///
/// # Errors
/// A [`PolicyError`] when the folder, a module or a test file does not load;
/// failing tests are not errors, they are in the report.
pub fn run_tests(dir: &Path, opts: &TestOptions) -> Result<TestReport, PolicyError> {
    let sources = PolicySources::read(dir)?;
    run_tests_on(&sources, opts)
}

pub(crate) fn run_tests_on(
    sources: &PolicySources,
    opts: &TestOptions,
) -> Result<TestReport, PolicyError> {
    let mut engine = build(sources, true, opts.timeout)?;
    engine.set_gather_prints(true);
    if opts.coverage {
        engine.set_enable_coverage(true);
    }
    let mut cases = Vec::new();
    for file in &sources.tests {
        for rule in test_rules(&engine, file) {
            let started = Instant::now();
            let result = engine.eval_rule(rule.clone());
            let duration = started.elapsed();
            let outcome = match result {
                Ok(regorus::Value::Undefined | regorus::Value::Bool(false)) => TestOutcome::Fail {
                    detail: explain_failure(&engine, file, &rule),
                },
                Ok(_) => TestOutcome::Pass,
                Err(e) => TestOutcome::Error {
                    message: format!("{e:#}").trim().to_string(),
                },
            };
            cases.push(TestCase {
                file: module_name(file),
                rule,
                outcome,
                duration,
                prints: engine.take_prints().unwrap_or_default(),
            });
        }
    }
    let coverage = if opts.coverage {
        Some(coverage_of(&engine, sources))
    } else {
        None
    };
    Ok(TestReport {
        dir: sources.dir.clone(),
        cases,
        coverage,
    })
}

/// The `test_*` rules `file` declares, as full paths, in source order.
/// Candidates come from a scan of rule heads at the start of a line; the
/// engine confirms each, so a `test_` inside a string or comment never counts.
fn test_rules(engine: &regorus::Engine, file: &RegoFile) -> Vec<String> {
    let name = module_name(file);
    let Some(package) = engine
        .get_policy_package_components()
        .ok()
        .and_then(|ps| ps.into_iter().find(|p| p.source_file == name))
    else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    file.text
        .lines()
        .filter_map(|line| {
            let ident: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            ident.starts_with("test_").then_some(ident)
        })
        .filter(|rule| seen.insert(rule.clone()))
        .filter(|rule| {
            engine
                .has_declared_rule_rooted_at(&name, rule)
                .unwrap_or(false)
        })
        .map(|rule| format!("data.{}.{rule}", package.components.join(".")))
        .collect()
}

fn coverage_of(engine: &regorus::Engine, sources: &PolicySources) -> Coverage {
    let modules: Vec<String> = sources.modules.iter().map(module_name).collect();
    let mut files: Vec<FileCoverage> = engine
        .get_coverage_report()
        .map(|r| r.files)
        .unwrap_or_default()
        .into_iter()
        .filter(|f| modules.contains(&f.path))
        .map(|f| FileCoverage {
            path: f.path,
            covered: f.covered,
            not_covered: f.not_covered,
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Coverage { files }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(set: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../policies")
            .join(set)
    }

    #[test]
    fn shipped_policy_tests_pass_with_90_percent_coverage() {
        for set in ["texas", "clover"] {
            let opts = TestOptions {
                coverage: true,
                ..TestOptions::default()
            };
            let report = run_tests(&shipped(set), &opts).unwrap();
            let text = report.render(true);
            println!("{text}");
            assert!(report.cases.len() >= 10, "{set}: {text}");
            assert!(report.all_passed(), "{set}: {text}");
            let cov = report.coverage.unwrap();
            assert_eq!(cov.files.len(), 1, "{set}: {text}");
            assert!(cov.percent() >= 90.0, "{set}: {text}");
        }
    }

    #[test]
    fn failures_and_errors_are_reported_per_test() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("p.rego"),
            "package jurisgate\ndecision := {\"allow\": input.n > 1, \"regions\": [\"a\"]}\nboom := 1 if input.x\nboom := 2 if input.x\n",
        )
        .unwrap();
        std::fs::write(
            tmp.path().join("p_test.rego"),
            "package jurisgate_test\nimport data.jurisgate\n\ntest_ok if {\n\tjurisgate.decision.allow with input as {\"n\": 2}\n}\n\ntest_wrong if {\n\td := jurisgate.decision with input as {\"n\": 0}\n\tprint(\"n is\", 0)\n\td.allow == true\n}\n\ntest_error if {\n\tjurisgate.boom with input as {\"x\": true}\n}\n# test_in_a_comment if true\n",
        )
        .unwrap();
        let report = run_tests(tmp.path(), &TestOptions::default()).unwrap();
        let by_name = |n: &str| {
            report
                .cases
                .iter()
                .find(|c| c.rule == format!("data.jurisgate_test.{n}"))
                .unwrap()
        };
        assert_eq!(report.cases.len(), 3);
        assert_eq!(by_name("test_ok").outcome, TestOutcome::Pass);
        assert!(matches!(
            by_name("test_error").outcome,
            TestOutcome::Error { .. }
        ));
        let wrong = by_name("test_wrong");
        let TestOutcome::Fail {
            detail: Some(detail),
        } = &wrong.outcome
        else {
            panic!("{:?}", wrong.outcome);
        };
        assert_eq!(detail.line, 11);
        assert_eq!(detail.statement, "d.allow == true");
        let text = report.render(false);
        assert!(text.contains("test_wrong: FAIL"), "{text}");
        assert!(text.contains("left:  false"), "{text}");
        assert!(text.contains("d = {\"allow\":false"), "{text}");
        assert!(text.contains("p_test.rego:10: n is 0"), "{text}");
        assert!(!text.contains("test_ok"), "{text}");
        assert!(
            text.contains("PASS: 1/3") && text.contains("FAIL: 1/3") && text.contains("ERROR: 1/3"),
            "{text}"
        );
    }

    #[test]
    fn line_ranges_are_compact() {
        let lines: BTreeSet<u32> = [1, 3, 4, 5, 9].into_iter().collect();
        assert_eq!(ranges(&lines), "1, 3-5, 9");
    }
}
