//! What can go wrong with a configuration: each problem names its key path, never its value.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong with a configuration: where (a key path, or an environment variable) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Everything that can go wrong in this crate's configuration and mapping.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// TOML syntax: where, and what the parser expected; never the text of the line.
    #[error("TOML syntax error at line {line}, column {column}: {message}")]
    Parse {
        line: usize,
        column: usize,
        message: String,
    },
    /// Every problem found, each naming its key path or environment variable.
    #[error("invalid configuration:{}", list(.0))]
    Invalid(Vec<Problem>),
    #[error("invalid field path {path:?}: {reason}")]
    FieldPath { path: String, reason: String },
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  - {p}")).collect()
}
