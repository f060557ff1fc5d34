//! The audit trail tells impersonation apart (an entry made with `--as`
//! records the operator: OS user and database login) and lists in commit
//! order (issue 18).

mod common;

use coachctl::actor::Actor;
use coachctl::audit::{self, Change};
use common::{TestDb, monday};
use serde_json::Value;

/// The name of the OS user running the tests, as `id -un` says.
fn os_user() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn entries(db: &TestDb, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit", "list", "-o", "json"];
    all.extend_from_slice(args);
    match db.run(&all).json() {
        Value::Array(v) => v,
        other => panic!("not a list: {other}"),
    }
}

fn entry<'a>(list: &'a [Value], action: &str) -> &'a Value {
    list.iter()
        .find(|e| e["action"] == action)
        .unwrap_or_else(|| panic!("no {action} entry in {list:#?}"))
}

#[test]
fn an_entry_made_with_as_records_the_os_user_and_database_login_behind_it() {
    let db = TestDb::new();
    let (c, m) = common::ana_and_bo(&db);
    // through audit::record ...
    db.run_as(
        "bo",
        &[
            "connect",
            "request",
            "--coach",
            "ana@example.com",
            "--area",
            "running",
        ],
    )
    .ok();
    db.run(&["member", "assign", &m, "--coach", &c]).ok();
    common::window(&db, "ana@example.com", "mon", ("09:00", "12:00"), 60, 15, 3);
    // ... and through the booking statement, which writes its own row
    db.run_as(
        "bo",
        &[
            "book",
            "--coach",
            "ana@example.com",
            "--at",
            &format!("{}T09:00", monday()),
        ],
    )
    .ok();
    let login: String = db.scalar("SELECT session_user::text");
    let me = os_user();
    let list = entries(&db, &[]);
    for action in ["connection.request", "booking.confirm"] {
        let e = entry(&list, action);
        assert_eq!(
            e["actor"],
            format!("operator ({me}, db login {login}) as bo@example.com"),
            "{e:#}"
        );
        assert_eq!(e["acted_for"], "bo@example.com", "{e:#}");
        assert_eq!(e["acted_by_os_user"], me.as_str(), "{e:#}");
        assert_eq!(e["acted_by_db_login"], login.as_str(), "{e:#}");
    }
    // without --as the operator acted as themselves: no one acted for
    let e = entry(&list, "member.assign");
    assert_eq!(e["actor"], "operator", "{e:#}");
    for field in ["acted_for", "acted_by_os_user", "acted_by_db_login"] {
        assert_eq!(e[field], Value::Null, "{field}: {e:#}");
    }
    // tables and CSV show who acted for whom, too
    let csv = db
        .run(&["audit", "list", "--action", "booking.confirm", "-o", "csv"])
        .ok()
        .to_string();
    assert!(
        csv.contains(&format!(
            "operator ({me}, db login {login}) as bo@example.com"
        )),
        "{csv}"
    );
}

#[test]
fn the_database_login_of_an_entry_comes_from_the_database_not_the_client() {
    let db = TestDb::new();
    let login: String = db.scalar("SELECT session_user::text");
    let (forged, unclaimed) = common::runtime().block_on(async {
        let pool = db.pool().await;
        let insert = |os: Option<&'static str>| {
            sqlx::query_scalar::<_, Option<String>>(
                "INSERT INTO audit_log (actor_label, action, entity, acted_by_os_user,
                                        acted_by_db_login)
                 VALUES ('bo@example.com', 'test.forge', 'test', $1, 'someone_else')
                 RETURNING acted_by_db_login",
            )
            .bind(os)
        };
        let forged = insert(Some("root")).fetch_one(&pool).await.expect("insert");
        let unclaimed = insert(None).fetch_one(&pool).await;
        pool.close().await;
        (forged, unclaimed)
    });
    assert_eq!(forged.as_deref(), Some(login.as_str()));
    let refused = unclaimed.expect_err("a login without an operator is refused");
    assert!(
        refused.to_string().contains("audit_log_operator_whole"),
        "{refused}"
    );
}

