//! Several servers in one connection string, as libpq reads them: the URL
//! form `postgres://u@h1:5432,h2:5433/db?target_session_attrs=read-write`,
//! the keyword form `host=h1,h2 port=5432,5433 dbname=db`, and lists in
//! `PGHOST`/`PGPORT`. sqlx takes one host per `PgConnectOptions`, so each
//! host becomes a one-host URL read by [`conninfo::parse_with`] (TLS,
//! `.pgpass` per host, `connect_timeout` per host); `db::connect` tries
//! them in order and checks `target_session_attrs` on each.

use super::conninfo::{self, ConnInfo, Env};
use crate::error::{Error, Result};

/// libpq's `target_session_attrs`: which server of the list is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAttrs {
    Any,
    ReadWrite,
    ReadOnly,
    Primary,
    Standby,
    PreferStandby,
}

impl SessionAttrs {
    fn parse(text: &str) -> Result<SessionAttrs> {
        Ok(match text {
            "any" => SessionAttrs::Any,
            "read-write" => SessionAttrs::ReadWrite,
            "read-only" => SessionAttrs::ReadOnly,
            "primary" => SessionAttrs::Primary,
            "standby" => SessionAttrs::Standby,
            "prefer-standby" => SessionAttrs::PreferStandby,
            other => {
                return Err(Error::invalid(format!(
                    "target_session_attrs {other:?} is not one of any, read-write, read-only, primary, standby, prefer-standby"
                )));
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SessionAttrs::Any => "any",
            SessionAttrs::ReadWrite => "read-write",
            SessionAttrs::ReadOnly => "read-only",
            SessionAttrs::Primary => "primary",
            SessionAttrs::Standby => "standby",
            SessionAttrs::PreferStandby => "prefer-standby",
        }
    }
}

/// The servers of one connection string, in the order to try them.
#[derive(Debug, Clone)]
pub struct Plan {
    pub hosts: Vec<ConnInfo>,
    pub attrs: SessionAttrs,
    /// `load_balance_hosts=random`: shuffle the hosts before trying them.
    pub random: bool,
    pub source: &'static str,
}

impl Plan {
    /// One server, taken as it comes (the embedded cluster).
    pub fn single(info: ConnInfo) -> Plan {
        Plan {
            source: info.source,
            hosts: vec![info],
            attrs: SessionAttrs::Any,
            random: false,
        }
    }
}

/// Read a connection string (URL or keyword form) from `source`.
pub fn plan(text: &str, source: &'static str, application_name: &str) -> Result<Plan> {
    plan_with(text, source, application_name, &Env::process())
}

pub fn plan_with(
    text: &str,
    source: &'static str,
    application_name: &str,
    env: &Env,
) -> Result<Plan> {
    let text = text.trim();
    let mut parts = if !text.contains("://") && text.contains('=') {
        keywords(text, source)?
    } else {
        url_parts(text, source)?
    };
    let mut take = |name: &str| {
        let found = parts
            .params
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone());
        parts.params.retain(|(k, _)| k != name);
        found.filter(|v| !v.is_empty())
    };
    let attrs_text = take("target_session_attrs").or_else(|| env.target_session_attrs.clone());
    let balance_text = take("load_balance_hosts").or_else(|| env.load_balance_hosts.clone());
    let host_param = take("host");
    let port_param = take("port");
    let attrs = match attrs_text.as_deref() {
        None => SessionAttrs::Any,
        Some(t) => SessionAttrs::parse(t)?,
    };
    let random = match balance_text.as_deref() {
        None | Some("disable") => false,
        Some("random") => true,
        Some(other) => {
            return Err(Error::invalid(format!(
                "load_balance_hosts {other:?} is not one of disable, random"
            )));
        }
    };

    // libpq: a `host` parameter beats the URL's host list (parameters are
    // read after it), which beats PGHOST; ports likewise.
    let list = |s: &str| s.split(',').map(|p| p.trim().to_string()).collect();
    let hosts: Vec<String> = if let Some(h) = host_param {
        list(&h)
    } else if !parts.hosts.is_empty() {
        parts.hosts.clone()
    } else if let Some(h) = env.host.clone() {
        list(&h)
    } else {
        Vec::new()
    };
    let ports: Vec<String> = if let Some(p) = port_param {
        list(&p)
    } else if parts.ports.iter().any(|p| !p.is_empty()) {
        parts.ports.clone()
    } else if let Some(p) = env.port.clone() {
        list(&p)
    } else {
        Vec::new()
    };
    if ports.len() > 1 && ports.len() != hosts.len().max(1) {
        return Err(Error::invalid(format!(
            "{source} names {} hosts but {} ports; give one port for all of them or one per host",
            hosts.len().max(1),
            ports.len()
        )));
    }
    for p in ports.iter().filter(|p| !p.is_empty()) {
        if p.parse::<u16>().map_or(true, |n| n == 0) {
            return Err(Error::invalid(format!(
                "{source}: port '{p}' is not a port number (1 to 65535)"
            )));
        }
    }

    let port_of = |i: usize| {
        match ports.len() {
            0 => None,
            1 => Some(ports[0].clone()),
            _ => Some(ports[i].clone()),
        }
        .filter(|p| !p.is_empty())
    };
    let targets: Vec<(Option<String>, Option<String>)> = if hosts.is_empty() {
        vec![(None, port_of(0))]
    } else {
        hosts
            .iter()
            .enumerate()
            // an empty entry is libpq's default host
            .map(|(i, h)| (Some(h.clone()).filter(|h| !h.is_empty()), port_of(i)))
            .collect()
    };
    let infos = targets
        .into_iter()
        .map(|(host, port)| {
            let url = parts.one_host(host.as_deref(), port.as_deref());
            conninfo::parse_with(&url, source, application_name, env)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Plan {
        hosts: infos,
        attrs,
        random,
        source,
    })
}

/// A connection string taken apart; `params` are percent-decoded.
#[derive(Debug, Default)]
struct Parts {
    hosts: Vec<String>,
    ports: Vec<String>,
    params: Vec<(String, String)>,
}

impl Parts {
    /// The URL of one server: everything but the host list carried as
    /// query parameters, which sqlx and `conninfo` read.
    fn one_host(&self, host: Option<&str>, port: Option<&str>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.params {
            q.append_pair(k, v);
        }
        if let Some(h) = host {
            q.append_pair("host", h);
        }
        if let Some(p) = port {
            q.append_pair("port", p);
        }
        format!("postgres:///?{}", q.finish())
    }
}

fn decode(s: &str, source: &str) -> Result<String> {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| Error::invalid(format!("{source} is not a usable PostgreSQL URL")))
}

/// `postgres://user:pw@h1:1,h2:2/db?k=v`, taken apart by hand: no URL
/// parser accepts a list of hosts.
fn url_parts(text: &str, source: &str) -> Result<Parts> {
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(Error::invalid(format!(
            "{source} is not a PostgreSQL URL; it must look like postgres://user@host:5432/database"
        )));
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "postgres" && scheme != "postgresql" {
        return Err(Error::invalid(format!(
            "{source} is a {scheme}:// URL, not a PostgreSQL one; it must start with postgres:// or postgresql://"
        )));
    }
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => (&before_query[..i], &before_query[i + 1..]),
        None => (before_query, ""),
    };
    let (userinfo, hostlist) = match authority.rfind('@') {
        Some(i) => (&authority[..i], &authority[i + 1..]),
        None => ("", authority),
    };
    let mut parts = Parts::default();
    if !userinfo.is_empty() {
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        if !user.is_empty() {
            parts.params.push(("user".into(), decode(user, source)?));
        }
        if let Some(p) = password {
            parts.params.push(("password".into(), decode(p, source)?));
        }
    }
    if !path.is_empty() {
        parts.params.push(("dbname".into(), decode(path, source)?));
    }
    // query parameters override the parts before them, as in libpq
    if let Some(q) = query {
        parts.params.extend(
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
    }
    if !hostlist.is_empty() {
        for spec in hostlist.split(',') {
            let (host, port) = split_host_port(spec, source)?;
            parts.hosts.push(decode(host, source)?);
            parts.ports.push(port.to_string());
        }
    }
    Ok(parts)
}

/// `h:5432`, `[::1]:5432`, `h` (no port).
fn split_host_port<'a>(spec: &'a str, source: &str) -> Result<(&'a str, &'a str)> {
    if let Some(v6) = spec.strip_prefix('[') {
        let Some((host, after)) = v6.split_once(']') else {
            return Err(Error::invalid(format!(
                "{source} has an IPv6 address without its closing bracket: {spec}"
            )));
        };
        return Ok((host, after.strip_prefix(':').unwrap_or(after)));
    }
    Ok(spec.split_once(':').unwrap_or((spec, "")))
}

