//! The engine interface: loads a policy folder once, then evaluates
//! `data.jurisgate.decision` per request, cheaply and from many threads.
//! Two engines sit behind [`PolicyEngine`], chosen by [`EngineKind`]: `rego`
//! (Rego source through regorus, the default, implemented here) and `wasm`
//! (an OPA bundle through opa-wasm, in [`crate::wasm`], behind the cargo
//! feature `wasm`). Callers never see which one decides.
//!
//! regorus needs `&mut Engine` to evaluate, so [`PolicyEngine`] keeps one
//! *prepared* engine as a template and clones it per evaluation. With the
//! `arc` feature the clone shares the parsed modules, the schedule and the
//! data through `Arc`s; only the small interpreter state is copied (measured
//! in `tests::decisions_are_cheap_and_thread_safe`). No lock is held while
//! evaluating. Each evaluation is capped by regorus's cooperative execution
//! timer, and an answer that still arrives late is treated as a time-out, so
//! a slow policy denies instead of stalling the request.
//!
//! Every failure (undefined, wrong shape, error, time-out, even a panic
//! inside the engine) is a deny with reason `policy_error`. This module does
//! not run the policy's tests; see `load_checked` for that.
//!
//! In front of the Rego engine sits the decision cache ([`crate::cache`]):
//! decisions keyed on the input paths the policy's syntax tree can read
//! ([`crate::footprint`]), built per loaded revision and so emptied by a
//! reload. [`PolicyEngine::decide_input`] (for the request path: it keys a
//! typed input without building its JSON), [`PolicyEngine::decide_shared`]
//! and the other `decide*` methods use it; [`PolicyEngine::evaluate`] and
//! [`PolicyEngine::evaluate_raw`] always ask the engine.

use std::num::NonZeroU32;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use regorus::utils::limits::ExecutionTimerConfig;

use crate::cache::DecisionCache;
use crate::files::{PolicySources, RegoFile};
use crate::shape::decision_from_json;
use crate::{Decision, EvalError, PolicyError, PolicyFileHash, PolicyInput};

/// The package every policy set must declare its decision in.
pub const PACKAGE: &str = "jurisgate";
/// The rule the gateway evaluates.
pub const DECISION_RULE: &str = "data.jurisgate.decision";

/// Which engine evaluates a policy folder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EngineKind {
    /// `*.rego` and `data.json`, evaluated by regorus.
    #[default]
    Rego,
    /// An OPA bundle built with `opa build -t wasm -e jurisgate/decision`
    /// (`bundle.tar.gz`, or `policy.wasm` beside `data.json`), run by
    /// wasmtime. Needs the cargo feature `wasm`.
    Wasm,
}

impl EngineKind {
    /// `rego` or `wasm`, as in the config and the `policy_loaded` record.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Rego => "rego",
            Self::Wasm => "wasm",
        }
    }

    /// Whether this build can run the engine (`wasm` needs the feature).
    #[must_use]
    pub fn available(self) -> bool {
        match self {
            Self::Rego => true,
            Self::Wasm => cfg!(feature = "wasm"),
        }
    }
}

/// How the engine evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// Cap on one evaluation; past it the decision is `policy_error`.
    pub timeout: Duration,
    /// Which engine loads the folder.
    pub kind: EngineKind,
}

impl Default for EngineOptions {
    /// The Rego engine, with 100 ms per evaluation: generous for policies
    /// that take microseconds, short enough that a runaway policy cannot hold
    /// a request for long.
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(100),
            kind: EngineKind::Rego,
        }
    }
}

/// The engine that decides, behind the one interface.
// One per loaded policy, never moved on a request's path: its size is moot.
#[cfg_attr(feature = "wasm", allow(clippy::large_enum_variant))]
#[derive(Debug)]
enum Backend {
    /// A prepared regorus engine, cloned per evaluation.
    Rego(regorus::Engine),
    /// An OPA wasm module with a pool of instances.
    #[cfg(feature = "wasm")]
    Wasm(crate::wasm::WasmPolicy),
}

