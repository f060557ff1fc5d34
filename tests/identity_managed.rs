//! Managed PostgreSQL (issue 17, item 6): the schema owner is not a
//! superuser. With CREATEROLE it migrates, makes the group roles and a login
//! that then reads under the policies (PostgreSQL 16 changed CREATEROLE: the
//! creator holds ADMIN OPTION on the roles it made, and only those; this
//! file runs on 15 and, through scripts/test-pg18, on 18). Without
//! CREATEROLE the migration still succeeds, makes no roles, and
//! identity_install() says false.
//!
//! The test cluster admits only its superuser over the socket (peer), so
//! the owner and the login are taken with `SET SESSION AUTHORIZATION` on a
//! superuser's connection: from then on every privilege check is the
//! owner's, as over its own connection.

mod common;

use sqlx::{ConnectOptions, Connection, PgConnection};

/// A database owned by a role of its own, dropped with its roles afterwards.
struct OwnedDb {
    db: Option<common::TestDb>,
    owner: String,
    /// roles the test made besides the owner (logins), dropped first
    logins: Vec<String>,
}

impl OwnedDb {
    fn new(createrole: bool) -> OwnedDb {
        let db = common::empty_db();
        common::runtime().block_on(Self::own(db, createrole))
    }

    async fn own(db: common::TestDb, createrole: bool) -> OwnedDb {
        let owner = format!("{}_owner", db.name);
        let mut c = PgConnection::connect(&db.url).await.expect("connect");
        let sql = format!(
            "CREATE ROLE \"{owner}\" LOGIN NOSUPERUSER {};
             ALTER DATABASE \"{}\" OWNER TO \"{owner}\";
             ALTER SCHEMA public OWNER TO \"{owner}\"",
            if createrole {
                "CREATEROLE"
            } else {
                "NOCREATEROLE"
            },
            db.name
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .expect("make the owner");
        OwnedDb {
            db: Some(db),
            owner,
            logins: Vec::new(),
        }
    }

    fn url(&self) -> &str {
        &self.db.as_ref().expect("db").url
    }

    /// A connection that is `role` from now on.
    async fn as_role(&self, role: &str) -> PgConnection {
        let mut c = PgConnection::connect(self.url()).await.expect("connect");
        let sql = format!("SET SESSION AUTHORIZATION \"{role}\"");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut c)
            .await
            .expect("become the role");
        c
    }

    async fn migrate_as_owner(&self) -> PgConnection {
        let mut c = self.as_role(&self.owner).await;
        let superuser: bool =
            sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                .fetch_one(&mut c)
                .await
                .expect("who");
        assert!(!superuser, "the owner is not a superuser");
        coachctl::db::MIGRATOR
            .run(&mut c)
            .await
            .expect("the owner migrates");
        c
    }

    async fn prefix(&self, c: &mut PgConnection) -> String {
        sqlx::query_scalar("SELECT group_prefix FROM identity_settings")
            .fetch_one(c)
            .await
            .expect("prefix")
    }
}

impl Drop for OwnedDb {
    fn drop(&mut self) {
        let db = self.db.take().expect("db");
        let url = db.url.clone();
        let mut roles = self.logins.clone();
        // The groups carry the database's prefix; read it before dropping.
        let owner = self.owner.clone();
        let _ = std::thread::spawn(move || {
            common::runtime().block_on(async {
                let Ok(mut c) = PgConnection::connect(&url).await else {
                    return;
                };
                if let Ok(p) =
                    sqlx::query_scalar::<_, String>("SELECT group_prefix FROM identity_settings")
                        .fetch_one(&mut c)
                        .await
                {
                    for g in ["admin", "coach", "member", "notifier", "pgbouncer"] {
                        roles.push(format!("{p}_{g}"));
                    }
                }
                c.close().await.ok();
                drop(db);
                let Ok(mut c) = common::cluster()
                    .connect_options("postgres")
                    .connect()
                    .await
                else {
                    return;
                };
                roles.push(owner);
                for r in roles {
                    let sql = format!("DROP ROLE IF EXISTS \"{r}\"");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut c)
                        .await;
                }
            })
        })
        .join();
    }
}

