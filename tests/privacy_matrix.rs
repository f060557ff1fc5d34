//! Issue 18 items 1 and 2 (DESIGN.md "Identity and permissions"): a person
//! the actor may not see is answered exactly as one who does not exist, by
//! every command that takes a person: the same exit code, the same bytes on
//! stderr (as text and as a JSON error), the same queries sent to the
//! database (so about the same time), and nothing changed. A coach connected
//! with a member sees them within what the member shares.
//!
//! The queries are counted by a small proxy between coachctl and PostgreSQL
//! that records the text of every statement a command sends.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Mutex};

use common::{Run, TestDb, monday, window};

/// Records the SQL text of every Parse and Query message a client sends
/// through it, in the order they arrive.
struct Proxy {
    _dir: tempfile::TempDir,
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    /// A proxy in front of this test database's unix socket.
    fn start(db: &TestDb) -> Proxy {
        // postgres://user@localhost:PORT/NAME?host=DIR
        let (head, dir) = db.url.split_once("?host=").expect("a socket url");
        let port = head
            .rsplit_once(':')
            .and_then(|(_, p)| p.split('/').next())
            .expect("a port");
        let real = format!("{dir}/.s.PGSQL.{port}");
        let tmp = tempfile::Builder::new()
            .prefix("pxy")
            .tempdir_in("/tmp")
            .expect("proxy dir");
        let listener =
            UnixListener::bind(tmp.path().join(format!(".s.PGSQL.{port}"))).expect("bind proxy");
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = log.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = UnixStream::connect(&real) else {
                    return;
                };
                let (mut c, mut s) = (
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                );
                std::thread::spawn(move || {
                    std::io::copy(&mut s, &mut c).ok();
                    c.shutdown(std::net::Shutdown::Both).ok();
                });
                let log = shared.clone();
                std::thread::spawn(move || relay(client, server, &log));
            }
        });
        let url = format!("{head}?host={}", tmp.path().display());
        Proxy {
            _dir: tmp,
            url,
            log,
        }
    }

    /// The statements sent since the last call.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().expect("log"))
    }
}

/// Forward the client's messages, noting each statement before it leaves
/// (so a statement is noted before its answer can arrive).
fn relay(mut from: UnixStream, mut to: UnixStream, log: &Mutex<Vec<String>>) {
    let mut untyped = true;
    loop {
        let mut kind = [0u8; 1];
        if !untyped && from.read_exact(&mut kind).is_err() {
            break;
        }
        let mut len = [0u8; 4];
        if from.read_exact(&mut len).is_err() {
            break;
        }
        let mut body = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
        if from.read_exact(&mut body).is_err() {
            break;
        }
        if untyped {
            // SSLRequest and GSSENCRequest come before the startup message.
            let code = u32::from_be_bytes(body[..4].try_into().expect("4 bytes"));
            untyped = matches!(code, 80877103 | 80877104);
        } else {
            let cstr = |b: &[u8]| {
                let end = b.iter().position(|x| *x == 0).unwrap_or(b.len());
                (String::from_utf8_lossy(&b[..end]).into_owned(), end + 1)
            };
            match kind[0] {
                b'Q' => log.lock().expect("log").push(cstr(&body).0),
                b'P' => {
                    let (_, skip) = cstr(&body);
                    log.lock().expect("log").push(cstr(&body[skip..]).0);
                }
                _ => {}
            }
            if to.write_all(&kind).is_err() {
                break;
            }
        }
        if to.write_all(&len).is_err() || to.write_all(&body).is_err() {
            break;
        }
    }
    to.shutdown(std::net::Shutdown::Write).ok();
}

/// Everything a refused command could have changed, as one value.
fn digest(db: &TestDb) -> String {
    db.scalar(
        "SELECT md5(concat_ws('|',
            (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM users t),
            (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM member_profiles t),
            (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM messages t),
            (SELECT string_agg(t::text, ',' ORDER BY t::text) FROM connections t),
            (SELECT count(*) FROM audit_log), (SELECT count(*) FROM outbox),
            (SELECT count(*) FROM invitations), (SELECT count(*) FROM sessions),
            (SELECT count(*) FROM relationship_events), (SELECT count(*) FROM conversations)))",
    )
}

