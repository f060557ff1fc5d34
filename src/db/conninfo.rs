//! A PostgreSQL URL read the way libpq reads it, so that a DBA's existing
//! setup (`PG*` variables, `~/.pgpass`, `~/.postgresql/root.crt`, `sslmode`)
//! works unchanged. sqlx already reads `PGHOST`, `PGPORT`, `PGUSER`,
//! `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`,
//! `PGSSLKEY`, `PGAPPNAME` and the pgpass file for whatever the URL leaves
//! out; this module fills libpq's remaining conventions on top.

use std::path::PathBuf;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::error::{Error, Result};

/// libpq's default when no `connect_timeout` is given is to wait forever;
/// DESIGN.md asks for a bounded wait.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything needed to open a connection, and to describe it in a message.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub options: PgConnectOptions,
    /// `None`: wait as long as it takes (`connect_timeout=0`).
    pub connect_timeout: Option<Duration>,
    /// `sslmode=allow`: try without TLS first, with TLS if refused.
    pub allow: bool,
    /// Where the root certificates come from, for messages.
    pub root_cert: RootCert,
    /// The variable the URL came from, for messages (`DATABASE_URL`).
    pub source: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// Server certificates are not verified (disable, allow, prefer, require).
    Unverified,
    /// A file (`sslrootcert`, else `~/.postgresql/root.crt`).
    File(PathBuf),
    /// The system's trusted roots (`sslrootcert=system`, or no file).
    System,
}

impl ConnInfo {
    /// `host:port` or the socket, the user and the database: for messages.
    pub fn describe(&self) -> String {
        format!("{} {}", self.place(), self.who())
    }

    /// `host:port` or the socket.
    pub fn place(&self) -> String {
        let o = &self.options;
        match o.get_socket() {
            Some(dir) => format!("socket {}", dir.display()),
            None if o.get_host().contains(':') => format!("[{}]:{}", o.get_host(), o.get_port()),
            None => format!("{}:{}", o.get_host(), o.get_port()),
        }
    }

    /// `(user u, database d)`.
    pub fn who(&self) -> String {
        let o = &self.options;
        let db = o.get_database().unwrap_or(o.get_username());
        format!("(user {}, database {db})", o.get_username())
    }

    /// The same server without TLS (first try of `sslmode=allow`), or with
    /// TLS but no verification (its second try).
    pub fn with_ssl_mode(&self, mode: PgSslMode) -> ConnInfo {
        let mut c = self.clone();
        c.options = c.options.ssl_mode(mode);
        c
    }
}

/// Read `url` (from the variable `source`) with libpq's conventions.
/// `application_name` is used unless the URL or `PGAPPNAME` names one.
pub fn parse(url: &str, source: &'static str, application_name: &str) -> Result<ConnInfo> {
    parse_with(url, source, application_name, &Env::process())
}

/// What the process environment provides; a value in tests.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub home: Option<PathBuf>,
    pub sslmode: Option<String>,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<String>,
    pub sslkey: Option<String>,
    pub connect_timeout: Option<String>,
    pub appname: Option<String>,
    /// `PGHOST` and `PGPORT`: lists, as in libpq (see `hosts`).
    pub host: Option<String>,
    pub port: Option<String>,
    pub target_session_attrs: Option<String>,
    pub load_balance_hosts: Option<String>,
}

impl Env {
    pub fn process() -> Env {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            home: std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from),
            sslmode: var("PGSSLMODE"),
            sslrootcert: var("PGSSLROOTCERT"),
            sslcert: var("PGSSLCERT"),
            sslkey: var("PGSSLKEY"),
            connect_timeout: var("PGCONNECT_TIMEOUT"),
            appname: var("PGAPPNAME"),
            host: var("PGHOST"),
            port: var("PGPORT"),
            target_session_attrs: var("PGTARGETSESSIONATTRS"),
            load_balance_hosts: var("PGLOADBALANCEHOSTS"),
        }
    }
}

