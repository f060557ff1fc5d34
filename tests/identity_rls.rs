//! Row-level security decided by PostgreSQL (issue 17, items 4 and 7), tried
//! the way a person with their own login would: plain SQL, not coachctl.
//! Each test's logins are roles of the shared test cluster, named after the
//! test's database; the session takes a login's identity with
//! `SET SESSION AUTHORIZATION`, which sets `session_user` exactly as logging
//! in would (the test cluster admits only its superuser over the socket).

mod common;

use std::collections::BTreeSet;

use common::TestDb;
use sqlx::{Connection, PgConnection, Row};

const AD: &str = "00000000-0000-0000-0000-0000000000ad";
const C1: &str = "00000000-0000-0000-0000-0000000000c1";
const C2: &str = "00000000-0000-0000-0000-0000000000c2";
const B1: &str = "00000000-0000-0000-0000-0000000000b1";
const B2: &str = "00000000-0000-0000-0000-0000000000b2";

/// Every secret planted in the organisation, by where it lives.
const SECRETS: &[&str] = &[
    "SECRET-goal-b1",
    "SECRET-health-b1",
    "SECRET-cnote-b1",
    "SECRET-goal-b2",
    "SECRET-health-b2",
    "SECRET-cnote-b2",
    "SECRET-health-b3",
    "SECRET-session-cnote-1",
    "SECRET-session-cnote-2",
    "SECRET-private-note-1",
    "SECRET-message-b2",
];

/// An organisation with secrets everywhere: admin Ad, coaches C1 and C2,
/// members B1 (C1's, private; shares goals, not health), B2 (C2's) and B3
/// (nobody's, public); one session each for B1 and B2; notes, a message, an
/// invitation. Then a login for each person and one for the cron job.
struct Org {
    db: TestDb,
}

impl Org {
    fn new() -> Org {
        let db = TestDb::new();
        let org = Org { db };
        common::runtime().block_on(org.plant());
        org
    }

    fn login(&self, who: &str) -> String {
        format!("{}_{who}", self.db.name)
    }

    async fn owner(&self) -> PgConnection {
        PgConnection::connect(&self.db.url).await.expect("connect")
    }

