//! Per-person logins through pgbouncer in transaction mode (issue 17,
//! item 6; docs/design/identity.md §7). Each test runs its own pgbouncer
//! (`auth_type = scram-sha-256`, a pool of one server connection per
//! login) in front of the production-like server of `prod_pg/fixture.rs`,
//! with a database owned by a non-superuser with CREATEROLE. pgbouncer
//! learns the logins' SCRAM verifiers from the auth_file that `login grant
//! --pgbouncer-file` writes, or by auth_query through pgbouncer_get_auth().

#[path = "prod_pg/fixture.rs"]
mod fixture;
#[path = "prod_pg/run.rs"]
mod running;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use fixture::{Runner, Servers, coachctl};
use running::{Run, run};

impl Run {
    /// The exit code is one of `codes`; stderr is one sentence, no SQL.
    #[track_caller]
    fn refused(&self, codes: &[i32]) -> &str {
        assert!(
            codes.contains(&self.code),
            "expected exit {codes:?}: {self:#?}"
        );
        let err = self.stderr.trim();
        assert_eq!(err.lines().count(), 1, "one line: {self:#?}");
        assert!(!err.contains("panicked"), "{self:#?}");
        assert!(!err.to_ascii_uppercase().contains("SELECT "), "{self:#?}");
        err
    }
}

/// A database of its own, owned by a role of its own (not a superuser,
/// with CREATEROLE, as on managed services), and a pgbouncer for it.
struct Org {
    servers: Servers,
    owner: String,
    name: String,
    dir: PathBuf,
    bouncer_port: Option<u16>,
}

const OWNER_PW: &str = "own-pw";

impl Org {
    fn new() -> Org {
        let servers = fixture::servers();
        let key = uuid::Uuid::new_v4().simple().to_string();
        let owner = format!("ipb_{}", &key[..12]);
        let name = format!("ipb_db_{}", &key[..12]);
        servers
            .psql(
                "postgres",
                &format!("CREATE ROLE {owner} LOGIN CREATEROLE PASSWORD '{OWNER_PW}'"),
            )
            .expect("make the owner");
        servers
            .psql("postgres", &format!("CREATE DATABASE {name} OWNER {owner}"))
            .expect("make the database");
        let dir = servers.dir.join(format!("bouncer-{}", &key[..12]));
        fs::create_dir_all(&dir).expect("bouncer dir");
        Runner::new().expect("runner").give(&dir).expect("chown");
        // pgbouncer's auth_file, owned by pgbouncer's user (coachctl keeps
        // the owner when it rewrites the file)
        let userlist = dir.join("userlist.txt");
        fs::write(&userlist, "").expect("userlist");
        Runner::new()
            .expect("runner")
            .give(&userlist)
            .expect("chown");
        let org = Org {
            servers,
            owner,
            name,
            dir,
            bouncer_port: None,
        };
        run(org.owner_cli(), &["db", "migrate"]).ok();
        org
    }

    fn owner_url(&self) -> String {
        self.servers.direct_url(&self.owner, OWNER_PW, &self.name)
    }
    fn owner_cli(&self) -> Command {
        coachctl(&self.owner_url())
    }
    fn owner(&self, args: &[&str]) -> Run {
        run(self.owner_cli(), args)
    }
    fn psql(&self, sql: &str) -> String {
        self.servers.psql(&self.name, sql).expect("psql")
    }
    fn userlist(&self) -> PathBuf {
        self.dir.join("userlist.txt")
    }

