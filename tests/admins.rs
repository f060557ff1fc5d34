//! Named admins (issue 17, item 1): `admin create|list|remove`.

mod common;

use common::{TestDb, ana_and_bo};

fn admin(db: &TestDb, email: &str) -> String {
    db.run(&[
        "admin", "create", "--email", email, "--name", "Ad Min", "-o", "ids",
    ])
    .id()
}

/// Give a person a database login row, as `login grant` will.
fn with_login(db: &TestDb, id: &str) {
    let sql = format!("INSERT INTO logins (role_name, user_id) VALUES ('login_{id}', '{id}')");
    common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&pool)
            .await
            .expect("login row");
        pool.close().await;
    });
}

#[test]
fn an_admin_created_by_the_operator_acts_as_admin_under_their_own_name() {
    let db = TestDb::new();
    let id = admin(&db, "ad@example.com");
    let role: String = db.scalar("SELECT role FROM users WHERE email = 'ad@example.com'");
    assert_eq!(role, "admin");

    db.coach("cy").by("ad").create();
    let actor: String =
        db.scalar("SELECT actor_label FROM audit_log WHERE action = 'coach.create'");
    assert_eq!(actor, "ad@example.com");

    let list = db.run(&["admin", "list", "-o", "json"]).json();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["email"], "ad@example.com");
    assert_eq!(list[0]["has_login"], false);
}

#[test]
fn only_an_admin_creates_lists_or_removes_admins() {
    let db = TestDb::new();
    ana_and_bo(&db);
    admin(&db, "ad@example.com");
    for who in ["ana@example.com", "bo@example.com"] {
        let err = db
            .run_as(
                who,
                &["admin", "create", "--email", "x@example.com", "--name", "X"],
            )
            .fails_with(4)
            .to_string();
        assert!(err.contains("only an admin may create admins"), "{err}");
        db.run_as(who, &["admin", "list"]).fails_with(4);
        db.run_as(who, &["admin", "remove", "ad@example.com"])
            .fails_with(4);
    }
    let n: i64 = db.scalar("SELECT count(*) FROM users WHERE role = 'admin'");
    assert_eq!(n, 1, "nothing was created");
}

#[test]
fn a_removed_admin_can_no_longer_act_and_stays_in_the_audit_trail() {
    let db = TestDb::new();
    admin(&db, "ad@example.com");
    let removed = db
        .run(&["admin", "remove", "ad@example.com", "-o", "json"])
        .json();
    assert_eq!(removed["active"], false);
    let err = db
        .run_as("ad", &["coach", "list"])
        .fails_with(4)
        .to_string();
    assert!(err.contains("deactivated"), "{err}");
    assert!(
        db.run(&["admin", "list", "-o", "json"]).json() == serde_json::json!([]),
        "a removed admin is listed only with --all"
    );
    assert_eq!(
        db.run(&["admin", "list", "--all", "-o", "json"]).json()[0]["email"],
        "ad@example.com"
    );
    db.run(&["admin", "remove", "ad@example.com"]).fails_with(7);
    let actions: i64 = db
        .scalar("SELECT count(*) FROM audit_log WHERE action IN ('admin.create', 'admin.remove')");
    assert_eq!(actions, 2);
}

#[test]
fn the_last_admin_with_a_database_login_is_not_removed() {
    let db = TestDb::new();
    let first = admin(&db, "ad@example.com");
    let second = admin(&db, "eve@example.com");
    with_login(&db, &first);
    let err = db
        .run(&["admin", "remove", "ad@example.com"])
        .fails_with(7)
        .to_string();
    assert_eq!(
        err.trim(),
        "error: ad@example.com is the last admin with a database login; grant another admin a login first"
    );
    // An admin without a login may go; with a second login, so may the first.
    db.run(&["admin", "remove", "eve@example.com"]).ok();
    let third = admin(&db, "fay@example.com");
    with_login(&db, &third);
    db.run(&["admin", "remove", "ad@example.com"]).ok();
    let active: i64 = db.scalar("SELECT count(*) FROM users WHERE role = 'admin' AND active");
    assert_eq!(active, 1);
    let _ = second;
}

#[test]
fn removing_someone_who_is_not_an_admin_reads_as_no_such_admin() {
    let db = TestDb::new();
    ana_and_bo(&db);
    let coach = db
        .run(&["admin", "remove", "ana@example.com"])
        .fails_with(5)
        .to_string();
    let nobody = db
        .run(&["admin", "remove", "nobody@example.com"])
        .fails_with(5)
        .to_string();
    assert_eq!(coach.trim(), "error: no admin ana@example.com");
    assert_eq!(nobody.trim(), "error: no admin nobody@example.com");
}
