//! Every table and view attacked through a real `psql` by each kind of login
//! (issue 17, items 4 and 7). An organisation with secrets planted wherever
//! a secret can live; logins for an admin, two coaches, two members and the
//! cron job. Each login selects every relation of the schema (enumerated
//! from pg_class, so a table added later is attacked without editing this
//! file), then every column it holds a privilege on, then the function
//! coachctl reads private fields through; the output must hold exactly the
//! secrets that person may see, and their own rows. Then the writes no login
//! may make, each through its own psql, with a checksum of every table
//! before and after.
//!
//! The test cluster admits only its superuser over the socket, so each psql
//! takes its login's identity with `SET SESSION AUTHORIZATION`, which sets
//! `session_user` exactly as logging in would.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use common::TestDb;
use sqlx::{Connection, PgConnection};

const AD: &str = "00000000-0000-0000-0000-0000000000ad";
const C1: &str = "00000000-0000-0000-0000-0000000000c1";
const C2: &str = "00000000-0000-0000-0000-0000000000c2";
const B1: &str = "00000000-0000-0000-0000-0000000000b1";
const B2: &str = "00000000-0000-0000-0000-0000000000b2";
const B3: &str = "00000000-0000-0000-0000-0000000000b3";
/// C1 with B1, scheduled; C2 with B2, scheduled; B1's cancelled one; C1's
/// proposal to B1.
const S1: &str = "00000000-0000-0000-0000-00000000a001";
const S2: &str = "00000000-0000-0000-0000-00000000a002";
const S3: &str = "00000000-0000-0000-0000-00000000a003";
const P1: &str = "00000000-0000-0000-0000-00000000a004";
/// C1's pending request to connect with B3.
const K1: &str = "00000000-0000-0000-0000-00000000cc01";

const LOGINS: &[&str] = &["ad", "c1", "c2", "b1", "b2", "notifier"];

struct Org {
    db: TestDb,
    /// name -> the text that must not leak (the code hashes are known only
    /// once planted)
    secrets: BTreeMap<&'static str, String>,
}

fn psql_bin() -> std::path::PathBuf {
    coachctl::embedded::find_binaries()
        .expect("server binaries")
        .join("psql")
}

/// The day after tomorrow at `hour`, as SQL.
fn at(hour: u32) -> String {
    format!("date_trunc('day', now()) + interval '3 days {hour} hours'")
}

impl Org {
    fn new() -> Org {
        let db = TestDb::new();
        let mut org = Org {
            db,
            secrets: BTreeMap::new(),
        };
        common::runtime().block_on(org.plant());
        org
    }

    fn login(&self, who: &str) -> String {
        format!("{}_{who}", self.db.name)
    }

    async fn owner(&self) -> PgConnection {
        PgConnection::connect(&self.db.url).await.expect("connect")
    }