/// libpq's keyword form: `host=h1,h2 port=5432 dbname='my db' user=u`.
fn keywords(text: &str, source: &str) -> Result<Parts> {
    let mut parts = Parts::default();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(Error::invalid(format!(
                "{source} is not a usable connection string: {key:?} has no \"=\" after it (it must look like host=h1,h2 port=5432 dbname=coachctl)"
            )));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => {
                        return Err(Error::invalid(format!(
                            "{source} has an unterminated quoted value for {key}"
                        )));
                    }
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        parts.params.push((key, value));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Plan {
        plan_with(text, "DATABASE_URL", "coachctl", &Env::default())
            .unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn places(p: &Plan) -> Vec<String> {
        p.hosts.iter().map(|h| h.place()).collect()
    }

    #[test]
    fn a_url_with_several_hosts_gives_one_server_each_with_its_port() {
        let p = plan(
            "postgres://u:p%40ss@h1:5432,h2:5433,[::1]:5434/app?target_session_attrs=read-write&sslmode=disable",
        );
        assert_eq!(places(&p), ["h1:5432", "h2:5433", "[::1]:5434"]);
        assert_eq!(p.attrs, SessionAttrs::ReadWrite);
        for h in &p.hosts {
            assert_eq!(h.options.get_username(), "u");
            assert_eq!(h.options.get_database(), Some("app"));
        }
    }

    #[test]
    fn a_host_without_a_port_gets_the_default_one() {
        let p = plan("postgres://u@h1,h2:6000/app");
        assert_eq!(places(&p), ["h1:5432", "h2:6000"]);
    }

    #[test]
    fn the_keyword_form_reads_host_and_port_lists_and_quoted_values() {
        let p = plan(
            "host=h1,h2 port=5432,5433 user=u dbname='my app' target_session_attrs=standby connect_timeout=3",
        );
        assert_eq!(places(&p), ["h1:5432", "h2:5433"]);
        assert_eq!(p.attrs, SessionAttrs::Standby);
        assert_eq!(p.hosts[1].options.get_database(), Some("my app"));
        assert_eq!(
            p.hosts[0].connect_timeout,
            Some(std::time::Duration::from_secs(3))
        );
    }

    #[test]
    fn one_port_serves_every_host_and_a_mismatched_count_is_refused() {
        assert_eq!(
            places(&plan("host=h1,h2 port=6000")),
            ["h1:6000", "h2:6000"]
        );
        let e = plan_with(
            "host=h1,h2 port=1,2,3",
            "DATABASE_URL",
            "coachctl",
            &Env::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind().exit_code(), 3);
        assert!(e.to_string().contains("2 hosts but 3 ports"), "{e}");
    }

    #[test]
    fn pghost_and_pgport_lists_stand_in_for_a_url_without_hosts() {
        let env = Env {
            host: Some("h1,h2".into()),
            port: Some("5000,5001".into()),
            ..Env::default()
        };
        let p = plan_with("postgres:///app", "DATABASE_URL", "coachctl", &env).unwrap();
        assert_eq!(places(&p), ["h1:5000", "h2:5001"]);
    }

    #[test]
    fn without_any_host_the_default_one_stands() {
        let p = plan("postgres:///app");
        assert_eq!(p.hosts.len(), 1);
        assert!(
            !p.hosts[0].place().starts_with(':'),
            "{}",
            p.hosts[0].place()
        );
    }

    #[test]
    fn a_host_parameter_beats_the_host_of_the_url_as_in_libpq() {
        let p = plan("postgres://u@localhost:5433/app?host=/run/coachctl");
        assert_eq!(places(&p), ["socket /run/coachctl"]);
        assert_eq!(p.hosts[0].options.get_port(), 5433);
    }

    #[test]
    fn a_socket_directory_is_a_host_too() {
        let p = plan("host=/run/postgresql,db.example.com dbname=app");
        assert_eq!(
            places(&p),
            ["socket /run/postgresql", "db.example.com:5432"]
        );
    }

    #[test]
    fn every_target_session_attrs_of_libpq_is_understood_and_others_are_refused() {
        for a in [
            "any",
            "read-write",
            "read-only",
            "primary",
            "standby",
            "prefer-standby",
        ] {
            assert_eq!(
                plan(&format!("postgres://h/db?target_session_attrs={a}"))
                    .attrs
                    .name(),
                a
            );
        }
        for bad in ["target_session_attrs=master", "load_balance_hosts=yes"] {
            let e = plan_with(
                &format!("postgres://h/db?{bad}"),
                "DATABASE_URL",
                "coachctl",
                &Env::default(),
            )
            .unwrap_err();
            assert_eq!(e.kind().exit_code(), 3, "{bad}: {e}");
        }
        assert!(plan("postgres://h1,h2/db?load_balance_hosts=random").random);
    }

    #[test]
    fn a_bad_port_in_the_list_is_named() {
        let e = plan_with(
            "postgres://h1:5432,h2:x/db",
            "DATABASE_URL",
            "coachctl",
            &Env::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("port 'x' is not a port number"),
            "{e}"
        );
    }
}