/// Ana and Zed coach; Bo is Ana's member. Around them: a private, a
/// connections-only and a public member with no coach, and Zed's member.
/// Ana has a Monday window, Bo and Ana a conversation.
fn world(db: &TestDb) {
    for (email, name) in [("ana@example.com", "Ana"), ("zed@example.com", "Zed")] {
        db.coach(email).name(name).tz("UTC").create();
    }
    for (email, coach, privacy) in [
        ("bo@example.com", Some("ana@example.com"), "connections"),
        ("priv@example.com", None, "private"),
        ("conn@example.com", None, "connections"),
        ("publ@example.com", None, "public"),
        ("zeds@example.com", Some("zed@example.com"), "connections"),
    ] {
        let mut args = vec!["member", "create", "--email", email, "--name", "Someone"];
        if let Some(c) = coach {
            args.extend(["--coach", c]);
        }
        db.run(&args).ok();
        db.run(&["member", "privacy", email, privacy]).ok();
        db.run(&[
            "member",
            "update",
            email,
            "--goals",
            "run",
            "--health-info",
            "knee",
        ])
        .ok();
    }
    window(db, "ana@example.com", "mon", ("09:00", "12:00"), 60, 0, 2);
    db.run_as(
        "bo",
        &[
            "message",
            "send",
            "--to",
            "ana@example.com",
            "--text",
            "hello",
        ],
    )
    .ok();
}

fn at() -> String {
    format!("{}T09:00", monday())
}

/// Every command that takes a person; `{}` is where the person goes.
fn commands() -> Vec<Vec<String>> {
    let at = at();
    let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    vec![
        c(&["member", "show", "{}"]),
        c(&["member", "history", "{}"]),
        c(&["member", "sharing", "{}"]),
        c(&["member", "sharing", "{}", "--goals", "off"]),
        c(&["member", "update", "{}", "--goals", "x"]),
        c(&["member", "update", "{}", "--coach-notes", "x"]),
        c(&["member", "unassign", "{}"]),
        c(&["member", "onboarding", "{}", "completed"]),
        c(&["member", "privacy", "{}", "public"]),
        c(&["member", "assign", "{}", "--coach", "ana@example.com"]),
        c(&["member", "dashboard", "{}"]),
        c(&["message", "send", "--to", "{}", "--text", "hi"]),
        c(&["message", "list", "--with", "{}"]),
        c(&["message", "list", "--with", "{}", "--unread"]),
        c(&["session", "create", "--member", "{}", "--at", &at]),
        c(&["session", "list", "--member", "{}"]),
        c(&["session", "export", "--ics", "--member", "{}"]),
        c(&["connect", "request", "--member", "{}", "--area", "running"]),
        c(&["connect", "request", "--coach", "{}", "--area", "running"]),
        c(&["invite", "send", "--user", "{}"]),
        c(&[
            "book",
            "--coach",
            "ana@example.com",
            "--member",
            "{}",
            "--at",
            &at,
        ]),
        c(&["book", "--coach", "{}", "--at", &at]),
        c(&["slots", "--coach", "{}"]),
        c(&["coach", "show", "{}"]),
        c(&["coach", "update", "{}", "--bio", "x"]),
        c(&["coach", "dashboard", "{}"]),
        c(&["session", "list", "--coach", "{}"]),
        c(&["member", "list", "--coach", "{}"]),
        c(&["member", "export", "--coach", "{}"]),
        c(&["availability", "list", "--coach", "{}"]),
    ]
}

/// Whom the actor may reach although they may not see them: a coach asks a
/// public member to connect, or invites them, as `connect search` shows them.
fn reachable(actor: &str, cmd: &[String], person: &str) -> bool {
    actor == "ana@example.com"
        && person == "publ@example.com"
        && (cmd[..2] == ["connect", "request"] && cmd[2] == "--member"
            || cmd[..2] == ["invite", "send"])
}

/// One command as `actor` about `who`, through the proxy: its outcome with
/// `who` written as <who>, and the statements it sent.
fn ask(
    db: &TestDb,
    proxy: &Proxy,
    actor: &str,
    cmd: &[String],
    who: &str,
    json: bool,
) -> (i32, String, String, Vec<String>) {
    let mut args: Vec<String> = vec!["--as".into(), actor.into()];
    if json {
        args.extend(["-o".into(), "json".into()]);
    }
    args.extend(cmd.iter().map(|a| a.replace("{}", who)));
    proxy.take();
    let run = Run::from(
        db.cmd()
            .env("DATABASE_URL", &proxy.url)
            .args(&args)
            .output()
            .expect("run coachctl"),
    );
    // A refused transaction's ROLLBACK leaves as the process exits, or not
    // at all: it is no step of either path. Several connections may
    // interleave; the same statements is the claim.
    let mut queries: Vec<String> = proxy
        .take()
        .into_iter()
        .filter(|q| q != "ROLLBACK")
        .collect();
    queries.sort();
    let hide = |s: &str| s.replace(who, "<who>");
    (run.code, hide(&run.stdout), hide(&run.stderr), queries)
}

