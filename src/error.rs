//! The one error type of the library. Each variant documents the exit code
//! that `src/main.rs` maps it to (DESIGN.md, "Errors and exit codes").

use std::io;

/// Everything that can go wrong, as one clear sentence for a person.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Exit 1: a bug in coachctl. The message says so.
    #[error("internal error (this is a bug in coachctl): {0}")]
    Internal(String),

    /// Exit 3: a value that cannot be accepted (bad email, time zone, CSV row).
    #[error("{0}")]
    Invalid(String),

    /// Exit 4: the actor may not do this; nothing was changed.
    #[error("{0}")]
    Forbidden(String),

    /// Exit 5: the named thing does not exist.
    #[error("{0}")]
    NotFound(String),

    /// Exit 6: the change collides with existing data (duplicate, capacity).
    #[error("{0}")]
    Conflict(String),

    /// Exit 7: a domain rule forbids the change (state machine, not accepting).
    #[error("{0}")]
    Rule(String),

    /// Exit 8: the database (or another service) cannot be reached or used.
    #[error("{0}")]
    Unavailable(String),

    /// Writing output failed; a closed pipe is not an error for the user.
    #[error("cannot write output: {0}")]
    Io(#[from] io::Error),

    /// Any other database error: mapped by [`Error::from_sqlx`].
    #[error("{}", describe_sqlx(.0))]
    Database(sqlx::Error),
}

/// The category of an error, as printed in `-o json` error objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Internal,
    Invalid,
    Forbidden,
    NotFound,
    Conflict,
    Rule,
    Unavailable,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Internal => "internal",
            Kind::Invalid => "invalid_input",
            Kind::Forbidden => "forbidden",
            Kind::NotFound => "not_found",
            Kind::Conflict => "conflict",
            Kind::Rule => "rule_violation",
            Kind::Unavailable => "unavailable",
        }
    }

    /// The process exit code of DESIGN.md's table.
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Internal => 1,
            Kind::Invalid => 3,
            Kind::Forbidden => 4,
            Kind::NotFound => 5,
            Kind::Conflict => 6,
            Kind::Rule => 7,
            Kind::Unavailable => 8,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn kind(&self) -> Kind {
        match self {
            Error::Internal(_) | Error::Io(_) => Kind::Internal,
            Error::Invalid(_) => Kind::Invalid,
            Error::Forbidden(_) => Kind::Forbidden,
            Error::NotFound(_) => Kind::NotFound,
            Error::Conflict(_) => Kind::Conflict,
            Error::Rule(_) => Kind::Rule,
            Error::Unavailable(_) => Kind::Unavailable,
            Error::Database(e) if is_unavailable(e) => Kind::Unavailable,
            Error::Database(_) => Kind::Internal,
        }
    }

    /// True when stdout was closed under us (`coachctl ... | head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Error::Forbidden(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Error::NotFound(msg.into())
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Error::Conflict(msg.into())
    }
    pub fn rule(msg: impl Into<String>) -> Self {
        Error::Rule(msg.into())
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Database(e)
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::Execute(e) => Error::Database(e),
            other => Error::Unavailable(format!("cannot migrate the database schema: {other}")),
        }
    }
}

/// Extension for results of a statement that may violate a named constraint:
/// `.on_constraint("users_email_key", |_| Error::conflict("..."))?`.
pub trait ResultExt<T> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> Error) -> Result<T>;
}

impl<T, E: Into<Error>> ResultExt<T> for std::result::Result<T, E> {
    fn on_constraint(self, name: &str, f: impl FnOnce() -> Error) -> Result<T> {
        self.map_err(|e| match e.into() {
            Error::Database(sqlx::Error::Database(dbe)) if dbe.constraint() == Some(name) => f(),
            other => other,
        })
    }
}

fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Configuration(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // connection exceptions, authentication, unknown database, shutdown
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08") || c.starts_with("28") || c == "3D000" || c.starts_with("57P")
        }),
        _ => false,
    }
}

/// Never shows SQL text; a database error that reaches the user unmapped is
/// either an outage (exit 8) or a bug (exit 1).
fn describe_sqlx(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => format!("cannot reach the database: {io}"),
        sqlx::Error::Tls(t) => format!("cannot establish TLS with the database: {t}"),
        sqlx::Error::PoolTimedOut => "timed out waiting for a database connection".into(),
        sqlx::Error::Configuration(c) => format!("the database URL is not usable: {c}"),
        sqlx::Error::Database(db) if is_unavailable(e) => {
            format!("the database refused the connection: {}", db.message())
        }
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match db.constraint() {
                Some(c) => format!(
                    "internal error (this is a bug in coachctl): unmapped violation of constraint {c} (SQLSTATE {code})"
                ),
                None => format!(
                    "internal error (this is a bug in coachctl): database error SQLSTATE {code}: {}",
                    db.message()
                ),
            }
        }
        other => format!("internal error (this is a bug in coachctl): {other}"),
    }
}
