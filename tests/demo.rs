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
