//! The schema's own rules for row-level security (issue 17, item 7): every
//! table has it, every SECURITY DEFINER function has a fixed search_path and
//! is not executable by PUBLIC, every trigger function runs as the owner,
//! no view reads as its owner (every view is security_invoker), and no
//! policy calls an identity function once per row where
//! `(SELECT f())` would run it once per statement (the Supabase
//! "auth_rls_initplan" rule). Each rule is also shown to catch a violation.

mod common;

use common::TestDb;
use sqlx::PgConnection;

/// The functions that policies call to learn who is asking.
const IDENTITY_FUNCTIONS: &[&str] = &[
    "current_actor",
    "current_actor_role",
    "current_actor_via",
    "actor_member_ids",
    "actor_people_ids",
];

/// Every broken rule in the current schema, one sentence each.
async fn violations(conn: &mut PgConnection) -> Vec<String> {
    let mut found = Vec::new();

    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c
         WHERE c.relnamespace = current_schema()::regnamespace
           AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
         ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("tables");
    found.extend(
        tables
            .into_iter()
            .map(|t| format!("table {t} has no row-level security")),
    );

    // A view runs with its owner's rights unless it is security_invoker
    // (PostgreSQL 15+): owned by the schema owner, it would read every row
    // past the policies. A materialized view copies rows as its owner and
    // has no policies of its own.
    let views: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, c.relkind::text FROM pg_class c
         WHERE c.relnamespace = current_schema()::regnamespace
           AND (c.relkind = 'm'
                OR (c.relkind = 'v'
                    AND NOT coalesce(c.reloptions @> '{security_invoker=true}'
                                     OR c.reloptions @> '{security_invoker=on}', false)))
         ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("views");
    found.extend(views.into_iter().map(|(v, kind)| {
        if kind == "m" {
            format!("materialized view {v} copies rows past row-level security")
        } else {
            format!(
                "view {v} reads as its owner, past row-level security; make it security_invoker"
            )
        }
    }));

    let definers: Vec<(String, Option<Vec<String>>, bool)> = sqlx::query_as(
        "SELECT p.oid::regprocedure::text, p.proconfig::text[],
                coalesce(has_function_privilege('public', p.oid, 'EXECUTE'), true)
         FROM pg_proc p
         WHERE p.pronamespace = current_schema()::regnamespace AND p.prosecdef
         ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("definer functions");
    for (f, config, public) in definers {
        let fixed = config.unwrap_or_default().iter().any(|c| {
            c.starts_with("search_path=") && c.trim_end().ends_with("pg_temp") && !c.contains('$')
        });
        if !fixed {
            found.push(format!(
                "SECURITY DEFINER function {f} has no fixed search_path ending in pg_temp"
            ));
        }
        if public {
            found.push(format!(
                "SECURITY DEFINER function {f} is executable by PUBLIC"
            ));
        }
    }

    let triggers: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT t.tgfoid::regprocedure::text FROM pg_trigger t
         JOIN pg_class c ON c.oid = t.tgrelid
         JOIN pg_proc p ON p.oid = t.tgfoid
         WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace
           AND NOT p.prosecdef
         ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("trigger functions");
    found.extend(triggers.into_iter().map(|f| {
        format!("trigger function {f} is not SECURITY DEFINER (it would check only the rows the login sees)")
    }));

    let policies: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT tablename::text, policyname::text,
                coalesce(qual, '') || ' ' || coalesce(with_check, '')
         FROM pg_policies WHERE schemaname = current_schema() ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("policies");
    for (table, policy, text) in policies {
        for f in IDENTITY_FUNCTIONS {
            let call = format!("{f}()");
            let calls = text.matches(&call).count();
            let once = text.matches(&format!("SELECT {call}")).count();
            if calls > once {
                found.push(format!(
                    "policy {policy} on {table} calls {call} per row; write (SELECT {call})"
                ));
            }
        }
    }
    found
}

async fn lint(db: &TestDb) -> (Vec<String>, PgConnection) {
    use sqlx::Connection;
    let mut conn = PgConnection::connect(&db.url).await.expect("connect");
    (violations(&mut conn).await, conn)
}

#[test]
fn the_migrated_schema_keeps_every_row_level_security_rule() {
    let db = TestDb::new();
    common::runtime().block_on(async {
        let (found, _) = lint(&db).await;
        assert!(found.is_empty(), "{found:#?}");
    });
}

#[test]
fn the_lint_names_a_table_without_row_level_security() {
    let db = TestDb::new();
    common::runtime().block_on(async {
        let (_, mut conn) = lint(&db).await;
        sqlx::raw_sql("CREATE TABLE notes_of_someone (id int)")
            .execute(&mut conn)
            .await
            .expect("create");
        let found = violations(&mut conn).await;
        assert_eq!(
            found,
            ["table notes_of_someone has no row-level security"],
            "{found:#?}"
        );
    });
}

#[test]
fn the_lint_names_a_definer_function_with_a_loose_search_path() {
    let db = TestDb::new();
    common::runtime().block_on(async {
        let (_, mut conn) = lint(&db).await;
        sqlx::raw_sql(
            "CREATE FUNCTION leaky() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
        )
        .execute(&mut conn)
        .await
        .expect("create");
        let found = violations(&mut conn).await;
        assert_eq!(
            found,
            [
                "SECURITY DEFINER function leaky() has no fixed search_path ending in pg_temp",
                "SECURITY DEFINER function leaky() is executable by PUBLIC",
            ],
            "{found:#?}"
        );
    });
}

#[test]
fn the_lint_names_a_trigger_function_that_runs_as_the_login() {
    let db = TestDb::new();
    common::runtime().block_on(async {
        let (_, mut conn) = lint(&db).await;
        sqlx::raw_sql(
            "CREATE FUNCTION count_seats() RETURNS trigger LANGUAGE plpgsql
                 AS 'BEGIN RETURN NEW; END';
             CREATE TRIGGER count_seats BEFORE INSERT ON slots
                 FOR EACH ROW EXECUTE FUNCTION count_seats()",
        )
        .execute(&mut conn)
        .await
        .expect("create");
        let found = violations(&mut conn).await;
        assert_eq!(
            found,
            ["trigger function count_seats() is not SECURITY DEFINER (it would check only the rows the login sees)"],
            "{found:#?}"
        );
    });
}

#[test]
fn the_lint_names_a_policy_that_asks_who_is_asking_on_every_row() {
    let db = TestDb::new();
    common::runtime().block_on(async {
        let (_, mut conn) = lint(&db).await;
        sqlx::raw_sql(
            "CREATE POLICY per_row ON messages FOR SELECT USING (sender_id = current_actor())",
        )
        .execute(&mut conn)
        .await
        .expect("create");
        let found = violations(&mut conn).await;
        assert_eq!(
            found,
            ["policy per_row on messages calls current_actor() per row; write (SELECT current_actor())"],
            "{found:#?}"
        );
    });
}

#[test]
fn the_lint_names_a_view_that_reads_as_its_owner() {
    let db = TestDb::new();
    common::runtime().block_on(async {
        let (_, mut conn) = lint(&db).await;
        sqlx::raw_sql(
            "CREATE VIEW all_health AS SELECT user_id, health_info FROM member_profiles;
             CREATE VIEW own_health WITH (security_invoker = true) AS
                 SELECT user_id, health_info FROM member_profiles;
             CREATE MATERIALIZED VIEW health_copy AS SELECT health_info FROM member_profiles",
        )
        .execute(&mut conn)
        .await
        .expect("create");
        let found = violations(&mut conn).await;
        assert_eq!(
            found,
            [
                "view all_health reads as its owner, past row-level security; make it security_invoker",
                "materialized view health_copy copies rows past row-level security",
            ],
            "{found:#?}"
        );
    });
}