/// A loaded, compiled policy folder. `Send + Sync`: share it in an `Arc`.
#[derive(Debug)]
pub struct PolicyEngine {
    backend: Backend,
    dir: PathBuf,
    revision: String,
    files: Vec<PolicyFileHash>,
    timeout: Duration,
    /// Decisions by footprint; `None` when the policy may read what a key
    /// cannot hold (or the engine is `wasm`).
    cache: Option<DecisionCache>,
}

impl PolicyEngine {
    /// Loads the policy folder `dir` with the engine `opts.kind` names.
    ///
    /// Rego: every `*.rego` of `dir` except `*_test.rego`, and `data.json`,
    /// checking that `data.jurisgate.decision` is declared. Wasm: see
    /// [`crate::wasm`] (`bundle.tar.gz`, or `policy.wasm` and `data.json`),
    /// checking the ABI version, the builtins and the `jurisgate/decision`
    /// entrypoint.
    ///
    /// # Errors
    /// A [`PolicyError`] naming the file (and line, column) at fault, or
    /// [`PolicyError::EngineNotBuilt`] when this build lacks the engine.
    pub fn load(dir: &Path, opts: &EngineOptions) -> Result<Self, PolicyError> {
        match opts.kind {
            EngineKind::Rego => Self::from_sources(&PolicySources::read(dir)?, opts),
            EngineKind::Wasm => Self::load_wasm(dir, opts),
        }
    }

