//! `slots` in one round trip (issue 23, item 5): the operator's plain view
//! reads the schema check, the coach and the schedule in one statement,
//! and lists exactly what the usual path (check, coach, schedule) lists.
//! Round trips are counted by a proxy between the binary and the server.

mod common;

use common::proxy::Proxy;
use common::{Run, TestDb, monday};
use serde_json::Value;

/// Coach ana@example.com in `zone` with 30-minute slots from 00:00 to
/// 23:30 every day (capacity 2) and members m0..m3: one `seed` process.
fn org(db: &TestDb, zone: &str) {
    let mut toml = format!(
        "[[coach]]\nemail = \"ana@example.com\"\nname = \"Ana Coach\"\ntimezone = \"{zone}\"\nmax_members = 20\n"
    );
    for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
        toml += &format!(
            "  [[coach.availability]]\n  day = \"{day}\"\n  start = \"00:00\"\n  end = \"23:30\"\n  length = 30\n  buffer = 0\n  capacity = 2\n"
        );
    }
    for i in 0..4 {
        toml += &format!(
            "[[member]]\nemail = \"m{i}@example.com\"\nname = \"Member {i}\"\ncoach = \"ana@example.com\"\n"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("org.toml");
    std::fs::write(&path, toml).unwrap();
    db.run(&["seed", path.to_str().unwrap()]).ok();
}

/// Book `member` at local `at` (the coach's zone).
fn book(db: &TestDb, member: usize, at: &str) {
    db.run(&[
        "book",
        "--coach",
        "ana@example.com",
        "--member",
        &format!("m{member}@example.com"),
        "--at",
        at,
    ])
    .ok();
}

/// `slots` for `coach` (email or id prefix) with `args`, through `url`.
fn slots(db: &TestDb, url: &str, coach: &str, args: &[&str]) -> Value {
    let mut c = db.cmd();
    c.env("DATABASE_URL", url)
        .args(["slots", "--coach", coach, "--all", "-o", "json"])
        .args(args);
    Run::from(c.output().unwrap()).json()
}

fn coach_prefix(db: &TestDb) -> String {
    let id: uuid::Uuid = db.scalar("SELECT id FROM users WHERE email = 'ana@example.com'");
    id.to_string()[..8].to_string()
}

#[test]
fn slots_by_the_owner_cost_one_round_trip_and_list_what_the_usual_path_lists() {
    let db = TestDb::new();
    org(&db, "Europe/Berlin");
    let day = monday();
    book(&db, 0, &format!("{day}T09:00"));
    book(&db, 1, &format!("{day}T09:00"));
    book(&db, 2, &format!("{day}T23:00"));
    let proxy = Proxy::to(&db);
    let url = proxy.url(&db);
    let from = day.to_string();
    let args = ["--from", from.as_str(), "--days", "3"];
    let fast = slots(&db, &url, "ana@example.com", &args);
    let seen = proxy.take();
    assert_eq!((seen.connections, seen.round_trips), (1, 1), "{seen:?}");
    // an id prefix takes the usual path: the check, the prefix, the coach,
    // the schedule
    let usual = slots(&db, &url, &coach_prefix(&db), &args);
    let seen = proxy.take();
    assert!(seen.round_trips >= 3, "{seen:?}");
    assert_eq!(fast, usual);
    let list = fast.as_array().unwrap();
    assert_eq!(
        list.len(),
        3 * 47,
        "every slot of three days, full ones too"
    );
    let nine = format!("{day}T09:00:00+0");
    let full = list
        .iter()
        .find(|s| s["start"].as_str().unwrap().starts_with(&nine))
        .unwrap();
    assert_eq!(full["remaining"], 0, "{full}");
}

#[test]
fn relative_days_in_zones_far_from_utc_list_what_the_usual_path_lists() {
    for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu"] {
        let db = TestDb::new();
        org(&db, zone);
        // sessions at both ends of the coach's tomorrow and the day after
        book(&db, 0, "tomorrow 00:00");
        book(&db, 1, "tomorrow 23:00");
        book(&db, 2, "+2d 00:30");
        book(&db, 3, "+3d 23:00");
        let proxy = Proxy::to(&db);
        let url = proxy.url(&db);
        let prefix = coach_prefix(&db);
        for args in [
            &["--from", "tomorrow", "--days", "2"][..],
            &["--from", "+2d", "--to", "+3d"][..],
            &["--days", "4"][..],
        ] {
            let fast = slots(&db, &url, "ana@example.com", args);
            assert_eq!(proxy.take().round_trips, 1, "{zone} {args:?}");
            let usual = slots(&db, &url, &prefix, args);
            proxy.take();
            assert_eq!(fast, usual, "{zone} {args:?}");
            let remaining: Vec<i64> = fast
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["remaining"].as_i64().unwrap())
                .collect();
            assert!(
                remaining.contains(&1),
                "a booked slot shows: {zone} {args:?}"
            );
        }
    }
}

#[test]
fn slots_refuse_a_schema_newer_than_the_binary_with_exit_8() {
    let db = TestDb::new();
    org(&db, "UTC");
    common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::raw_sql(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (20991231000001, 'from the future', true, '\\x00', 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    });
    let err = db
        .run(&["slots", "--coach", "ana@example.com"])
        .fails_with(8)
        .to_string();
    assert!(err.contains("is newer than this coachctl"), "{err}");
}

#[test]
fn an_unknown_coach_is_told_as_before_after_the_one_statement_finds_none() {
    let db = TestDb::new();
    org(&db, "UTC");
    for who in ["m0@example.com", "nobody@example.com"] {
        let err = db.run(&["slots", "--coach", who]).fails_with(5).to_string();
        assert!(err.contains(who), "{err}");
    }
}

#[test]
fn a_members_login_takes_the_usual_path_and_sees_the_same_slots() {
    common::password_logins();
    let db = TestDb::new();
    org(&db, "UTC");
    book(&db, 0, &format!("{}T09:00", monday()));
    let url = db.login_url(&["m1@example.com"]);
    let from = monday().to_string();
    let args = [
        "slots",
        "--coach",
        "ana@example.com",
        "--from",
        &from,
        "--days",
        "2",
        "--all",
        "-o",
        "json",
    ];
    let starts = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s["start"].as_str().unwrap().to_string())
            .collect()
    };
    let mine = starts(db.run_with(&url, &args).json());
    let owners = starts(db.run(&args).json());
    assert_eq!(mine, owners);
    assert_eq!(mine.len(), 2 * 47);
}