    async fn plant(&mut self) {
        let mut c = self.owner().await;
        let (s10, s11, s12, s13) = (at(10), at(11), at(12), at(13));
        // the cancelled one clashes with nothing, so only a rule keeps it cancelled
        let (s15, s16) = (at(15), at(16));
        let sql = format!(
            "INSERT INTO users (id, email, name, role, timezone) VALUES
                ('{AD}', 'ad@x.test', 'Ad', 'admin', 'UTC'),
                ('{C1}', 'c1@x.test', 'C1', 'coach', 'UTC'),
                ('{C2}', 'c2@x.test', 'C2', 'coach', 'UTC'),
                ('{B1}', 'b1@x.test', 'B1', 'member', 'UTC'),
                ('{B2}', 'b2@x.test', 'B2', 'member', 'UTC'),
                ('{B3}', 'b3@x.test', 'B3', 'member', 'UTC');
             INSERT INTO coach_profiles (user_id, max_members) VALUES ('{C1}', 30), ('{C2}', 30);
             INSERT INTO member_profiles (user_id, coach_id, goals, health_info, coach_notes,
                                          privacy, share_goals, share_health_info) VALUES
                ('{B1}', '{C1}', 'SECRET-goal-b1', 'SECRET-health-b1', 'SECRET-mcnote-b1', 'private', true, false),
                ('{B2}', '{C2}', 'SECRET-goal-b2', 'SECRET-health-b2', 'SECRET-mcnote-b2', 'connections', false, true),
                ('{B3}', NULL, 'SECRET-goal-b3', 'SECRET-health-b3', NULL, 'public', true, true);
             INSERT INTO availability_windows (id, coach_id, day_of_week, start_minute, end_minute, capacity)
                SELECT gen_random_uuid(), c::uuid, d, 360, 1320, 3
                FROM generate_series(0, 6) d, (VALUES ('{C1}'), ('{C2}')) v(c);
             INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, coach_notes, member_notes) VALUES
                ('{S1}', '{C1}', '{B1}', {s10}, {s11}, 'SECRET-scnote-1', 'own-notes-b1'),
                ('{S2}', '{C2}', '{B2}', {s10}, {s11}, 'SECRET-scnote-2', 'own-notes-b2');
             INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, status, cancelled_at, cancelled_by)
                VALUES ('{S3}', '{C1}', '{B1}', {s15}, {s16}, 'cancelled', now(), '{C1}');
             INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, status, expires_at, proposed_by)
                VALUES ('{P1}', '{C1}', '{B1}', {s12}, {s13}, 'proposed', {s10}, '{C1}');
             INSERT INTO session_notes (id, session_id, author_id, author_label, visibility, body) VALUES
                (gen_random_uuid(), '{S1}', '{C1}', 'c1@x.test', 'private', 'SECRET-pnote-1'),
                (gen_random_uuid(), '{S1}', '{C1}', 'c1@x.test', 'shared', 'shared-note-1'),
                (gen_random_uuid(), '{S2}', '{C2}', 'c2@x.test', 'private', 'SECRET-pnote-2');
             INSERT INTO connections (id, coach_id, member_id, requested_by, area, message)
                VALUES ('{K1}', '{C1}', '{B3}', '{C1}', 'running', 'SECRET-request-b3');
             INSERT INTO conversations (id, coach_id, member_id) VALUES
                ('00000000-0000-0000-0000-0000000000f1', '{C1}', '{B1}'),
                ('00000000-0000-0000-0000-0000000000f2', '{C2}', '{B2}');
             INSERT INTO messages (id, conversation_id, sender_id, body) VALUES
                (gen_random_uuid(), '00000000-0000-0000-0000-0000000000f1', '{B1}', 'SECRET-msg-b1'),
                (gen_random_uuid(), '00000000-0000-0000-0000-0000000000f2', '{C2}', 'SECRET-msg-b2');
             INSERT INTO invitations (id, coach_id, email, code_hash, created_by, expires_at) VALUES
                (gen_random_uuid(), '{C1}', 'new@x.test', sha256('code one'), 'c1@x.test', now() + interval '7 days'),
                (gen_random_uuid(), '{C2}', 'other@x.test', sha256('code two'), 'c2@x.test', now() + interval '7 days');
             INSERT INTO outbox (event, dedupe_key, recipient_id, payload, message_id) VALUES
                ('message', 'planted-b1', '{B1}', '{{\"text\": \"SECRET-outbox-b1\"}}', 'planted-b1@x.test'),
                ('message', 'planted-c2', '{C2}', '{{\"text\": \"SECRET-outbox-c2\"}}', 'planted-c2@x.test');
             INSERT INTO audit_log (actor_id, actor_label, action, entity, after) VALUES
                ('{C1}', 'c1@x.test', 'member.update', 'member', '{{\"coach_notes\": \"SECRET-audit-c1\"}}'),
                ('{B2}', 'b2@x.test', 'member.update', 'member', '{{\"health_info\": \"SECRET-audit-b2\"}}');"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .expect("plant the organisation");
        for s in [
            "goal-b1",
            "health-b1",
            "mcnote-b1",
            "goal-b2",
            "health-b2",
            "mcnote-b2",
            "goal-b3",
            "health-b3",
            "scnote-1",
            "scnote-2",
            "pnote-1",
            "pnote-2",
            "request-b3",
            "msg-b1",
            "msg-b2",
            "outbox-b1",
            "outbox-c2",
            "audit-c1",
            "audit-b2",
        ] {
            let name: &'static str = Box::leak(s.to_string().into_boxed_str());
            self.secrets.insert(name, format!("SECRET-{s}"));
        }
        // psql prints bytea as \x and hex digits.
        let hashes: Vec<(String, String)> = sqlx::query_as(
            "SELECT email, encode(code_hash, 'hex') FROM invitations ORDER BY email",
        )
        .fetch_all(&mut c)
        .await
        .expect("hashes");
        for (email, hash) in hashes {
            let name = if email.starts_with("new") {
                "code-hash-c1"
            } else {
                "code-hash-c2"
            };
            self.secrets.insert(name, hash);
        }
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

    /// Run `script` through psql as `who`'s login: (success, stdout, stderr).
    fn psql(&self, who: &str, script: &str) -> (bool, String, String) {
        let out = Command::new(psql_bin())
            .args(["-X", "-q", "-d", &self.db.url])
            .arg("-c")
            .arg(format!("SET SESSION AUTHORIZATION \"{}\"", self.login(who)))
            .arg("-c")
            .arg(script)
            .args(["-v", "ON_ERROR_STOP=1"])
            .output()
            .expect("run psql");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Every relation of the schema, as the owner sees the catalogue.
    fn relations(&self) -> Vec<String> {
        common::runtime().block_on(async {
            let mut c = self.owner().await;
            sqlx::query_scalar(
                "SELECT relname::text FROM pg_class
                 WHERE relnamespace = current_schema()::regnamespace
                   AND relkind IN ('r', 'p', 'v', 'm', 'f')
                 ORDER BY 1",
            )
            .fetch_all(&mut c)
            .await
            .expect("relations")
        })
    }

    /// What `who` reads through psql: every relation whole (`SELECT *`),
    /// then every column it has a privilege on (a table with hidden columns
    /// refuses `SELECT *`), then private fields through
    /// member_private_fields(). Returns (stdout, relations refused whole).
    fn read_everything(&self, who: &str) -> (String, BTreeSet<String>) {
        let mut script = String::from("\\x on\n\\pset format unaligned\n");
        script.push_str(&format!(
            "SET SESSION AUTHORIZATION \"{}\";\n",
            self.login(who)
        ));
        for r in self.relations() {
            script.push_str(&format!("\\echo ==== {r}\nSELECT * FROM \"{r}\";\n"));
        }
        script.push_str(
            "\\echo ==== readable columns
             SELECT format('SELECT %s FROM %I', string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum), c.relname)
             FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE c.relnamespace = current_schema()::regnamespace
               AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
               AND has_column_privilege(c.oid, a.attnum, 'SELECT')
             GROUP BY c.relname ORDER BY c.relname \\gexec\n",
        );
        // How many rows of each relation the login reads, through any
        // column it may select: a policy that hides too much shows here.
        script.push_str(
            "SELECT format('SELECT %L || count(*) FROM (SELECT %I FROM %I) x',
                           'ROWS ' || c.relname || ' ', min(a.attname), c.relname)
             FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE c.relnamespace = current_schema()::regnamespace
               AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
               AND has_column_privilege(c.oid, a.attnum, 'SELECT')
             GROUP BY c.relname ORDER BY c.relname \\gexec\n",
        );
        for m in [B1, B2, B3] {
            script.push_str(&format!(
                "\\echo ==== member_private_fields {m}\nSELECT * FROM member_private_fields('{m}');\n"
            ));
        }
        let out = Command::new(psql_bin())
            .args(["-X", "-q", "-d", &self.db.url, "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(script.as_bytes())?;
                child.wait_with_output()
            })
            .expect("run psql");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            stdout.contains("==== member_private_fields"),
            "{who}: psql stopped early: {stderr}"
        );
        // Refusals are whole-table or column privileges only; anything else
        // (a policy erroring, a function failing) is a bug.
        let mut refused = BTreeSet::new();
        for line in stderr.lines().filter(|l| l.contains("ERROR:")) {
            let Some(rest) = line.split("permission denied for ").nth(1) else {
                panic!("{who}: an error other than a permission: {line}");
            };
            refused.insert(rest.trim().to_string());
        }
        (stdout, refused)
    }

    /// How many rows of each relation `who` reads (relations it may read
    /// no column of are absent).
    fn rows_seen_by(&self, who: &str) -> BTreeMap<String, i64> {
        let (text, _) = self.read_everything(who);
        text.lines()
            .filter_map(|l| l.split('|').nth(1).unwrap_or(l).strip_prefix("ROWS "))
            .filter_map(|l| {
                let (t, n) = l.rsplit_once(' ')?;
                Some((t.to_string(), n.trim().parse().ok()?))
            })
            .collect()
    }

    /// Rows of every relation, counted as the owner.
    fn rows_of_owner(&self) -> BTreeMap<String, i64> {
        let relations = self.relations();
        common::runtime().block_on(async {
            let mut c = self.owner().await;
            let mut all = BTreeMap::new();
            for r in relations {
                let sql = format!("SELECT count(*) FROM \"{r}\"");
                let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut c)
                    .await
                    .expect("count");
                all.insert(r, n);
            }
            all
        })
    }

    /// The secrets in `who`'s reading of everything.
    fn secrets_seen_by(&self, who: &str) -> (BTreeSet<&'static str>, String) {
        let (text, refused) = self.read_everything(who);
        let seen = self
            .secrets
            .iter()
            .filter(|(_, s)| text.contains(s.as_str()))
            .map(|(n, _)| *n)
            .collect();
        (seen, format!("{who} was refused: {refused:?}"))
    }

    /// md5 of every table's rows, read as the owner: what a refused write
    /// may not change.
    fn checksums(&self) -> BTreeMap<String, String> {
        common::runtime().block_on(async {
            let mut c = self.owner().await;
            let mut all = BTreeMap::new();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT relname::text FROM pg_class
                 WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p')
                 ORDER BY 1",
            )
            .fetch_all(&mut c)
            .await
            .expect("tables");
            for t in tables {
                let sql = format!(
                    "SELECT md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) FROM \"{t}\" x"
                );
                let sum: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut c)
                    .await
                    .expect("checksum");
                all.insert(t, sum);
            }
            all
        })
    }
}