pub fn parse_with(
    url: &str,
    source: &'static str,
    application_name: &str,
    env: &Env,
) -> Result<ConnInfo> {
    let url = url.trim();
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("postgres") | Some("postgresql") => {}
        Some(other) => {
            return Err(Error::invalid(format!(
                "{source} is a {other}:// URL, not a PostgreSQL one; it must start with postgres:// or postgresql://"
            )));
        }
        None => {
            return Err(Error::invalid(format!(
                "{source} is not a PostgreSQL URL; it must look like postgres://user@host:5432/database"
            )));
        }
    }
    let parsed = url::Url::parse(url).map_err(|e| {
        Error::invalid(format!(
            "{source} is not a usable PostgreSQL URL ({e}); it must look like postgres://user@host:5432/database"
        ))
    })?;
    let param = |name: &str| {
        parsed
            .query_pairs()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .last()
            .filter(|v| !v.is_empty())
    };

    // What sqlx would refuse in its own words ("error with configuration:
    // unknown value ... for `ssl_mode`") is refused first, in ours.
    check_params(&parsed, source)?;
    let (mode_text, mode_from) = match param("sslmode") {
        Some(m) => (Some(m), source),
        None => (env.sslmode.clone(), "PGSSLMODE"),
    };
    let mut mode = match mode_text.as_deref() {
        None => PgSslMode::Prefer,
        Some(m) => m
            .parse()
            .map_err(|_| Error::invalid(format!("{mode_from}: {}", bad_sslmode(m))))?,
    };

    // sqlx reads the URL and the PG* variables for host, port, user,
    // password (also ~/.pgpass), database, sslmode and the certificates.
    let mut options: PgConnectOptions = url.parse().map_err(|e| {
        Error::invalid(format!(
            "{source} is not a usable PostgreSQL URL: {}",
            config_reason(&e)
        ))
    })?;
    let home_file = |name: &str| {
        env.home
            .as_ref()
            .map(|h| h.join(".postgresql").join(name))
            .filter(|p| p.is_file())
    };

    // Root certificates: sslrootcert (a file, or `system`), else libpq's
    // default file ~/.postgresql/root.crt when it exists.
    let root_text = param("sslrootcert").or_else(|| env.sslrootcert.clone());
    let root = match root_text.as_deref() {
        Some("system") => {
            // libpq 16: the system's roots make sense only with the host
            // name checked too, so verify-full is implied and weaker modes
            // are refused.
            match mode_text {
                None => mode = PgSslMode::VerifyFull,
                Some(_) if matches!(mode, PgSslMode::VerifyFull) => {}
                Some(m) => {
                    return Err(Error::invalid(format!(
                        "sslrootcert=system needs sslmode=verify-full, not {m} (as libpq insists)"
                    )));
                }
            }
            options = match system_bundle() {
                Some(bundle) => options.ssl_root_cert(bundle),
                // the Mozilla roots compiled into sqlx only
                None => options.ssl_root_cert_from_pem(Vec::new()),
            };
            RootCert::System
        }
        Some(file) => {
            let path = PathBuf::from(file);
            if !path.is_file() {
                return Err(Error::invalid(format!(
                    "the root certificate file {} (sslrootcert) does not exist",
                    path.display()
                )));
            }
            options = options.ssl_root_cert(&path);
            RootCert::File(path)
        }
        None => match home_file("root.crt") {
            Some(path) => {
                options = options.ssl_root_cert(&path);
                RootCert::File(path)
            }
            None => RootCert::System,
        },
    };
    // libpq: with a root certificate file at hand, `require` verifies the
    // certificate chain too (as verify-ca).
    if matches!(mode, PgSslMode::Require) && matches!(root, RootCert::File(_)) {
        mode = PgSslMode::VerifyCa;
    }
    let root = match mode {
        PgSslMode::VerifyCa | PgSslMode::VerifyFull => root,
        _ => RootCert::Unverified,
    };
    // sqlx has no `allow`: it would mean "never TLS". Start without TLS
    // and let the caller retry with TLS when the server insists.
    let allow = matches!(mode, PgSslMode::Allow);
    options = options.ssl_mode(if allow { PgSslMode::Disable } else { mode });

    // Client certificate: sslcert and sslkey, each defaulting to libpq's
    // ~/.postgresql/postgresql.crt and .key; used when the certificate exists.
    let cert = param("sslcert")
        .or_else(|| env.sslcert.clone())
        .map(PathBuf::from)
        .or_else(|| home_file("postgresql.crt"));
    let key = param("sslkey")
        .or_else(|| env.sslkey.clone())
        .map(PathBuf::from)
        .or_else(|| home_file("postgresql.key"));
    if let Some(cert) = cert.filter(|c| c.is_file()) {
        match key {
            Some(key) if key.is_file() => {
                options = options.ssl_client_cert(cert).ssl_client_key(key);
            }
            Some(key) => {
                return Err(Error::invalid(format!(
                    "the client key file {} (sslkey) does not exist",
                    key.display()
                )));
            }
            None => {
                return Err(Error::invalid(format!(
                    "the client certificate {} needs its key: set sslkey",
                    cert.display()
                )));
            }
        }
    }

    let timeout_text = param("connect_timeout").or_else(|| env.connect_timeout.clone());
    let connect_timeout = match timeout_text {
        None => Some(DEFAULT_CONNECT_TIMEOUT),
        Some(t) => {
            let secs: i64 = t.trim().parse().map_err(|_| {
                Error::invalid(format!(
                    "connect_timeout {t:?} is not a whole number of seconds"
                ))
            })?;
            // libpq: zero or less waits forever; 1 is taken as 2.
            (secs > 0).then(|| Duration::from_secs(secs.max(2) as u64))
        }
    };

    // Who is connected, for pg_stat_activity: the user's own name wins,
    // as libpq's fallback_application_name does.
    let app = param("application_name")
        .or_else(|| env.appname.clone())
        .or_else(|| param("fallback_application_name"))
        .unwrap_or_else(|| application_name.to_string());

    Ok(ConnInfo {
        options: tune(options).application_name(&app),
        connect_timeout,
        allow,
        root_cert: root,
        source,
    })
}