#[test]
fn an_owner_with_createrole_but_not_superuser_migrates_and_its_logins_live_under_the_policies() {
    let mut db = OwnedDb::new(true);
    common::runtime().block_on(async {
        let mut owner = db.migrate_as_owner().await;
        let p = db.prefix(&mut owner).await;
        let groups: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_roles WHERE rolname IN ($1 || '_admin', $1 || '_coach',
                                                         $1 || '_member', $1 || '_notifier')",
        )
        .bind(&p)
        .fetch_one(&mut owner)
        .await
        .expect("groups");
        assert_eq!(groups, 4, "the migration made the group roles");
        let again: bool = sqlx::query_scalar("SELECT identity_install()")
            .fetch_one(&mut owner)
            .await
            .expect("install again");
        assert!(again, "identity_install() is idempotent for the owner");

        // Two members, each with a coach; a login for the first, made by
        // the owner (on 16+ through the ADMIN OPTION it holds on its group).
        let login = format!("{}_m1", db.owner);
        db.logins.push(login.clone());
        let sql = format!(
            "INSERT INTO users (id, email, name, role) VALUES
                ('00000000-0000-0000-0000-0000000000c1', 'c1@x.test', 'C1', 'coach'),
                ('00000000-0000-0000-0000-0000000000b1', 'b1@x.test', 'B1', 'member'),
                ('00000000-0000-0000-0000-0000000000b2', 'b2@x.test', 'B2', 'member');
             INSERT INTO coach_profiles (user_id) VALUES ('00000000-0000-0000-0000-0000000000c1');
             INSERT INTO member_profiles (user_id, coach_id, health_info) VALUES
                ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000c1', 'mine'),
                ('00000000-0000-0000-0000-0000000000b2', NULL, 'SECRET-b2');
             CREATE ROLE \"{login}\" NOLOGIN IN ROLE \"{p}_member\";
             INSERT INTO logins (role_name, user_id)
                VALUES ('{login}', '00000000-0000-0000-0000-0000000000b1')"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut owner)
            .await
            .expect("the owner makes a login");

        let mut m = db.as_role(&login).await;
        let (who, role): (String, String) =
            sqlx::query_as("SELECT current_actor()::text, current_actor_role()")
                .fetch_one(&mut m)
                .await
                .expect("who am I");
        assert_eq!(
            (who.as_str(), role.as_str()),
            ("00000000-0000-0000-0000-0000000000b1", "member")
        );
        let profiles: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT user_id::text, health_info FROM member_profiles")
                .fetch_all(&mut m)
                .await
                .expect("read profiles");
        assert_eq!(
            profiles,
            [(
                "00000000-0000-0000-0000-0000000000b1".to_string(),
                Some("mine".to_string())
            )],
            "the login reads its own profile and no other"
        );
        let hidden = sqlx::query("SELECT coach_notes FROM member_profiles")
            .fetch_all(&mut m)
            .await
            .expect_err("coach notes are not the member's");
        assert!(hidden.to_string().contains("permission denied"), "{hidden}");
        let other: Vec<(Option<String>,)> =
            sqlx::query_as("SELECT health_info FROM member_private_fields($1::uuid)")
                .bind("00000000-0000-0000-0000-0000000000b2")
                .fetch_all(&mut m)
                .await
                .expect("private fields");
        assert!(other.is_empty(), "{other:?}");
        // A refused write under this owner's grants changes nothing.
        let promoted = sqlx::query("UPDATE users SET role = 'admin'")
            .execute(&mut m)
            .await;
        assert!(promoted.is_err(), "a member promoted themselves");
    });
}

#[test]
fn an_owner_without_createrole_migrates_without_groups_and_identity_install_says_false() {
    let db = OwnedDb::new(false);
    common::runtime().block_on(async {
        let mut owner = db.migrate_as_owner().await;
        let p = db.prefix(&mut owner).await;
        let groups: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_roles WHERE rolname LIKE $1 || '\\_%'")
                .bind(&p)
                .fetch_one(&mut owner)
                .await
                .expect("groups");
        assert_eq!(groups, 0, "no role was made");
        let installed: bool = sqlx::query_scalar("SELECT identity_install()")
            .fetch_one(&mut owner)
            .await
            .expect("install");
        assert!(!installed, "identity_install() says it could not");
        // The owner's path works as ever: it bypasses the policies.
        sqlx::raw_sql(
            "INSERT INTO users (id, email, name, role)
             VALUES ('00000000-0000-0000-0000-0000000000ad', 'ad@x.test', 'Ad', 'admin')",
        )
        .execute(&mut owner)
        .await
        .expect("write as the owner");
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&mut owner)
            .await
            .expect("read as the owner");
        assert_eq!(n, 1);
    });
}
