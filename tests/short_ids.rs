//! Short ids (issue 12, item 2): a unique prefix of at least 8 hex digits
//! names a row, like git; an ambiguous one exits 3 listing the candidates
//! the actor may see; one that matches only rows they cannot see is not
//! found. Full ids keep working.

mod common;

use common::TestDb;

const CY: &str = "12345678-aaaa-4000-8000-000000000001";
const DI: &str = "12345678-bbbb-4000-8000-000000000002";
const ED: &str = "12345678-bbbc-4000-8000-000000000003";

/// Ana and Bo, plus three members whose ids share their first 8 digits
/// (and Di and Ed their first 11): Di is assigned to Ana, Cy and Ed to
/// nobody.
fn lookalikes(db: &TestDb) {
    let (ana, _) = common::ana_and_bo(db);
    common::runtime().block_on(async {
        let pool = db.pool().await;
        for (id, email, name) in [
            (CY, "cy@example.com", "Cy Lookalike"),
            (DI, "di@example.com", "Di Lookalike"),
            (ED, "ed@example.com", "Ed Lookalike"),
        ] {
            let id = uuid::Uuid::parse_str(id).unwrap();
            sqlx::query("INSERT INTO users (id, email, name, role) VALUES ($1, $2, $3, 'member')")
                .bind(id)
                .bind(email)
                .bind(name)
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query("INSERT INTO member_profiles (user_id) VALUES ($1)")
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    });
    db.run(&["member", "assign", DI, "--coach", &ana]).ok();
}

fn email_of(db: &TestDb, args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    db.run(&all).json()["email"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_unique_prefix_names_the_user_with_or_without_dashes_and_any_case() {
    let db = TestDb::new();
    lookalikes(&db);
    assert_eq!(
        email_of(&db, &["member", "show", "12345678-aaaa"]),
        "cy@example.com"
    );
    assert_eq!(
        email_of(&db, &["member", "show", "12345678AAAA"]),
        "cy@example.com"
    );
    assert_eq!(
        email_of(&db, &["member", "show", "12345678-bbbb"]),
        "di@example.com"
    );
    // Full ids keep working, and so does --as by prefix.
    assert_eq!(email_of(&db, &["member", "show", ED]), "ed@example.com");
    assert_eq!(
        email_of(
            &db,
            &["--as", "12345678-bbbc", "member", "show", "12345678-bbbc"]
        ),
        "ed@example.com"
    );
}

#[test]
fn an_ambiguous_prefix_exits_3_listing_every_candidate_on_one_line() {
    let db = TestDb::new();
    lookalikes(&db);
    let r = db.run(&["member", "show", "12345678"]);
    let err = r.fails_with(3).trim_end().to_string();
    assert!(!err.contains('\n'), "{err}");
    for (id, email) in [(CY, "cy@"), (DI, "di@"), (ED, "ed@")] {
        assert!(err.contains(&id[..13]), "{err}");
        assert!(err.contains(email), "{err}");
    }
    assert!(err.contains("ambiguous"), "{err}");
    let err = db
        .run(&["member", "show", "12345678-bbb"])
        .fails_with(3)
        .to_string();
    assert!(
        err.contains("di@") && err.contains("ed@") && !err.contains("cy@"),
        "{err}"
    );
    // Under -o json the error is a JSON object.
    let r = db.run(&["member", "show", "12345678", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(r.fails_with(3).trim()).unwrap();
    assert!(v["message"].as_str().unwrap().contains("ambiguous"), "{v}");
}

#[test]
fn a_prefix_shorter_than_8_digits_or_not_hex_exits_3_saying_so() {
    let db = TestDb::new();
    lookalikes(&db);
    let err = db
        .run(&["member", "show", "1234567"])
        .fails_with(3)
        .to_string();
    assert!(err.contains("at least 8 hex digits"), "{err}");
    let err = db
        .run(&["session", "show", "12ab"])
        .fails_with(3)
        .to_string();
    assert!(err.contains("at least 8 hex digits"), "{err}");
    let err = db
        .run(&["session", "show", "not-an-id"])
        .fails_with(3)
        .to_string();
    assert!(err.contains("not an id"), "{err}");
    let err = db
        .run(&["member", "show", "12345679"])
        .fails_with(5)
        .to_string();
    assert!(err.contains("12345679"), "{err}");
}

#[test]
fn a_coach_resolves_a_prefix_only_among_the_people_they_may_see() {
    let db = TestDb::new();
    lookalikes(&db);
    // Ana sees Di (her member), not Cy or Ed: the prefix is hers alone.
    assert_eq!(
        email_of(
            &db,
            &["--as", "ana@example.com", "member", "show", "12345678"]
        ),
        "di@example.com"
    );
    // A prefix matching only people she cannot see is not found, and names nobody.
    let err = db
        .run_as("ana", &["member", "show", "12345678-aaaa"])
        .fails_with(5)
        .to_string();
    assert!(!err.contains("cy@") && !err.contains("Cy"), "{err}");
    // A member sees only themself among members.
    assert_eq!(
        email_of(
            &db,
            &["--as", "cy@example.com", "member", "show", "12345678"]
        ),
        "cy@example.com"
    );
}

#[test]
fn sessions_windows_and_blocks_take_the_8_digit_ids_tables_show() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    let at = format!("{}T09:00", common::monday());
    let id = db.booked("ana", "bo", &at);
    let short = &id[..8];
    let shown = db.run(&["session", "show", short, "-o", "json"]).json();
    assert_eq!(
        shown["id"].as_str(),
        Some(id.as_str()),
        "JSON keeps the full id"
    );
    assert_eq!(
        db.run_as("bo", &["session", "show", short, "-o", "ids"])
            .id(),
        id
    );
    // Another member cannot find it by prefix: not found, not forbidden.
    db.run(&[
        "member",
        "create",
        "--email",
        "cy@example.com",
        "--name",
        "Cy",
        "-o",
        "ids",
    ])
    .ok();
    db.run_as("cy", &["session", "show", short]).fails_with(5);
    db.run(&["session", "note", short, "--text", "bring shoes"])
        .ok();
    db.run(&["session", "cancel", short, "--yes"]).ok();
    let status: String = db.scalar("SELECT status FROM sessions");
    assert_eq!(status, "cancelled");

    let windows = db
        .run(&[
            "availability",
            "list",
            "--coach",
            "ana@example.com",
            "-o",
            "ids",
        ])
        .id();
    db.run(&["availability", "update", &windows[..10], "--capacity", "2"])
        .ok();
    let capacity: i32 = db.scalar("SELECT capacity FROM availability_windows");
    assert_eq!(capacity, 2);
    let block = db
        .run(&[
            "availability",
            "block",
            "--coach",
            "ana@example.com",
            "--date",
            "+30d",
            "-o",
            "ids",
        ])
        .id();
    db.run(&["availability", "unblock", &block[..8]]).ok();
    let blocks: i64 = db.scalar("SELECT count(*) FROM availability_blocks");
    assert_eq!(blocks, 0);
    db.run(&["audit", "list", "--id", short, "-o", "json"]).ok();
}

/// Give the session `old` the id `new`, and everything that points at it
/// (FK checks off for the swap: this only stages lookalike ids).
fn re_id_session(db: &TestDb, old: &str, new: &str) {
    common::runtime().block_on(async {
        let pool = db.pool().await;
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("SET LOCAL session_replication_role = replica")
            .execute(&mut *tx)
            .await
            .unwrap();
        for sql in [
            "UPDATE sessions SET id = $2 WHERE id = $1",
            "UPDATE bookings SET session_id = $2 WHERE session_id = $1",
            "UPDATE outbox SET session_id = $2 WHERE session_id = $1",
        ] {
            sqlx::query(sql)
                .bind(uuid::Uuid::parse_str(old).unwrap())
                .bind(uuid::Uuid::parse_str(new).unwrap())
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        pool.close().await;
    });
}

#[test]
fn an_ambiguous_session_prefix_lists_only_the_sessions_the_actor_may_see() {
    let db = TestDb::new();
    common::ana_with_monday_mornings(&db);
    // A second coach with a member of her own.
    db.coach("cy").name("Cy Coach").tz("Europe/Berlin").create();
    db.member("di").assigned_to("cy").create();
    common::window(&db, "cy@example.com", "mon", ("09:00", "12:00"), 60, 15, 3);
    let book = |coach: &str, member: &str, time: &str| {
        let at = format!("{}T{time}", common::monday());
        db.booked(coach, member, &at)
    };
    let ana1 = book("ana@example.com", "bo@example.com", "09:00");
    let ana2 = book("ana@example.com", "bo@example.com", "10:15");
    let cy1 = book("cy@example.com", "di@example.com", "09:00");
    for (old, new) in [
        (&ana1, "abcdef12-0000-4000-8000-000000000001"),
        (&ana2, "abcdef12-0000-4000-8000-000000000002"),
        (&cy1, "abcdef12-0000-4000-8000-000000000003"),
    ] {
        re_id_session(&db, old, new);
    }
    // The operator sees all three.
    let err = db
        .run(&["session", "show", "abcdef12"])
        .fails_with(3)
        .to_string();
    assert!(
        err.contains("cy@example.com") && err.contains("ana@example.com"),
        "{err}"
    );
    // Ana sees her two, never Cy's.
    let err = db
        .run_as("ana", &["session", "show", "abcdef12"])
        .fails_with(3)
        .to_string();
    assert!(
        err.contains("abcdef12-0000 ") && err.contains("ambiguous"),
        "{err}"
    );
    assert!(
        !err.contains("cy@example.com") && !err.contains("di@example.com"),
        "{err}"
    );
    // Cy's prefix is Cy's alone: one match, no question.
    let shown = db
        .run_as("cy", &["session", "show", "abcdef12", "-o", "json"])
        .json();
    assert_eq!(shown["id"], "abcdef12-0000-4000-8000-000000000003");
    // Bo, the member, sees his two sessions and must say which.
    db.run_as("bo", &["session", "show", "abcdef12"])
        .fails_with(3);
    let shown = db
        .run_as(
            "bo",
            &[
                "session",
                "show",
                "abcdef12-0000-4000-8000-000000000002",
                "-o",
                "json",
            ],
        )
        .json();
    assert_eq!(shown["member_email"], "bo@example.com");
}
