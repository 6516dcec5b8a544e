//! Errors from loading a policy folder. Each names the file (and, for parse
//! errors, the line and column) at fault, so a policy author knows where to
//! look. Per-request evaluation problems are [`EvalError`]s instead: they
//! never stop the gateway, they turn into a `policy_error` deny.

use std::path::PathBuf;

use crate::shape::ShapeError;

/// Why a policy folder could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The folder could not be listed.
    #[error("cannot read policy folder {}: {source}", dir.display())]
    ReadDir {
        /// The folder.
        dir: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The folder holds no `.rego` policy module (tests do not count).
    #[error("{} holds no .rego policy files (besides *_test.rego); point at a policy folder such as policies/texas", dir.display())]
    NoPolicyFiles {
        /// The folder.
        dir: PathBuf,
    },
    /// A Rego file did not parse. The message carries `file:line:column`.
    #[error("{message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line, when the parser said.
        line: Option<u32>,
        /// 1-based column, when the parser said.
        column: Option<u32>,
        /// The parser's message (with the offending line quoted).
        message: String,
    },
    /// `data.json` is not valid JSON or not an object.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Data {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// No module of package `jurisgate` declares the `decision` rule.
    #[error("no module in {} declares `decision` in package `jurisgate`; the gateway evaluates data.jurisgate.decision", dir.display())]
    MissingDecisionRule {
        /// The folder.
        dir: PathBuf,
    },
    /// The modules parsed but could not be prepared for evaluation
    /// (unsafe variables, recursion, conflicting data, …).
    #[error("policy in {} does not compile: {message}", dir.display())]
    Compile {
        /// The folder.
        dir: PathBuf,
        /// regorus's message.
        message: String,
    },
    /// The engine asked for is not compiled into this build.
    #[error(
        "the {engine} policy engine is not built into this jurisgate; rebuild with `cargo build --features {engine}` or set policy.engine = \"rego\""
    )]
    EngineNotBuilt {
        /// The engine's name.
        engine: &'static str,
    },
    /// A wasm policy folder holds neither `bundle.tar.gz` nor `policy.wasm`.
    #[error("{} holds neither bundle.tar.gz nor policy.wasm; build one with `opa build -t wasm -e jurisgate/decision`", dir.display())]
    NoWasmModule {
        /// The folder.
        dir: PathBuf,
    },
    /// A wasm module or bundle is not a usable OPA policy: not WebAssembly,
    /// an unsupported ABI version, a missing export or entrypoint, a builtin
    /// this engine does not provide, or a damaged bundle.
    #[error("{}: {message}", path.display())]
    Wasm {
        /// The module or bundle.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `load_checked` refused the folder: its checks or tests failed.
    #[error("policy in {} rejected: {}", dir.display(), reasons.join("; "))]
    Rejected {
        /// The folder.
        dir: PathBuf,
        /// What failed (check problems, failing tests).
        reasons: Vec<String>,
    },
}

/// Why one evaluation gave no usable decision. The gateway turns every one
/// of these into [`crate::Decision::policy_error`].
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// `data.jurisgate.decision` is undefined for this input.
    #[error(
        "data.jurisgate.decision is undefined for this input (add a `default decision := ...`)"
    )]
    Undefined,
    /// The decision has the wrong shape.
    #[error("data.jurisgate.decision has the wrong shape: {0}")]
    Shape(#[from] ShapeError),
    /// Evaluation took longer than the configured cap.
    #[error("evaluation exceeded the time cap of {0:?}")]
    Timeout(std::time::Duration),
    /// The input could not be turned into JSON.
    #[error("input is not valid JSON: {0}")]
    Input(String),
    /// Evaluation failed (a builtin error, a conflict, a panic in the engine).
    #[error("evaluation failed: {0}")]
    Engine(String),
}
