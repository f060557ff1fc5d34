//! Lists stream: rows are written as they arrive (a closed stdout ends the
//! command at once, exit 0), JSON is still one array, and `--limit` with
//! `--after` pages by key without gaps or repeats.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::TestDb;

/// Run SQL as the test cluster's superuser (to set up what no command
/// would: thousands of members, a session in the past).
fn sql(db: &TestDb, stmt: &str) {
    let stmt = stmt.to_string();
    common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(stmt))
            .execute(&pool)
            .await
            .expect("setup SQL");
        pool.close().await;
    });
}

fn many_members(db: &TestDb, n: u32) {
    sql(
        db,
        &format!(
            "INSERT INTO users (id, email, name, role)
             SELECT gen_random_uuid(), 'm' || lpad(i::text, 6, '0') || '@example.com',
                    'Member ' || i, 'member'
             FROM generate_series(1, {n}) i;
             INSERT INTO member_profiles (user_id) SELECT id FROM users WHERE role = 'member';"
        ),
    );
}

/// `coachctl ARGS | head -1`: the first line, the exit code, and how long
/// the command took to end once its reader had left.
fn head_1(db: &TestDb, args: &[&str]) -> (String, i32, Duration) {
    let mut child = db
        .cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn coachctl");
    let mut first = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut first).unwrap();
    drop(out);
    let left = Instant::now();
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.is_empty(), "a closed pipe is quiet: {err}");
    (first, status.code().unwrap_or(-1), left.elapsed())
}

#[test]
fn a_large_member_list_through_head_1_exits_0_at_once_with_one_line() {
    let db = TestDb::new();
    many_members(&db, 20_000);
    for format in ["ids", "csv", "json", "table"] {
        let started = Instant::now();
        let (line, code, after_close) = head_1(&db, &["member", "list", "-o", format]);
        assert_eq!(code, 0, "-o {format}");
        assert!(!line.trim().is_empty(), "-o {format}");
        assert!(
            after_close < Duration::from_secs(2),
            "-o {format} took {after_close:?} to end after its reader left"
        );
        // a bound against reading everything first, loose enough for a
        // loaded two-core machine (the property is the line above)
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "-o {format}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_streamed_json_list_is_one_array_of_every_row() {
    let db = TestDb::new();
    many_members(&db, 3_000);
    let out = db.run(&["member", "list", "-o", "json"]);
    let rows = out.json();
    let rows = rows.as_array().expect("one JSON array");
    assert_eq!(rows.len(), 3_000);
    assert!(
        rows.iter()
            .all(|r| r["id"].is_string() && r["email"].is_string())
    );
    assert_eq!(rows[0]["email"], "m000001@example.com");
    let csv = db.run(&["member", "list", "-o", "csv"]).ok().to_string();
    assert_eq!(csv.lines().count(), 3_001);
    assert!(
        csv.starts_with("id,email,name,coach_email,"),
        "{}",
        &csv[..80]
    );
    // an empty list is still one document
    let none = db.run(&["member", "list", "--status", "paused", "-o", "json"]);
    assert_eq!(none.ok(), "[]\n");
}

#[test]
fn limit_and_after_page_through_members_by_email_without_gaps_or_repeats() {
    let db = TestDb::new();
    many_members(&db, 7);
    let all: Vec<String> = db
        .run(&["member", "list", "-o", "ids"])
        .ok()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(all.len(), 7);
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut args = vec!["member", "list", "-o", "ids", "--limit", "3"];
        if let Some(a) = &after {
            args.extend(["--after", a.as_str()]);
        }
        let page: Vec<String> = db.run(&args).ok().lines().map(str::to_string).collect();
        assert!(page.len() <= 3);
        let Some(last) = page.last().cloned() else {
            break;
        };
        paged.extend(page);
        after = Some(last);
    }
    assert_eq!(paged, all);
    // an email is a key too: the page after the third member's email
    let third = db
        .run(&["member", "list", "-o", "json", "--limit", "3"])
        .json()[2]["email"]
        .as_str()
        .unwrap()
        .to_string();
    let next = db
        .run(&[
            "member", "list", "-o", "ids", "--after", &third, "--limit", "1",
        ])
        .ok()
        .trim()
        .to_string();
    assert_eq!(next, all[3]);
}

