//! The one error type: a message for the user, plus "not found" for IMDS
//! queries, because a missing metadata key is an answer, not a failure.

use std::fmt;
use std::path::Path;

#[derive(Debug)]
pub enum Error {
    /// The metadata service (or a seed) answered that this key does not exist.
    NotFound(String),
    /// Anything else: one line that tells the user what went wrong.
    Msg(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn msg(text: impl Into<String>) -> Error {
        Error::Msg(text.into())
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound(what) => write!(f, "{what}: not found"),
            Error::Msg(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for Error {}

/// Attaches the path an I/O error happened on, which `io::Error` itself lacks.
pub trait IoContext<T> {
    fn at(self, verb: &str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, verb: &str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::Msg(format!("cannot {verb} {}: {e}", path.display())))
    }
}

/// Turns a `None`/`NotFound` into `Ok(None)`, so optional metadata reads simply.
pub fn optional<T>(result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
