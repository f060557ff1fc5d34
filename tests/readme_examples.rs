//! The README's examples run as pasted (issue 24 item 1): the tour, the
//! roster lines, the seed file and the crontab lines are read from
//! README.md itself, so they cannot drift from what coachctl does. Every
//! line exits 0 unless its comment says `# exit N`; a line whose comment
//! says `until Ctrl-C` runs for a moment and is interrupted.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const README: &str = include_str!("../README.md");

/// The first fenced block of `lang` after the heading line `heading`.
fn block(heading: &str, lang: &str) -> String {
    let start = README
        .lines()
        .position(|l| l.trim_end() == heading)
        .unwrap_or_else(|| panic!("README.md has no heading {heading:?}"));
    let mut lines = README.lines().skip(start + 1);
    let fence = format!("```{lang}");
    lines
        .by_ref()
        .find(|l| l.trim_end() == fence)
        .unwrap_or_else(|| panic!("no {fence} block under {heading:?}"));
    let body: Vec<&str> = lines.take_while(|l| l.trim_end() != "```").collect();
    body.join("\n") + "\n"
}

/// A shell command of a block, continuation lines joined, with what its
/// comment promises.
struct Line {
    text: String,
    exit: i32,
    until_interrupted: bool,
}

fn commands(block: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for raw in block.lines() {
        if pending.is_empty() && (raw.trim().is_empty() || raw.trim_start().starts_with('#')) {
            continue;
        }
        // A comment may follow a continuation backslash on the same line
        // only after the command's last part; strip it to join.
        let code = raw.split(" #").next().unwrap_or(raw).trim_end();
        if let Some(head) = code.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(raw);
        let text = std::mem::take(&mut pending);
        let comment = text.split_once(" #").map(|(_, c)| c).unwrap_or("");
        let exit = comment
            .split("exit ")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        out.push(Line {
            until_interrupted: comment.contains("until Ctrl-C"),
            exit,
            text,
        });
    }
    assert!(pending.is_empty(), "a block ends in a continuation line");
    out
}

/// A fresh home with `coachctl` on PATH, nothing of the tester's
/// environment, and the working directory the commands run in.
struct Home {
    dir: tempfile::TempDir,
    bin: PathBuf,
    env: Vec<(String, String)>,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().expect("home");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin dir");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_coachctl"), bin.join("coachctl"))
            .expect("coachctl on PATH");
        Home {
            dir,
            bin,
            env: Vec::new(),
        }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("coachctl")
    }

    /// Run the block's commands in one bash, in order (variables carry over),
    /// and return every line whose exit code is not the one its comment
    /// promises, with what it printed.
    fn run_block(&self, lines: &[Line]) -> Vec<String> {
        let mut script = String::from("set +e\n");
        for (i, l) in lines.iter().enumerate() {
            let text = if l.until_interrupted {
                format!("timeout -s INT 3 {}", l.text)
            } else {
                l.text.clone()
            };
            script.push_str(&format!(
                "echo '::: {i}' >&2\n{text}\necho \"::: {i} $?\" >&2\n"
            ));
        }
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", self.bin.display()))
            .env("HOME", self.dir.path())
            .env("COACHCTL_HOME", self.home())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("NO_COLOR", "1")
            .env("LANG", "C.UTF-8")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .expect("run bash");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut failures = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let said = stderr
                .split(&format!("::: {i}\n"))
                .nth(1)
                .and_then(|rest| rest.split(&format!("::: {i} ")).next())
                .unwrap_or("");
            let code: Option<i32> = stderr
                .split(&format!("::: {i} "))
                .nth(1)
                .and_then(|r| r.lines().next())
                .and_then(|n| n.trim().parse().ok());
            let ok = match code {
                Some(c) if l.until_interrupted => [0, 124, 130].contains(&c),
                Some(c) => c == l.exit,
                None => false,
            };
            if !ok {
                failures.push(format!(
                    "{}\n  exited {code:?}, the README says {}; stderr:\n{said}",
                    l.text, l.exit
                ));
            }
        }
        failures
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = Command::new(self.bin.join("coachctl"))
            .args(["db", "down"])
            .env("COACHCTL_HOME", self.home())
            .env_remove("DATABASE_URL")
            .output();
    }
}

