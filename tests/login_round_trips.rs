//! A booking through a person's own login costs what the owner's costs
//! (issue 23, item 2): round trips counted by a proxy between the binary
//! and the server (tests/common/proxy.rs), for a member's login, a coach's
//! login and the owner acting `--as`; and the rules those paths keep (who
//! may book for whom, a deactivated person's login, the audit's actor),
//! checked in the database afterwards.

mod common;

use common::proxy::Proxy;
use common::{Run, TestDb, monday};

/// Coach Ana (UTC) with one seat an hour on the test Monday, 08:00-12:00,
/// members Bo and Cy assigned to her.
fn org(db: &TestDb) {
    db.coach("ana")
        .tz("UTC")
        .max_members(5)
        .window("mon", ("08:00", "12:00"), 60, 0, 1)
        .create();
    db.member("bo").assigned_to("ana").create();
    db.member("cy").assigned_to("ana").create();
}

/// The test Monday at `hour`:00 (UTC, the coach's zone).
fn at(hour: u32) -> String {
    format!("{}T{hour:02}:00", monday())
}

/// A test database whose logins are dropped with it (roles belong to the
/// whole cluster).
struct Db(TestDb);

impl Db {
    fn new() -> Db {
        common::password_logins();
        let db = Db(TestDb::new());
        org(&db);
        db
    }
}

impl std::ops::Deref for Db {
    type Target = TestDb;
    fn deref(&self) -> &TestDb {
        &self.0
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        common::drop_logins(&self.0.url);
    }
}

fn run(db: &TestDb, url: &str, args: &[&str]) -> Run {
    db.run_with(url, args)
}

/// Statements as the owner, one after another.
fn sql(db: &TestDb, statements: &[&str]) {
    common::runtime().block_on(async {
        let pool = db.pool().await;
        for q in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(q.to_string()))
                .execute(&pool)
                .await
                .unwrap_or_else(|e| panic!("{q}: {e}"));
        }
        pool.close().await;
    });
}

fn count(db: &TestDb, sql: &'static str) -> i64 {
    db.scalar::<i64>(sql)
}

#[test]
fn a_members_own_login_books_in_one_round_trip_and_a_full_slot_costs_two() {
    let db = Db::new();
    let proxy = Proxy::to(&db);
    let bo = proxy.login_url(&db, &db.login_url(&["bo@example.com"]));
    let cy = proxy.login_url(&db, &db.login_url(&["cy@example.com"]));
    proxy.take();
    let booked = run(
        &db,
        &bo,
        &[
            "book",
            "--coach",
            "ana@example.com",
            "--at",
            &at(9),
            "-o",
            "json",
        ],
    )
    .json();
    assert_eq!(booked["member_email"], "bo@example.com");
    assert_eq!(
        booked["start"],
        format!("{}:00+00:00", at(9)),
        "the coach's zone, from the booking"
    );
    let seen = proxy.take();
    assert_eq!((seen.connections, seen.round_trips), (1, 1), "{seen:?}");
    // the audit names Bo (the database's trigger decides it for a login),
    // with no operator's OS user
    assert_eq!(
        db.scalar::<String>(
            "SELECT actor_label || '/' || coalesce(acted_by_os_user, '-') FROM audit_log
             WHERE action = 'booking.confirm'"
        ),
        "bo@example.com/-"
    );
    // the slot's one seat is taken: the statement's refusal names the
    // reason, and the rejection is recorded
    let err = run(
        &db,
        &cy,
        &["book", "--coach", "ana@example.com", "--at", &at(9)],
    )
    .fails_with(6)
    .to_string();
    assert!(err.contains("This slot is now full"), "{err}");
    let refused = proxy.take();
    assert_eq!(refused.round_trips, 2, "{refused:?}");
    assert_eq!(
        db.scalar::<String>(
            "SELECT u.email || '/' || a.actor_label FROM bookings b
             JOIN users u ON u.id = b.member_id
             JOIN audit_log a ON a.entity_id = b.id AND a.action = 'booking.reject'
             WHERE b.status = 'rejected'"
        ),
        "cy@example.com/cy@example.com"
    );
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 1);
}

