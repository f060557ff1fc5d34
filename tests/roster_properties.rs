//! Random valid rosters import and export to the same set (issue 11 item
//! 6): names and goals with commas, quotes, newlines and formula starts,
//! any case of email, every zone, coach and status; and a second import of
//! the export changes nothing.

mod common;

use std::collections::BTreeSet;

use coachctl::actor::Actor;
use coachctl::roster::{self, Options, Quiet};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Member {
    email: String,
    name: String,
    goals: String,
    timezone: &'static str,
    coach: Option<usize>,
    status: &'static str,
}

const COACHES: [&str; 2] = ["ana@example.com", "cy@example.com"];

fn member() -> impl Strategy<Value = Member> {
    (
        "[a-zA-Z][a-zA-Z0-9._+-]{0,8}",
        "[A-Za-zÀ-ÿ ,\"'=+@-]{0,12}[A-Za-zÀ-ÿ]",
        "[a-z ,\"'=+@\n-]{0,20}",
        prop::sample::select(vec![
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kolkata",
        ]),
        prop::option::of(0..COACHES.len()),
        prop::sample::select(vec!["active", "inactive", "paused"]),
    )
        .prop_map(|(local, name, goals, timezone, coach, status)| Member {
            email: format!("{local}@Example.com"),
            name,
            goals,
            timezone,
            coach,
            status,
        })
}

type Tuple = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    String,
);

/// What the database should hold for a member: the canonical forms.
fn expected(i: usize, m: &Member) -> Tuple {
    let goals = m.goals.trim().to_string();
    (
        format!("{i}.{}", m.email).to_lowercase(),
        m.name.trim().to_string(),
        (!goals.is_empty()).then_some(goals),
        m.timezone.to_string(),
        m.coach.map(|c| COACHES[c].to_string()),
        m.status.to_string(),
    )
}

fn roster_file(members: &[Member]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "email",
        "name",
        "goals",
        "timezone",
        "coach",
        "membership_status",
    ])
    .unwrap();
    for (i, m) in members.iter().enumerate() {
        let g = roster::csv_file::guard;
        w.write_record([
            format!("{i}.{}", m.email),
            g(&m.name),
            g(&m.goals),
            m.timezone.to_string(),
            m.coach.map(|c| COACHES[c].to_string()).unwrap_or_default(),
            m.status.to_string(),
        ])
        .unwrap();
    }
    w.into_inner().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn a_random_valid_roster_imports_and_exports_to_the_same_set(
        members in prop::collection::vec(member(), 1..25)
    ) {
        let rt = common::runtime();
        let db = rt.block_on(common::TestDb::new_async());
        rt.block_on(async {
            let pool = db.pool().await;
            for c in COACHES {
                sqlx::query("WITH u AS (INSERT INTO users (id, email, name, role)
                        VALUES (gen_random_uuid(), $1, 'Coach', 'coach') RETURNING id)
                     INSERT INTO coach_profiles (user_id, max_members) SELECT id, 100 FROM u")
                    .bind(c).execute(&pool).await.unwrap();
            }
            let admin = Actor::operator();
            let file = roster_file(&members);
            let report = roster::import(&pool, &admin, &file, &Options::default(), &Quiet)
                .await
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&file)));
            assert_eq!(report.created, members.len());

            let want: BTreeSet<Tuple> = members.iter().enumerate().map(|(i, m)| expected(i, m)).collect();
            let records = roster::export(&pool, &admin, None).await.unwrap();
            let got: BTreeSet<Tuple> = records.iter().map(|r| (
                r.email.clone(), r.name.clone(), r.goals.clone(), r.timezone.clone(),
                r.coach.clone(), r.membership_status.clone(),
            )).collect();
            assert_eq!(&got, &want);

            // The exported file reads back as the same rows, and importing
            // it changes nothing.
            let mut text = Vec::new();
            roster::csv_file::write(&records, &mut text).unwrap();
            let again = roster::import(&pool, &admin, &text, &Options::default(), &Quiet)
                .await
                .unwrap();
            assert_eq!((again.created, again.updated, again.unchanged), (0, 0, members.len()));
            pool.close().await;
        });
    }
}
