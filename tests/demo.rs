//! `coachctl demo`: seeds idempotently and shows what each coach looks at.

mod common;

#[test]
fn the_demo_seeds_coaches_in_three_zones_and_a_dozen_members_idempotently() {
    let db = common::TestDb::new();
    let first = db.run(&["demo", "-o", "json"]).json();
    let second = db.run(&["demo", "-o", "json"]).json();
    let coaches = first.as_array().expect("an array of coaches");
    assert_eq!(coaches.len(), 3);
    let zones: std::collections::BTreeSet<_> = coaches
        .iter()
        .map(|c| c["timezone"].as_str().unwrap())
        .collect();
    assert_eq!(zones.len(), 3);
    for c in coaches {
        assert_eq!(
            c["member_count"].as_u64(),
            Some(c["members"].as_array().unwrap().len() as u64)
        );
    }
    assert_eq!(first, second, "a second run changes nothing");
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM users WHERE role = 'coach'"),
        3
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM users WHERE role = 'member'"),
        12
    );
    let table = db.run(&["demo"]);
    assert!(table.ok().contains("Ana Berger"));
}

#[test]
fn twenty_demos_at_once_on_a_fresh_home_all_succeed_and_leave_one_organisation() {
    let home = tempfile::tempdir().unwrap();
    let coachctl = |args: &[&str]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_coachctl"));
        c.env("COACHCTL_HOME", home.path())
            .env_remove("DATABASE_URL")
            .env_remove("COACHCTL_AS")
            .env_remove("COACHCTL_OUTPUT")
            .args(args);
        c
    };
    struct Stop<F: Fn()>(F);
    impl<F: Fn()> Drop for Stop<F> {
        fn drop(&mut self) {
            (self.0)()
        }
    }
    let _stop = Stop(|| {
        let _ = coachctl(&["db", "down"]).output();
    });
    let gate = home.path().join("go");
    let children: Vec<_> = (0..20)
        .map(|_| {
            let c = coachctl(&["demo", "-o", "json"]);
            std::process::Command::new("sh")
                .arg("-c")
                .arg("while [ ! -e \"$GO\" ]; do sleep 0.005; done; exec \"$@\"")
                .arg("sh")
                .arg(c.get_program())
                .args(c.get_args())
                .envs(c.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
                .env_remove("DATABASE_URL")
                .env_remove("COACHCTL_AS")
                .env_remove("COACHCTL_OUTPUT")
                .env("GO", &gate)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    std::fs::write(&gate, b"").unwrap();
    for (code, err) in common::outcomes(children) {
        assert_eq!(code, 0, "a concurrent demo failed: {err}");
    }
    let json = |args: &[&str]| -> serde_json::Value {
        common::Run::from(coachctl(args).output().unwrap()).json()
    };
    assert_eq!(
        json(&["coach", "list", "-o", "json"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        json(&["member", "list", "-o", "json"])
            .as_array()
            .unwrap()
            .len(),
        12
    );
    let sessions = json(&["session", "list", "--status", "scheduled", "-o", "json"]);
    let mut per_member = std::collections::BTreeMap::<String, usize>::new();
    for s in sessions.as_array().unwrap() {
        *per_member
            .entry(s["member_email"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert!(!per_member.is_empty(), "the demo books sessions");
    // Bo's program runs a series of its own: one enrolment, whoever ran first.
    let series = per_member.remove("bo.lind@example.com").unwrap_or(0);
    let enrolments = json(&["program", "list", "--enrolments", "-o", "json"]);
    assert_eq!(enrolments.as_array().unwrap().len(), 1, "{enrolments}");
    let program = enrolments[0]["remaining"].as_u64().unwrap() as usize;
    assert!(
        series == program || series == program + 1,
        "{series} {enrolments}"
    );
    assert!(
        per_member.values().all(|n| *n == 1),
        "a member got more than one demo session: {per_member:?}"
    );
}

#[test]
fn the_demo_has_one_pending_invitation_one_connection_request_and_a_short_conversation() {
    let db = common::TestDb::new();
    let runs = (0..3).map(|_| vec!["demo".to_string()]).collect();
    for (code, err) in common::race(&db, runs) {
        assert_eq!(code, 0, "{err}");
    }
    db.run(&["demo"]).ok();
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM invitations WHERE status = 'pending'"),
        1
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM connections WHERE status = 'pending'"),
        1
    );
    assert_eq!(db.scalar::<i64>("SELECT count(*) FROM messages"), 3);
    let unread = db.run_as("bo.lind@example.com", &["message", "list", "--unread"]);
    assert_eq!(unread.ok().trim(), "2");
}
