//! The one error type of the library. Each variant documents the exit code
//! that `src/main.rs` maps it to (DESIGN.md, "Errors and exit codes").
//!
//! Every message displays on one line: newlines, control and invisible
//! characters of any value it quotes are shown as escapes (see
//! [`crate::text::escaped`]), so nothing a user typed can split or
//! rewrite an error on a terminal.

use std::io;

use crate::text::escaped;

mod rows;
pub use rows::{RowError, RowErrors};

/// Everything that can go wrong, as one clear sentence for a person.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Exit 1: a bug in coachctl. The message says so.
    #[error("internal error (this is a bug in coachctl): {}", escaped(.0))]
    Internal(String),

    /// Exit 2: input that is not what the command takes (as clap's own
    /// usage errors): a line of `book --batch` that is not a booking.
    #[error("{}", escaped(.0))]
    Usage(String),

    /// Exit 3: a value that cannot be accepted (bad email, time zone, CSV row).
    #[error("{}", escaped(.0))]
    Invalid(String),

    /// Exit 4: the actor may not do this; nothing was changed.
    #[error("{}", escaped(.0))]
    Forbidden(String),

    /// Exit 5: the named thing does not exist.
    #[error("{}", escaped(.0))]
    NotFound(String),

    /// Exit 6: the change collides with existing data (duplicate, capacity).
    #[error("{}", escaped(.0))]
    Conflict(String),

    /// Exit 7: a domain rule forbids the change (state machine, not accepting).
    #[error("{}", escaped(.0))]
    Rule(String),

    /// Exit 8: the database (or another service) cannot be reached or used.
    #[error("{}", escaped(.0))]
    Unavailable(String),

    /// Writing output failed; a closed pipe is not an error for the user.
    #[error("cannot write output: {0}")]
    Io(#[from] io::Error),

    /// Exit 3 (or 4): every bad row of a roster file, each with its line;
    /// displayed as the summary sentence, the rows printed before it.
    #[error("{}", escaped(&.0.summary))]
    Rows(Box<RowErrors>),

    /// Any other database error: mapped by [`Error::from_sqlx`].
    #[error("{}", describe_sqlx(.0))]
    Database(sqlx::Error),

    /// Some lines of `book --batch` failed (each said why on stdout): the
    /// worst of their kinds, the one of the highest exit code.
    #[error("{}", escaped(.1))]
    Lines(Kind, String),
}

/// The category of an error, as printed in `-o json` error objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Internal,
    Usage,
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
            Kind::Usage => "usage",
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
            Kind::Usage => 2,
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
            Error::Usage(_) => Kind::Usage,
            Error::Invalid(_) => Kind::Invalid,
            Error::Lines(kind, _) => *kind,
            Error::Forbidden(_) => Kind::Forbidden,
            Error::NotFound(_) => Kind::NotFound,
            Error::Conflict(_) => Kind::Conflict,
            Error::Rule(_) => Kind::Rule,
            Error::Unavailable(_) => Kind::Unavailable,
            Error::Rows(r) => r.kind(),
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

pub(crate) fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Configuration(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // connection exceptions, authentication, unknown database, shutdown,
        // insufficient resources (too many connections, disk full)
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08")
                || c.starts_with("28")
                // read_only_sql_transaction: a write reached a standby
                || c == "25006"
                || c == "3D000"
                || c.starts_with("57P")
                || c.starts_with("53")
        }),
        _ => false,
    }
}

const BUG: &str = "internal error (this is a bug in coachctl)";

/// One sentence for a database error that reached the user unmapped:
/// either an outage (exit 8) or a bug (exit 1). Never SQL text, a server
/// log line or the driver's own wording ("expected to read 5 bytes").
pub(crate) fn describe_sqlx(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => format!("cannot reach the database: {}", io_cause(io)),
        sqlx::Error::Tls(t) => format!(
            "cannot set up an encrypted (TLS) connection to the database: {}",
            tls_cause(&t.to_string())
        ),
        sqlx::Error::PoolTimedOut => "timed out waiting for a database connection".into(),
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            "the connection to the database was closed".into()
        }
        sqlx::Error::Configuration(c) => format!(
            "the database URL is not usable: {}",
            escaped(&c.to_string())
        ),
        sqlx::Error::Database(db) if is_unavailable(e) => {
            refused_connection(db.code().as_deref().unwrap_or_default()).into()
        }
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match db.constraint() {
                Some(c) => format!(
                    "{BUG}: unmapped violation of constraint {} (SQLSTATE {code})",
                    escaped(c)
                ),
                None => format!("{BUG}: {} (SQLSTATE {code})", statement_failure(&code)),
            }
        }
        sqlx::Error::Protocol(_) => format!(
            "{BUG}: the database server sent a reply coachctl did not expect (is a connection pooler in between?)"
        ),
        sqlx::Error::RowNotFound => format!("{BUG}: an expected database row is missing"),
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => {
            format!("{BUG}: a value read from the database does not have the expected form")
        }
        sqlx::Error::Encode(_) => format!("{BUG}: a value could not be sent to the database"),
        _ => format!("{BUG}: the database driver failed"),
    }
}