    #[cfg(feature = "wasm")]
    fn load_wasm(dir: &Path, opts: &EngineOptions) -> Result<Self, PolicyError> {
        let loaded = crate::wasm::WasmPolicy::load(dir, opts.timeout)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            revision: loaded.revision.clone(),
            files: loaded.files.clone(),
            timeout: opts.timeout,
            backend: Backend::Wasm(loaded),
            cache: None,
        })
    }

    #[cfg(not(feature = "wasm"))]
    fn load_wasm(_dir: &Path, _opts: &EngineOptions) -> Result<Self, PolicyError> {
        Err(PolicyError::EngineNotBuilt {
            engine: EngineKind::Wasm.name(),
        })
    }

    pub(crate) fn from_sources(
        sources: &PolicySources,
        opts: &EngineOptions,
    ) -> Result<Self, PolicyError> {
        let mut template = build(sources, false, opts.timeout)?;
        let cache = match crate::footprint::analyse(template.get_modules().iter().map(|m| &**m)) {
            Ok(footprint) => Some(DecisionCache::new(footprint)),
            Err(why) => {
                tracing::info!(dir = %sources.dir.display(), %why, "decisions of this policy are not cached");
                None
            }
        };
        Ok(Self {
            backend: Backend::Rego(template),
            dir: sources.dir.clone(),
            revision: sources.revision.clone(),
            files: sources.files.clone(),
            timeout: opts.timeout,
            cache,
        })
    }

    /// Which engine decides: `rego` or `wasm`.
    #[must_use]
    pub fn kind(&self) -> EngineKind {
        match self.backend {
            Backend::Rego(_) => EngineKind::Rego,
            #[cfg(feature = "wasm")]
            Backend::Wasm(_) => EngineKind::Wasm,
        }
    }

    /// `sha256:<hex>` over the files that decide (see [`crate::files`]).
    #[must_use]
    pub fn revision(&self) -> &str {
        &self.revision
    }

    /// The files that make up the revision, each with its SHA-256.
    #[must_use]
    pub fn files(&self) -> &[PolicyFileHash] {
        &self.files
    }

    /// The folder the policy was loaded from.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Decides one request. Never panics; any failure is
    /// [`Decision::policy_error`].
    #[must_use]
    pub fn decide(&self, input: &PolicyInput) -> Decision {
        Arc::unwrap_or_clone(self.decide_input(input))
    }

    /// Decides one request as [`Self::decide_shared`] does on its JSON, but
    /// reads the cache key straight from `input`, so a cache hit builds no
    /// `serde_json::Value`. On a miss the input becomes JSON for the engine
    /// and the decision is stored under the key `decide_shared` would use.
    /// Never panics; any failure is [`Decision::policy_error`], and failures
    /// are never cached.
    #[must_use]
    pub fn decide_input(&self, input: &PolicyInput) -> Arc<Decision> {
        let typed = self.cache.as_ref().map(|c| (c, c.typed_key(input)));
        if let Some((cache, Ok(Some(key)))) = &typed
            && let Some(hit) = cache.get(key)
        {
            return hit;
        }
        let value = match serde_json::to_value(input) {
            Ok(value) => value,
            Err(e) => {
                tracing::warn!(error = %e, "policy input did not serialise; denying");
                return Arc::new(Decision::policy_error());
            }
        };
        match typed {
            // A miss, or `None` when a volatile field could matter.
            Some((_, Ok(key))) => self.evaluate_and_store(&value, key),
            Some((_, Err(e))) => {
                tracing::debug!(error = %e, "no cache key from the typed input; keying its JSON");
                self.decide_shared(&value)
            }
            None => self.evaluate_and_store(&value, None),
        }
    }

    /// Decides a JSON input (replay, `policy eval`). Never panics; any
    /// failure is [`Decision::policy_error`].
    #[must_use]
    pub fn decide_value(&self, input: &serde_json::Value) -> Decision {
        Arc::unwrap_or_clone(self.decide_shared(input))
    }

    /// Decides a JSON input, from the decision cache when an input with the
    /// same footprint was decided before (the gateway's path: a hit costs a
    /// key and a lookup, no copy). Never panics; any failure is
    /// [`Decision::policy_error`], and failures are never cached.
    #[must_use]
    pub fn decide_shared(&self, input: &serde_json::Value) -> Arc<Decision> {
        let key = self.cache.as_ref().and_then(|c| c.key(input));
        if let (Some(cache), Some(key)) = (&self.cache, &key)
            && let Some(hit) = cache.get(key)
        {
            return hit;
        }
        self.evaluate_and_store(input, key)
    }

    /// Asks the engine and, when it decided and there is a `key`, stores the
    /// decision under it.
    fn evaluate_and_store(
        &self,
        input: &serde_json::Value,
        key: Option<Box<[u8]>>,
    ) -> Arc<Decision> {
        match self.evaluate(input) {
            Ok(decision) => {
                let decision = Arc::new(decision);
                if let (Some(cache), Some(key)) = (&self.cache, key) {
                    cache.insert(key, Arc::clone(&decision));
                }
                decision
            }
            Err(e) => {
                tracing::warn!(error = %e, revision = %self.revision, "policy failed; denying");
                Arc::new(Decision::policy_error())
            }
        }
    }

    /// The decision cache, if this policy has one.
    #[cfg(test)]
    pub(crate) fn cache(&self) -> Option<&DecisionCache> {
        self.cache.as_ref()
    }

    /// Like [`Self::decide_value`], but says why there is no decision, and
    /// always from the engine (never the decision cache).
    ///
    /// # Errors
    /// An [`EvalError`] when the decision is undefined, has the wrong shape,
    /// failed or timed out.
    pub fn evaluate(&self, input: &serde_json::Value) -> Result<Decision, EvalError> {
        let raw = self.evaluate_raw(input)?.ok_or(EvalError::Undefined)?;
        Ok(decision_from_json(&raw)?)
    }

    /// The value of `data.jurisgate.decision` as the policy produced it,
    /// unchecked (`None` when undefined). For parity tests and `--raw`.
    ///
    /// # Errors
    /// An [`EvalError`] when evaluation failed or timed out.
    pub fn evaluate_raw(
        &self,
        input: &serde_json::Value,
    ) -> Result<Option<serde_json::Value>, EvalError> {
        match &self.backend {
            Backend::Rego(template) => {
                let v = self.run(template, input, |e| e.eval_rule(DECISION_RULE.to_string()))?;
                if v == regorus::Value::Undefined {
                    return Ok(None);
                }
                to_json(&v).map(Some)
            }
            #[cfg(feature = "wasm")]
            Backend::Wasm(wasm) => wasm.evaluate_raw(input),
        }
    }

    /// Every rule of package `jurisgate` that is defined for `input`, with
    /// its value: what `policy eval --explain` shows.
    ///
    /// # Errors
    /// An [`EvalError`] when evaluation failed or timed out, or when the
    /// engine is `wasm` (a compiled bundle exposes only its entrypoint).
    pub fn package_values(
        &self,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, EvalError> {
        match &self.backend {
            Backend::Rego(template) => {
                let results = self.run(template, input, |e| {
                    e.eval_query(format!("data.{PACKAGE}"), false)
                })?;
                match results.result.first().and_then(|r| r.expressions.first()) {
                    Some(expr) => to_json(&expr.value),
                    None => Ok(serde_json::Value::Object(serde_json::Map::new())),
                }
            }
            #[cfg(feature = "wasm")]
            Backend::Wasm(_) => Err(EvalError::Engine(
                "a wasm bundle exposes only its entrypoint; explain with the rego engine on the policy's sources".into(),
            )),
        }
    }

    /// Runs `f` on a fresh clone of the template with `input` set, under the
    /// time cap, turning panics, errors and late answers into [`EvalError`].
    fn run<T>(
        &self,
        template: &regorus::Engine,
        input: &serde_json::Value,
        f: impl FnOnce(&mut regorus::Engine) -> anyhow::Result<T>,
    ) -> Result<T, EvalError> {
        let started = Instant::now();
        let mut engine = template.clone();
        engine.set_input(regorus::Value::from(input.clone()));
        let outcome = catch_unwind(AssertUnwindSafe(|| f(&mut engine)));
        if started.elapsed() > self.timeout {
            return Err(EvalError::Timeout(self.timeout));
        }
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if is_time_limit(&e) => Err(EvalError::Timeout(self.timeout)),
            Ok(Err(e)) => Err(EvalError::Engine(format!("{e:#}"))),
            Err(_) => Err(EvalError::Engine("the Rego engine panicked".into())),
        }
    }
}