/// What every coachctl connection needs, also the embedded cluster's.
pub fn tune(options: PgConnectOptions) -> PgConnectOptions {
    options
        // A CLI runs each statement once: no cache, and with the cache off
        // the patched sqlx (see Cargo.toml) runs each statement unnamed in
        // one round trip, which a transaction-mode pooler needs.
        .statement_cache_capacity(0)
        // pgbouncer refuses startup parameters it does not track unless
        // told to ignore them; results come in binary, so this is not needed.
        .extra_float_digits(None)
        .disable_statement_logging()
}

/// The system's trusted roots as OpenSSL finds them: `SSL_CERT_FILE`, else
/// the usual bundle of Debian, Fedora, Alpine or macOS. Besides these, sqlx
/// trusts the Mozilla roots compiled into it.
fn system_bundle() -> Option<PathBuf> {
    let from_env = std::env::var_os("SSL_CERT_FILE")
        .filter(|f| !f.is_empty())
        .map(PathBuf::from);
    from_env
        .into_iter()
        .chain(
            [
                "/etc/ssl/certs/ca-certificates.crt",
                "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/ssl/cert.pem",
            ]
            .map(PathBuf::from),
        )
        .find(|p| p.is_file())
}

fn bad_sslmode(m: &str) -> String {
    format!("sslmode '{m}' is not one of disable, allow, prefer, require, verify-ca, verify-full")
}

