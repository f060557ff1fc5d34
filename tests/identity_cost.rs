//! What keeps a login as fast as the owner (issue 17, item 8): the functions
//! the policies ask who is asking through are not SQL functions that run as
//! their definer. PostgreSQL never inlines such a function (its fixed
//! search_path forbids it), so each call site parses and plans its body again
//! in every statement: ten call sites made a login's `session list` several
//! times the owner's (BENCHMARKS.md, section 13). PL/pgSQL plans a body once
//! per connection. The rule covers the functions a policy calls and every
//! function those call in turn; each case is also shown to be caught.

mod common;

use common::TestDb;
use sqlx::{Connection, PgConnection};

/// One sentence per SQL definer function reachable from a policy.
async fn violations(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        r#"WITH RECURSIVE policy_text AS (
               SELECT tablename::text AS tab, policyname::text AS pol,
                      coalesce(qual, '') || ' ' || coalesce(with_check, '') AS body
               FROM pg_policies WHERE schemaname = current_schema()
           ), funcs AS (
               SELECT p.oid, p.proname::text AS name, p.prosrc, p.prosecdef,
                      l.lanname::text AS lang
               FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
               WHERE p.pronamespace = current_schema()::regnamespace
           ), reached (oid, via) AS (
               SELECT f.oid, format('policy %s on %s', t.pol, t.tab)
               FROM policy_text t JOIN funcs f ON t.body ~ ('\m' || f.name || '\s*\(')
               UNION
               SELECT g.oid, r.via
               FROM reached r JOIN funcs f ON f.oid = r.oid
               JOIN funcs g ON g.oid <> f.oid AND f.prosrc ~ ('\m' || g.name || '\s*\(')
           )
           SELECT DISTINCT format('%s reaches %s(), a SQL SECURITY DEFINER function: '
                                  || 'it is planned again at every call site of every '
                                  || 'statement; write it in PL/pgSQL', r.via, f.name)
           FROM reached r JOIN funcs f ON f.oid = r.oid
           WHERE f.prosecdef AND f.lang = 'sql'
           ORDER BY 1"#,
    )
    .fetch_all(&mut *conn)
    .await
    .expect("policy functions")
}

async fn connect(db: &TestDb) -> PgConnection {
    PgConnection::connect(&db.url).await.expect("connect")
}

#[test]
fn no_policy_reaches_a_sql_function_that_runs_as_its_definer() {
    let db = TestDb::new();
    common::runtime().block_on(async {
        let mut conn = connect(&db).await;
        let found = violations(&mut conn).await;
        assert!(found.is_empty(), "{found:#?}");
    });
}

#[test]
fn the_rule_names_a_policy_that_calls_a_sql_definer_function() {
    let db = TestDb::new();
    common::runtime().block_on(async {
        let mut conn = connect(&db).await;
        sqlx::raw_sql(
            "CREATE FUNCTION whoami() RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER
                 SET search_path = public, pg_temp AS 'SELECT NULL::uuid';
             CREATE POLICY mine ON messages FOR SELECT USING (sender_id = (SELECT whoami()))",
        )
        .execute(&mut conn)
        .await
        .expect("create");
        let found = violations(&mut conn).await;
        assert_eq!(
            found,
            [
                "policy mine on messages reaches whoami(), a SQL SECURITY DEFINER function: it is \
              planned again at every call site of every statement; write it in PL/pgSQL"
            ],
            "{found:#?}"
        );
    });
}

#[test]
fn the_rule_follows_the_functions_a_policy_function_calls() {
    let db = TestDb::new();
    common::runtime().block_on(async {
        let mut conn = connect(&db).await;
        sqlx::raw_sql(
            "CREATE FUNCTION whoami() RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER
                 SET search_path = public, pg_temp AS 'SELECT NULL::uuid';
             CREATE FUNCTION whoami_checked() RETURNS uuid LANGUAGE plpgsql STABLE SECURITY DEFINER
                 SET search_path = public, pg_temp AS 'BEGIN RETURN whoami(); END';
             CREATE POLICY mine ON messages FOR SELECT USING (sender_id = (SELECT whoami_checked()))",
        )
        .execute(&mut conn)
        .await
        .expect("create");
        let found = violations(&mut conn).await;
        assert_eq!(
            found,
            ["policy mine on messages reaches whoami(), a SQL SECURITY DEFINER function: it is \
              planned again at every call site of every statement; write it in PL/pgSQL"],
            "{found:#?}"
        );
    });
}
