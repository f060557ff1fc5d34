//! Why a connection could not be made, as one sentence with the real cause:
//! "connection refused", "could not resolve host", "the server's
//! certificate is not trusted", "password authentication failed".

use std::io;
use std::time::Duration;

use super::conninfo::{ConnInfo, RootCert};
use crate::error::Error;

/// The sentence for a failed connect to `info`.
pub fn connect_error(info: &ConnInfo, e: sqlx::Error) -> Error {
    match cause(info, &e) {
        Ok(cause) => Error::Unavailable(format!(
            "cannot connect to the database at {}: {cause}",
            info.describe()
        )),
        Err(unusable) => unusable,
    }
}

/// Why connecting to `info` failed, as a phrase; an error of its own when
/// the settings themselves are unusable.
pub fn cause(info: &ConnInfo, e: &sqlx::Error) -> Result<String, Error> {
    let o = &info.options;
    Ok(match e {
        sqlx::Error::Io(io) => io_cause(info, io),
        sqlx::Error::Tls(t) => {
            let text = t.to_string();
            if text.contains("does not support TLS") {
                format!(
                    "the server does not offer TLS, but sslmode={} requires it",
                    mode_name(info)
                )
            } else {
                format!("TLS failed: {text}")
            }
        }
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let msg = db.message();
            match code.as_str() {
                // pgbouncer says "SASL authentication failed" (08P01)
                _ if code == "28P01"
                    || msg.contains("password authentication failed")
                    || msg.contains("SASL authentication failed") =>
                {
                    format!(
                        "password authentication failed for user {}",
                        o.get_username()
                    )
                }
                "3D000" => format!(
                    "database {} does not exist",
                    o.get_database().unwrap_or(o.get_username())
                ),
                "53300" => "the server has no connection slots left (too many connections)".into(),
                "57P03" => "the server is starting up or shutting down".into(),
                "28000" if msg.contains("no encryption") => {
                    "the server accepts this user only over TLS; use sslmode=require or stronger"
                        .to_string()
                }
                _ if msg.contains("unsupported startup parameter") => format!(
                    "the connection pooler refused a startup parameter ({msg}); add it to pgbouncer's ignore_startup_parameters"
                ),
                // Never the server's own words: they may be a raw log line.
                _ => format!(
                    "{} (SQLSTATE {code})",
                    crate::error::refused_connection(&code)
                ),
            }
        }
        sqlx::Error::Configuration(c) => {
            return Err(Error::invalid(format!(
                "{} is not usable: {c}",
                info.source
            )));
        }
        sqlx::Error::Protocol(_) => {
            "the server there does not speak PostgreSQL's protocol".to_string()
        }
        sqlx::Error::PoolTimedOut => timeout_cause(info),
        other => other.to_string(),
    })
}

/// No answer within the connect timeout.
pub fn timeout(info: &ConnInfo) -> Error {
    Error::Unavailable(format!(
        "cannot connect to the database at {}: {}",
        info.describe(),
        timeout_cause(info)
    ))
}

fn timeout_cause(info: &ConnInfo) -> String {
    let secs = info
        .connect_timeout
        .unwrap_or(Duration::from_secs(0))
        .as_secs();
    format!("no answer within {secs} s (connect_timeout)")
}

fn io_cause(info: &ConnInfo, e: &io::Error) -> String {
    let o = &info.options;
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        tls_error(info, tls)
    } else {
        let text = e.to_string();
        match e.kind() {
            io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
            io::ErrorKind::NotFound if o.get_socket().is_some() => {
                "no PostgreSQL socket there (is the server running?)".to_string()
            }
            _ if text.contains("lookup address") || text.contains("Name or service not known") => {
                format!("could not resolve host {}", o.get_host())
            }
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => {
                "the server closed the connection".to_string()
            }
            _ => text,
        }
    }
}

fn tls_error(info: &ConnInfo, e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let roots = match &info.root_cert {
        RootCert::File(f) => format!("the root certificates in {}", f.display()),
        _ => "the system's trusted roots (set sslrootcert to your CA's file)".to_string(),
    };
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature | C::InvalidPurpose => {
                format!("the server's certificate is not trusted by {roots}")
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => format!(
                "the server's certificate is not valid for host {} (sslmode=verify-full)",
                info.options.get_host()
            ),
            C::Expired | C::ExpiredContext { .. } => "the server's certificate has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet".into()
            }
            C::Revoked => "the server's certificate is revoked".into(),
            other => format!("the server's certificate is not acceptable ({other:?})"),
        },
        rustls::Error::AlertReceived(a) => {
            format!("the server ended the TLS handshake ({a:?}); check the client certificate")
        }
        other => format!("TLS failed: {other}"),
    }
}

fn mode_name(info: &ConnInfo) -> &'static str {
    use sqlx::postgres::PgSslMode as M;
    match info.options.get_ssl_mode() {
        M::Disable => "disable",
        M::Allow => "allow",
        M::Prefer => "prefer",
        M::Require => "require",
        M::VerifyCa => "verify-ca",
        M::VerifyFull => "verify-full",
    }
}