/// The URL's parts that sqlx refuses with its own wording, checked here so
/// that the user reads which part and why.
fn check_params(url: &url::Url, source: &str) -> Result<()> {
    let decodes = |s: &str| percent_encoding_ok(s);
    for (part, text) in [
        ("user name", url.username()),
        ("password", url.password().unwrap_or_default()),
        ("database name", url.path()),
    ] {
        if !decodes(text) {
            return Err(Error::invalid(format!(
                "{source}: the {part} is not UTF-8 text once its %-escapes are decoded"
            )));
        }
    }
    for (k, v) in url.query_pairs() {
        let bad = match k.as_ref() {
            "sslmode" | "ssl-mode" => v.parse::<PgSslMode>().is_err().then(|| bad_sslmode(&v)),
            "port" => v
                .parse::<u16>()
                .is_err()
                .then(|| format!("port '{v}' is not a port number (1 to 65535)")),
            "hostaddr" => v
                .parse::<std::net::IpAddr>()
                .is_err()
                .then(|| format!("hostaddr '{v}' is not an IP address")),
            "statement-cache-capacity" => v
                .parse::<usize>()
                .is_err()
                .then(|| format!("statement-cache-capacity '{v}' is not a whole number")),
            _ => None,
        };
        if let Some(bad) = bad {
            return Err(Error::invalid(format!("{source}: {bad}")));
        }
    }
    Ok(())
}

/// Whether a URL part's %-escapes decode to UTF-8 (as sqlx requires).
fn percent_encoding_ok(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&out).is_ok()
}