#[test]
fn the_readme_tour_runs_as_pasted_with_the_exit_codes_its_comments_promise() {
    let tour = commands(&block("## A short tour", "sh"));
    assert!(tour.len() > 20, "the tour was found");
    assert!(
        !tour.iter().any(|l| l.text.contains('<')),
        "no placeholders such as <session-id> in the tour"
    );
    let home = Home::new();
    let failures = home.run_block(&tour);
    assert!(
        failures.is_empty(),
        "README tour lines that do not do what they say:\n{}",
        failures.join("\n")
    );

    // The roster lines, on the organisation the tour left.
    let roster = commands(&block("### Rosters: member import and export", "sh"));
    assert!(roster.len() >= 3);
    let failures = home.run_block(&roster);
    assert!(
        failures.is_empty(),
        "README roster lines that do not do what they say:\n{}",
        failures.join("\n")
    );
}

#[test]
fn the_readme_seed_file_applies_and_a_second_apply_changes_nothing() {
    let db = common::TestDb::new();
    let toml = block("### Seeding an organisation (CI)", "toml");
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("org.toml");
    std::fs::write(&file, &toml).expect("write the README's seed file");
    let file = file.to_str().expect("utf-8 path");
    db.run(&["seed", file, "--dry-run"]).ok();
    db.run(&["seed", file]).ok();
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM sessions"),
        1,
        "the file's booking is made"
    );
    let again = db.run(&["seed", file, "-o", "json"]).json();
    assert_eq!(again["changes"], serde_json::json!([]), "{again}");
    assert_eq!(again["created"]["bookings"], 0, "{again}");
}

/// The crontab lines as cron runs them: the variable lines set the
/// environment of the command lines below them. The SMTP server is a real
/// one on 127.0.0.1 in place of the README's port 25.
#[test]
fn the_readme_crontab_lines_send_what_is_queued_and_then_print_nothing() {
    let cron = block("### Notifications and the calendar", "sh");
    let mut env = Vec::new();
    let mut jobs = Vec::new();
    for l in cron
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        match l.split_once('=') {
            Some((k, v)) if !k.contains(' ') => env.push((k.to_string(), v.to_string())),
            _ => jobs.push(l.split_whitespace().skip(5).collect::<Vec<_>>().join(" ")),
        }
    }
    assert_eq!(jobs.len(), 1, "one crontab command line: {cron}");
    let sink = smtp_sink();
    for (k, v) in env.iter_mut() {
        if k == "COACHCTL_SMTP_URL" {
            *v = format!("smtp://127.0.0.1:{}", sink.port);
        }
    }
    let db = common::TestDb::new();
    let (c, m) = common::ana_and_bo(&db);
    db.run(&["member", "assign", &m, "--coach", &c]).ok();
    let run = |job: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(job)
            .env("DATABASE_URL", &db.url)
            .env_remove("COACHCTL_AS")
            .env_remove("COACHCTL_OUTPUT")
            .env("XDG_CONFIG_HOME", "/nonexistent/coachctl-tests")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir().display()))
            .output()
            .expect("run the cron line")
    };
    let first = run(&jobs[0]);
    assert!(first.status.success(), "{first:?}");
    assert!(
        first.stdout.is_empty(),
        "cron lines print nothing on stdout"
    );
    let sent = db.scalar::<i64>("SELECT count(*) FROM outbox WHERE status = 'sent'");
    assert!(sent > 0, "what the setup queued was sent");
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM outbox WHERE status <> 'sent'"),
        0
    );
    let second = run(&jobs[0]);
    assert!(second.status.success(), "{second:?}");
    assert!(
        second.stdout.is_empty() && second.stderr.is_empty(),
        "an ordinary run with nothing to do prints nothing (cron mails nothing): {second:?}"
    );
}

/// A directory holding `coachctl`, for PATH.
fn bin_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("bin dir");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_coachctl"), d.path().join("coachctl"))
            .expect("link");
        d
    })
    .path()
}

struct Sink {
    port: u16,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smtp_sink() -> Sink {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().expect("sink dir");
    let python = if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let mut child = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/smtp_sink.py"
        ))
        .arg(port.to_string())
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the SMTP sink (apt-get install python3-aiosmtpd)");
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("sink ready");
    assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
    let _ = std::io::stderr().flush();
    Sink {
        port,
        child,
        _dir: dir,
    }
}
