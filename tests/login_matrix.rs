//! Every command a person may run works under their own login (issue 17,
//! item 4), and what the permission matrix refuses stays refused: the same
//! commands as tests/relations_matrix.rs and the everyday ones, each person
//! connected with the login `login grant` gave them instead of `--as`.
//! The cron job's login sends and reminds, and does nothing else.

mod common;

#[path = "support/sink.rs"]
mod sink;

use common::{TestDb, ana_with_monday_mornings, monday};

struct Org {
    db: TestDb,
    ad: String,
    ana: String,
    bo: String,
}

impl Org {
    /// Ana (coach) with Bo assigned and Monday mornings, admin Ad, member
    /// Cy of no one; a login each for Ad, Ana and Bo.
    fn new() -> Org {
        common::password_logins();
        let db = TestDb::new();
        ana_with_monday_mornings(&db);
        db.run(&[
            "admin",
            "create",
            "--email",
            "ad@example.com",
            "--name",
            "Ad",
        ])
        .ok();
        db.member("cy").create();
        let ad = db.login_url(&["ad@example.com"]);
        let ana = db.login_url(&["ana@example.com"]);
        let bo = db.login_url(&["bo@example.com"]);
        Org { db, ad, ana, bo }
    }

    #[track_caller]
    fn ok(&self, url: &str, args: &[&str]) -> String {
        let run = self.db.run_with(url, args);
        assert_eq!(run.code, 0, "{args:?} under a login: {run:#?}");
        run.stdout
    }

    #[track_caller]
    fn refused(&self, url: &str, code: i32, args: &[&str]) -> String {
        let run = self.db.run_with(url, args);
        let err = run.fails_with(code).to_string();
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("internal error"), "{args:?}: {err}");
        err
    }
}

impl Drop for Org {
    fn drop(&mut self) {
        common::drop_logins(&self.db.url);
    }
}

fn at(time: &str) -> String {
    format!("{}T{time}", monday())
}

#[test]
fn a_member_books_reads_and_cancels_their_own_sessions_under_their_login() {
    let org = Org::new();
    let bo = org.bo.clone();
    org.ok(&bo, &["member", "show", "bo@example.com"]);
    org.ok(
        &bo,
        &[
            "slots",
            "--coach",
            "ana@example.com",
            "--from",
            &monday().to_string(),
            "--days",
            "1",
        ],
    );
    let s = org
        .ok(
            &bo,
            &[
                "book",
                "--coach",
                "ana@example.com",
                "--at",
                &at("09:00"),
                "-o",
                "ids",
            ],
        )
        .trim()
        .to_string();
    let list = org.ok(&bo, &["session", "list", "-o", "json"]);
    assert!(list.contains(&s), "{list}");
    org.ok(&bo, &["session", "show", &s]);
    org.ok(&bo, &["member", "sharing", "--goals", "off"]);
    org.ok(
        &bo,
        &["member", "update", "bo@example.com", "--name", "Bo Lind"],
    );
    org.ok(
        &bo,
        &[
            "message",
            "send",
            "--to",
            "ana@example.com",
            "--text",
            "hello",
        ],
    );
    org.ok(&bo, &["message", "list"]);
    org.ok(&bo, &["--yes", "session", "cancel", &s, "--reason", "ill"]);
    org.db.assert_invariants();
}

#[test]
fn a_coach_reads_their_member_and_works_their_schedule_under_their_login() {
    let org = Org::new();
    org.db
        .run(&[
            "member",
            "update",
            "bo@example.com",
            "--goals",
            "run 10k",
            "--health-info",
            "knee",
        ])
        .ok();
    let ana = org.ana.clone();
    let shown = org.ok(&ana, &["member", "show", "bo@example.com", "-o", "json"]);
    assert!(shown.contains("run 10k"), "Bo shares his goals: {shown}");
    assert!(
        !shown.contains("knee"),
        "not his health information: {shown}"
    );
    org.ok(&ana, &["member", "list"]);
    org.ok(
        &ana,
        &[
            "member",
            "update",
            "bo@example.com",
            "--coach-notes",
            "keen",
        ],
    );
    org.ok(
        &ana,
        &[
            "availability",
            "add",
            "--day",
            "tue",
            "--start",
            "09:00",
            "--end",
            "10:00",
        ],
    );
    let s = org
        .ok(
            &ana,
            &[
                "session",
                "create",
                "--member",
                "bo@example.com",
                "--at",
                &at("10:15"),
                "-o",
                "ids",
            ],
        )
        .trim()
        .to_string();
    org.ok(&ana, &["session", "note", &s, "--text", "bring shoes"]);
    org.ok(&ana, &["session", "list"]);
    org.ok(
        &ana,
        &["coach", "update", "ana@example.com", "--bio", "runner"],
    );
    org.ok(&ana, &["invite", "send", "--email", "new@example.com"]);
    let bo_sees = org.ok(
        &org.bo.clone(),
        &["member", "show", "bo@example.com", "-o", "json"],
    );
    assert!(
        !bo_sees.contains("keen"),
        "the coach's notes are hers: {bo_sees}"
    );
}