fn is_time_limit(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<regorus::LimitError>(),
            Some(regorus::LimitError::TimeLimitExceeded { .. })
        )
    }) || format!("{e:#}").contains("execution exceeded time limit")
}

fn to_json(v: &regorus::Value) -> Result<serde_json::Value, EvalError> {
    serde_json::to_value(v).map_err(|e| EvalError::Engine(format!("result is not JSON: {e}")))
}

/// Builds a prepared regorus engine from `sources` (with the tests when
/// `with_tests`), checking that the decision rule is declared.
pub(crate) fn build(
    sources: &PolicySources,
    with_tests: bool,
    timeout: Duration,
) -> Result<regorus::Engine, PolicyError> {
    let mut engine = regorus::Engine::new();
    // Rego v1 (`if`, `contains`), the syntax OPA 1.x defaults to.
    engine.set_rego_v0(false);
    // OPA's default: a builtin error (say, a malformed timestamp) makes the
    // expression undefined rather than failing the whole query. Keeping it
    // gives the same decisions under OPA and here.
    engine.set_strict_builtin_errors(false);
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: timeout,
        // Checking the clock every 64 work units keeps the overhead small
        // while still catching a runaway loop within microseconds.
        check_interval: NonZeroU32::new(64).unwrap_or(NonZeroU32::MIN),
    });
    let tests: &[RegoFile] = if with_tests { &sources.tests } else { &[] };
    for file in sources.modules.iter().chain(tests) {
        add_module(&mut engine, file)?;
    }
    if let Some(data) = &sources.data {
        engine
            .add_data(regorus::Value::from(data.clone()))
            .map_err(|e| PolicyError::Compile {
                dir: sources.dir.clone(),
                message: format!("data.json: {e:#}"),
            })?;
    }
    if !declares_decision(&engine, &sources.modules) {
        return Err(PolicyError::MissingDecisionRule {
            dir: sources.dir.clone(),
        });
    }
    // Compiling on a throw-away clone surfaces analysis errors (unsafe
    // variables, recursion, conflicts with data) at load time, not per request.
    engine
        .clone()
        .compile_with_entrypoint(&DECISION_RULE.into())
        .map_err(|e| PolicyError::Compile {
            dir: sources.dir.clone(),
            message: format!("{e:#}"),
        })?;
    // Prepares the template once so clones skip analysis; the value of this
    // input-less evaluation does not matter.
    let _ = engine.eval_rule(DECISION_RULE.to_string());
    Ok(engine)
}