/// The matrix for one actor: each hidden person (by email, full id and id
/// prefix) against an unknown one.
fn hidden_is_unknown(actor: &str) {
    let db = TestDb::new();
    world(&db);
    let proxy = Proxy::start(&db);
    let people = [
        "priv@example.com",
        "conn@example.com",
        "publ@example.com",
        "zeds@example.com",
    ];
    let ids: Vec<String> = people
        .iter()
        .map(|p| db.run(&["member", "show", p, "-o", "ids"]).id())
        .collect();
    let unknown_id = uuid::Uuid::new_v4().to_string();
    let mut before = digest(&db);
    let mut failures = Vec::new();
    for cmd in commands() {
        let nobody = ask(&db, &proxy, actor, &cmd, "nobody@example.com", false);
        let nobody_json = ask(&db, &proxy, actor, &cmd, "nobody@example.com", true);
        let no_id = ask(&db, &proxy, actor, &cmd, &unknown_id, false);
        let no_prefix = ask(&db, &proxy, actor, &cmd, &unknown_id[..8], false);
        assert!(
            [4, 5].contains(&nobody.0),
            "{actor} {cmd:?} about nobody: {nobody:?}"
        );
        for (person, id) in people.iter().zip(&ids) {
            if reachable(actor, &cmd, person) {
                continue;
            }
            let cases = [
                (person.to_string(), false, &nobody),
                (person.to_string(), true, &nobody_json),
                (id.clone(), false, &no_id),
                (id[..8].to_string(), false, &no_prefix),
            ];
            for (who, json, expected) in cases {
                let got = ask(&db, &proxy, actor, &cmd, &who, json);
                if &got != expected {
                    let only = |a: &[String], b: &[String]| {
                        a.iter()
                            .filter(|q| !b.contains(q))
                            .cloned()
                            .collect::<Vec<_>>()
                    };
                    failures.push(format!(
                        "{actor} {cmd:?} about {who} (json: {json}):\n  hidden:  {:?}\n  unknown: {:?}\n  queries only hidden: {:?}\n  only unknown: {:?}",
                        (got.0, &got.1, &got.2, got.3.len()),
                        (expected.0, &expected.1, &expected.2, expected.3.len()),
                        only(&got.3, &expected.3),
                        only(&expected.3, &got.3),
                    ));
                }
            }
        }
        let after = digest(&db);
        if after != before {
            failures.push(format!("{actor} {cmd:?} changed something"));
            before = after;
        }
    }
    assert!(
        failures.is_empty(),
        "{} cells tell a hidden person from nobody:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn a_coach_cannot_tell_a_member_they_may_not_see_from_nobody() {
    hidden_is_unknown("ana@example.com");
}

#[test]
fn a_member_cannot_tell_another_member_from_nobody() {
    hidden_is_unknown("bo@example.com");
}

#[test]
fn a_coach_asks_and_invites_a_public_member_as_search_shows_them() {
    let db = TestDb::new();
    world(&db);
    let ana = |args: &[&str]| {
        let mut all = vec!["--as", "ana@example.com"];
        all.extend_from_slice(args);
        db.run(&all)
    };
    let found = ana(&["connect", "search", "--name", "Someone", "-o", "json"]).json();
    let emails: Vec<&str> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["bo@example.com", "publ@example.com"],
        "search shows her own member and the public one"
    );
    ana(&[
        "connect",
        "request",
        "--member",
        "publ@example.com",
        "--area",
        "running",
    ])
    .ok();
    ana(&["invite", "send", "--user", "publ@example.com"]).ok();
    assert_eq!(
        db.scalar::<i64>(
            "SELECT count(*) FROM connections c JOIN users u ON u.id = c.member_id
             WHERE u.email = 'publ@example.com' AND c.status = 'pending'"
        ),
        1
    );
    // Asking is not seeing: the profile stays closed until they accept.
    ana(&["member", "show", "publ@example.com"]).fails_with(5);
}

/// Ana is connected with Cy (Zed's member) without being her coach;
/// returns the connection's id.
fn ana_connected_with_cy(db: &TestDb) -> String {
    world(db);
    db.member("cy")
        .assigned_to("zed")
        .arg("--goals", "swim a mile")
        .arg("--health-info", "asthma")
        .create();
    db.run_as(
        "zed",
        &[
            "member",
            "update",
            "cy@example.com",
            "--coach-notes",
            "zed only",
        ],
    )
    .ok();
    let id = db
        .run_as(
            "cy",
            &[
                "connect",
                "request",
                "--coach",
                "ana@example.com",
                "--area",
                "swimming",
                "-o",
                "ids",
            ],
        )
        .id();
    db.run_as("ana", &["connect", "respond", &id, "--accept"])
        .ok();
    id
}