#[test]
fn an_admins_login_runs_the_admin_commands() {
    let org = Org::new();
    let ad = org.ad.clone();
    org.ok(
        &ad,
        &[
            "coach",
            "create",
            "--email",
            "cal@example.com",
            "--name",
            "Cal",
        ],
    );
    org.ok(
        &ad,
        &[
            "member",
            "assign",
            "cy@example.com",
            "--coach",
            "cal@example.com",
        ],
    );
    org.ok(&ad, &["member", "list"]);
    org.ok(&ad, &["session", "list"]);
    org.ok(&ad, &["audit", "list"]);
    org.ok(&ad, &["login", "list"]);
}

#[test]
fn what_the_matrix_refuses_stays_refused_under_a_login() {
    let org = Org::new();
    let ana = org.ana.clone();
    let bo = org.bo.clone();
    let before: i64 = org.db.scalar("SELECT count(*) FROM audit_log");
    org.refused(
        &ana,
        4,
        &["member", "sharing", "bo@example.com", "--health-info", "on"],
    );
    org.refused(
        &bo,
        4,
        &["coach", "update", "ana@example.com", "--bio", "x"],
    );
    org.refused(
        &bo,
        4,
        &["coach", "create", "--email", "x@example.com", "--name", "X"],
    );
    org.refused(&bo, 5, &["member", "show", "cy@example.com"]);
    org.refused(&ana, 5, &["member", "show", "cy@example.com"]);
    org.refused(&bo, 4, &["login", "list"]);
    assert_eq!(
        org.db.scalar::<i64>("SELECT count(*) FROM audit_log"),
        before
    );
}

#[test]
fn the_cron_jobs_login_reminds_and_sends_and_does_nothing_else() {
    let org = Org::new();
    org.db.book("ana", "bo", &at("09:00")).ok();
    let cron = org.db.login_url(&["--service", "notifier"]);
    org.ok(&cron, &["session", "remind"]);
    let sink = sink::Sink::start();
    let sent = common::Run::from(
        org.db
            .cmd()
            .env("DATABASE_URL", &cron)
            .env("COACHCTL_SMTP_URL", sink.url())
            .args(["notify", "send"])
            .output()
            .expect("run"),
    );
    sent.ok();
    assert!(sink.count() > 0, "the booking's notices went out");
    let queued: i64 = org
        .db
        .scalar("SELECT count(*) FROM outbox WHERE status = 'queued'");
    assert_eq!(queued, 0);
    let before: i64 = org.db.scalar("SELECT count(*) FROM audit_log");
    org.refused(
        &cron,
        4,
        &["coach", "create", "--email", "x@example.com", "--name", "X"],
    );
    org.refused(&cron, 4, &["member", "list"]);
    org.refused(&cron, 4, &["notify", "retry", "--all-failed"]);
    org.refused(&cron, 4, &["--as", "ana@example.com", "session", "list"]);
    org.refused(&cron, 4, &["login", "grant", "bo@example.com", "--rotate"]);
    assert_eq!(
        org.db.scalar::<i64>("SELECT count(*) FROM audit_log"),
        before
    );
}

