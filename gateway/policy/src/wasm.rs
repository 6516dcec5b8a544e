//! The `wasm` engine: an OPA policy compiled with
//! `opa build -t wasm -e jurisgate/decision`, run by wasmtime through the
//! `opa-wasm` crate. Only built with the cargo feature `wasm`.
//!
//! A wasm policy folder holds either the bundle `opa build` writes
//! (`bundle.tar.gz`, with `/policy.wasm` and its `data.json` files) or a bare
//! `policy.wasm` with an optional `data.json` beside it. Loading compiles the
//! module once and instantiates it to check what can go wrong before the
//! first request: not WebAssembly, an OPA ABI version other than 1.x, a
//! missing export, a builtin this engine does not provide, no
//! `jurisgate/decision` entrypoint. Each error names the file.
//!
//! An instance is single-threaded (its memory is the evaluation's heap), so
//! evaluations take an idle instance from a small pool, or make one, and put
//! it back afterwards; no lock is held while evaluating. The time cap is
//! wasmtime's epoch interruption: a ticker thread advances the epoch every
//! few milliseconds and a runaway evaluation traps. An instance that trapped
//! is dropped, not reused, since its heap may be half-written.
//!
//! What was checked, and against what: the loader, the ABI and entrypoint
//! checks, evaluation, the time cap and the pool are tested on small
//! hand-written modules that export the OPA ABI and return fixed decisions
//! (see the tests). No module built by the real `opa` compiler was
//! available, so decisions of real OPA-compiled policies (and the builtins
//! they call back into) are not tested here.
//!
//! This module does not run Rego tests or `check` (they need the sources).

use std::future::Future;
use std::io::Read as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use opa_wasm::wasmtime::{Config, Engine, Module, Store};
use opa_wasm::{DefaultContext, Policy, Runtime};
use sha2::{Digest, Sha256};

use crate::files::{DATA_FILE, PolicyFileHash, parse_data, revision};
use crate::{EvalError, PolicyError};

/// The bundle `opa build` writes.
pub const BUNDLE_FILE: &str = "bundle.tar.gz";
/// A bare compiled module.
pub const MODULE_FILE: &str = "policy.wasm";
/// The entrypoint the gateway evaluates (`opa build -e jurisgate/decision`).
pub const ENTRYPOINT: &str = "jurisgate/decision";

/// How often the epoch advances: the granularity of the time cap.
const TICK: Duration = Duration::from_millis(5);
/// Idle instances kept for reuse; more concurrent evaluations make more.
const MAX_IDLE: usize = 32;
/// Largest file read out of a bundle: a bound on a hostile archive.
const MAX_BUNDLE_ENTRY: u64 = 256 << 20;

/// A compiled OPA wasm policy with its data and a pool of instances.
pub(crate) struct WasmPolicy {
    /// `sha256:` over the bundle, or over `policy.wasm` and `data.json`.
    pub(crate) revision: String,
    /// The files hashed into the revision.
    pub(crate) files: Vec<PolicyFileHash>,
    /// The module's OPA ABI version, e.g. `1.2`.
    pub(crate) abi: String,
    engine: Engine,
    module: Module,
    data: serde_json::Value,
    idle: Mutex<Vec<Instance>>,
    timeout: Duration,
}

impl std::fmt::Debug for WasmPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmPolicy")
            .field("revision", &self.revision)
            .field("abi", &self.abi)
            .finish_non_exhaustive()
    }
}

/// One instance of the module: its store (memory) and the loaded policy.
struct Instance {
    store: Store<()>,
    policy: Policy<DefaultContext>,
}

/// What a wasm policy folder holds.
struct WasmSources {
    /// The file errors are reported against.
    source: PathBuf,
    module: Vec<u8>,
    data: serde_json::Value,
    files: Vec<PolicyFileHash>,
}

