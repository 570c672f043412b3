//! Why a `gen` run could not be done. Every kind exits 2 (README, "Exit status") and says what,
//! where and the fix; the kind tells a caller which it was without reading the text.

use std::fmt;
use std::path::PathBuf;

pub use crate::config::InputError;

#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Bad input: an env file, a flag, a setting, a file in the way, a file that does not parse.
    Input(InputError),
    /// A file or folder that cannot be read or written.
    Io {
        path: PathBuf,
        /// What gen was doing: `read`, `write`, `create the output folder`, ...
        doing: String,
        source: std::io::Error,
        /// What else happened (`; every file was put back as it was`), or nothing.
        detail: String,
        fix: String,
    },
    /// git could not run, or refused.
    Git {
        args: Vec<String>,
        problem: String,
        fix: String,
    },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, doing: &str, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            doing: doing.into(),
            source,
            detail: String::new(),
            fix: "check the path and its permissions, then run again".into(),
        }
    }

    /// The same error with another fix (and, for `Io`, what else happened).
    pub fn with(self, detail: &str, new_fix: &str) -> Error {
        match self {
            Error::Io {
                path,
                doing,
                source,
                ..
            } => Error::Io {
                path,
                doing,
                source,
                detail: detail.into(),
                fix: new_fix.into(),
            },
            Error::Git { args, problem, .. } => Error::Git {
                args,
                problem,
                fix: new_fix.into(),
            },
            e => e,
        }
    }

    /// The exit status: 2 for every kind (0 success, 1 drift or differences).
    pub fn exit_code(&self) -> u8 {
        2
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(e) => e.fmt(f),
            Error::Io {
                path,
                doing,
                source,
                detail,
                fix,
            } => write!(
                f,
                "{}: cannot {doing} ({source}){detail}; fix: {fix}",
                path.display()
            ),
            Error::Git { args, problem, fix } => {
                write!(f, "git {}: {problem}; fix: {fix}", args.join(" "))
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Error {
        Error::Input(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_says_what_where_and_the_fix() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let e = Error::io("out/dev/main.tf.json", "write", denied);
        assert!(matches!(&e, Error::Io { doing, .. } if doing == "write"));
        assert_eq!(
            e.to_string(),
            "out/dev/main.tf.json: cannot write (permission denied); fix: check the path and its permissions, then run again"
        );
        let e = Error::Git {
            args: vec!["show".into(), "nope:x".into()],
            problem: "fatal: invalid object name 'nope'".into(),
            fix: "name a revision that exists (see `git log`)".into(),
        };
        assert_eq!(
            e.to_string(),
            "git show nope:x: fatal: invalid object name 'nope'; fix: name a revision that exists (see `git log`)"
        );
        let e: Error = InputError("envs/dev.toml: bad".into()).into();
        assert!(matches!(e, Error::Input(_)) && e.exit_code() == 2);
    }
}