    async fn plant(&self) {
        let mut c = self.owner().await;
        let sql = format!(
            "INSERT INTO users (id, email, name, role, timezone) VALUES
                ('{AD}', 'ad@x.test', 'Ad', 'admin', 'UTC'),
                ('{C1}', 'c1@x.test', 'C1', 'coach', 'UTC'),
                ('{C2}', 'c2@x.test', 'C2', 'coach', 'UTC'),
                ('{B1}', 'b1@x.test', 'B1', 'member', 'UTC'),
                ('{B2}', 'b2@x.test', 'B2', 'member', 'UTC'),
                ('00000000-0000-0000-0000-0000000000b3', 'b3@x.test', 'B3', 'member', 'UTC');
             INSERT INTO coach_profiles (user_id, max_members) VALUES ('{C1}', 30), ('{C2}', 30);
             INSERT INTO member_profiles (user_id, coach_id, goals, health_info, coach_notes, privacy) VALUES
                ('{B1}', '{C1}', 'SECRET-goal-b1', 'SECRET-health-b1', 'SECRET-cnote-b1', 'private'),
                ('{B2}', '{C2}', 'SECRET-goal-b2', 'SECRET-health-b2', 'SECRET-cnote-b2', 'connections'),
                ('00000000-0000-0000-0000-0000000000b3', NULL, NULL, 'SECRET-health-b3', NULL, 'public');
             INSERT INTO availability_windows (id, coach_id, day_of_week, start_minute, end_minute, capacity)
                SELECT gen_random_uuid(), c::uuid, d, 0, 1440, 3
                FROM generate_series(0, 6) d, (VALUES ('{C1}'), ('{C2}')) v(c);
             INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, coach_notes) VALUES
                ('00000000-0000-0000-0000-00000000a001', '{C1}', '{B1}',
                 date_trunc('day', now()) + interval '3 days 10 hours',
                 date_trunc('day', now()) + interval '3 days 11 hours', 'SECRET-session-cnote-1'),
                ('00000000-0000-0000-0000-00000000a002', '{C2}', '{B2}',
                 date_trunc('day', now()) + interval '3 days 10 hours',
                 date_trunc('day', now()) + interval '3 days 11 hours', 'SECRET-session-cnote-2');
             INSERT INTO session_notes (id, session_id, author_id, author_label, visibility, body) VALUES
                (gen_random_uuid(), '00000000-0000-0000-0000-00000000a001', '{C1}', 'c1@x.test', 'private', 'SECRET-private-note-1'),
                (gen_random_uuid(), '00000000-0000-0000-0000-00000000a001', '{C1}', 'c1@x.test', 'shared', 'shared-note-1');
             INSERT INTO conversations (id, coach_id, member_id) VALUES
                ('00000000-0000-0000-0000-0000000000f2', '{C2}', '{B2}');
             INSERT INTO messages (id, conversation_id, sender_id, body) VALUES
                (gen_random_uuid(), '00000000-0000-0000-0000-0000000000f2', '{B2}', 'SECRET-message-b2');
             INSERT INTO invitations (id, coach_id, email, code_hash, created_by, expires_at) VALUES
                (gen_random_uuid(), '{C1}', 'new@x.test', sha256('the code'), 'c1@x.test', now() + interval '7 days');"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .expect("plant the organisation");
        let installed: bool = sqlx::query_scalar("SELECT identity_install()")
            .fetch_one(&mut c)
            .await
            .expect("install");
        assert!(installed, "the test cluster's superuser may create roles");
        let prefix: String = sqlx::query_scalar("SELECT group_prefix FROM identity_settings")
            .fetch_one(&mut c)
            .await
            .expect("prefix");
        for (who, user, group) in [
            ("ad", Some(AD), "admin"),
            ("c1", Some(C1), "coach"),
            ("c2", Some(C2), "coach"),
            ("b1", Some(B1), "member"),
            ("b2", Some(B2), "member"),
            ("notifier", None, "notifier"),
        ] {
            let role = self.login(who);
            let sql = format!(
                "DROP ROLE IF EXISTS \"{role}\";
                 CREATE ROLE \"{role}\" NOLOGIN IN ROLE \"{prefix}_{group}\";
                 INSERT INTO logins (role_name, user_id, service) VALUES ('{role}', {}, {})",
                user.map_or("NULL".into(), |u| format!("'{u}'")),
                if user.is_none() { "'notifier'" } else { "NULL" },
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .expect("make a login");
        }
    }

    /// A connection that is `who`'s login from now on.
    async fn as_login(&self, who: &str) -> PgConnection {
        let mut c = self.owner().await;
        let sql = format!("SET SESSION AUTHORIZATION \"{}\"", self.login(who));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .expect("become the login");
        c
    }

    /// Every table of the schema, read whole as the owner: what a write
    /// may not change.
    async fn everything(&self) -> Vec<(String, String)> {
        let mut c = self.owner().await;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT relname::text FROM pg_class
             WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' ORDER BY 1",
        )
        .fetch_all(&mut c)
        .await
        .expect("tables");
        let mut all = Vec::new();
        for t in tables {
            let sql = format!(
                "SELECT coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '') FROM \"{t}\" x"
            );
            let rows: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut c)
                .await
                .expect("read a table");
            all.push((t, rows));
        }
        all
    }
}

impl Drop for Org {
    fn drop(&mut self) {
        let logins: Vec<String> = ["ad", "c1", "c2", "b1", "b2", "notifier"]
            .iter()
            .map(|w| self.login(w))
            .collect();
        let url = self.db.url.clone();
        let _ = std::thread::spawn(move || {
            common::runtime().block_on(async {
                if let Ok(mut c) = PgConnection::connect(&url).await {
                    for l in logins {
                        let sql = format!("DROP OWNED BY \"{l}\"; DROP ROLE IF EXISTS \"{l}\"");
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                            .execute(&mut c)
                            .await;
                    }
                }
            })
        })
        .join();
    }
}