/// Why a connection broke, in plain words (not the OS's or the driver's).
fn io_cause(e: &io::Error) -> &'static str {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
            "the connection was closed by the server or the network"
        }
        K::UnexpectedEof => "the server closed the connection unexpectedly",
        K::TimedOut => "the connection timed out",
        K::NotFound => "no server is listening at that address",
        K::PermissionDenied => "permission denied",
        K::AddrNotAvailable | K::HostUnreachable | K::NetworkUnreachable => {
            "the host cannot be reached"
        }
        // tokio's name lookup reports a failure without a kind of its own.
        _ if e.to_string().contains("lookup address") => "the host name cannot be resolved",
        _ => "a network error",
    }
}

/// Why a TLS handshake failed, read from the driver's text but not shown.
fn tls_cause(text: &str) -> &'static str {
    let t = text.to_ascii_lowercase();
    if t.contains("does not support tls") {
        "the server does not accept TLS (use sslmode=prefer or sslmode=disable)"
    } else if t.contains("unknownissuer") || t.contains("unknown issuer") {
        "the server's certificate is not signed by a trusted authority (set sslrootcert)"
    } else if t.contains("notvalidforname") || t.contains("not valid for name") {
        "the server's certificate does not name this host"
    } else if t.contains("expired") {
        "the server's certificate has expired"
    } else if t.contains("certificate") {
        "the server's certificate was not accepted"
    } else {
        "the TLS handshake failed"
    }
}

/// A server that refused or dropped the connection, by SQLSTATE.
pub(crate) fn refused_connection(code: &str) -> &'static str {
    match code {
        "25006" => {
            "the server is a read-only standby; writes need the primary (target_session_attrs=read-write in DATABASE_URL finds it)"
        }
        "28P01" => "the database refused the password for this user",
        c if c.starts_with("28") => "the database refused the login of this user",
        "3D000" => "the database named in the URL does not exist",
        "57P01" => "the database server is shutting down",
        "57P02" => "the database server is restarting after a crash",
        "57P03" => "the database server is starting up and cannot accept connections yet",
        "57P04" => "the database was dropped",
        "57P05" => "the database closed an idle connection",
        "53300" => "the database has no free connections (too many clients)",
        "53100" => "the database server is out of disk space",
        "53200" => "the database server is out of memory",
        c if c.starts_with("53") => "the database server is out of resources",
        _ => "the connection to the database failed",
    }
}

/// What an unmapped statement failure means, by SQLSTATE class.
pub(crate) fn statement_failure(code: &str) -> &'static str {
    if code == "42501" {
        return "the database user lacks a privilege that a statement needs";
    }
    match code.get(..2).unwrap_or_default() {
        "22" => "the database could not store a value",
        "23" => "a rule of the database schema refused the change",
        "40" => "the change collided with a concurrent one and was rolled back",
        "42" => "a statement does not fit the database schema",
        "54" => "a statement exceeded a limit of the database",
        "55" => "the database was not in a state to run a statement",
        "57" => "the database cancelled a statement (a timeout)",
        "P0" => "a database function refused the change",
        "XX" => "the database reported an internal failure",
        _ => "the database refused a statement",
    }
}

/// The cause of a failed connection as a short phrase, for messages that
/// name the database themselves ("cannot connect to ...: {cause}").
pub fn connection_cause(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => io_cause(io).into(),
        sqlx::Error::Database(db) => {
            refused_connection(db.code().as_deref().unwrap_or_default()).into()
        }
        other => describe_sqlx(other),
    }
}

/// What is wrong with a database URL, without the driver's framing.
pub fn url_cause(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Configuration(c) => escaped(&c.to_string()).to_string(),
        other => connection_cause(other),
    }
}
