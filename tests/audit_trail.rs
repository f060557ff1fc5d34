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
