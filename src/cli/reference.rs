//! The reference tables the README and the man pages share: exit codes,
//! environment variables and files. One source, rendered as Markdown for
//! the README (a test checks the README holds exactly that) and as roff
//! for every man page, so the two cannot drift.

/// `(exit code, meaning)`.
pub const EXIT_CODES: &[(&str, &str)] = &[
    (
        "0",
        "ok (also when the reader of stdout went away, e.g. `| head`)",
    ),
    ("1", "internal error: a bug; the message says so"),
    (
        "2",
        "usage: unknown flag, missing argument; a line of `book --batch` that is not a booking",
    ),
    (
        "3",
        "invalid input: bad email, time zone, number, ambiguous or short id prefix, malformed or untrusted config file; missing confirmation off a terminal; a prompt backed out of (Esc, `q`, `n`)",
    ),
    ("4", "forbidden"),
    ("5", "not found"),
    (
        "6",
        "conflict: duplicate email, coach at capacity, slot full, overlapping window, change that would orphan bookings",
    ),
    (
        "7",
        "rule violation: coach not accepting or deactivated, time outside availability, blocked, too soon, within a buffer, cancelling a completed session",
    ),
    (
        "8",
        "unavailable: database or SMTP server unreachable, schema behind (`coachctl db migrate`) or newer than the binary (upgrade coachctl; `db migrate` too), PostgreSQL not installed or of another major version (`coachctl db upgrade`), a `doctor` check failed",
    ),
    (
        "130",
        "interrupted: Ctrl-C at a prompt (the terminal is restored, nothing changed)",
    ),
];

/// `(variable, meaning)`.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "`DATABASE_URL`",
        "the PostgreSQL server to use (`--database-url`); without it, the embedded cluster",
    ),
    (
        "`COACHCTL_MIGRATE_URL`",
        "a direct connection for `db migrate` and `db reset` when `DATABASE_URL` goes through a pooler",
    ),
    (
        "`COACHCTL_MIGRATE_LOCK_TIMEOUT`",
        "seconds to wait for another migration (default 60)",
    ),
    (
        "`COACHCTL_PROFILE`",
        "the config file's profile to use (`--profile`)",
    ),
    ("`COACHCTL_AS`", "act as this user (`--as`)"),
    ("`COACHCTL_OUTPUT`", "the output format (`-o`)"),
    (
        "`COACHCTL_CONFIG`",
        "the config file, instead of `$XDG_CONFIG_HOME/coachctl/config.toml`",
    ),
    (
        "`COACHCTL_HOME`",
        "where the embedded cluster lives (default `$XDG_DATA_HOME/coachctl`, else `~/.local/share/coachctl`)",
    ),
    (
        "`COACHCTL_PG_BINDIR`",
        "the directory of the PostgreSQL server binaries to use (`initdb`, `pg_ctl`, `postgres`)",
    ),
    (
        "`COACHCTL_SMTP_URL`",
        "the SMTP server of `notify send` and `doctor`: `smtp://host:port`, `smtp://host:587?tls=required`, `smtps://user:password@host`",
    ),
    (
        "`COACHCTL_SMTP_FROM`",
        "the sender of emails (default `coachctl <coachctl@localhost>`)",
    ),
    (
        "`COACHCTL_CONTACT`",
        "how people reach the organisation, named in every email as the way to act on it (default \"reply to this email\")",
    ),
    (
        "`COACHCTL_COMPLETE_BUDGET_MS`",
        "how long a Tab may wait for the database (default 180)",
    ),
    (
        "`COACHCTL_SMTP_CA`",
        "a PEM file of the CA of a private SMTP relay",
    ),
    (
        "`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`, ...",
        "read as libpq reads them, for a server named by `DATABASE_URL`",
    ),
    ("`NO_COLOR`", "no colour (headings, `error:`)"),
    (
        "`COLUMNS`",
        "the width tables fit (default: the terminal's, else 80)",
    ),
];

/// `(path, meaning)`.
pub const FILES: &[(&str, &str)] = &[
    (
        "`~/.config/coachctl/config.toml`",
        "the config file (`$XDG_CONFIG_HOME/coachctl/config.toml`); refused when others may write it or its directory",
    ),
    (
        "`~/.local/share/coachctl/server/`",
        "the embedded cluster (`COACHCTL_HOME/server`): `data/`, the socket in `run/`, `postgres.log`",
    ),
    (
        "`~/.local/share/coachctl/backups/`",
        "the backups `db upgrade` takes before it changes anything",
    ),
    (
        "`/var/lib/coachctl/`",
        "run as root, the embedded cluster's files, behind the `server` symlink",
    ),
    (
        "`/etc/default/coachctl`",
        "the environment of the packaged `coachctl-notify.timer` (SMTP and database settings)",
    ),
];

/// A two-column Markdown table, as the README writes it.
pub fn markdown(head: (&str, &str), rows: &[(&str, &str)]) -> String {
    let mut out = format!("| {} | {} |\n| --- | --- |\n", head.0, head.1);
    for (k, v) in rows {
        out.push_str(&format!("| {k} | {v} |\n"));
    }
    out
}

/// The README's three tables, in order: exit codes, environment, files.
pub fn readme_tables() -> [String; 3] {
    [
        markdown(("exit", "meaning"), EXIT_CODES),
        markdown(("variable", "meaning"), ENVIRONMENT),
        markdown(("file", "meaning"), FILES),
    ]
}

/// Text for roff: Markdown's backquotes dropped, backslashes escaped, and
/// no line starting with a control character.
pub fn roff_text(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('`', "").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        format!("\\&{s}")
    } else {
        s
    }
}

/// A man page section of tagged paragraphs.
pub fn roff_section(title: &str, rows: &[(&str, &str)]) -> String {
    let mut out = format!(".SH \"{title}\"\n");
    for (k, v) in rows {
        out.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            roff_text(k),
            roff_text(v)
        ));
    }
    out
}

/// An EXAMPLES section: each example as a literal block.
pub fn roff_examples(lines: &[String]) -> String {
    let mut out = String::from(".SH EXAMPLES\n.nf\n");
    for l in lines {
        out.push_str(&roff_text(l.trim_end()));
        out.push('\n');
    }
    out.push_str(".fi\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_text_never_starts_a_line_with_a_control_character() {
        assert_eq!(roff_text(".hidden"), "\\&.hidden");
        assert_eq!(roff_text("a\\b `c`"), "a\\eb c");
    }
}