#[test]
fn a_bad_limit_or_an_unknown_after_key_is_refused_clearly() {
    let db = TestDb::new();
    let zero = db.run(&["member", "list", "--limit", "0"]);
    let msg = zero.fails_with(3).to_string();
    assert!(msg.contains("positive whole number"), "{msg}");
    assert_eq!(msg.trim().lines().count(), 1, "{msg}");
    let unknown = db.run(&[
        "session",
        "list",
        "--after",
        "00000000-0000-4000-8000-000000000000",
    ]);
    assert!(unknown.fails_with(5).contains("--after"));
}

#[test]
fn session_list_shows_sessions_not_yet_ended_and_all_adds_history() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    let day = common::monday();
    let book = |at: String| db.booked("ana", "bo", &at);
    let past = book(format!("{day}T09:00"));
    let ahead = book(format!("{day}T10:15"));
    // a year and a bit back, the same weekday and (in winter or summer) hour
    sql(
        &db,
        &format!(
            "SET session_replication_role = replica;
             UPDATE sessions SET starts_at = starts_at - interval '371 days',
                                 ends_at = ends_at - interval '371 days'
             WHERE id = '{past}';"
        ),
    );
    // the JSON shape is the contract's: names stay out of it
    let json = db.run(&["session", "list", "-o", "json"]).json();
    let keys: Vec<&str> = json[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "id",
        "coach_email",
        "member_email",
        "start",
        "end",
        "status",
    ] {
        assert!(keys.contains(&k), "{k}: {json}");
    }
    assert!(!keys.iter().any(|k| k.ends_with("_name")), "{json}");
    let default = db.run(&["session", "list", "-o", "ids"]).ok().to_string();
    assert_eq!(default.trim(), ahead);
    let all = db
        .run(&["session", "list", "--all", "-o", "ids"])
        .ok()
        .to_string();
    assert_eq!(
        all.lines().collect::<Vec<_>>(),
        [past.as_str(), ahead.as_str()]
    );
    // explicit bounds replace the default
    let from = (day - chrono::Duration::days(400)).to_string();
    let ranged = db
        .run(&["session", "list", "--from", &from, "-o", "ids"])
        .ok()
        .to_string();
    assert_eq!(ranged.lines().count(), 2);
    // paging by session id, in (start, id) order
    let second = db
        .run(&["session", "list", "--all", "--after", &past, "-o", "ids"])
        .ok()
        .to_string();
    assert_eq!(second.trim(), ahead);
}

#[test]
fn a_long_member_table_streams_with_one_header_and_every_row_fitting_80_columns() {
    let db = TestDb::new();
    many_members(&db, 1500);
    // sorted last, so after the rows the column widths are taken from
    sql(
        &db,
        "INSERT INTO users (id, email, name, role)
         VALUES (gen_random_uuid(), 'zz@example.com', 'Zoe Longer-Name Than-Most', 'member');
         INSERT INTO member_profiles (user_id) SELECT id FROM users WHERE email = 'zz@example.com';",
    );
    let out = db
        .cmd()
        .env_remove("COLUMNS")
        .args(["member", "list"])
        .output()
        .unwrap();
    let out = common::Run::from(out);
    let lines: Vec<&str> = out.ok().lines().collect();
    assert_eq!(lines.len(), 1 + 1501, "one header and every row");
    assert!(lines[0].starts_with("name "), "{}", lines[0]);
    assert_eq!(lines.iter().filter(|l| l.starts_with("name ")).count(), 1);
    assert!(lines.iter().all(|l| l.chars().count() <= 80));
    assert!(lines[1].starts_with("Member 1 "), "{}", lines[1]);
    let last = lines[1501];
    assert!(
        last.starts_with("Zoe Longer-Name Than-Most ") && last.contains(" zz@example.com "),
        "a later, longer name is whole while the width allows: {last}"
    );
}
