//! Errors of the document model.

use std::fmt;

/// A document that cannot be rendered. Each message says what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Two blocks share one address.
    DuplicateAddress { address: String },
    /// A reference names a block that the document does not declare.
    DanglingReference { from: String, to: String },
    /// A non-sensitive output would show a sensitive value.
    SensitiveOutput { output: String, via: String },
    /// A `moved` block whose ends do not fit the document.
    BadMoved {
        from: String,
        to: String,
        why: String,
    },
    /// A generated file that cannot be read back.
    Unreadable { file: String, why: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::DuplicateAddress { address } => write!(
                f,
                "duplicate address `{address}`: two blocks were emitted under one name; fix: give the second one another name in its module"
            ),
            Error::DanglingReference { from, to } => write!(
                f,
                "`{from}` refers to `{to}`, which the document does not declare; fix: emit the module that declares `{to}` before wiring it in"
            ),
            Error::SensitiveOutput { output, via } => write!(
                f,
                "output `{output}` would show the sensitive value `{via}`; fix: mark the output sensitive or output something else"
            ),
            Error::BadMoved { from, to, why } => write!(
                f,
                "moved from `{from}` to `{to}`: {why}; fix: `from` must be the old address and `to` the address the document now declares"
            ),
            Error::Unreadable { file, why } => write!(
                f,
                "{file}: cannot read it back as the Terraform JSON gen writes: {why}"
            ),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
