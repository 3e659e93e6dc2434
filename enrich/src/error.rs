//! What can fail while reading `/proc` and the user databases, and where.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or link under `/proc` (or a passwd/group file) could not be read; `NotFound`
    /// usually means the process exited in the meantime.
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file was read but did not have the expected shape.
    #[error("parsing {path}: {what}")]
    Parse { path: PathBuf, what: &'static str },
}

impl Error {
    pub(crate) fn read(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Read {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(path: impl Into<PathBuf>, what: &'static str) -> Error {
        Error::Parse {
            path: path.into(),
            what,
        }
    }

    /// True when the object is simply gone (the process exited, the fd was closed).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Read { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

pub type Result<T> = std::result::Result<T, Error>;