/// Every format of `member show cy` as Ana, joined.
fn ana_sees_of_cy(db: &TestDb) -> String {
    ["table", "wide", "json", "csv"]
        .iter()
        .map(|f| {
            db.run_as("ana", &["-o", f, "member", "show", "cy@example.com"])
                .ok()
                .to_string()
        })
        .collect()
}

#[test]
fn a_connected_coach_sees_the_member_within_what_they_share_and_never_the_coach_notes() {
    let db = TestDb::new();
    ana_connected_with_cy(&db);
    let seen = ana_sees_of_cy(&db);
    assert!(
        seen.contains("cy@example.com") && seen.contains("swim a mile"),
        "{seen}"
    );
    assert!(
        !seen.contains("asthma"),
        "health info is not shared by default: {seen}"
    );
    assert!(
        !seen.contains("zed only"),
        "coach notes stay with Zed: {seen}"
    );
    let json = db
        .run_as("ana", &["-o", "json", "member", "show", "cy@example.com"])
        .json();
    for absent in ["health_info", "coach_notes"] {
        assert!(
            json.get(absent).is_none(),
            "{absent} is absent, not empty: {json}"
        );
    }
    db.run_as(
        "cy",
        &["member", "sharing", "--goals", "off", "--health-info", "on"],
    )
    .ok();
    let seen = ana_sees_of_cy(&db);
    assert!(
        seen.contains("asthma") && !seen.contains("swim a mile"),
        "{seen}"
    );
    assert!(!seen.contains("zed only"), "{seen}");
    // Zed, her coach, still reads his notes.
    let zed = db
        .run_as("zed", &["-o", "json", "member", "show", "cy@example.com"])
        .json();
    assert_eq!(zed["coach_notes"], "zed only");
}

#[test]
fn a_connected_coach_reads_the_history_and_sessions_they_share_but_changes_nothing() {
    let db = TestDb::new();
    ana_connected_with_cy(&db);
    let ana = |args: &[&str]| {
        let mut all = vec!["--as", "ana@example.com"];
        all.extend_from_slice(args);
        db.run(&all)
    };
    let history = ana(&["member", "history", "cy@example.com", "-o", "json"]).json();
    let events: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["connection_requested", "connected"],
        "only hers with Ana"
    );
    ana(&[
        "session",
        "create",
        "--member",
        "cy@example.com",
        "--at",
        &at(),
    ])
    .ok();
    let sessions = ana(&[
        "session",
        "list",
        "--member",
        "cy@example.com",
        "-o",
        "json",
    ])
    .json();
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    let before = digest(&db);
    for change in [
        &[
            "member",
            "update",
            "cy@example.com",
            "--coach-notes",
            "mine",
        ][..],
        &["member", "update", "cy@example.com", "--goals", "x"],
        &["member", "onboarding", "cy@example.com", "completed"],
        &["member", "unassign", "cy@example.com"],
    ] {
        let err = ana(change).fails_with(4).to_string();
        assert_eq!(err.trim().lines().count(), 1, "{change:?}: {err}");
    }
    assert_eq!(digest(&db), before, "a refused change changed something");
}

#[test]
fn after_the_connection_ends_the_coach_no_longer_sees_the_member_but_keeps_their_shared_past() {
    let db = TestDb::new();
    let id = ana_connected_with_cy(&db);
    let ana = |args: &[&str]| {
        let mut all = vec!["--as", "ana@example.com"];
        all.extend_from_slice(args);
        db.run(&all)
    };
    ana(&[
        "session",
        "create",
        "--member",
        "cy@example.com",
        "--at",
        &at(),
    ])
    .ok();
    db.run_as("cy", &["connect", "remove", &id]).ok();
    let err = ana(&["member", "show", "cy@example.com"])
        .fails_with(5)
        .to_string();
    assert_eq!(err, "error: no member cy@example.com\n");
    // What they shared stays theirs to read: the sessions and their period.
    let sessions = ana(&[
        "session",
        "list",
        "--member",
        "cy@example.com",
        "-o",
        "json",
    ])
    .json();
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{sessions}");
    let history = ana(&["member", "history", "cy@example.com", "-o", "json"]).json();
    assert_eq!(history.as_array().unwrap().len(), 3, "{history}");
    // Known, so refused as not hers rather than as nobody.
    let later = format!("{}T11:00", monday());
    let err = ana(&[
        "session",
        "create",
        "--member",
        "cy@example.com",
        "--at",
        &later,
    ])
    .fails_with(4)
    .to_string();
    assert!(err.contains("neither assigned nor connected"), "{err}");
}