#[test]
fn a_proposal_an_invitation_and_a_connection_run_their_course_under_logins() {
    let org = Org::new();
    let ana = org.ana.clone();
    let bo = org.bo.clone();
    let cy = org.db.login_url(&["cy@example.com"]);
    let s = org
        .ok(
            &ana,
            &[
                "session",
                "create",
                "--member",
                "bo@example.com",
                "--at",
                &at("10:15"),
                "-o",
                "ids",
            ],
        )
        .trim()
        .to_string();
    org.ok(&bo, &["session", "accept", &s]);
    org.ok(&bo, &["session", "reschedule", &s, "--at", &at("09:00")]);
    org.ok(&ana, &["session", "export", "--ics"]);
    org.ok(&bo, &["member", "privacy", "bo@example.com", "public"]);
    org.ok(&bo, &["member", "history"]);
    org.ok(&bo, &["member", "dashboard"]);
    org.ok(&ana, &["coach", "dashboard"]);
    org.ok(&ana, &["connect", "search", "--name", "Bo"]);
    let code = org
        .ok(
            &ana,
            &["invite", "send", "--email", "cy@example.com", "-o", "ids"],
        )
        .trim()
        .to_string();
    org.ok(&ana, &["invite", "list"]);
    org.ok(&cy, &["invite", "list"]);
    // `invite accept` under the invited member's own login is not there
    // yet (it writes the invitation, the connection and the assignment,
    // which a member's grants do not allow): see the report of issue 17.
    let _ = code;
    org.ok(&bo, &["connect", "list"]);
    org.ok(
        &bo,
        &[
            "message",
            "send",
            "--to",
            "ana@example.com",
            "--text",
            "thanks",
        ],
    );
    org.ok(&ana, &["message", "list", "--with", "bo@example.com"]);
    org.db.assert_invariants();
}

#[test]
fn booking_policies_work_under_logins_limits_waitlist_offers_and_no_shows() {
    let org = Org::new();
    let (ana, bo) = (org.ana.clone(), org.bo.clone());
    let cy = org.db.login_url(&["cy@example.com"]);
    org.db.assign("cy", "ana");
    org.ok(
        &ana,
        &[
            "coach",
            "update",
            "ana@example.com",
            "--max-per-day",
            "1",
            "--cancel-notice",
            "24",
            "--waitlist-offer",
            "60",
        ],
    );
    let shown = org.ok(&ana, &["coach", "show", "ana@example.com", "-o", "json"]);
    assert!(shown.contains("\"max_per_day\":1"), "{shown}");
    org.ok(
        &bo,
        &["book", "--coach", "ana@example.com", "--at", &at("09:00")],
    );
    let err = org.refused(
        &cy,
        6,
        &["book", "--coach", "ana@example.com", "--at", &at("10:15")],
    );
    assert!(err.contains("at most 1"), "the day is at its limit: {err}");
    org.ok(
        &ana,
        &["coach", "update", "ana@example.com", "--no-max-per-day"],
    );
    // a one-seat Tuesday slot: Bo takes it, Cy queues
    common::window(
        &org.db,
        "ana@example.com",
        "tue",
        ("09:00", "10:00"),
        60,
        15,
        1,
    );
    let tuesday = format!("{}T09:00", monday() + chrono::Duration::days(1));
    let seat = org
        .ok(
            &bo,
            &[
                "book",
                "--coach",
                "ana@example.com",
                "--at",
                &tuesday,
                "-o",
                "ids",
            ],
        )
        .trim()
        .to_string();
    let queued = org.ok(
        &cy,
        &[
            "book",
            "--coach",
            "ana@example.com",
            "--at",
            &tuesday,
            "--waitlist",
            "-o",
            "json",
        ],
    );
    assert!(queued.contains("waitlisted"), "{queued}");
    let mine = org.ok(&cy, &["waitlist", "list", "-o", "json"]);
    assert!(mine.contains("ana@example.com"), "{mine}");
    assert!(
        !org.ok(&bo, &["waitlist", "list", "-o", "json"])
            .contains("cy@"),
        "Bo does not see Cy's place"
    );
    let hers = org.ok(&ana, &["waitlist", "list", "-o", "json"]);
    assert!(hers.contains("cy@example.com"), "{hers}");
    // Bo's cancel hands the seat to Cy as an offer she accepts under her login
    org.ok(&bo, &["-y", "session", "cancel", &seat]);
    let offers = org.ok(&cy, &["session", "list", "-o", "json"]);
    let offer: serde_json::Value = serde_json::from_str(&offers).unwrap();
    let id = offer[0]["id"].as_str().expect("Cy was offered the seat");
    assert_eq!(offer[0]["status"], "proposed", "{offers}");
    org.ok(&cy, &["session", "accept", id]);
    // a no-show before the start is refused under Ana's login as for --as
    org.refused(&ana, 7, &["session", "no-show", id]);
    // Bo is not part of it: to him it does not exist
    org.refused(&bo, 5, &["session", "no-show", id]);
}