pub(crate) fn add_module(engine: &mut regorus::Engine, file: &RegoFile) -> Result<(), PolicyError> {
    engine
        .add_policy(module_name(file), file.text.clone())
        .map(drop)
        .map_err(|e| parse_error(&file.path, &e))
}

/// The name regorus knows a module by (and prints in messages).
pub(crate) fn module_name(file: &RegoFile) -> String {
    file.path.display().to_string()
}

fn declares_decision(engine: &regorus::Engine, modules: &[RegoFile]) -> bool {
    let Ok(packages) = engine.get_policy_package_components() else {
        return false;
    };
    modules.iter().any(|m| {
        let name = module_name(m);
        packages
            .iter()
            .any(|p| p.source_file == name && p.components == [PACKAGE])
            && engine
                .has_declared_rule_rooted_at(&name, "decision")
                .unwrap_or(false)
    })
}

/// Turns regorus's parse message (`--> file:line:col`, the line, a caret,
/// `error: …`) into `file:line:col: error: …` followed by the quoted line.
pub(crate) fn parse_error(path: &Path, e: &anyhow::Error) -> PolicyError {
    let raw = format!("{e:#}");
    let (line, column) = locate(&raw);
    let mut lines = raw.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or_default();
    let message = match first.strip_prefix("--> ") {
        Some(place) => {
            let rest: Vec<&str> = lines.collect();
            let (snippet, what) = rest.split_at(rest.len().saturating_sub(1));
            format!(
                "{place}: {}\n{}",
                what.first().copied().unwrap_or("error"),
                snippet.join("\n")
            )
        }
        None => format!("{}: {}", path.display(), raw.trim()),
    };
    PolicyError::Parse {
        path: path.to_path_buf(),
        line,
        column,
        message,
    }
}

/// Finds `:line:col` after regorus's `--> ` marker.
fn locate(message: &str) -> (Option<u32>, Option<u32>) {
    let Some(place) = message
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("--> "))
    else {
        return (None, None);
    };
    let mut parts = place.rsplitn(3, ':');
    let column = parts.next().and_then(|c| c.trim().parse().ok());
    let line = parts.next().and_then(|l| l.trim().parse().ok());
    (line, column)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(tmp.path().join(name), text).unwrap();
        }
        tmp
    }

    fn load(files: &[(&str, &str)]) -> PolicyEngine {
        let tmp = folder(files);
        PolicyEngine::load(tmp.path(), &EngineOptions::default()).unwrap()
    }

    const ALLOW_US: &str = r#"package jurisgate