impl WasmPolicy {
    /// Loads and checks the wasm policy in `dir`.
    pub(crate) fn load(dir: &Path, timeout: Duration) -> Result<Self, PolicyError> {
        let sources = read_sources(dir)?;
        let fail = |message: String| PolicyError::Wasm {
            path: sources.source.clone(),
            message,
        };
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| fail(format!("wasmtime: {e:#}")))?;
        let module = Module::new(&engine, &sources.module)
            .map_err(|e| fail(format!("not a valid WebAssembly module: {e:#}")))?;
        let mut policy = Self {
            revision: revision(&sources.files),
            files: sources.files,
            abi: String::new(),
            engine,
            module,
            data: sources.data,
            idle: Mutex::new(Vec::new()),
            timeout,
        };
        let first = policy.instantiate().map_err(|e| {
            let hint = if format!("{e:#}").contains("unknown builtin") {
                "; it calls a builtin this engine does not provide (provided: OPA's compiled-in builtins, sprintf, time.*, base64url.*, hex.*, semver.*, urlquery.*)"
            } else {
                ""
            };
            fail(format!("not a usable OPA policy module: {e:#}{hint}"))
        })?;
        let entrypoints = first.policy.entrypoints();
        if !entrypoints.contains(ENTRYPOINT) {
            let mut have: Vec<&str> = entrypoints.into_iter().collect();
            have.sort_unstable();
            return Err(fail(format!(
                "no entrypoint {ENTRYPOINT} (the module has: {}); build with `opa build -t wasm -e {ENTRYPOINT}`",
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                }
            )));
        }
        policy.abi = first.policy.abi_version().to_string();
        policy.give_back(first);
        spawn_ticker(&policy.engine)
            .map_err(|e| fail(format!("cannot start the time-cap thread: {e}")))?;
        Ok(policy)
    }

    /// The epoch ticks one evaluation may run for.
    fn deadline_ticks(&self) -> u64 {
        let ticks = self.timeout.as_nanos().div_ceil(TICK.as_nanos());
        u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(1)
    }

    fn instantiate(&self) -> anyhow::Result<Instance> {
        let mut store = Store::new(&self.engine, ());
        store.set_epoch_deadline(self.deadline_ticks());
        let policy = block_on(async {
            let runtime = Runtime::new(&mut store, &self.module).await?;
            runtime.with_data(&mut store, &self.data).await
        })?;
        Ok(Instance { store, policy })
    }

    fn give_back(&self, instance: Instance) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(instance);
        }
    }

    /// The value of the `jurisgate/decision` entrypoint (`None` when
    /// undefined), or why there is none.
    pub(crate) fn evaluate_raw(
        &self,
        input: &serde_json::Value,
    ) -> Result<Option<serde_json::Value>, EvalError> {
        let started = Instant::now();
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut instance = match pooled {
            Some(instance) => instance,
            None => self
                .instantiate()
                .map_err(|e| EvalError::Engine(format!("instantiating the wasm policy: {e:#}")))?,
        };
        instance.store.set_epoch_deadline(self.deadline_ticks());
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let Instance { store, policy } = &mut instance;
            block_on(policy.evaluate::<_, serde_json::Value, _>(store, ENTRYPOINT, input))
        }));
        let late = started.elapsed() > self.timeout;
        match outcome {
            Ok(Ok(results)) => {
                self.give_back(instance);
                if late {
                    return Err(EvalError::Timeout(self.timeout));
                }
                first_result(results)
            }
            // The instance is dropped: a trap can leave its heap half-written.
            Ok(Err(e)) if late || is_interrupt(&e) => Err(EvalError::Timeout(self.timeout)),
            Ok(Err(e)) => Err(EvalError::Engine(format!("{e:#}"))),
            Err(_) => Err(EvalError::Engine("the wasm engine panicked".into())),
        }
    }
}

/// OPA's result set is `[{"result": value}]`, or `[]` when undefined.
fn first_result(results: serde_json::Value) -> Result<Option<serde_json::Value>, EvalError> {
    match results {
        serde_json::Value::Array(sets) if sets.is_empty() => Ok(None),
        serde_json::Value::Array(mut sets) if sets.len() == 1 => {
            match sets
                .pop()
                .and_then(|mut set| set.get_mut("result").map(serde_json::Value::take))
            {
                Some(value) => Ok(Some(value)),
                None => Err(EvalError::Engine(
                    "the module's result set has no \"result\"".into(),
                )),
            }
        }
        other => Err(EvalError::Engine(format!(
            "the module returned {other} instead of one result set"
        ))),
    }
}

fn is_interrupt(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<opa_wasm::wasmtime::Trap>() == Some(&opa_wasm::wasmtime::Trap::Interrupt)
    }) || format!("{e:#}").contains("interrupt")
}

