//! Capacity holds under races: real OS processes assigning at once.

mod common;

use common::TestDb;

#[test]
fn sixteen_processes_assigning_to_a_coach_with_room_for_five_leave_exactly_five() {
    let db = TestDb::new();
    let coach = db.coach("ana").max_members(5).create();
    let members: Vec<String> = (0..16)
        .map(|i| {
            let email = format!("m{i}@example.com");
            db.member(&email).name("M").create()
        })
        .collect();
    let runs = members
        .iter()
        .map(|m| {
            ["member", "assign", m, "--coach", &coach]
                .map(String::from)
                .to_vec()
        })
        .collect();
    let results = common::race(&db, runs);
    let ok = results.iter().filter(|(c, _)| *c == 0).count();
    let full = results.iter().filter(|(c, _)| *c == 6).count();
    for (code, err) in &results {
        assert!(
            *code == 0 || (*code == 6 && err.contains("at capacity")),
            "exit {code}: {err}"
        );
    }
    assert_eq!((ok, full), (5, 11));
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM member_profiles WHERE coach_id IS NOT NULL"),
        5
    );
    assert_eq!(
        db.scalar::<i32>("SELECT member_count FROM coach_profiles"),
        5
    );
}

#[test]
fn the_database_itself_refuses_a_sixth_member_even_from_raw_sql() {
    let db = TestDb::new();
    db.coach("ana").max_members(1).create();
    for i in 0..2 {
        db.member(&format!("m{i}@example.com")).name("M").create();
    }
    let result: Result<u64, String> = common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::query("UPDATE member_profiles SET coach_id = (SELECT user_id FROM coach_profiles)")
            .execute(&pool)
            .await
            .map(|r| r.rows_affected())
            .map_err(|e| e.to_string())
    });
    assert!(
        result.is_err(),
        "a buggy path overfilled the coach: {result:?}"
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM member_profiles WHERE coach_id IS NOT NULL"),
        0
    );
}