    /// Ana (coach) with members Bo and Cy, Monday mornings, a session
    /// each; Ad, a named admin.
    fn people(&self) {
        self.owner(&[
            "coach",
            "create",
            "--email",
            "ana@example.com",
            "--name",
            "Ana Coach",
            "--timezone",
            "Europe/Berlin",
            "--max-members",
            "5",
        ])
        .ok();
        for (email, name) in [
            ("bo@example.com", "Bo Member"),
            ("cy@example.com", "Cy Member"),
        ] {
            self.owner(&["member", "create", "--email", email, "--name", name])
                .ok();
            self.owner(&["member", "assign", email, "--coach", "ana@example.com"])
                .ok();
        }
        self.owner(&[
            "admin",
            "create",
            "--email",
            "ad@example.com",
            "--name",
            "Ad Min",
        ])
        .ok();
        self.owner(&[
            "availability",
            "add",
            "--coach",
            "ana@example.com",
            "--day",
            "mon",
            "--start",
            "08:00",
            "--end",
            "12:00",
            "--length",
            "30",
            "--buffer",
            "0",
            "--capacity",
            "1",
        ])
        .ok();
        self.owner(&[
            "book",
            "--coach",
            "ana@example.com",
            "--member",
            "bo@example.com",
            "--at",
            &at("08:00"),
        ])
        .ok();
        self.owner(&[
            "book",
            "--coach",
            "ana@example.com",
            "--member",
            "cy@example.com",
            "--at",
            &at("08:30"),
        ])
        .ok();
    }

    /// `login grant USER --pgbouncer-file` as the owner: the login's URL,
    /// pointed at this org's pgbouncer.
    fn grant(&self, who: &[&str]) -> (String, String) {
        let file = self.userlist();
        let mut args = vec!["login", "grant"];
        args.extend(who);
        args.extend(["--pgbouncer-file", file.to_str().unwrap(), "-o", "json"]);
        let g = self.owner(&args).json();
        (
            g["login"].as_str().unwrap().to_string(),
            g["url"].as_str().unwrap().to_string(),
        )
    }

    /// A direct URL of a login as the same login through pgbouncer.
    fn pooled(&self, url: &str) -> String {
        let port = self.bouncer_port.expect("pgbouncer started");
        url.replace(&format!(":{}/", self.servers.pg_port), &format!(":{port}/"))
    }

    /// Start pgbouncer: transaction mode, one server connection per login,
    /// scram-sha-256 against the auth_file (and `extra` ini lines).
    fn start_bouncer(&mut self, extra: &str) {
        let runner = Runner::new().expect("runner");
        let port = fixture::free_port().expect("port");
        let pki = self.servers.dir.join("pki");
        let ini = self.dir.join("pgbouncer.ini");
        let conf = format!(
            "[databases]\n* = host=127.0.0.1 port={pg}\n\n[pgbouncer]\n\
             listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = scram-sha-256\nauth_file = {userlist}\n{extra}\
             pool_mode = transaction\nmax_client_conn = 100\ndefault_pool_size = 1\n\
             server_tls_sslmode = verify-ca\nserver_tls_ca_file = {ca}\n\
             client_tls_sslmode = require\nclient_tls_key_file = {key}\nclient_tls_cert_file = {crt}\n\
             logfile = {log}\npidfile = {pid}\n",
            pg = self.servers.pg_port,
            userlist = self.userlist().display(),
            ca = pki.join("ca.crt").display(),
            key = pki.join("server.key").display(),
            crt = pki.join("server.crt").display(),
            log = self.dir.join("pgbouncer.log").display(),
            pid = self.dir.join("pgbouncer.pid").display(),
        );
        fs::write(&ini, conf).expect("ini");
        runner.give(&ini).expect("chown");
        let out = runner
            .command("pgbouncer")
            .arg("-d")
            .arg(&ini)
            .output()
            .expect("run pgbouncer");
        fixture::check(&out, "pgbouncer").expect("pgbouncer starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "pgbouncer did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.bouncer_port = Some(port);
    }

    /// pgbouncer reads its auth_file again.
    fn reload_bouncer(&self) {
        let pid = fs::read_to_string(self.dir.join("pgbouncer.pid")).expect("pid");
        let status = Command::new("kill")
            .args(["-HUP", pid.trim()])
            .status()
            .expect("kill -HUP");
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(300));
    }