/// Advances `engine`'s epoch every [`TICK`] until the engine is dropped.
fn spawn_ticker(engine: &Engine) -> std::io::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("jurisgate-wasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .map(drop)
}

/// Drives a future to completion on this thread. opa-wasm's API is async,
/// but nothing in an evaluation waits on I/O (the builtins compute), so it
/// completes on the first polls; parking covers the rest without needing
/// (or nesting) a tokio runtime, so it is safe to call from async code.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

fn hash(path: &str, bytes: &[u8]) -> PolicyFileHash {
    PolicyFileHash {
        path: path.into(),
        sha256: hex::encode(Sha256::digest(bytes)),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, PolicyError> {
    std::fs::read(path).map_err(|source| PolicyError::ReadFile {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads `bundle.tar.gz`, or else `policy.wasm` and `data.json`, from `dir`.
fn read_sources(dir: &Path) -> Result<WasmSources, PolicyError> {
    let bundle = dir.join(BUNDLE_FILE);
    if bundle.is_file() {
        let bytes = read_file(&bundle)?;
        let (module, data) = unpack_bundle(&bundle, &bytes)?;
        return Ok(WasmSources {
            source: bundle,
            module,
            data,
            files: vec![hash(BUNDLE_FILE, &bytes)],
        });
    }
    let module_path = dir.join(MODULE_FILE);
    if !module_path.is_file() {
        return Err(PolicyError::NoWasmModule {
            dir: dir.to_path_buf(),
        });
    }
    let module = read_file(&module_path)?;
    let mut files = vec![hash(MODULE_FILE, &module)];
    let data_path = dir.join(DATA_FILE);
    let data = if data_path.is_file() {
        let bytes = read_file(&data_path)?;
        files.insert(0, hash(DATA_FILE, &bytes));
        parse_data(&data_path, &bytes)?
    } else {
        serde_json::Value::Object(serde_json::Map::new())
    };
    Ok(WasmSources {
        source: module_path,
        module,
        data,
        files,
    })
}

/// `/policy.wasm` and the merged data of an OPA bundle. A `data.json` at
/// `/a/b/data.json` holds `data.a.b`, as in OPA's bundle format.
fn unpack_bundle(path: &Path, bytes: &[u8]) -> Result<(Vec<u8>, serde_json::Value), PolicyError> {
    let fail = |message: String| PolicyError::Wasm {
        path: path.to_path_buf(),
        message,
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let entries = archive
        .entries()
        .map_err(|e| fail(format!("not a gzipped tar bundle: {e}")))?;
    let mut module = None;
    let mut data = serde_json::Value::Object(serde_json::Map::new());
    for entry in entries {
        let entry = entry.map_err(|e| fail(format!("damaged bundle: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| fail(format!("damaged bundle entry name: {e}")))?
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_string();
        let is_data = name == DATA_FILE || name.ends_with("/data.json");
        if name != MODULE_FILE && !is_data {
            continue;
        }
        let mut content = Vec::new();
        entry
            .take(MAX_BUNDLE_ENTRY)
            .read_to_end(&mut content)
            .map_err(|e| fail(format!("reading /{name} in the bundle: {e}")))?;
        if name == MODULE_FILE {
            module = Some(content);
            continue;
        }
        let value = parse_data(&path.join(&name), &content)?;
        let prefix: Vec<&str> = name
            .trim_end_matches(DATA_FILE)
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        merge_at(&mut data, &prefix, value);
    }
    let module = module.ok_or_else(|| {
        fail(format!(
            "the bundle holds no /{MODULE_FILE}; build it with `opa build -t wasm -e {ENTRYPOINT}`"
        ))
    })?;
    Ok((module, data))
}

/// Merges the object `value` into `data` at `path`, creating objects.
fn merge_at(data: &mut serde_json::Value, path: &[&str], value: serde_json::Value) {
    let mut node = data;
    for key in path {
        if !node.is_object() {
            *node = serde_json::Value::Object(serde_json::Map::new());
        }
        let serde_json::Value::Object(map) = node else {
            return;
        };
        node = map
            .entry((*key).to_string())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    }
    match (node, value) {
        (serde_json::Value::Object(into), serde_json::Value::Object(from)) => into.extend(from),
        (node, value) => *node = value,
    }
}

#[cfg(test)]
mod tests {
    //! No `opa` compiler exists on this machine, so these modules are
    //! hand-written in WAT: each exports the OPA wasm ABI (the functions and
    //! globals opa-wasm looks up) and returns a fixed result set. They test
    //! this engine's loading, checks, pooling and time cap, not OPA's
    //! compiler.

    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::{Decision, EngineKind, EngineOptions, PolicyEngine, load_checked};

    /// What a hand-written module does.
    struct Module<'a> {
        abi: (i32, i32),
        builtins: &'a str,
        entrypoints: &'a str,
        /// The JSON result set every evaluation returns.
        result: &'a str,
        /// Runs forever instead of answering.
        spin: bool,
    }

    const ALLOW: &str =
        r#"[{"result": {"allow": true, "regions": ["us-east"], "reason": "fixed"}}]"#;

    impl Default for Module<'_> {
        fn default() -> Self {
            Self {
                abi: (1, 2),
                builtins: "{}",
                entrypoints: r#"{"jurisgate/decision": 0}"#,
                result: ALLOW,
                spin: false,
            }
        }
    }

    impl Module<'_> {
        /// The module's bytes. Values are addresses of their JSON text, so
        /// `opa_json_dump` is the identity; the heap is a bump allocator
        /// from 64 KiB, which `opa_heap_ptr_set` rewinds.
        fn wasm(&self) -> Vec<u8> {
            let quote = |s: &str| s.replace('"', "\\\"");
            let spin = if self.spin { "(loop $l (br $l))" } else { "" };
            let wat = format!(
                r#"(module
  (import "env" "memory" (memory 2))
  (global $heap (mut i32) (i32.const 65536))
  (global (export "opa_wasm_abi_version") i32 (i32.const {major}))
  (global (export "opa_wasm_abi_minor_version") i32 (i32.const {minor}))
  (data (i32.const 16) "{builtins}\00")
  (data (i32.const 1024) "{entrypoints}\00")
  (data (i32.const 4096) "{result}\00")
  (func (export "opa_malloc") (param i32) (result i32)
    global.get $heap
    global.get $heap
    local.get 0
    i32.add
    global.set $heap)
  (func (export "opa_free") (param i32))
  (func (export "opa_heap_ptr_get") (result i32) global.get $heap)
  (func (export "opa_heap_ptr_set") (param i32) local.get 0 global.set $heap)
  (func (export "opa_json_parse") (param i32 i32) (result i32) i32.const 16)
  (func (export "opa_json_dump") (param i32) (result i32) local.get 0)
  (func (export "builtins") (result i32) i32.const 16)
  (func (export "entrypoints") (result i32) i32.const 1024)
  (func (export "opa_eval_ctx_new") (result i32) i32.const 8)
  (func (export "opa_eval_ctx_set_input") (param i32 i32))
  (func (export "opa_eval_ctx_set_data") (param i32 i32))
  (func (export "opa_eval_ctx_set_entrypoint") (param i32 i32))
  (func (export "eval") (param i32) (result i32) {spin} i32.const 0)
  (func (export "opa_eval_ctx_get_result") (param i32) (result i32) i32.const 4096)
  (func (export "opa_eval") (param i32 i32 i32 i32 i32 i32 i32) (result i32) {spin} i32.const 4096))"#,
                major = self.abi.0,
                minor = self.abi.1,
                builtins = quote(self.builtins),
                entrypoints = quote(self.entrypoints),
                result = quote(self.result),
            );
            wat::parse_str(wat).unwrap()
        }
    }

    fn wasm_opts(timeout_ms: u64) -> EngineOptions {
        EngineOptions {
            timeout: Duration::from_millis(timeout_ms),
            kind: EngineKind::Wasm,
        }
    }

    fn folder(module: &[u8], data: Option<&str>) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(MODULE_FILE), module).unwrap();
        if let Some(data) = data {
            std::fs::write(tmp.path().join(DATA_FILE), data).unwrap();
        }
        tmp
    }

    fn load(module: &[u8]) -> Result<PolicyEngine, PolicyError> {
        let tmp = folder(module, Some(r#"{"approved_regions": {"US": ["us-east"]}}"#));
        PolicyEngine::load(tmp.path(), &wasm_opts(100))
    }

    fn load_error(module: &[u8]) -> String {
        load(module).unwrap_err().to_string()
    }

    #[test]
    fn a_module_with_the_fast_path_decides() {
        let tmp = folder(&Module::default().wasm(), Some(r#"{"a": 1}"#));
        let e = PolicyEngine::load(tmp.path(), &wasm_opts(100)).unwrap();
        assert_eq!(e.kind(), EngineKind::Wasm);
        let d = e.decide_value(&json!({"subject": {"jurisdiction": "US"}}));
        assert!(d.allow);
        assert_eq!(
            (d.regions, d.reason.as_str()),
            (vec!["us-east".to_string()], "fixed")
        );
        let names: Vec<_> = e.files().iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["data.json", "policy.wasm"]);
        assert!(e.revision().starts_with("sha256:"));
        assert!(
            e.package_values(&json!({})).is_err(),
            "explain is Rego only"
        );
    }

    #[test]
    fn every_abi_1_minor_version_decides() {
        // 1.0 and 1.1 take opa-wasm's slow path (eval context); 1.2+ the fast one.
        for minor in [0, 1, 2, 3] {
            let e = load(
                &Module {
                    abi: (1, minor),
                    ..Module::default()
                }
                .wasm(),
            )
            .unwrap();
            assert!(e.decide_value(&json!({})).allow, "ABI 1.{minor}");
            assert!(
                e.decide_value(&json!({"again": true})).allow,
                "ABI 1.{minor}, reused instance"
            );
        }
    }

    #[test]
    fn bad_modules_are_refused_with_the_reason() {
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "not wasm",
                b"\x7fELF not wasm".to_vec(),
                "not a valid WebAssembly module",
            ),
            (
                "no memory import",
                wat::parse_str("(module)").unwrap(),
                "env.memory",
            ),
            (
                "no ABI globals",
                wat::parse_str(r#"(module (import "env" "memory" (memory 1)))"#).unwrap(),
                "missing global opa_wasm_abi_version",
            ),
            (
                "ABI 2.0",
                Module {
                    abi: (2, 0),
                    ..Module::default()
                }
                .wasm(),
                "unsupported ABI version 2.0",
            ),
            (
                "unknown builtin",
                Module {
                    builtins: r#"{"no.such.builtin": 0}"#,
                    ..Module::default()
                }
                .wasm(),
                "unknown builtin; it calls a builtin this engine does not provide",
            ),
            (
                "missing entrypoint",
                Module {
                    entrypoints: r#"{"other/rule": 0}"#,
                    ..Module::default()
                }
                .wasm(),
                "no entrypoint jurisgate/decision (the module has: other/rule); build with `opa build -t wasm -e jurisgate/decision`",
            ),
        ];
        for (what, bytes, expected) in cases {
            let e = load_error(&bytes);
            assert!(
                e.contains(expected),
                "{what}: expected {expected:?} in {e:?}"
            );
            assert!(e.contains("policy.wasm: "), "{what}: file not named: {e}");
        }
    }

    #[test]
    fn a_builtin_the_engine_provides_loads() {
        let e = load(
            &Module {
                builtins: r#"{"sprintf": 0, "time.parse_rfc3339_ns": 1}"#,
                ..Module::default()
            }
            .wasm(),
        );
        assert!(e.is_ok(), "{e:?}");
    }

    #[test]
    fn undefined_and_misshapen_results_deny() {
        let undefined = load(
            &Module {
                result: "[]",
                ..Module::default()
            }
            .wasm(),
        )
        .unwrap();
        assert!(matches!(
            undefined.evaluate(&json!({})),
            Err(EvalError::Undefined)
        ));
        assert_eq!(undefined.decide_value(&json!({})), Decision::policy_error());
        let shape = load(
            &Module {
                result: r#"[{"result": {"allow": true}}]"#,
                ..Module::default()
            }
            .wasm(),
        )
        .unwrap();
        assert!(matches!(
            shape.evaluate(&json!({})),
            Err(EvalError::Shape(_))
        ));
        let two = load(
            &Module {
                result: r#"[{"result": 1}, {"result": 2}]"#,
                ..Module::default()
            }
            .wasm(),
        )
        .unwrap();
        assert!(matches!(
            two.evaluate_raw(&json!({})),
            Err(EvalError::Engine(_))
        ));
    }

    #[test]
    fn a_runaway_module_is_cut_off_at_the_time_cap() {
        let tmp = folder(
            &Module {
                spin: true,
                ..Module::default()
            }
            .wasm(),
            None,
        );
        let e = PolicyEngine::load(tmp.path(), &wasm_opts(30)).unwrap();
        for _ in 0..2 {
            let started = Instant::now();
            assert!(matches!(e.evaluate(&json!({})), Err(EvalError::Timeout(_))));
            let took = started.elapsed();
            assert!(took < Duration::from_secs(1), "{took:?}");
        }
        assert_eq!(e.decide_value(&json!({})), Decision::policy_error());
    }

    #[test]
    fn instances_are_shared_safely_between_threads() {
        let e = Arc::new(load(&Module::default().wasm()).unwrap());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let e = Arc::clone(&e);
                std::thread::spawn(move || (0..200).all(|i| e.decide_value(&json!({"i": i})).allow))
            })
            .collect();
        for h in handles {
            assert!(h.join().unwrap());
        }
    }

    fn bundle(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        for (name, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, *bytes).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn an_opa_bundle_is_unpacked_and_its_data_merged() {
        let wasm = Module::default().wasm();
        let bytes = bundle(&[
            (".manifest", b"{}"),
            ("policy.wasm", &wasm),
            ("data.json", br#"{"approved_regions": {"US": ["us-east"]}}"#),
            ("jurisgate/limits/data.json", br#"{"max": 3}"#),
        ]);
        let (module, data) = unpack_bundle(Path::new("bundle.tar.gz"), &bytes).unwrap();
        assert_eq!(module, wasm);
        assert_eq!(
            data,
            json!({"approved_regions": {"US": ["us-east"]}, "jurisgate": {"limits": {"max": 3}}})
        );
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join(BUNDLE_FILE), &bytes).unwrap();
        let e = PolicyEngine::load(tmp.path(), &wasm_opts(100)).unwrap();
        assert!(e.decide_value(&json!({})).allow);
        let names: Vec<_> = e.files().iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["bundle.tar.gz"]);
    }

    #[test]
    fn damaged_bundles_and_empty_folders_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let e = PolicyEngine::load(tmp.path(), &wasm_opts(100)).unwrap_err();
        assert!(matches!(e, PolicyError::NoWasmModule { .. }), "{e}");
        assert!(e.to_string().contains("opa build -t wasm"), "{e}");

        std::fs::write(tmp.path().join(BUNDLE_FILE), b"not gzip").unwrap();
        let e = PolicyEngine::load(tmp.path(), &wasm_opts(100))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bundle.tar.gz: ") && e.contains("bundle"), "{e}");

        std::fs::write(
            tmp.path().join(BUNDLE_FILE),
            bundle(&[("data.json", b"{}")]),
        )
        .unwrap();
        let e = PolicyEngine::load(tmp.path(), &wasm_opts(100))
            .unwrap_err()
            .to_string();
        assert!(e.contains("the bundle holds no /policy.wasm"), "{e}");

        std::fs::write(
            tmp.path().join(BUNDLE_FILE),
            bundle(&[
                ("policy.wasm", &Module::default().wasm()),
                ("data.json", b"[1]"),
            ]),
        )
        .unwrap();
        let e = PolicyEngine::load(tmp.path(), &wasm_opts(100))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("data.json") && e.contains("must be an object"),
            "{e}"
        );
    }

    #[test]
    fn load_checked_refuses_a_module_that_leaves_a_sample_undefined() {
        let tmp = folder(
            &Module {
                result: "[]",
                ..Module::default()
            }
            .wasm(),
            None,
        );
        std::fs::create_dir(tmp.path().join("samples")).unwrap();
        std::fs::write(tmp.path().join("samples/us.json"), "{}").unwrap();
        let e = load_checked(tmp.path(), &wasm_opts(100))
            .unwrap_err()
            .to_string();
        assert!(e.contains("us.json") && e.contains("undefined"), "{e}");
        std::fs::write(tmp.path().join(MODULE_FILE), Module::default().wasm()).unwrap();
        assert!(load_checked(tmp.path(), &wasm_opts(100)).is_ok());
    }
}