/// The secrets `who` can read by selecting every table and view whole, and
/// through the function made for reading private fields.
async fn secrets_seen_by(org: &Org, who: &str) -> BTreeSet<&'static str> {
    let mut c = org.as_login(who).await;
    let relations: Vec<String> = sqlx::query_scalar(
        "SELECT relname::text FROM pg_class
         WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'v', 'm')
         ORDER BY 1",
    )
    .fetch_all(&mut c)
    .await
    .expect("relations");
    let mut text = String::new();
    for r in relations {
        // A table the login may not read at all is fine: it sees nothing.
        let sql = format!("SELECT x::text FROM \"{r}\" x");
        if let Ok(rows) = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut c)
            .await
        {
            text.push_str(&rows.join("\n"));
        }
    }
    for member in [B1, B2, "00000000-0000-0000-0000-0000000000b3"] {
        let sql = format!("SELECT x::text FROM member_private_fields('{member}') x");
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut c)
            .await
            .expect("member_private_fields");
        text.push_str(&rows.join("\n"));
    }
    SECRETS
        .iter()
        .copied()
        .filter(|s| text.contains(s))
        .collect()
}

#[test]
fn each_login_reads_exactly_the_secrets_its_person_may_see() {
    let org = Org::new();
    common::runtime().block_on(async {
        let expect = |v: &[&'static str]| v.iter().copied().collect::<BTreeSet<_>>();
        assert_eq!(
            secrets_seen_by(&org, "ad").await,
            expect(SECRETS),
            "an admin reads everything"
        );
        // C1: B1's shared goals and coach notes, their own session's notes;
        // not B1's unshared health information, nothing of B2 or B3.
        assert_eq!(
            secrets_seen_by(&org, "c1").await,
            expect(&[
                "SECRET-goal-b1",
                "SECRET-cnote-b1",
                "SECRET-session-cnote-1",
                "SECRET-private-note-1",
            ])
        );
        assert_eq!(
            secrets_seen_by(&org, "c2").await,
            expect(&[
                "SECRET-goal-b2",
                "SECRET-cnote-b2",
                "SECRET-session-cnote-2",
                "SECRET-message-b2",
            ])
        );
        // A member reads their own profile, never their coach's notes.
        assert_eq!(
            secrets_seen_by(&org, "b1").await,
            expect(&["SECRET-goal-b1", "SECRET-health-b1"])
        );
        assert_eq!(
            secrets_seen_by(&org, "b2").await,
            expect(&["SECRET-goal-b2", "SECRET-health-b2", "SECRET-message-b2"])
        );
        // The cron job reads what emails need (a new message's notice
        // carries its text), no profile and no note.
        assert_eq!(
            secrets_seen_by(&org, "notifier").await,
            expect(&["SECRET-message-b2"])
        );
    });
}

#[test]
fn no_login_reads_an_invitation_code_hash() {
    let org = Org::new();
    common::runtime().block_on(async {
        for who in ["ad", "c1", "b1", "notifier"] {
            let mut c = org.as_login(who).await;
            let e = sqlx::query("SELECT code_hash FROM invitations")
                .fetch_all(&mut c)
                .await
                .expect_err(who);
            assert!(e.to_string().contains("permission denied"), "{who}: {e}");
        }
        // The rest of the invitation is the coach's to read.
        let mut c = org.as_login("c1").await;
        let n: i64 = sqlx::query_scalar("SELECT count(email) FROM invitations")
            .fetch_one(&mut c)
            .await
            .expect("count");
        assert_eq!(n, 1);
    });
}

#[test]
fn forbidden_writes_change_nothing_whatever_sql_the_login_sends() {
    let org = Org::new();
    let attacks: &[(&str, String)] = &[
        ("b1", format!("UPDATE users SET role = 'admin' WHERE id = '{B1}'")),
        ("c1", format!("UPDATE coach_profiles SET max_members = 1000 WHERE user_id = '{C1}'")),
        ("c1", format!("UPDATE coach_profiles SET member_count = 0 WHERE user_id = '{C1}'")),
        (
            "b1",
            "UPDATE sessions SET status = 'completed', completed_at = now()".into(),
        ),
        ("c1", format!("UPDATE member_profiles SET coach_id = '{C1}' WHERE user_id = '{B2}'")),
        (
            "c1",
            format!("UPDATE sessions SET status = 'cancelled', cancelled_at = now() WHERE member_id = '{B2}'"),
        ),
        ("b1", format!("UPDATE sessions SET status = 'cancelled', cancelled_at = now() WHERE member_id = '{B2}'")),
        ("b1", "DELETE FROM audit_log".into()),
        ("c1", "UPDATE audit_log SET action = 'nothing'".into()),
        ("b1", "DELETE FROM sessions".into()),
        ("b2", "UPDATE messages SET body = 'changed'".into()),
        ("c2", format!("UPDATE member_profiles SET health_info = 'x' WHERE user_id = '{B2}'")),
        ("b1", "INSERT INTO users (id, email, name, role) VALUES (gen_random_uuid(), 'evil@x.test', 'E', 'admin')".into()),
        ("b1", format!("INSERT INTO logins (role_name, user_id) VALUES ('someone', '{AD}')")),
        ("notifier", "DELETE FROM outbox".into()),
        ("notifier", format!("UPDATE users SET name = 'x' WHERE id = '{B1}'")),
        ("b1", format!("INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at)
                 VALUES (gen_random_uuid(), '{C1}', '{B2}', now() + interval '5 days', now() + interval '5 days 1 hour')")),
        ("c2", format!("INSERT INTO connections (id, coach_id, member_id, requested_by)
                 VALUES (gen_random_uuid(), '{C2}', '{B1}', '{C1}')")),
        ("b1", "UPDATE identity_settings SET group_prefix = 'mine'".into()),
    ];
    common::runtime().block_on(async {
        let before = org.everything().await;
        for (who, sql) in attacks {
            let mut c = org.as_login(who).await;
            let outcome = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut c)
                .await;
            if let Ok(done) = outcome {
                assert_eq!(done.rows_affected(), 0, "{who} changed rows with: {sql}");
            }
            let after = org.everything().await;
            for ((t, b), (_, a)) in before.iter().zip(&after) {
                assert_eq!(b, a, "{who} changed {t} with: {sql}");
            }
        }
    });
}

#[test]
fn the_audit_row_names_the_login_not_what_the_client_claims() {
    let org = Org::new();
    common::runtime().block_on(async {
        let mut c = org.as_login("b1").await;
        let label: String = sqlx::query_scalar(
            "INSERT INTO audit_log (actor_id, actor_label, action, entity)
             VALUES ($1::uuid, 'c1@x.test', 'forged', 'session') RETURNING actor_label",
        )
        .bind(C1)
        .fetch_one(&mut c)
        .await
        .expect("append");
        assert_eq!(label, "b1@x.test");

        // An admin's login acting for a member is recorded as both.
        let mut c = org.as_login("ad").await;
        sqlx::query("SELECT set_config('coachctl.act_as', $1, false)")
            .bind(B1)
            .execute(&mut c)
            .await
            .expect("act as");
        let row = sqlx::query(
            "INSERT INTO audit_log (actor_id, actor_label, action, entity)
             VALUES (NULL, 'operator', 'x', 'session') RETURNING actor_id::text, actor_label",
        )
        .fetch_one(&mut c)
        .await
        .expect("append");
        assert_eq!(row.get::<String, _>(0), B1);
        assert_eq!(row.get::<String, _>(1), "ad@x.test as b1@x.test");

        // The same setting from a member's login is ignored.
        let mut c = org.as_login("b2").await;
        sqlx::query("SELECT set_config('coachctl.act_as', $1, false)")
            .bind(B1)
            .execute(&mut c)
            .await
            .expect("set");
        let me: String = sqlx::query_scalar("SELECT current_actor()::text")
            .fetch_one(&mut c)
            .await
            .expect("who");
        assert_eq!(me, B2);
    });
}

#[test]
fn twenty_member_logins_racing_for_three_seats_leave_exactly_three() {
    let org = Org::new();
    // Twenty members of C1, each with a login, racing through psql: each
    // booking is checked against seats its member cannot read.
    let members: Vec<String> = (0..20)
        .map(|i| format!("00000000-0000-0000-0001-{i:012}"))
        .collect();
    common::runtime().block_on(async {
        let mut c = org.owner().await;
        let prefix: String = sqlx::query_scalar("SELECT group_prefix FROM identity_settings")
            .fetch_one(&mut c)
            .await
            .expect("prefix");
        for (i, m) in members.iter().enumerate() {
            let role = org.login(&format!("r{i}"));
            let sql = format!(
                "INSERT INTO users (id, email, name, role) VALUES ('{m}', 'r{i}@x.test', 'R', 'member');
                 INSERT INTO member_profiles (user_id, coach_id) VALUES ('{m}', '{C1}');
                 DROP ROLE IF EXISTS \"{role}\";
                 CREATE ROLE \"{role}\" NOLOGIN IN ROLE \"{prefix}_member\";
                 INSERT INTO logins (role_name, user_id) VALUES ('{role}', '{m}')"
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .expect("a racer");
        }
    });
    let psql = coachctl::embedded::find_binaries()
        .expect("server binaries")
        .join("psql");
    let gate = tempfile::tempdir().expect("barrier");
    let go = gate.path().join("go");
    let children: Vec<_> = members
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let sql = format!(
                "SET SESSION AUTHORIZATION \"{}\";
                 INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at)
                 VALUES (gen_random_uuid(), '{C1}', '{m}',
                         date_trunc('day', now()) + interval '6 days 9 hours',
                         date_trunc('day', now()) + interval '6 days 10 hours')",
                org.login(&format!("r{i}"))
            );
            std::process::Command::new("sh")
                .arg("-c")
                .arg("while [ ! -e \"$GO\" ]; do sleep 0.005; done; exec \"$@\"")
                .arg("psql")
                .arg(&psql)
                .args([
                    "-X",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-d",
                    &org.db.url,
                    "-c",
                    &sql,
                ])
                .env("GO", &go)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn psql")
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::write(&go, b"").expect("open the barrier");
    let won = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .filter(|o| o.status.success())
        .count();
    assert_eq!(won, 3, "exactly the capacity succeeds");
    common::runtime().block_on(async {
        let mut c = org.owner().await;
        let (seated, booked): (i64, i32) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM sessions WHERE coach_id = $1::uuid
                       AND starts_at = date_trunc('day', now()) + interval '6 days 9 hours'
                       AND status = 'scheduled'),
                    (SELECT booked FROM slots WHERE coach_id = $1::uuid
                       AND starts_at = date_trunc('day', now()) + interval '6 days 9 hours')",
        )
        .bind(C1)
        .fetch_one(&mut c)
        .await
        .expect("count");
        assert_eq!((seated, booked), (3, 3));
        for i in 0..20 {
            let sql = format!("DROP ROLE IF EXISTS \"{}\"", org.login(&format!("r{i}")));
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .ok();
        }
    });
    org.db.assert_invariants();
}

#[test]
fn identity_install_runs_the_grants_of_tables_added_by_later_migrations() {
    let org = Org::new();
    common::runtime().block_on(async {
        let mut c = org.owner().await;
        // A later migration's table and its grants hook, as the convention
        // in migrations/20261207001000_identity_hooks.sql asks.
        sqlx::raw_sql(
            "CREATE TABLE later_things (id int PRIMARY KEY);
             ALTER TABLE later_things ENABLE ROW LEVEL SECURITY;
             CREATE FUNCTION identity_grants_later_things(p text) RETURNS void
                 LANGUAGE plpgsql AS $$
             BEGIN
                 EXECUTE format('GRANT SELECT ON later_things TO %I', p || '_member');
             END $$;",
        )
        .execute(&mut c)
        .await
        .expect("a later table");
        let installed: bool = sqlx::query_scalar("SELECT identity_install()")
            .fetch_one(&mut c)
            .await
            .expect("install");
        assert!(installed);
        let granted: bool = sqlx::query_scalar(
            "SELECT has_table_privilege(group_prefix || '_member', 'later_things', 'SELECT')
             FROM identity_settings",
        )
        .fetch_one(&mut c)
        .await
        .expect("privilege");
        assert!(granted, "the hook's grant was installed");
    });
}