    /// The audit rows of `action`: who acted, as the database recorded it
    /// (`ad@example.com as bo@example.com` when an admin's login acts for
    /// Bo).
    fn audit(&self, action: &str) -> Vec<String> {
        self.psql(&format!(
            "SELECT actor_label FROM audit_log WHERE action = '{action}' ORDER BY id"
        ))
        .lines()
        .map(str::to_string)
        .collect()
    }
}

impl Drop for Org {
    fn drop(&mut self) {
        if let Ok(pid) = fs::read_to_string(self.dir.join("pgbouncer.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let prefix = self
            .servers
            .psql(&self.name, "SELECT group_prefix FROM identity_settings")
            .unwrap_or_default();
        let logins = self
            .servers
            .psql(
                &self.name,
                "SELECT string_agg(quote_ident(role_name), ', ') FROM logins",
            )
            .unwrap_or_default();
        let _ = self.servers.psql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
        if !logins.is_empty() {
            let _ = self
                .servers
                .psql("postgres", &format!("DROP ROLE IF EXISTS {logins}"));
        }
        if !prefix.is_empty() {
            for g in ["admin", "coach", "member", "notifier", "pgbouncer"] {
                let _ = self
                    .servers
                    .psql("postgres", &format!("DROP ROLE IF EXISTS {prefix}_{g}"));
            }
        }
        let _ = self
            .servers
            .psql("postgres", &format!("DROP ROLE IF EXISTS {}", self.owner));
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `HH:MM` on a Monday at least two weeks ahead.
fn at(time: &str) -> String {
    use chrono::Datelike;
    let mut d = chrono::Utc::now().date_naive() + chrono::Duration::days(14);
    while d.weekday() != chrono::Weekday::Mon {
        d += chrono::Duration::days(1);
    }
    format!("{d}T{time}")
}

/// psql with a login's URL (TLS, verify-full against the test CA).
fn psql(s: &Servers, url: &str, sql: &str) -> Output {
    Command::new(s.bin.join("psql"))
        .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql])
        .env_remove("PGPASSWORD")
        .env_remove("PGHOST")
        .env_remove("PGUSER")
        .output()
        .expect("run psql")
}

/// What `sql` prints, run with `url`.
#[track_caller]
fn psql_url(s: &Servers, url: &str, sql: &str) -> String {
    let out = psql(s, url, sql);
    assert!(out.status.success(), "psql {sql}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The error `sql` fails with, run with `url`.
#[track_caller]
fn psql_url_err(s: &Servers, url: &str, sql: &str) -> String {
    let out = psql(s, url, sql);
    assert!(!out.status.success(), "psql {sql} should fail: {out:?}");
    String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// The password in a login URL.
fn password_of(url: &str, login: &str) -> String {
    url.split_once(&format!("{login}:"))
        .expect("login in url")
        .1
        .split('@')
        .next()
        .expect("password")
        .to_string()
}

#[test]
fn login_grant_writes_the_verifier_to_the_pgbouncer_file_atomically_and_revoke_takes_it_out() {
    let org = Org::new();
    org.people();
    // pgbouncer's file, owned by its user: coachctl keeps the owner
    let file = org.userlist();
    fs::write(
        &file,
        ";; pgbouncer's users\n\"someone\" \"SCRAM-SHA-256$4096:x$y:z\"\n",
    )
    .expect("userlist");
    Runner::new().expect("runner").give(&file).expect("chown");
    let before = fs::metadata(&file).expect("meta");
    let (bo, url) = org.grant(&["bo@example.com"]);
    let (cy, _) = org.grant(&["cy@example.com"]);
    let text = fs::read_to_string(&file).expect("read");
    let stored = org.psql(&format!(
        "SELECT rolpassword FROM pg_authid WHERE rolname = '{bo}'"
    ));
    assert!(
        text.starts_with(";; pgbouncer's users\n\"someone\" "),
        "{text}"
    );
    assert!(text.contains(&format!("\"{bo}\" \"{stored}\"\n")), "{text}");
    assert!(
        text.contains(&format!("\"{cy}\" \"SCRAM-SHA-256$4096:")),
        "{text}"
    );
    assert!(
        !text.contains(&password_of(&url, &bo)),
        "never the password"
    );
    let meta = fs::metadata(&file).expect("meta");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!((meta.uid(), meta.gid()), (before.uid(), before.gid()));
    // a new password replaces the line
    org.owner(&[
        "login",
        "grant",
        "bo@example.com",
        "--rotate",
        "--pgbouncer-file",
        file.to_str().unwrap(),
    ])
    .ok();
    let text = fs::read_to_string(&file).expect("read");
    let rotated = org.psql(&format!(
        "SELECT rolpassword FROM pg_authid WHERE rolname = '{bo}'"
    ));
    assert_ne!(stored, rotated);
    assert_eq!(text.matches(&format!("\"{bo}\"")).count(), 1, "{text}");
    assert!(
        text.contains(&format!("\"{bo}\" \"{rotated}\"\n")),
        "{text}"
    );
    org.owner(&[
        "login",
        "revoke",
        "bo@example.com",
        "--pgbouncer-file",
        file.to_str().unwrap(),
    ])
    .ok();
    let text = fs::read_to_string(&file).expect("read");
    assert!(!text.contains(&bo), "{text}");
    assert!(text.contains(&cy) && text.contains("\"someone\""), "{text}");
    // no temporary file is left beside it
    let left: Vec<_> = fs::read_dir(&org.dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("coachctl"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_pgbouncer_file_that_cannot_be_written_exits_3_and_grants_nothing() {
    let org = Org::new();
    org.people();
    let missing = org.dir.join("no-such-dir").join("userlist.txt");
    let r = org.owner(&[
        "login",
        "grant",
        "bo@example.com",
        "--pgbouncer-file",
        missing.to_str().unwrap(),
    ]);
    let err = r.refused(&[3]);
    assert!(
        err.contains("cannot write the pgbouncer auth file"),
        "{err}"
    );
    let dir = org.dir.to_str().unwrap().to_string();
    let err = org
        .owner(&["login", "grant", "bo@example.com", "--pgbouncer-file", &dir])
        .refused(&[3])
        .to_string();
    assert!(err.contains("it is a directory"), "{err}");
    assert_eq!(org.psql("SELECT count(*) FROM logins"), "0");
}

#[test]
fn a_members_login_through_pgbouncer_sees_only_their_own_sessions_and_books() {
    let mut org = Org::new();
    org.people();
    let (_, bo) = org.grant(&["bo@example.com"]);
    org.grant(&["cy@example.com"]);
    org.start_bouncer("");
    let bo = org.pooled(&bo);
    let list = run(coachctl(&bo), &["session", "list", "-o", "json"]).json();
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["member_email"], "bo@example.com");
    let b = run(
        coachctl(&bo),
        &[
            "book",
            "--coach",
            "ana@example.com",
            "--member",
            "bo@example.com",
            "--at",
            &at("09:00"),
            "-o",
            "json",
        ],
    )
    .json();
    assert_eq!(b["status"], "confirmed", "{b}");
    let list = run(coachctl(&bo), &["session", "list", "-o", "json"]).json();
    assert_eq!(list.as_array().expect("array").len(), 2, "{list}");
    // the booking's audit row is Bo's, stamped by the database
    let rows = org.psql(
        "SELECT count(*) FROM audit_log WHERE actor_label = 'bo@example.com' \
         AND action = 'booking.confirm'",
    );
    assert_eq!(rows, "1");
    // Cy's session is not there for Bo's login, whatever SQL it sends
    let seen = psql_url(&org.servers, &bo, "SELECT count(*) FROM sessions");
    assert_eq!(seen, "2");
}

#[test]
fn an_admins_login_acts_as_through_pgbouncer_and_interleaved_transactions_never_inherit_it() {
    let mut org = Org::new();
    org.people();
    let (_, ad) = org.grant(&["ad@example.com"]);
    org.start_bouncer("");
    let ad = org.pooled(&ad);
    // Acting as Bo (an autocommit booking and a transaction), then the same
    // login as itself on the same server connection (a pool of one).
    run(
        coachctl(&ad),
        &[
            "--as",
            "bo@example.com",
            "book",
            "--coach",
            "ana@example.com",
            "--at",
            &at("09:00"),
        ],
    )
    .ok();
    run(
        coachctl(&ad),
        &[
            "--as",
            "bo@example.com",
            "member",
            "update",
            "bo@example.com",
            "--name",
            "Bo A",
        ],
    )
    .ok();
    run(
        coachctl(&ad),
        &["member", "update", "cy@example.com", "--name", "Cy A"],
    )
    .ok();
    // and both at once, many times over, behind a barrier
    let rounds = 6;
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = [true, false]
        .into_iter()
        .map(|acting| {
            let ad = ad.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..rounds {
                    let args: Vec<String> = if acting {
                        [
                            "--as",
                            "bo@example.com",
                            "member",
                            "update",
                            "bo@example.com",
                            "--name",
                        ]
                        .iter()
                        .map(|s| s.to_string())
                        .chain([format!("Bo {i}")])
                        .collect()
                    } else {
                        ["member", "update", "cy@example.com", "--name"]
                            .iter()
                            .map(|s| s.to_string())
                            .chain([format!("Cy {i}")])
                            .collect()
                    };
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    run(coachctl(&ad), &args).ok();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    let bo_id = org.psql("SELECT id FROM users WHERE email = 'bo@example.com'");
    let cy_id = org.psql("SELECT id FROM users WHERE email = 'cy@example.com'");
    let by = |target: &str| -> Vec<String> {
        org.psql(&format!(
            "SELECT actor_label || ' ' || (actor_id = '{target}') \
             FROM audit_log WHERE action = 'member.update' AND entity_id = '{target}' ORDER BY id"
        ))
        .lines()
        .map(str::to_string)
        .collect()
    };
    let for_bo = by(&bo_id);
    assert_eq!(for_bo.len(), rounds + 1, "{for_bo:?}");
    for row in &for_bo {
        assert_eq!(row, "ad@example.com as bo@example.com true", "{for_bo:?}");
    }
    let for_cy = by(&cy_id);
    assert_eq!(for_cy.len(), rounds + 1, "{for_cy:?}");
    for row in &for_cy {
        assert_eq!(row, "ad@example.com false", "{for_cy:?}");
    }
    let booked = org.audit("booking.confirm");
    assert_eq!(
        booked.last().map(String::as_str),
        Some("ad@example.com as bo@example.com"),
        "{booked:?}"
    );
}

#[test]
fn a_revoked_login_is_refused_through_pgbouncer() {
    let mut org = Org::new();
    org.people();
    let (_, bo) = org.grant(&["bo@example.com"]);
    org.start_bouncer("");
    let bo = org.pooled(&bo);
    run(coachctl(&bo), &["session", "list"]).ok();
    let file = org.userlist();
    org.owner(&[
        "login",
        "revoke",
        "bo@example.com",
        "--pgbouncer-file",
        file.to_str().unwrap(),
    ])
    .ok();
    // pgbouncer still knows the verifier: the server refuses the role
    let err = run(coachctl(&bo), &["session", "list"])
        .refused(&[8, 4])
        .to_string();
    assert!(!err.contains("pgbouncer"), "{err}");
    // after a reload pgbouncer itself refuses it
    org.reload_bouncer();
    run(coachctl(&bo), &["session", "list"]).refused(&[8, 4]);
}

#[test]
fn pgbouncer_auth_query_reads_the_verifiers_of_this_databases_logins_only() {
    let mut org = Org::new();
    org.people();
    let (_, bo) = org.grant(&["bo@example.com"]);
    // pgbouncer's own login; its password goes in the auth_file by hand
    let g = org
        .owner(&["login", "grant", "--service", "pgbouncer", "-o", "json"])
        .json();
    let auth_user = g["login"].as_str().unwrap().to_string();
    let password = password_of(g["url"].as_str().unwrap(), &auth_user);
    let file = org.userlist();
    // coachctl writes no password to a file, and a verifier would not do
    let err = org
        .owner(&[
            "login",
            "grant",
            "--service",
            "pgbouncer",
            "--rotate",
            "--pgbouncer-file",
            file.to_str().unwrap(),
        ])
        .refused(&[3])
        .to_string();
    assert!(err.contains("needs its password in the auth_file"), "{err}");
    fs::write(&file, format!("\"{auth_user}\" \"{password}\"\n")).expect("userlist");
    Runner::new().expect("runner").give(&file).expect("chown");
    // the one superuser step: the function reads pg_shadow
    org.psql(&format!(
        "ALTER FUNCTION pgbouncer_get_auth(text) OWNER TO {}",
        fixture::ADMIN
    ));
    org.start_bouncer(&format!(
        "auth_user = {auth_user}\nauth_query = SELECT usename, passwd FROM pgbouncer_get_auth($1)\n"
    ));
    let bo = org.pooled(&bo);
    let list = run(coachctl(&bo), &["session", "list", "-o", "json"]).json();
    assert_eq!(list.as_array().expect("array").len(), 1, "{list}");
    // the function answers for this database's person logins only
    let as_auth_user = org.servers.direct_url(&auth_user, &password, &org.name);
    let owner_row = psql_url(
        &org.servers,
        &as_auth_user,
        &format!("SELECT count(*) FROM pgbouncer_get_auth('{}')", org.owner),
    );
    assert_eq!(owner_row, "0");
    let own_row = psql_url(
        &org.servers,
        &as_auth_user,
        &format!("SELECT count(*) FROM pgbouncer_get_auth('{auth_user}')"),
    );
    assert_eq!(own_row, "0");
    // and nothing else: no table is granted to pgbouncer's login
    let users = psql_url_err(&org.servers, &as_auth_user, "SELECT count(*) FROM users");
    assert!(users.contains("permission denied"), "{users}");
    // a person's login may not run it
    let direct_bo = bo.replace(
        &format!(":{}/", org.bouncer_port.unwrap()),
        &format!(":{}/", org.servers.pg_port),
    );
    let err = psql_url_err(
        &org.servers,
        &direct_bo,
        "SELECT * FROM pgbouncer_get_auth('x')",
    );
    assert!(err.contains("permission denied"), "{err}");
}

#[test]
fn csv_lists_and_exports_through_pgbouncer_match_the_owners_direct_bytes_for_each_actor() {
    // issue 23: `member list -o csv` and `member export` run as COPY in a
    // transaction of their own, so an admin's login acting for someone
    // reads what that person may read (the prelude rides with its BEGIN)
    let mut org = Org::new();
    org.people();
    org.owner(&[
        "member",
        "update",
        "bo@example.com",
        "--goals",
        "run, \"far\"",
    ])
    .ok();
    org.owner(&[
        "--as",
        "bo@example.com",
        "member",
        "sharing",
        "--goals",
        "off",
        "-o",
        "json",
    ])
    .ok();
    let (_, ad) = org.grant(&["ad@example.com"]);
    org.start_bouncer("");
    let ad = org.pooled(&ad);
    for who in [None, Some("ana@example.com"), Some("bo@example.com")] {
        for cmd in [&["member", "list", "-o", "csv"][..], &["member", "export"]] {
            let mut args: Vec<&str> = who.map(|w| vec!["--as", w]).unwrap_or_default();
            args.extend(cmd);
            let direct = org.owner(&args).ok().to_string();
            let pooled = run(coachctl(&ad), &args).ok().to_string();
            assert_eq!(pooled, direct, "{args:?}");
            assert!(direct.lines().count() > 1, "{args:?}: {direct}");
            if who == Some("ana@example.com") {
                assert!(!direct.contains("far"), "a coach sees no unshared goals");
            }
        }
    }
}
