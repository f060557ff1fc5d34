//! Beyond one server: a primary with a synchronous standby on loopback
//! (`failover/pair.rs`), reached through libpq multi-host URLs. Which
//! server each `target_session_attrs` picks, reads on the standby and a
//! write refused there, and bookings made while the primary is killed and
//! the standby promoted.

#[path = "prod_pg/fixture.rs"]
mod fixture;
#[path = "failover/pair.rs"]
mod pair;
#[path = "prod_pg/run.rs"]
mod running;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use fixture::coachctl;
use pair::{Node, Pair};
use running::{Run, run};

impl Run {
    /// Assert the exit code; return stderr, checked to be one sentence.
    #[track_caller]
    fn fails_with(&self, code: i32) -> &str {
        assert_eq!(self.code, code, "expected exit {code}: {self:#?}");
        let err = self.stderr.trim();
        assert_eq!(err.lines().count(), 1, "one line: {self:#?}");
        assert!(!err.contains("panicked"), "{self:#?}");
        assert!(!err.contains("bug in coachctl"), "{self:#?}");
        err
    }
}

/// A Monday at least two weeks ahead.
fn monday() -> chrono::NaiveDate {
    use chrono::Datelike;
    let mut d = chrono::Utc::now().date_naive() + chrono::Duration::days(14);
    while d.weekday() != chrono::Weekday::Mon {
        d += chrono::Duration::days(1);
    }
    d
}

/// Ana coaching `members` members (m0@example.com ...), Monday to Friday
/// 08:00-20:00 in slots of 30 minutes for two people each.
fn organisation(url: &str, members: usize) {
    let cli = || coachctl(url);
    run(cli(), &["db", "migrate"]).ok();
    run(
        cli(),
        &[
            "coach",
            "create",
            "--email",
            "ana@example.com",
            "--name",
            "Ana Coach",
            "--timezone",
            "Europe/Berlin",
            "--max-members",
            "100",
        ],
    )
    .ok();
    for day in ["mon", "tue", "wed", "thu", "fri"] {
        run(
            cli(),
            &[
                "availability",
                "add",
                "--coach",
                "ana@example.com",
                "--day",
                day,
                "--start",
                "08:00",
                "--end",
                "20:00",
                "--length",
                "30",
                "--buffer",
                "0",
                "--capacity",
                "2",
            ],
        )
        .ok();
    }
    for i in 0..members {
        let email = format!("m{i}@example.com");
        run(
            cli(),
            &[
                "member",
                "create",
                "--email",
                &email,
                "--name",
                &format!("Member {i}"),
            ],
        )
        .ok();
        run(
            cli(),
            &["member", "assign", &email, "--coach", "ana@example.com"],
        )
        .ok();
    }
}

/// The start of slot `n` (0..120): weekday n/24, 08:00 + 30 min * (n%24).
fn slot(n: usize) -> String {
    let day = monday() + chrono::Duration::days((n / 24) as i64);
    let minutes = 8 * 60 + 30 * (n % 24);
    format!("{day}T{:02}:{:02}", minutes / 60, minutes % 60)
}

fn book(url: &str, member: &str, at: &str) -> Run {
    run(
        coachctl(url),
        &[
            "book",
            "--coach",
            "ana@example.com",
            "--member",
            member,
            "--at",
            at,
            "-o",
            "ids",
        ],
    )
}