#[test]
fn a_members_login_books_only_for_themself_and_a_deactivated_members_login_books_nothing() {
    let db = Db::new();
    let bo = db.login_url(&["bo@example.com"]);
    let err = run(
        &db,
        &bo,
        &[
            "book",
            "--coach",
            "ana@example.com",
            "--member",
            "cy@example.com",
            "--at",
            &at(9),
        ],
    )
    .fails_with(5)
    .to_string();
    assert!(err.contains("cy@example.com"), "{err}");
    // Bo deactivated behind the login's back (the login itself still let
    // in): the database says the login is nobody's, and the booking is
    // refused as before
    let login = bo
        .strip_prefix("postgres://")
        .and_then(|r| r.split(':').next())
        .unwrap()
        .to_string();
    sql(
        &db,
        &[
            "UPDATE users SET active = false WHERE email = 'bo@example.com'",
            &format!("ALTER ROLE \"{login}\" LOGIN"),
        ],
    );
    let err = run(
        &db,
        &bo,
        &["book", "--coach", "ana@example.com", "--at", &at(10)],
    )
    .fails_with(4)
    .to_string();
    assert!(err.contains("belongs to no one"), "{err}");
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM bookings"), 0);
}

#[test]
fn a_coachs_own_login_proposes_a_session_in_ten_round_trips() {
    let db = Db::new();
    let proxy = Proxy::to(&db);
    let ana = proxy.login_url(&db, &db.login_url(&["ana@example.com"]));
    proxy.take();
    let s = run(
        &db,
        &ana,
        &[
            "session",
            "create",
            "--member",
            "bo@example.com",
            "--at",
            &at(9),
            "-o",
            "json",
        ],
    )
    .json();
    assert_eq!(s["status"], "proposed");
    let seen = proxy.take();
    // who acts comes with the identity query: no lookup of the coach's own
    // user row of its own
    assert_eq!((seen.connections, seen.round_trips), (1, 10), "{seen:?}");
}

#[test]
fn the_owner_acting_as_a_member_books_in_one_round_trip() {
    let db = Db::new();
    let proxy = Proxy::to(&db);
    let mut c = db.cmd();
    c.env("DATABASE_URL", proxy.url(&db)).args([
        "--as",
        "bo@example.com",
        "book",
        "--coach",
        "ana@example.com",
        "--at",
        &at(9),
        "-o",
        "json",
    ]);
    let b = Run::from(c.output().unwrap()).json();
    assert_eq!(
        b["start"],
        format!("{}:00+00:00", at(9)),
        "the coach's zone"
    );
    let seen = proxy.take();
    assert_eq!((seen.connections, seen.round_trips), (1, 1), "{seen:?}");
    assert_eq!(
        db.scalar::<String>(
            "SELECT actor_label || '/' || (acted_by_os_user IS NOT NULL) FROM audit_log
             WHERE action = 'booking.confirm'"
        ),
        "bo@example.com/true",
        "the member, and the operator's OS user"
    );
}

#[test]
fn the_owner_acting_as_a_member_books_for_no_other_member() {
    let db = Db::new();
    let err = db
        .run_as(
            "bo",
            &[
                "book",
                "--coach",
                "ana@example.com",
                "--member",
                "cy@example.com",
                "--at",
                &at(9),
            ],
        )
        .fails_with(5)
        .to_string();
    // Bo sees no other member: one he may not see is answered as nobody
    assert!(err.contains("no member cy@example.com"), "{err}");
    assert_eq!(count(&db, "SELECT count(*) FROM sessions"), 0);
    assert_eq!(count(&db, "SELECT count(*) FROM bookings"), 0);
}
