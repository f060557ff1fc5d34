//! A list cut by its limit says so on stderr, in every format, naming the
//! limit; stdout stays the data (issue 18).

mod common;

use common::TestDb;

/// `count` queued outbox messages (to one new user) and `count` audit
/// entries, straight into the database; returns the totals of each.
fn fill(db: &TestDb, outbox: i32, audit: i32) -> (i64, i64) {
    common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::query(
            "INSERT INTO users (id, email, name, role)
             VALUES (gen_random_uuid(), 'cy@example.com', 'Cy', 'member')",
        )
        .execute(&pool)
        .await
        .expect("user");
        sqlx::query(
            "SELECT queue_notice('member.assigned', 'fill:' || i, u.id, NULL, '{}')
             FROM generate_series(1, $1) AS i, users u WHERE u.email = 'cy@example.com'",
        )
        .bind(outbox)
        .execute(&pool)
        .await
        .expect("queue");
        sqlx::query(
            "INSERT INTO audit_log (actor_label, action, entity)
             SELECT 'operator', 'test.fill', 'test' FROM generate_series(1, $1)",
        )
        .bind(audit)
        .execute(&pool)
        .await
        .expect("audit");
        let counts = sqlx::query_as(
            "SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM audit_log)",
        )
        .fetch_one(&pool)
        .await
        .expect("count");
        pool.close().await;
        counts
    })
}

/// How many rows stdout holds in this format.
fn rows(format: &str, stdout: &str) -> usize {
    match format {
        "json" => serde_json::from_str::<Vec<serde_json::Value>>(stdout)
            .unwrap_or_else(|e| panic!("stdout is not a JSON list ({e}): {stdout}"))
            .len(),
        "csv" => stdout.lines().count() - 1,
        "ids" => stdout.lines().count(),
        _ => unreachable!(),
    }
}

#[test]
fn notify_list_says_on_stderr_when_its_default_limit_of_100_cut_the_list() {
    let db = TestDb::new();
    let (total, _) = fill(&db, 101, 0);
    assert_eq!(total, 101);
    for format in ["json", "csv", "ids", "table"] {
        let run = db.run(&["notify", "list", "-o", format]);
        run.ok();
        assert_eq!(
            run.stderr, "showing the first 100; --limit N for more\n",
            "-o {format}"
        );
        assert!(!run.stdout.contains("showing"), "-o {format}");
        if format != "table" {
            assert_eq!(rows(format, &run.stdout), 100, "-o {format}");
        }
    }
    // a limit given is named; one that holds every row says nothing
    let run = db.run(&["notify", "list", "--limit", "7", "-o", "ids"]);
    assert_eq!(rows("ids", run.ok()), 7);
    assert_eq!(run.stderr, "showing the first 7; --limit N for more\n");
    let run = db.run(&["notify", "list", "--limit", "101", "-o", "json"]);
    assert_eq!(rows("json", run.ok()), 101);
    assert_eq!(run.stderr, "");
    db.run(&["notify", "list", "--limit", "0"]).fails_with(3);
}

#[test]
fn notify_list_of_exactly_its_limit_says_nothing_more() {
    let db = TestDb::new();
    fill(&db, 100, 0);
    let run = db.run(&["notify", "list", "-o", "json"]);
    assert_eq!(rows("json", run.ok()), 100);
    assert_eq!(run.stderr, "");
}

#[test]
fn audit_list_says_on_stderr_when_its_default_limit_of_50_cut_the_list_and_where_to_go_on() {
    let db = TestDb::new();
    let (_, total) = fill(&db, 0, 51);
    assert_eq!(total, 51);
    for format in ["json", "csv", "ids"] {
        let run = db.run(&["audit", "list", "-o", format]);
        assert_eq!(rows(format, run.ok()), 50, "-o {format}");
        assert!(
            run.stderr
                .starts_with("showing the first 50; --limit N for more, or --after "),
            "-o {format}: {}",
            run.stderr
        );
    }
    let run = db.run(&["audit", "list", "-o", "json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(run.ok()).expect("JSON");
    let last = list[49]["id"].to_string();
    assert_eq!(
        run.stderr,
        format!("showing the first 50; --limit N for more, or --after {last} for the next page\n")
    );
    // the page it names holds the rest, and is not cut
    let run = db.run(&["audit", "list", "--after", &last, "-o", "json"]);
    assert_eq!(rows("json", run.ok()), 1);
    assert_eq!(run.stderr, "");
    let run = db.run(&["audit", "list", "--limit", "51", "-o", "json"]);
    assert_eq!(rows("json", run.ok()), 51);
    assert_eq!(run.stderr, "");
}
