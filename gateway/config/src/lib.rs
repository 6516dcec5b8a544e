//! jurisgate's configuration: one TOML file, parsed into serde types and then
//! validated as a whole before any port is bound or any key is used.
//!
//! Every error names the file, the key and the line, and says what would be
//! valid. Relative paths in the file are resolved against the file's folder.
//! This crate reads the config file and checks that referenced files exist;
//! it does not open sockets, parse keys or compile policies: the crates that
//! own those things do, at start-up, with the paths it hands them.

mod duration;
mod error;
mod model;
mod validate;

pub use duration::Dur;
pub use error::ConfigError;
pub use model::*;

use std::path::Path;

/// Reads, parses and validates the config file at `path`.
///
/// # Errors
/// A [`ConfigError`] naming the file, key and line of the first problem.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::io(path, e))?;
    parse(&text, path)
}

/// Parses and validates config `text` as if it had been read from `path`
/// (used for messages and to resolve relative paths).
///
/// # Errors
/// A [`ConfigError`] naming the file, key and line of the first problem.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut config: Config =
        toml::from_str(text).map_err(|e| ConfigError::from_toml(path, text, &e))?;
    config.source = path.to_path_buf();
    validate::validate(&mut config, text)?;
    Ok(config)
}
