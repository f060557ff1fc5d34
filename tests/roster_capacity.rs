//! `member import` and a coach's seats: the seats a file frees count first,
//! wherever they are in the file, then each row taking a seat in file
//! order, until the coach is full (README, "Rosters").

mod common;

use std::io::Write;

use common::TestDb;

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(text.as_bytes()).expect("write roster");
    f
}

/// Ana, full with two seats (Xa, Ya), and Bo, full with one (Zo).
fn two_full_coaches() -> TestDb {
    let db = TestDb::new();
    db.coach("ana").max_members(2).create();
    db.coach("bo").max_members(1).create();
    db.member("xa").assigned_to("ana").create();
    db.member("ya").assigned_to("ana").create();
    db.member("zo").assigned_to("bo").create();
    db
}

fn seats(db: &TestDb) -> String {
    db.scalar::<String>(
        "SELECT string_agg(u.email || '=' || c.member_count, ' ' ORDER BY u.email)
         FROM coach_profiles c JOIN users u ON u.id = c.user_id",
    )
}

#[test]
fn a_seat_freed_on_a_later_line_makes_room_for_an_earlier_one() {
    let db = two_full_coaches();
    let f = file(
        "email,name,coach\n\
         new@example.com,New,ana@example.com\n\
         xa@example.com,Xa,\n",
    );
    let p = f.path().to_str().expect("utf-8 path");
    let out = db.run(&["member", "import", p, "--update"]);
    assert!(out.ok().contains("created 1, updated 1"), "{out:?}");
    assert_eq!(seats(&db), "ana@example.com=2 bo@example.com=1");
}

#[test]
fn members_swapped_between_two_full_coaches_fit() {
    let db = two_full_coaches();
    let f = file(
        "email,name,coach\n\
         xa@example.com,Xa,bo@example.com\n\
         zo@example.com,Zo,ana@example.com\n",
    );
    let p = f.path().to_str().expect("utf-8 path");
    let out = db.run(&["member", "import", p, "--update"]);
    assert!(out.ok().contains("updated 2"), "{out:?}");
    assert_eq!(seats(&db), "ana@example.com=2 bo@example.com=1");
}

#[test]
fn takes_beyond_the_freed_seats_are_refused_on_their_own_lines_and_nothing_is_written() {
    let db = two_full_coaches();
    let f = file(
        "email,name,coach\n\
         n1@example.com,N1,ana@example.com\n\
         n2@example.com,N2,bo@example.com\n\
         xa@example.com,Xa,\n\
         n3@example.com,N3,ana@example.com\n\
         n4@example.com,N4,ana@example.com\n",
    );
    let p = f.path().to_str().expect("utf-8 path");
    let err = db
        .run(&["member", "import", p, "--update"])
        .fails_with(3)
        .to_string();
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(
        lines,
        [
            "line 3: coach bo@example.com is at capacity (1 members, 1 now): this row would be one too many; raise their max members or assign fewer",
            "line 5: coach ana@example.com is at capacity (2 members, 2 now): this row would be one too many; raise their max members or assign fewer",
            "line 6: coach ana@example.com is at capacity (2 members, 2 now): this row would be one too many; raise their max members or assign fewer",
        ],
        "{err}"
    );
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM users WHERE role = 'member'"),
        3
    );
    assert_eq!(seats(&db), "ana@example.com=2 bo@example.com=1");
}