/// sqlx's reason without its framing ("error with configuration: ").
fn config_reason(e: &sqlx::Error) -> String {
    let text = match e {
        sqlx::Error::Configuration(c) => c.to_string(),
        other => other.to_string(),
    };
    text.trim_start_matches("error with configuration: ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn env_with_home(home: &Path) -> Env {
        Env {
            home: Some(home.to_path_buf()),
            ..Env::default()
        }
    }

    #[test]
    fn a_url_that_is_not_postgresql_is_refused_as_invalid_input() {
        for url in ["mysql://u@h/db", "http://example.com", "garbage", ""] {
            let e = parse_with(url, "DATABASE_URL", "coachctl", &Env::default()).unwrap_err();
            assert_eq!(e.kind().exit_code(), 3, "{url}: {e}");
            assert!(e.to_string().contains("postgres://"), "{url}: {e}");
        }
    }

    #[test]
    fn connect_timeout_defaults_to_five_seconds_and_follows_libpq() {
        let t = |url: &str| {
            parse_with(url, "DATABASE_URL", "coachctl", &Env::default())
                .unwrap()
                .connect_timeout
        };
        assert_eq!(t("postgres://h/db"), Some(Duration::from_secs(5)));
        assert_eq!(
            t("postgres://h/db?connect_timeout=10"),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            t("postgres://h/db?connect_timeout=1"),
            Some(Duration::from_secs(2))
        );
        assert_eq!(t("postgres://h/db?connect_timeout=0"), None);
    }

    #[test]
    fn the_application_name_is_coachctl_and_the_command_unless_the_user_names_one() {
        let app = |url: &str| {
            parse_with(url, "DATABASE_URL", "coachctl coach list", &Env::default())
                .unwrap()
                .options
                .get_application_name()
                .map(str::to_string)
        };
        assert_eq!(
            app("postgres://h/db").as_deref(),
            Some("coachctl coach list")
        );
        assert_eq!(
            app("postgres://h/db?application_name=nightly").as_deref(),
            Some("nightly")
        );
    }

    #[test]
    fn every_sslmode_of_libpq_is_understood_and_others_are_refused() {
        for m in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            let url = format!("postgres://h/db?sslmode={m}");
            parse_with(&url, "DATABASE_URL", "coachctl", &Env::default())
                .unwrap_or_else(|e| panic!("{m}: {e}"));
        }
        let e = parse_with(
            "postgres://h/db?sslmode=sometimes",
            "DATABASE_URL",
            "coachctl",
            &Env::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind().exit_code(), 3);
        assert_eq!(
            e.to_string(),
            "DATABASE_URL: sslmode 'sometimes' is not one of disable, allow, prefer, require, verify-ca, verify-full"
        );
        let env = Env {
            sslmode: Some("foo".into()),
            ..Env::default()
        };
        let e = parse_with("postgres://h/db", "DATABASE_URL", "coachctl", &env).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("PGSSLMODE: sslmode 'foo' is not one of"),
            "{e}"
        );
    }

    #[test]
    fn url_parts_sqlx_would_refuse_are_named_in_coachctl_s_words() {
        for (url, says) in [
            (
                "postgres://h/db?sslmode=",
                "DATABASE_URL: sslmode '' is not one of",
            ),
            (
                "postgres://h/db?ssl-mode=x",
                "DATABASE_URL: sslmode 'x' is not one of",
            ),
            (
                "postgres://h/db?port=http",
                "DATABASE_URL: port 'http' is not a port number",
            ),
            (
                "postgres://h/db?hostaddr=h",
                "DATABASE_URL: hostaddr 'h' is not an IP address",
            ),
            (
                "postgres://h/db?statement-cache-capacity=-1",
                "DATABASE_URL: statement-cache-capacity '-1' is not a whole number",
            ),
            (
                "postgres://%ff@h/db",
                "DATABASE_URL: the user name is not UTF-8",
            ),
            (
                "postgres://u:%c3@h/db",
                "DATABASE_URL: the password is not UTF-8",
            ),
            (
                "postgres://h/d%80b",
                "DATABASE_URL: the database name is not UTF-8",
            ),
        ] {
            let e = parse_with(url, "DATABASE_URL", "coachctl", &Env::default()).unwrap_err();
            assert_eq!(e.kind().exit_code(), 3, "{url}");
            assert!(e.to_string().starts_with(says), "{url}: {e}");
            assert!(!e.to_string().contains("configuration"), "{url}: {e}");
        }
        for url in [
            "postgres://b%C3%B6@h/d%C3%B6?port=5433&hostaddr=::1",
            "postgres://h/db?sslmode=require",
        ] {
            parse_with(url, "DATABASE_URL", "coachctl", &Env::default())
                .unwrap_or_else(|e| panic!("{url}: {e}"));
        }
    }

    #[test]
    fn a_root_certificate_in_the_home_directory_is_used_and_makes_require_verify_the_chain() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".postgresql")).unwrap();
        let root = home.path().join(".postgresql/root.crt");
        std::fs::write(&root, "-----BEGIN CERTIFICATE-----\n").unwrap();
        let info = parse_with(
            "postgres://h/db?sslmode=require",
            "DATABASE_URL",
            "coachctl",
            &env_with_home(home.path()),
        )
        .unwrap();
        assert!(matches!(info.options.get_ssl_mode(), PgSslMode::VerifyCa));
        assert_eq!(info.root_cert, RootCert::File(root));
    }

    #[test]
    fn sslrootcert_system_implies_verify_full_and_refuses_weaker_modes() {
        let info = parse_with(
            "postgres://h/db?sslrootcert=system",
            "DATABASE_URL",
            "coachctl",
            &Env::default(),
        )
        .unwrap();
        assert!(matches!(info.options.get_ssl_mode(), PgSslMode::VerifyFull));
        assert_eq!(info.root_cert, RootCert::System);
        let e = parse_with(
            "postgres://h/db?sslrootcert=system&sslmode=require",
            "DATABASE_URL",
            "coachctl",
            &Env::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("verify-full"), "{e}");
    }

    #[test]
    fn sslmode_allow_starts_without_tls() {
        let info = parse_with(
            "postgres://h/db?sslmode=allow",
            "DATABASE_URL",
            "coachctl",
            &Env::default(),
        )
        .unwrap();
        assert!(info.allow);
        assert!(matches!(info.options.get_ssl_mode(), PgSslMode::Disable));
    }

    #[test]
    fn a_missing_root_certificate_file_is_named() {
        let e = parse_with(
            "postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "DATABASE_URL",
            "coachctl",
            &Env::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }
}