#[test]
fn audit_rows_list_in_commit_order_when_the_transaction_that_began_first_commits_last() {
    let db = TestDb::new();
    let change = |action| Change {
        action,
        entity: "test",
        entity_id: None,
        before: None,
        after: None,
    };
    common::runtime().block_on(async {
        let pool = db.pool().await;
        let actor = Actor::operator();
        let mut early = pool.begin().await.expect("begin");
        audit::record(&mut early, &actor, change("test.began_first"))
            .await
            .expect("record");
        let mut late = pool.begin().await.expect("begin");
        audit::record(&mut late, &actor, change("test.began_second"))
            .await
            .expect("record");
        late.commit().await.expect("commit");
        // the transaction that began (and wrote) first commits last
        early.commit().await.expect("commit");
        pool.close().await;
    });
    let list = entries(&db, &["--entity", "test"]);
    let actions: Vec<&str> = list.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(
        actions,
        ["test.began_first", "test.began_second"],
        "newest first"
    );
    let at = |e: &Value| {
        chrono::DateTime::parse_from_rfc3339(e["at"].as_str().expect("at")).expect("a time")
    };
    assert!(at(&list[0]) >= at(&list[1]), "{list:#?}");
    // paging follows the same order
    let first = list[0]["id"].to_string();
    let next = entries(
        &db,
        &["--entity", "test", "--after", &first, "--limit", "1"],
    );
    assert_eq!(next.len(), 1);
    assert_eq!(next[0]["action"], "test.began_second");
    // an entry that does not exist cannot be paged after
    db.run(&["audit", "list", "--after", "999999"])
        .fails_with(5);
}

// The log's triggers run per statement (migration 20261207001800); what
// they guarantee, row by row, is checked below.

/// `who`@example.com's own login (`login grant`): its role name.
fn login(db: &TestDb, who: &str) -> String {
    db.login_url(&[&format!("{who}@example.com")]);
    common::runtime().block_on(async {
        let pool = db.pool().await;
        let role = sqlx::query_scalar::<_, String>(
            "SELECT l.role_name::text FROM logins l JOIN users u ON u.id = l.user_id
             WHERE u.email = $1",
        )
        .bind(format!("{who}@example.com"))
        .fetch_one(&pool)
        .await
        .expect("the login");
        pool.close().await;
        role
    })
}

/// A connection that is `role` from now on, as logging in would make it
/// (`session_user` included; the test cluster admits only its superuser).
async fn as_login(db: &TestDb, role: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET SESSION AUTHORIZATION \"{role}\""
    )))
    .execute(&mut c)
    .await
    .expect("become the login");
    c
}

#[test]
fn every_row_of_a_login_s_multi_row_audit_write_names_the_login_whatever_it_claims() {
    let db = TestDb::new();
    let (_, bo) = common::ana_and_bo(&db);
    let role = login(&db, "bo");
    let rows: Vec<(Option<String>, String, Option<String>)> = common::runtime().block_on(async {
        let mut c = as_login(&db, &role).await;
        sqlx::query_as(
            "INSERT INTO audit_log (actor_id, actor_label, action, entity, acted_by_os_user,
                                    acted_by_db_login)
             SELECT NULL, 'ana@example.com', 'test.forged', 'test', 'root', 'someone_else'
             FROM generate_series(1, 3)
             RETURNING actor_id::text, actor_label, acted_by_db_login",
        )
        .fetch_all(&mut c)
        .await
        .expect("append")
    });
    let stamped = (Some(bo), "bo@example.com".to_string(), Some(role));
    assert_eq!(rows, vec![stamped; 3]);
    assert_eq!(entries(&db, &["--entity", "test"]).len(), 3);
}

