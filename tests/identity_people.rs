//! Whose name and email a login reads in `users` (issue 17, item 4), held
//! arm by arm since `actor_people_ids()` was rewritten for speed (item 8):
//! a member reads themselves and the coaches, no other member, not even a
//! public one; a coach also reads their members, public members, and the
//! members of their requests, conversations and sessions, no one else.
//! Plain SQL as the login (`SET SESSION AUTHORIZATION` sets `session_user`
//! exactly as logging in would).

mod common;

use std::collections::BTreeSet;

use common::TestDb;
use sqlx::{Connection, PgConnection};

/// C1 and C2 coach. B1 is C1's member, B2 C2's; B3 is nobody's and public;
/// B4, B5 and B6 are nobody's and private: C1 talks with B4, asked B5 to
/// connect, and has a session with B6.
const PEOPLE: &[(&str, &str, &str)] = &[
    ("c1", "00000000-0000-0000-0000-0000000000c1", "coach"),
    ("c2", "00000000-0000-0000-0000-0000000000c2", "coach"),
    ("b1", "00000000-0000-0000-0000-0000000000b1", "member"),
    ("b2", "00000000-0000-0000-0000-0000000000b2", "member"),
    ("b3", "00000000-0000-0000-0000-0000000000b3", "member"),
    ("b4", "00000000-0000-0000-0000-0000000000b4", "member"),
    ("b5", "00000000-0000-0000-0000-0000000000b5", "member"),
    ("b6", "00000000-0000-0000-0000-0000000000b6", "member"),
];

fn id(who: &str) -> &'static str {
    PEOPLE.iter().find(|p| p.0 == who).expect("a person").1
}

async fn plant(db: &TestDb) {
    let mut c = PgConnection::connect(&db.url).await.expect("connect");
    let users: Vec<String> = PEOPLE
        .iter()
        .map(|(who, id, role)| format!("('{id}', '{who}@x.test', '{who}', '{role}', 'UTC')"))
        .collect();
    let (c1, c2) = (id("c1"), id("c2"));
    let (b1, b2, b3, b4, b5, b6) = (id("b1"), id("b2"), id("b3"), id("b4"), id("b5"), id("b6"));
    let sql = format!(
        "INSERT INTO users (id, email, name, role, timezone) VALUES {};
         INSERT INTO coach_profiles (user_id, max_members) VALUES ('{c1}', 30), ('{c2}', 30);
         INSERT INTO member_profiles (user_id, coach_id, privacy) VALUES
            ('{b1}', '{c1}', 'private'), ('{b2}', '{c2}', 'private'), ('{b3}', NULL, 'public'),
            ('{b4}', NULL, 'private'), ('{b5}', NULL, 'private'), ('{b6}', NULL, 'private');
         INSERT INTO availability_windows (id, coach_id, day_of_week, start_minute, end_minute, capacity)
            SELECT gen_random_uuid(), '{c1}', d, 0, 1440, 3 FROM generate_series(0, 6) d;
         INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at) VALUES
            (gen_random_uuid(), '{c1}', '{b6}', date_trunc('day', now()) + interval '3 days 10 hours',
             date_trunc('day', now()) + interval '3 days 11 hours');
         INSERT INTO conversations (id, coach_id, member_id) VALUES (gen_random_uuid(), '{c1}', '{b4}');
         INSERT INTO connections (id, coach_id, member_id, requested_by, area, message)
            VALUES (gen_random_uuid(), '{c1}', '{b5}', '{c1}', 'running', 'hello');",
        users.join(", ")
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut c)
        .await
        .expect("plant");
    let installed: bool = sqlx::query_scalar("SELECT identity_install()")
        .fetch_one(&mut c)
        .await
        .expect("install");
    assert!(installed, "the test cluster's superuser may create roles");
    let prefix: String = sqlx::query_scalar("SELECT group_prefix FROM identity_settings")
        .fetch_one(&mut c)
        .await
        .expect("prefix");
    for (who, user, group) in PEOPLE {
        let role = format!("{}_{who}", db.name);
        let sql = format!(
            "DROP ROLE IF EXISTS \"{role}\";
             CREATE ROLE \"{role}\" NOLOGIN IN ROLE \"{prefix}_{group}\";
             INSERT INTO logins (role_name, user_id) VALUES ('{role}', '{user}')"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .expect("make a login");
    }
}

/// The people `who`'s login reads in `users`, by name.
async fn reads(db: &TestDb, who: &str) -> BTreeSet<String> {
    let mut c = PgConnection::connect(&db.url).await.expect("connect");
    let sql = format!("SET SESSION AUTHORIZATION \"{}_{who}\"", db.name);
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut c)
        .await
        .expect("become the login");
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM users")
        .fetch_all(&mut c)
        .await
        .expect("read users");
    names.into_iter().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn a_members_login_reads_itself_and_the_coaches_and_no_other_member_even_a_public_one() {
    let db = TestDb::new();
    common::runtime().block_on(async {
        plant(&db).await;
        assert_eq!(reads(&db, "b1").await, set(&["b1", "c1", "c2"]));
        assert_eq!(reads(&db, "b3").await, set(&["b3", "c1", "c2"]));
    });
    common::drop_logins(&db.url);
}

#[test]
fn a_coachs_login_reads_its_members_public_ones_and_those_it_talks_asks_or_meets() {
    let db = TestDb::new();
    common::runtime().block_on(async {
        plant(&db).await;
        assert_eq!(
            reads(&db, "c1").await,
            set(&["b1", "b3", "b4", "b5", "b6", "c1", "c2"])
        );
        assert_eq!(reads(&db, "c2").await, set(&["b2", "b3", "c1", "c2"]));
    });
    common::drop_logins(&db.url);
}