impl Drop for Org {
    fn drop(&mut self) {
        let logins: Vec<String> = LOGINS.iter().map(|w| self.login(w)).collect();
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

fn set(v: &[&'static str]) -> BTreeSet<&'static str> {
    v.iter().copied().collect()
}

#[test]
fn each_login_reads_through_psql_exactly_the_secrets_its_person_may_see() {
    let org = Org::new();
    let all: BTreeSet<&'static str> = org
        .secrets
        .keys()
        .copied()
        .filter(|n| !n.starts_with("code-hash"))
        .collect();
    let expect: &[(&str, BTreeSet<&'static str>)] = &[
        // Everything but the invitation codes' hashes, which no one reads.
        ("ad", all),
        // C1: B1's shared goals (not the unshared health information) and
        // the coach notes on B1, their own session's notes, their own
        // conversation, their own request and their own audit rows. Nothing
        // of C2's member, nothing of B3's beyond the request.
        (
            "c1",
            set(&[
                "goal-b1",
                "mcnote-b1",
                "scnote-1",
                "pnote-1",
                "msg-b1",
                "request-b3",
                "audit-c1",
            ]),
        ),
        // C2: B2 shares health information, not goals; C2's own notice.
        (
            "c2",
            set(&[
                "health-b2",
                "mcnote-b2",
                "scnote-2",
                "pnote-2",
                "msg-b2",
                "outbox-c2",
            ]),
        ),
        // A member reads their own profile and conversation and notices,
        // never what their coach writes about them.
        ("b1", set(&["goal-b1", "health-b1", "msg-b1", "outbox-b1"])),
        ("b2", set(&["goal-b2", "health-b2", "msg-b2", "audit-b2"])),
        // The cron job reads the outbox (a message's notice carries its
        // text, a connection request's its message), no profile and no note.
        (
            "notifier",
            set(&["outbox-b1", "outbox-c2", "msg-b1", "msg-b2", "request-b3"]),
        ),
    ];
    for (who, want) in expect {
        let (seen, refused) = org.secrets_seen_by(who);
        assert_eq!(&seen, want, "{who} ({refused})");
    }
}

#[test]
fn each_login_still_reads_its_own_rows_through_psql() {
    let org = Org::new();
    // A policy that hides everything passes the leak test: each login must
    // find its own rows too.
    let own: &[(&str, &[&str])] = &[
        ("ad", &["ad@x.test", S1, S2, S3, P1, "shared-note-1", K1]),
        (
            "c1",
            &[
                "c1@x.test",
                "b1@x.test",
                S1,
                S3,
                P1,
                "shared-note-1",
                "new@x.test",
                K1,
            ],
        ),
        ("c2", &["c2@x.test", "b2@x.test", S2, "other@x.test"]),
        (
            "b1",
            &[
                "b1@x.test",
                "c1@x.test",
                S1,
                S3,
                P1,
                "shared-note-1",
                "own-notes-b1",
            ],
        ),
        ("b2", &["b2@x.test", "c2@x.test", S2, "own-notes-b2"]),
        (
            "notifier",
            &["planted-b1@x.test", "planted-c2@x.test", "b1@x.test"],
        ),
    ];
    for (who, rows) in own {
        let (text, refused) = org.read_everything(who);
        for r in *rows {
            assert!(
                text.contains(r),
                "{who} does not read its own {r} (refused: {refused:?})"
            );
        }
    }
    // Row counts: an admin reads every row of every relation; each person
    // reads their own rows in the tables that hold them, and a member
    // exactly one profile.
    let owner = org.rows_of_owner();
    assert_eq!(org.rows_seen_by("ad"), owner, "an admin reads every row");
    let tables: &[(&str, &[&str])] = &[
        (
            "c1",
            &[
                "users",
                "coach_profiles",
                "member_profiles",
                "availability_windows",
                "slots",
                "sessions",
                "session_notes",
                "connections",
                "conversations",
                "messages",
                "invitations",
                "audit_log",
                "outbox",
            ],
        ),
        (
            "c2",
            &[
                "users",
                "coach_profiles",
                "member_profiles",
                "availability_windows",
                "slots",
                "sessions",
                "session_notes",
                "conversations",
                "messages",
                "invitations",
                "outbox",
            ],
        ),
        (
            "b1",
            &[
                "users",
                "coach_profiles",
                "member_profiles",
                "availability_windows",
                "sessions",
                "session_notes",
                "conversations",
                "messages",
                "outbox",
            ],
        ),
        (
            "b2",
            &[
                "users",
                "coach_profiles",
                "member_profiles",
                "availability_windows",
                "sessions",
                "conversations",
                "messages",
                "audit_log",
                "outbox",
            ],
        ),
        (
            "notifier",
            &[
                "users",
                "coach_profiles",
                "member_profiles",
                "sessions",
                "outbox",
            ],
        ),
    ];
    for (who, own) in tables {
        let seen = org.rows_seen_by(who);
        for t in *own {
            assert!(
                seen.get(*t).copied().unwrap_or(0) > 0,
                "{who} reads no row of {t}: {seen:?}"
            );
        }
        if who.starts_with('b') {
            assert_eq!(seen.get("member_profiles"), Some(&1), "{who}: {seen:?}");
        }
    }
    // And not another's: a member never reads another member's address,
    // a coach not another coach's member's sessions.
    for (who, never) in [
        ("b1", &["b2@x.test", S2][..]),
        ("b2", &["b1@x.test", S1, S3, P1][..]),
        ("c1", &["b2@x.test", S2][..]),
        ("c2", &["b1@x.test", S1, S3, P1, K1][..]),
    ] {
        let (text, _) = org.read_everything(who);
        for r in never {
            assert!(!text.contains(r), "{who} reads {r}");
        }
    }
}

/// The writes no login may make: (login, what it tries, the SQL).
fn forbidden_writes() -> Vec<(&'static str, &'static str, String)> {
    let (s10, s11) = (at(10), at(11));
    let later = "date_trunc('day', now()) + interval '4 days 9 hours'";
    let later_end = "date_trunc('day', now()) + interval '4 days 10 hours'";
    vec![
        ("b1", "promote oneself", format!("UPDATE users SET role = 'admin' WHERE id = '{B1}'")),
        ("c1", "promote oneself", format!("UPDATE users SET role = 'admin' WHERE id = '{C1}'")),
        ("b1", "reactivate or deactivate oneself", format!("UPDATE users SET active = false WHERE id = '{B1}'")),
        ("c1", "raise one's capacity", format!("UPDATE coach_profiles SET max_members = 1000 WHERE user_id = '{C1}'")),
        ("c1", "reset one's member count", format!("UPDATE coach_profiles SET member_count = 0 WHERE user_id = '{C1}'")),
        ("ad", "write a counter the triggers keep", "UPDATE coach_profiles SET member_count = 0, schedule_version = 0".into()),
        ("b1", "complete one's own session", format!("UPDATE sessions SET status = 'completed', completed_at = now() WHERE id = '{S1}'")),
        ("b1", "complete one's own session by status alone", format!("UPDATE sessions SET status = 'completed' WHERE id = '{S1}'")),
        ("c1", "take another coach's member", format!("UPDATE member_profiles SET coach_id = '{C1}' WHERE user_id = '{B2}'")),
        ("c1", "take an unassigned member", format!("UPDATE member_profiles SET coach_id = '{C1}' WHERE user_id = '{B3}'")),
        ("c1", "propose a session to another coach's member",
            format!("INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, status, expires_at, proposed_by)
                     VALUES (gen_random_uuid(), '{C1}', '{B2}', {later}, {later_end}, 'proposed', {later}, '{C1}')")),
        ("b1", "book a coach who is not theirs",
            format!("INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at)
                     VALUES (gen_random_uuid(), '{C2}', '{B1}', {later}, {later_end})")),
        ("b1", "book for another member",
            format!("INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at)
                     VALUES (gen_random_uuid(), '{C1}', '{B2}', {later}, {later_end})")),
        ("b1", "insert a completed session to rate",
            format!("INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, status, completed_at)
                     VALUES (gen_random_uuid(), '{C1}', '{B1}', {later}, {later_end}, 'completed', now())")),
        // 23:00 lies outside the coaches' 06:00-22:00 windows
        ("b1", "book off the grid",
            format!("INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, off_grid)
                     VALUES (gen_random_uuid(), '{C1}', '{B1}', {later} + interval '14 hours',
                             {later_end} + interval '14 hours', true)")),
        ("c1", "cancel another coach's session",
            format!("UPDATE sessions SET status = 'cancelled', cancelled_at = now(), cancelled_by = '{C1}' WHERE id = '{S2}'")),
        ("c1", "reschedule another coach's session",
            format!("UPDATE sessions SET starts_at = starts_at + interval '1 hour', ends_at = ends_at + interval '1 hour' WHERE id = '{S2}'")),
        ("b1", "cancel another member's session",
            format!("UPDATE sessions SET status = 'cancelled', cancelled_at = now(), cancelled_by = '{B1}' WHERE id = '{S2}'")),
        ("b1", "reschedule another member's session",
            format!("UPDATE sessions SET starts_at = {s10} + interval '2 hours', ends_at = {s11} + interval '2 hours' WHERE id = '{S2}'")),
        ("b1", "cancel in the coach's name",
            format!("UPDATE sessions SET status = 'cancelled', cancelled_at = now(), cancelled_by = '{C1}' WHERE id = '{S1}'")),
        ("b1", "un-cancel a cancelled session",
            format!("UPDATE sessions SET status = 'scheduled', cancelled_at = NULL, cancelled_by = NULL WHERE id = '{S3}'")),
        ("c1", "un-cancel a cancelled session",
            format!("UPDATE sessions SET status = 'scheduled', cancelled_at = NULL, cancelled_by = NULL WHERE id = '{S3}'")),
        ("c1", "accept one's own proposal for the member",
            format!("UPDATE sessions SET status = 'scheduled', responded_at = now() WHERE id = '{P1}'")),
        ("b1", "take one's session off the grid", format!("UPDATE sessions SET off_grid = true WHERE id = '{S1}'")),
        ("b1", "stretch a proposal", format!("UPDATE sessions SET expires_at = starts_at WHERE id = '{P1}'")),
        ("b1", "delete sessions", "DELETE FROM sessions".into()),
        ("b1", "delete audit rows", "DELETE FROM audit_log".into()),
        ("c1", "update audit rows", "UPDATE audit_log SET action = 'nothing'".into()),
        ("ad", "delete audit rows", "DELETE FROM audit_log".into()),
        ("ad", "update audit rows", "UPDATE audit_log SET after = NULL".into()),
        ("b1", "change another person's notice", format!("UPDATE outbox SET status = 'skipped' WHERE recipient_id = '{C2}'")),
        ("c1", "change another person's notice", format!("UPDATE outbox SET payload = '{{}}' WHERE recipient_id = '{B1}'")),
        ("b1", "delete notices", "DELETE FROM outbox".into()),
        ("b1", "queue a notice to someone",
            format!("INSERT INTO outbox (event, dedupe_key, recipient_id, message_id) VALUES ('message', 'x', '{C2}', 'forged@x.test')")),
        ("notifier", "delete notices", "DELETE FROM outbox".into()),
        ("notifier", "rename a person", format!("UPDATE users SET name = 'x' WHERE id = '{B1}'")),
        ("c1", "approve one's own request on the member's behalf",
            format!("UPDATE connections SET status = 'accepted', answered_at = now(), answered_by = '{B3}' WHERE id = '{K1}'")),
        ("c1", "approve one's own request in one's own name",
            format!("UPDATE connections SET status = 'accepted', answered_at = now(), answered_by = '{C1}' WHERE id = '{K1}'")),
        ("c1", "insert an accepted connection",
            format!("INSERT INTO connections (id, coach_id, member_id, requested_by, status, answered_at, answered_by)
                     VALUES (gen_random_uuid(), '{C1}', '{B2}', '{C1}', 'accepted', now(), '{B2}')")),
        ("b2", "accept a connection as if invited",
            format!("INSERT INTO connections (id, coach_id, member_id, requested_by, area, status, answered_at, answered_by)
                     VALUES (gen_random_uuid(), '{C1}', '{B2}', '{C1}', 'invitation', 'accepted', now(), '{B2}')")),
        ("c2", "request in another's name",
            format!("INSERT INTO connections (id, coach_id, member_id, requested_by) VALUES (gen_random_uuid(), '{C2}', '{B1}', '{C1}')")),
        ("b1", "redeem an invitation not addressed to them",
            "UPDATE invitations SET status = 'accepted', answered_at = now() WHERE code_hash = sha256('code one')".into()),
        ("b1", "redeem any invitation", "UPDATE invitations SET status = 'accepted', answered_at = now()".into()),
        ("c1", "accept one's own invitation for the invitee",
            "UPDATE invitations SET status = 'accepted', answered_at = now() WHERE email = 'new@x.test'".into()),
        ("c1", "redirect a sent invitation", "UPDATE invitations SET email = 'c1@x.test'".into()),
        ("c1", "revoke another coach's invitation",
            "UPDATE invitations SET status = 'revoked', answered_at = now() WHERE email = 'other@x.test'".into()),
        ("c1", "write slots", format!("INSERT INTO slots (coach_id, starts_at, capacity) VALUES ('{C1}', {later}, 9)")),
        ("c1", "raise a slot's capacity", "UPDATE slots SET capacity = 100".into()),
        ("b1", "free seats", "UPDATE slots SET booked = 0".into()),
        ("ad", "write slots", "UPDATE slots SET booked = 0".into()),
        ("ad", "insert slots", format!("INSERT INTO slots (coach_id, starts_at, capacity) VALUES ('{C1}', {later}, 9)")),
        ("c1", "delete slots", "DELETE FROM slots".into()),
        ("b2", "mark another conversation's messages read",
            "UPDATE messages SET read_at = now() WHERE conversation_id = '00000000-0000-0000-0000-0000000000f1'".into()),
        ("b2", "rewrite a message", "UPDATE messages SET body = 'changed'".into()),
        ("c2", "write a member's health information", format!("UPDATE member_profiles SET health_info = 'x' WHERE user_id = '{B2}'")),
        ("b1", "make a login", format!("INSERT INTO logins (role_name, user_id) VALUES ('someone', '{AD}')")),
        ("b1", "change the group prefix", "UPDATE identity_settings SET group_prefix = 'mine'".into()),
        ("c1", "add a window for another coach",
            format!("INSERT INTO availability_windows (id, coach_id, day_of_week, start_minute, end_minute) VALUES (gen_random_uuid(), '{C2}', 1, 0, 60)")),
        ("b1", "rate a session that is not completed",
            format!("INSERT INTO session_ratings (session_id, member_id, coach_id, rating) VALUES ('{S1}', '{B1}', '{C1}', 5)")),
        ("b1", "write a private note", format!(
            "INSERT INTO session_notes (id, session_id, author_id, author_label, visibility, body)
             VALUES (gen_random_uuid(), '{S1}', '{B1}', 'b1@x.test', 'private', 'mine')")),
        ("b1", "read the private notes by deleting them", "DELETE FROM session_notes".into()),
    ]
}

#[test]
fn forbidden_writes_through_psql_change_no_row_of_any_table() {
    let org = Org::new();
    let mut before = org.checksums();
    let mut changed = Vec::new();
    for (who, what, sql) in forbidden_writes() {
        let (_, _, err) = org.psql(who, &sql);
        // refused by a rule, not by a typo in the attack
        assert!(
            !err.contains("does not exist") && !err.contains("syntax error"),
            "the attack itself is wrong: {sql}\n{err}"
        );
        let after = org.checksums();
        for (t, sum) in &before {
            if after.get(t) != Some(sum) {
                changed.push(format!("{who} could {what}: {t} changed by {sql}"));
            }
        }
        // every attack is judged on its own, from where the last one left
        before = after;
    }
    assert!(changed.is_empty(), "{changed:#?}");
}

#[test]
fn an_audit_row_inserted_through_psql_names_the_login_whatever_it_claims() {
    let org = Org::new();
    let (ok, _, err) = org.psql(
        "b1",
        &format!(
            "INSERT INTO audit_log (actor_id, actor_label, action, entity)
             VALUES ('{C1}', 'c1@x.test', 'forged', 'session')"
        ),
    );
    assert!(ok, "appending is allowed: {err}");
    common::runtime().block_on(async {
        let mut c = org.owner().await;
        let rows: Vec<(Option<String>, String)> = sqlx::query_as(
            "SELECT actor_id::text, actor_label FROM audit_log WHERE action = 'forged'",
        )
        .fetch_all(&mut c)
        .await
        .expect("audit");
        assert_eq!(rows, [(Some(B1.to_string()), "b1@x.test".to_string())]);
    });
}

#[test]
fn the_transitions_a_person_may_make_still_go_through_psql() {
    let org = Org::new();
    // The triggers that refuse the forbidden writes let the ordinary ones
    // through: a member accepts a proposal and books, a coach cancels and
    // revokes, the asked side answers a connection.
    let later = "date_trunc('day', now()) + interval '4 days 9 hours'";
    let later_end = "date_trunc('day', now()) + interval '4 days 10 hours'";
    for (who, sql) in [
        ("b1", format!("UPDATE sessions SET status = 'scheduled', responded_at = now() WHERE id = '{P1}'")),
        ("b1", format!("INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at)
                        VALUES (gen_random_uuid(), '{C1}', '{B1}', {later}, {later_end})")),
        ("b1", format!("UPDATE sessions SET starts_at = starts_at - interval '2 hours', ends_at = ends_at - interval '2 hours' WHERE id = '{S1}'")),
        ("c2", format!("UPDATE sessions SET status = 'cancelled', cancelled_at = now(), cancelled_by = '{C2}' WHERE id = '{S2}'")),
        ("c1", format!("INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, status, expires_at, proposed_by)
                        VALUES (gen_random_uuid(), '{C1}', '{B1}', {later} + interval '2 hours', {later_end} + interval '2 hours', 'proposed', {later}, '{C1}')")),
        ("c1", "UPDATE invitations SET status = 'revoked', answered_at = now() WHERE email = 'new@x.test'".into()),
        ("b2", format!("INSERT INTO connections (id, coach_id, member_id, requested_by) VALUES (gen_random_uuid(), '{C1}', '{B2}', '{B2}')")),
        ("c1", format!("UPDATE connections SET status = 'accepted', answered_at = now(), answered_by = '{C1}' WHERE member_id = '{B2}'")),
        ("c1", format!("UPDATE connections SET status = 'removed', removed_at = now(), removed_by = '{C1}' WHERE id = '{K1}'")),
    ] {
        let (ok, _, err) = org.psql(who, &sql);
        assert!(ok, "{who} may: {sql}\n{err}");
    }
    common::runtime().block_on(async {
        let mut c = org.owner().await;
        let states: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT status FROM sessions WHERE id IN ('{P1}', '{S2}') ORDER BY id DESC"
        )))
        .fetch_all(&mut c)
        .await
        .expect("states");
        assert_eq!(states, ["scheduled", "cancelled"]);
    });
    org.db.assert_invariants();
}