#[test]
fn a_login_that_may_add_triggers_to_the_audit_log_is_refused_rather_than_left_unstamped() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    let role = login(&db, "bo");
    let refused = common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "GRANT TRIGGER ON audit_log TO \"{role}\""
        )))
        .execute(&pool)
        .await
        .expect("grant");
        pool.close().await;
        let mut c = as_login(&db, &role).await;
        sqlx::query(
            "INSERT INTO audit_log (actor_label, action, entity)
             VALUES ('ana@example.com', 'test.forged', 'test')",
        )
        .execute(&mut c)
        .await
        .expect_err("refused")
    });
    assert!(
        refused
            .to_string()
            .contains("may create triggers on the audit log"),
        "{refused}"
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM audit_log WHERE entity = 'test'"),
        0
    );
}

#[test]
fn a_login_s_audit_row_cannot_name_another_transaction() {
    let db = TestDb::new();
    common::ana_and_bo(&db);
    let role = login(&db, "bo");
    let refused = common::runtime().block_on(async {
        let mut c = as_login(&db, &role).await;
        // the first transaction's ticket, or one never taken: both would
        // put the row where it did not happen, or nowhere
        sqlx::query(
            "INSERT INTO audit_log (actor_label, action, entity, xact)
             VALUES ('bo@example.com', 'test.moved', 'test', 1)",
        )
        .execute(&mut c)
        .await
        .expect_err("refused")
    });
    assert!(
        refused.to_string().contains("row-level security"),
        "{refused}"
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM audit_log WHERE entity = 'test'"),
        0
    );
}

#[test]
fn a_transaction_takes_one_ticket_whatever_its_statements_and_settings_say() {
    let db = TestDb::new();
    let before: i64 = db.scalar("SELECT count(*) FROM audit_commits");
    common::runtime().block_on(async {
        let pool = db.pool().await;
        let mut tx = pool.begin().await.expect("begin");
        // what the per-row trigger of migration 000202 took for "ticket
        // taken": the rows of such a transaction went unlisted
        sqlx::query("SELECT set_config('coachctl.audit_ticket', pg_current_xact_id()::text, true)")
            .execute(&mut *tx)
            .await
            .expect("set");
        for sql in [
            "INSERT INTO audit_log (actor_label, action, entity)
             SELECT 'operator', 'test.many', 'test' FROM generate_series(1, 2)",
            "INSERT INTO audit_log (actor_label, action, entity)
             VALUES ('operator', 'test.one', 'test')",
        ] {
            sqlx::query(sql).execute(&mut *tx).await.expect("append");
        }
        tx.commit().await.expect("commit");
        pool.close().await;
    });
    assert_eq!(entries(&db, &["--entity", "test"]).len(), 3);
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM audit_commits"),
        before + 1
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM audit_commits WHERE seq < 0"),
        0,
        "every ticket is numbered"
    );
}

#[test]
fn a_transaction_that_appends_nothing_takes_no_ticket() {
    let db = TestDb::new();
    let before: i64 = db.scalar("SELECT count(*) FROM audit_commits");
    common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::query(
            "INSERT INTO audit_log (actor_label, action, entity)
             SELECT 'operator', 'test.none', 'test' WHERE false",
        )
        .execute(&pool)
        .await
        .expect("append nothing");
        pool.close().await;
    });
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM audit_commits"),
        before
    );
}

#[test]
fn an_import_made_with_as_records_the_operator_on_every_row() {
    use std::io::Write;
    let db = TestDb::new();
    db.coach("ana").max_members(5).create();
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(b"email,name\nbo@example.com,Bo\ncy@example.com,Cy\ndi@example.com,Di\n")
        .expect("write roster");
    let path = f.path().to_str().expect("utf-8 path");
    db.run_as("ana", &["member", "import", path]).ok();
    let login: String = db.scalar("SELECT session_user::text");
    let me = os_user();
    let list = entries(&db, &["--action", "member.create"]);
    assert_eq!(list.len(), 3, "{list:#?}");
    for e in &list {
        assert_eq!(e["acted_for"], "ana@example.com", "{e:#}");
        assert_eq!(e["acted_by_os_user"], me.as_str(), "{e:#}");
        assert_eq!(e["acted_by_db_login"], login.as_str(), "{e:#}");
    }
}
