//! pgbouncer's `auth_file` (docs/design/identity.md §7): `login grant
//! --pgbouncer-file PATH` puts the login's line in it, `login revoke` with
//! the same flag takes it out. A line holds the login's SCRAM-SHA-256
//! verifier, never the password: pgbouncer checks the client's proof
//! against it and logs in to PostgreSQL with the keys that proof carries.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// pgbouncer's quoting: a field in double quotes, a quote doubled.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The first field of an auth_file line (None: a comment or no field).
fn user_of(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix('"')?;
    let mut name = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                name.push('"');
            } else {
                return Some(name);
            }
        } else {
            name.push(c);
        }
    }
    None
}

/// The file's text with `login`'s line replaced by `verifier`'s (or
/// removed, for `None`); every other line stays as it was.
pub fn edit(text: &str, login: &str, verifier: Option<&str>) -> String {
    let mut out: Vec<String> = text
        .lines()
        .filter(|l| user_of(l).as_deref() != Some(login))
        .map(str::to_string)
        .collect();
    if let Some(v) = verifier {
        out.push(format!("{} {}", quote(login), quote(v)));
    }
    let mut text = out.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

fn cannot(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::invalid(format!(
        "cannot write the pgbouncer auth file {}: {e}",
        path.display()
    ))
}

/// Whether the file can be rewritten, checked before the database changes
/// (so that a bad path changes nothing): its directory exists and it is
/// not a directory itself.
pub fn check(path: &Path) -> Result<()> {
    if path.is_dir() {
        return Err(cannot(path, "it is a directory"));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(cannot(path, "its directory does not exist"));
    }
    Ok(())
}

/// Put (or, with `None`, take out) `login`'s line. Written atomically: a
/// new file beside it, mode 0600 and the old file's owner (pgbouncer's
/// user must keep reading it), renamed over it, so pgbouncer never reads
/// half a file.
pub fn write(path: &Path, login: &str, verifier: Option<&str>) -> Result<()> {
    check(path)?;
    let (old, owner) = match fs::read_to_string(path) {
        Ok(text) => (text, fs::metadata(path).ok().map(|m| (m.uid(), m.gid()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), None),
        Err(e) => return Err(cannot(path, e)),
    };
    let name = path
        .file_name()
        .ok_or_else(|| cannot(path, "it names no file"))?;
    let tmp = path.with_file_name(format!(
        ".{}.coachctl-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        if let Some((uid, gid)) = owner {
            // as root for pgbouncer's user; anyone else already owns it
            let _ = std::os::unix::fs::fchown(&f, Some(uid), Some(gid));
        }
        f.write_all(edit(&old, login, verifier).as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(cannot(path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::edit;

    #[test]
    fn an_auth_file_line_is_replaced_and_the_others_stay() {
        let text = ";; pgbouncer users\n\"owner\" \"pw\"\n\"l_u_1\" \"SCRAM-old\"\n";
        assert_eq!(
            edit(text, "l_u_1", Some("SCRAM-new")),
            ";; pgbouncer users\n\"owner\" \"pw\"\n\"l_u_1\" \"SCRAM-new\"\n"
        );
        assert_eq!(
            edit(text, "l_u_1", None),
            ";; pgbouncer users\n\"owner\" \"pw\"\n"
        );
        assert_eq!(edit("", "a\"b", Some("v")), "\"a\"\"b\" \"v\"\n");
        assert_eq!(edit("\"a\"\"b\" \"v\"\n", "a\"b", None), "");
    }
}