/// `db status` through `url`: the server reached and its role.
fn reached(url: &str) -> (String, String) {
    let v = run(coachctl(url), &["db", "status", "-o", "json"]).json();
    (
        v["server"].as_str().unwrap_or_default().to_string(),
        v["role"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn each_target_session_attrs_of_a_multi_host_url_picks_the_right_server() {
    let p = Pair::start();
    run(coachctl(&p.url(&[&p.primary], "")), &["db", "migrate"]).ok();
    p.caught_up();
    let (pr, sb) = (&p.primary, &p.standby);
    let primary = (pr.host(), "primary".to_string());
    let standby = (sb.host(), "standby".to_string());
    let cases: [(&str, &[&Node], &(String, String)); 14] = [
        ("target_session_attrs=any", &[sb, pr], &standby),
        ("target_session_attrs=any", &[pr, sb], &primary),
        ("", &[sb, pr], &standby),
        ("target_session_attrs=read-write", &[sb, pr], &primary),
        ("target_session_attrs=read-write", &[pr, sb], &primary),
        ("target_session_attrs=primary", &[sb, pr], &primary),
        ("target_session_attrs=read-only", &[pr, sb], &standby),
        ("target_session_attrs=read-only", &[sb, pr], &standby),
        ("target_session_attrs=standby", &[pr, sb], &standby),
        ("target_session_attrs=prefer-standby", &[pr, sb], &standby),
        ("target_session_attrs=prefer-standby", &[sb, pr], &standby),
        ("target_session_attrs=prefer-standby", &[pr], &primary),
        (
            "target_session_attrs=any&load_balance_hosts=disable",
            &[pr, sb],
            &primary,
        ),
        (
            "target_session_attrs=primary&load_balance_hosts=random",
            &[sb, pr],
            &primary,
        ),
    ];
    for (query, hosts, want) in cases {
        assert_eq!(&reached(&p.url(hosts, query)), want, "{query} {hosts:?}");
    }
    // the keyword form says the same
    let kw = format!(
        "host=127.0.0.1,127.0.0.1 port={},{} user={} password={} dbname={} sslmode=disable target_session_attrs=read-write",
        sb.port,
        pr.port,
        fixture::OWNER,
        fixture::OWNER_PASSWORD,
        pair::DB
    );
    assert_eq!(reached(&kw), primary, "{kw}");

    // a host that refuses is skipped; none fitting names each host and why
    let dead = Node {
        port: fixture::free_port().expect("port"),
        data: p.dir.path().join("none"),
    };
    assert_eq!(
        reached(&p.url(&[&dead, pr], "target_session_attrs=read-write")),
        primary
    );
    let r = run(
        coachctl(&p.url(&[&dead, sb], "target_session_attrs=read-write")),
        &["db", "status"],
    );
    let err = r.fails_with(8);
    assert!(
        err.contains(&format!("{} (connection refused)", dead.host())),
        "{err}"
    );
    assert!(
        err.contains(&format!("{} (it is read-only", sb.host())),
        "{err}"
    );
    assert!(err.contains("2 hosts"), "{err}");
}

#[test]
fn reads_work_on_the_standby_and_a_write_there_exits_8_saying_it_is_a_read_only_standby() {
    let p = Pair::start();
    let primary = p.url(&[&p.primary], "");
    organisation(&primary, 2);
    book(&primary, "m0@example.com", &slot(0)).ok();
    p.caught_up();
    let standby = p.url(&[&p.standby], "");
    let slots = run(
        coachctl(&standby),
        &[
            "slots",
            "--coach",
            "ana@example.com",
            "--from",
            &monday().to_string(),
            "--days",
            "1",
            "-o",
            "json",
        ],
    )
    .json();
    assert_eq!(slots[0]["remaining"], 1, "{slots}");
    let sessions = run(
        coachctl(&standby),
        &["--as", "m0@example.com", "session", "list", "-o", "json"],
    )
    .json();
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
    run(coachctl(&standby), &["coach", "list"]).ok();
    run(coachctl(&standby), &["member", "list"]).ok();

    for write in [
        book(&standby, "m1@example.com", &slot(0)),
        run(
            coachctl(&standby),
            &[
                "member",
                "create",
                "--email",
                "new@example.com",
                "--name",
                "New",
            ],
        ),
    ] {
        let err = write.fails_with(8);
        assert!(err.contains("the server is a read-only standby"), "{err}");
    }
    assert_eq!(
        p.psql(&p.primary, "SELECT count(*) FROM sessions").unwrap(),
        "1",
        "nothing was written elsewhere"
    );
}

/// What one booking attempt of the loop gave.
#[derive(Debug, Clone)]
struct Attempt {
    started: Instant,
    code: i32,
    /// The session id printed on success.
    id: Option<String>,
    stderr: String,
}

#[test]
fn bookings_through_a_multi_host_url_survive_killing_the_primary_and_promoting_the_standby() {
    const WORKERS: usize = 3;
    const MEMBERS_EACH: usize = 4;
    let p = Pair::start();
    organisation(&p.url(&[&p.primary], ""), WORKERS * MEMBERS_EACH);
    let url = p.url(&[&p.primary, &p.standby], "target_session_attrs=read-write");

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let attempts = Arc::new(Mutex::new(Vec::<Attempt>::new()));
    let barrier = Arc::new(Barrier::new(WORKERS));
    // Workers book slot after slot, each for its own members, so that two
    // workers compete for each slot of capacity 2 with the third.
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (stop, acked, attempts, barrier, url) = (
                stop.clone(),
                acked.clone(),
                attempts.clone(),
                barrier.clone(),
                url.clone(),
            );
            std::thread::spawn(move || {
                barrier.wait();
                for n in 0..120 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let member = format!("m{}@example.com", w * MEMBERS_EACH + n % MEMBERS_EACH);
                    let started = Instant::now();
                    let r = book(&url, &member, &slot(n));
                    let id = (r.code == 0).then(|| r.stdout.trim().to_string());
                    if id.is_some() {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    attempts.lock().unwrap().push(Attempt {
                        started,
                        code: r.code,
                        id,
                        stderr: r.stderr,
                    });
                }
            })
        })
        .collect();

    let wait_for = |n: usize, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while acked.load(Ordering::SeqCst) < n {
            assert!(
                Instant::now() < deadline,
                "{what}: only {} bookings",
                acked.load(Ordering::SeqCst)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(15, "before the failover");
    p.kill_primary();
    let killed = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    p.promote();
    let promoted = Instant::now();
    let before = acked.load(Ordering::SeqCst);
    wait_for(before + 15, "after the promotion");
    stop.store(true, Ordering::SeqCst);
    for h in handles {
        h.join().expect("worker");
    }

    let attempts = attempts.lock().unwrap().clone();
    // every command ended with a booking, a full slot or an outage (8)
    for a in &attempts {
        assert!(matches!(a.code, 0 | 6 | 8), "{a:#?}");
        if a.code == 8 {
            assert!(!a.stderr.contains("bug"), "{a:#?}");
            assert_eq!(a.stderr.trim().lines().count(), 1, "{a:#?}");
        }
    }
    // the commands cut by the failover were outages, and there were some
    let cut = attempts.iter().filter(|a| a.code == 8).count();
    assert!(cut > 0, "the failover cut no command: {attempts:#?}");
    // commands work again within 10 s of the promotion
    let back = attempts
        .iter()
        .filter(|a| a.code == 0 && a.started >= killed)
        .map(|a| a.started)
        .min()
        .expect("a booking after the failover");
    assert!(
        back.saturating_duration_since(promoted) < Duration::from_secs(10),
        "first booking {:?} after the promotion",
        back.saturating_duration_since(promoted)
    );
    for a in attempts
        .iter()
        .filter(|a| a.started > promoted + Duration::from_secs(10))
    {
        assert_ne!(a.code, 8, "an outage 10 s after the promotion: {a:#?}");
    }
    // every acknowledged booking is on the new primary, and nothing is overbooked
    let ids: BTreeSet<String> = attempts.iter().filter_map(|a| a.id.clone()).collect();
    let list = ids
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    let present = p
        .psql(
            &p.standby,
            &format!("SELECT count(*) FROM sessions WHERE id::text IN ({list})"),
        )
        .expect("count on the new primary");
    assert_eq!(present, ids.len().to_string(), "acknowledged bookings lost");
    let violations = p
        .psql(&p.standby, include_str!("invariants.sql"))
        .expect("invariants on the new primary");
    assert_eq!(violations, "", "invariants broken after the failover");
}

/// coachctl writing to `write` and reading from `read` (`COACHCTL_READ_URL`).
fn split(write: &str, read: &str) -> Command {
    let mut c = coachctl(write);
    c.env("COACHCTL_READ_URL", read);
    c
}

#[test]
fn with_a_read_url_read_only_commands_go_to_the_standby_and_writes_to_the_primary() {
    let p = Pair::start();
    let primary = p.url(&[&p.primary], "");
    let standby = p.url(&[&p.standby], "");
    organisation(&primary, 2);
    let session = book(&primary, "m0@example.com", &slot(0))
        .ok()
        .trim()
        .to_string();
    p.caught_up();

    // Every read-only command runs with only the standby reachable: the
    // DATABASE_URL of these runs leads nowhere.
    let nowhere = format!(
        "postgres://{}:{}@127.0.0.1:{}/{}?sslmode=disable",
        fixture::OWNER,
        fixture::OWNER_PASSWORD,
        fixture::free_port().expect("port"),
        pair::DB
    );
    let day = monday().to_string();
    let reads: &[&[&str]] = &[
        &[
            "slots",
            "--coach",
            "ana@example.com",
            "--from",
            &day,
            "--days",
            "1",
        ],
        &["coach", "list"],
        &["coach", "show", "ana@example.com"],
        &["coach", "dashboard", "ana@example.com"],
        &["member", "list"],
        &["member", "show", "m0@example.com"],
        &["member", "dashboard", "m0@example.com"],
        &["member", "history", "m0@example.com"],
        &["member", "export"],
        &["session", "list"],
        &["session", "show", &session],
        &["session", "export", "--ics"],
        &["availability", "list", "--coach", "ana@example.com"],
        &["availability", "blocks"],
        &["audit", "list"],
        &["invite", "list"],
    ];
    for args in reads {
        let r = run(split(&nowhere, &standby), args);
        assert_eq!(r.code, 0, "{args:?} needs more than the standby: {r:#?}");
    }
    // a write goes to DATABASE_URL, never to the read URL
    let err = run(
        split(&nowhere, &standby),
        &[
            "member",
            "create",
            "--email",
            "x@example.com",
            "--name",
            "X",
        ],
    )
    .fails_with(8)
    .to_string();
    assert!(err.contains("cannot connect"), "{err}");
    // slots --watch needs LISTEN, which a standby cannot do: it uses DATABASE_URL
    let r = run(
        split(&nowhere, &standby),
        &["slots", "--coach", "ana@example.com", "--watch"],
    );
    r.fails_with(8);

    // A standby lags by its replication delay: with replay paused, a booking
    // made on the primary is not yet seen by reads, and is once it resumes.
    p.psql(&p.standby, "SELECT pg_wal_replay_pause()").unwrap();
    let sessions = |as_member: &str| {
        run(
            split(&primary, &standby),
            &["--as", as_member, "session", "list", "-o", "json"],
        )
        .json()
        .as_array()
        .map_or(0, Vec::len)
    };
    run(
        split(&primary, &standby),
        &[
            "book",
            "--coach",
            "ana@example.com",
            "--member",
            "m1@example.com",
            "--at",
            &slot(1),
        ],
    )
    .ok();
    assert_eq!(
        p.psql(&p.primary, "SELECT count(*) FROM sessions").unwrap(),
        "2",
        "the booking went to the primary"
    );
    assert_eq!(
        sessions("m1@example.com"),
        0,
        "read from the paused standby"
    );
    p.psql(&p.standby, "SELECT pg_wal_replay_resume()").unwrap();
    p.caught_up();
    assert_eq!(sessions("m1@example.com"), 1);
}

/// The SMTP sink of tests/support/smtp_sink.py on a free port, writing
/// each message it accepts to a file of `dir`.
fn smtp_sink(dir: &std::path::Path) -> (std::process::Child, String) {
    use std::io::BufRead;
    let port = fixture::free_port().expect("port");
    let python = if std::path::Path::new("/usr/bin/python3").exists() {
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
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the SMTP sink (apt-get install python3-aiosmtpd)");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("sink ready");
    assert_eq!(line.trim(), "ready");
    (child, format!("smtp://127.0.0.1:{port}"))
}

fn delivered(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("sink dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

#[test]
fn notify_send_across_a_failover_loses_no_message() {
    let p = Pair::start();
    let primary = p.url(&[&p.primary], "");
    organisation(&primary, 6);
    for n in 0..30 {
        book(&primary, &format!("m{}@example.com", n % 6), &slot(n)).ok();
    }
    let queued: usize = p
        .psql(&p.primary, "SELECT count(*) FROM outbox")
        .unwrap()
        .parse()
        .unwrap();
    assert!(queued >= 30, "{queued}");
    let sink_dir = tempfile::tempdir().expect("sink dir");
    let (mut sink, smtp) = smtp_sink(sink_dir.path());
    let url = p.url(&[&p.primary, &p.standby], "target_session_attrs=read-write");
    let sender = |url: &str| {
        let mut c = coachctl(url);
        c.env("COACHCTL_SMTP_URL", &smtp)
            .args(["notify", "send", "--batch", "5"]);
        c
    };
    let first = sender(&url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn a sender");
    let deadline = Instant::now() + Duration::from_secs(120);
    while delivered(sink_dir.path()).len() < 10 {
        assert!(Instant::now() < deadline, "nothing delivered");
        std::thread::sleep(Duration::from_millis(5));
    }
    // the primary dies in the middle of the batch
    p.kill_primary();
    p.promote();
    let cut = first.wait_with_output().expect("the first sender");
    assert!(matches!(cut.status.code(), Some(0 | 8)), "{cut:?}");
    // what the cut sender had claimed comes back when its lease runs out
    // (made to run out now), then a sender through the same URL drains it
    p.psql(
        &p.standby,
        "UPDATE outbox SET lease_until = now() WHERE lease_until > now()",
    )
    .unwrap();
    let again = run(sender(&url), &[]);
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(
        p.psql(
            &p.standby,
            "SELECT count(*) FROM outbox WHERE status <> 'sent'"
        )
        .unwrap(),
        "0"
    );
    let _ = sink.kill();
    let _ = sink.wait();
    // every message of the outbox reached the SMTP server; one cut in its
    // hand-off may have come twice, with the same Message-ID
    let mail = delivered(sink_dir.path());
    let ids = p.psql(&p.standby, "SELECT message_id FROM outbox").unwrap();
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), queued);
    for id in &ids {
        assert!(mail.iter().any(|m| m.contains(id)), "{id} was lost");
    }
    assert!(
        mail.len() - ids.len() <= 5,
        "more resent than one batch: {}",
        mail.len()
    );
}