default decision := {"allow": false, "reason": "default"}
decision := {"allow": true, "regions": data.regions[input.j], "reason": "home"} if {
    data.regions[input.j]
}
"#;

    #[test]
    fn a_simple_policy_decides_with_its_data() {
        let e = load(&[
            ("p.rego", ALLOW_US),
            ("data.json", r#"{"regions": {"US": ["us-east"]}}"#),
        ]);
        let d = e.decide_value(&json!({"j": "US"}));
        assert!(d.allow);
        assert_eq!(d.regions, ["us-east"]);
        let d = e.decide_value(&json!({"j": "EU"}));
        assert_eq!((d.allow, d.reason.as_str()), (false, "default"));
    }

    #[test]
    fn undefined_decision_fails_closed() {
        let e = load(&[(
            "p.rego",
            "package jurisgate\ndecision := {\"allow\": true, \"regions\": [\"x\"]} if input.ok\n",
        )]);
        assert_eq!(e.decide_value(&json!({})), Decision::policy_error());
        assert!(matches!(e.evaluate(&json!({})), Err(EvalError::Undefined)));
        assert!(e.decide_value(&json!({"ok": true})).allow);
    }

    #[test]
    fn wrong_shape_fails_closed() {
        let e = load(&[(
            "p.rego",
            "package jurisgate\ndecision := {\"allow\": true, \"reason\": \"no regions\"}\n",
        )]);
        assert_eq!(e.decide_value(&json!({})), Decision::policy_error());
        let err = e.evaluate(&json!({})).unwrap_err().to_string();
        assert!(err.contains("regions"), "{err}");
    }

    #[test]
    fn evaluation_error_fails_closed() {
        // Two complete definitions with different values: a conflict at
        // evaluation time, which is an error in both OPA and regorus.
        let e = load(&[(
            "p.rego",
            "package jurisgate\ndecision := {\"allow\": true, \"regions\": [\"a\"]} if input.x\ndecision := {\"allow\": false} if input.y\n",
        )]);
        assert!(e.decide_value(&json!({"x": true})).allow);
        assert_eq!(
            e.decide_value(&json!({"x": true, "y": true})),
            Decision::policy_error()
        );
        assert!(matches!(
            e.evaluate(&json!({"x": true, "y": true})),
            Err(EvalError::Engine(_))
        ));
    }

    #[test]
    fn a_slow_policy_times_out_and_denies() {
        let tmp = folder(&[(
            "p.rego",
            "package jurisgate\ndecision := {\"allow\": true, \"regions\": [\"a\"], \"reason\": sprintf(\"%d\", [n])} if {\n  n := count([1 | some x in numbers.range(1, 3000); some y in numbers.range(1, 3000); x != y])\n}\n",
        )]);
        let opts = EngineOptions {
            timeout: Duration::from_millis(20),
            ..EngineOptions::default()
        };
        let e = PolicyEngine::load(tmp.path(), &opts).unwrap();
        let started = Instant::now();
        let r = e.evaluate(&json!({}));
        assert!(matches!(r, Err(EvalError::Timeout(_))), "{r:?}");
        // The timer is cooperative: it stops this loop soon after the cap,
        // long before its nine million iterations finish.
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(e.decide_value(&json!({})), Decision::policy_error());
    }

    #[cfg(not(feature = "wasm"))]
    #[test]
    fn the_wasm_engine_without_the_feature_says_how_to_get_it() {
        let tmp = folder(&[("p.rego", ALLOW_US)]);
        let opts = EngineOptions {
            kind: EngineKind::Wasm,
            ..EngineOptions::default()
        };
        assert!(!EngineKind::Wasm.available());
        let e = PolicyEngine::load(tmp.path(), &opts)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("rebuild with `cargo build --features wasm`"),
            "{e}"
        );
    }

    #[test]
    fn missing_decision_rule_is_a_load_error() {
        let tmp = folder(&[("p.rego", "package jurisgate\nallow := true\n")]);
        let e = PolicyEngine::load(tmp.path(), &EngineOptions::default()).unwrap_err();
        assert!(matches!(e, PolicyError::MissingDecisionRule { .. }), "{e}");
        let tmp = folder(&[("p.rego", "package other\ndecision := {}\n")]);
        let e = PolicyEngine::load(tmp.path(), &EngineOptions::default()).unwrap_err();
        assert!(matches!(e, PolicyError::MissingDecisionRule { .. }), "{e}");
    }

    #[test]
    fn parse_errors_name_file_line_and_column() {
        let tmp = folder(&[(
            "p.rego",
            "package jurisgate\n\ndecision := {\"allow\": true,, }\n",
        )]);
        let e = PolicyEngine::load(tmp.path(), &EngineOptions::default()).unwrap_err();
        let PolicyError::Parse {
            line,
            column,
            message,
            ..
        } = &e
        else {
            panic!("expected a parse error, got {e}");
        };
        assert_eq!(*line, Some(3));
        assert!(column.is_some());
        assert!(message.contains("p.rego:3:"), "{message}");
    }

    #[test]
    fn revision_changes_when_a_file_changes() {
        let tmp = folder(&[("p.rego", ALLOW_US), ("data.json", r#"{"regions": {}}"#)]);
        let opts = EngineOptions::default();
        let r1 = PolicyEngine::load(tmp.path(), &opts)
            .unwrap()
            .revision()
            .to_string();
        assert!(r1.starts_with("sha256:") && r1.len() == 7 + 64, "{r1}");
        std::fs::write(
            tmp.path().join("data.json"),
            r#"{"regions": {"US": ["us-east"]}}"#,
        )
        .unwrap();
        let e = PolicyEngine::load(tmp.path(), &opts).unwrap();
        assert_ne!(e.revision(), r1);
        let names: Vec<_> = e.files().iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["data.json", "p.rego"]);
    }

    #[test]
    fn package_values_show_defined_rules() {
        let e = load(&[(
            "p.rego",
            "package jurisgate\nhome := input.j\ndecision := {\"allow\": false}\n",
        )]);
        let v = e.package_values(&json!({"j": "US"})).unwrap();
        assert_eq!(v["home"], "US");
        assert_eq!(v["decision"]["allow"], false);
    }

    fn shipped_sample(set: &str, sample: &str) -> (PolicyEngine, serde_json::Value) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../policies")
            .join(set);
        let engine = PolicyEngine::load(&dir, &EngineOptions::default()).unwrap();
        let text = std::fs::read(dir.join("samples").join(sample)).unwrap();
        (engine, serde_json::from_slice(&text).unwrap())
    }

    #[test]
    fn typed_and_json_inputs_share_cached_decisions() {
        let (e, json) = shipped_sample("clover", "eu_user_write.json");
        let typed: PolicyInput = serde_json::from_value(json.clone()).unwrap();
        let stored = e.decide_input(&typed);
        assert_eq!(*stored, e.evaluate(&json).unwrap());
        assert!(Arc::ptr_eq(&stored, &e.decide_shared(&json)));
        let mut next = typed.clone();
        next.request.id = "01JNEXT".into();
        next.time = "2026-11-28T09:00:00Z".into();
        assert!(Arc::ptr_eq(&stored, &e.decide_input(&next)));
        assert_eq!(e.decide(&next), *stored);

        // The other way round: what the JSON stored, the typed input finds.
        let (e, json) = shipped_sample("clover", "us_engineer_read.json");
        let stored = e.decide_shared(&json);
        let typed: PolicyInput = serde_json::from_value(json).unwrap();
        assert!(Arc::ptr_eq(&stored, &e.decide_input(&typed)));
    }

    #[test]
    fn an_uncached_policy_decides_typed_inputs_with_the_engine() {
        let e = load(&[(
            "p.rego",
            "package jurisgate\ndecision := {\"allow\": input.subject.jurisdiction == \"EU\", \"regions\": [\"eu-west\"], \"reason\": sprintf(\"%d\", [time.now_ns()])}\n",
        )]);
        assert!(e.cache.is_none(), "time.now_ns makes it uncacheable");
        let (_, json) = shipped_sample("clover", "eu_user_write.json");
        let typed: PolicyInput = serde_json::from_value(json).unwrap();
        let first = e.decide_input(&typed);
        assert!(first.allow, "{first:?}");
        assert_eq!(first.regions, ["eu-west"]);
        assert!(
            !Arc::ptr_eq(&first, &e.decide_input(&typed)),
            "never stored"
        );
    }

    #[test]
    fn decisions_are_cheap_and_thread_safe() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PolicyEngine>();
        let e = Arc::new(load(&[
            ("p.rego", ALLOW_US),
            ("data.json", r#"{"regions": {"US": ["us-east"]}}"#),
        ]));
        const PER_THREAD: u32 = 500;
        let started = Instant::now();
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let e = Arc::clone(&e);
                std::thread::spawn(move || {
                    for i in 0..PER_THREAD {
                        let j = if (i + t) % 2 == 0 { "US" } else { "EU" };
                        let d = e.decide_value(&json!({"j": j}));
                        assert_eq!(d.allow, j == "US");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let per = started.elapsed() / (4 * PER_THREAD);
        println!("per decision (4 threads, wall clock / decisions): {per:?}");
        // Loose bound for unoptimised test builds on a small machine.
        assert!(per < Duration::from_millis(5), "{per:?}");
    }
}
