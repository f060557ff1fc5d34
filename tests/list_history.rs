//! Lists flat in history (issue 23, item 3): `session list --coach` and
//! `--member` read an index range on start time, so a coach with 200,000
//! past sessions costs what one with 20,000 does. Held by the plan the
//! list's own statement runs (`EXPLAIN ANALYZE`): the rows it examines,
//! not a timing.

mod common;

use coachctl::actor::Actor;
use coachctl::domain::UserRef;
use coachctl::session::{self, Filter};
use common::{TestDb, ana_with_monday_mornings, monday};
use serde_json::Value;

/// Rows the plan read from `sessions`: returned plus filtered away, over
/// every loop of every node that scans it.
fn sessions_rows_examined(plan: &Value) -> f64 {
    fn walk(node: &Value, sum: &mut f64) {
        if node["Relation Name"] == "sessions" {
            let n = |k: &str| node[k].as_f64().unwrap_or(0.0);
            *sum += (n("Actual Rows")
                + n("Rows Removed by Filter")
                + n("Rows Removed by Index Recheck"))
                * n("Actual Loops").max(1.0);
        }
        if let Some(children) = node["Plans"].as_array() {
            for c in children {
                walk(c, sum);
            }
        }
    }
    let mut sum = 0.0;
    walk(&plan[0]["Plan"], &mut sum);
    sum
}

/// `n` more completed sessions of Ana with Bo, an hour apart, all ended
/// before the last `offset` hours.
fn plant_history(db: &TestDb, n: i64, offset: i64) {
    common::runtime().block_on(async {
        let pool = db.pool().await;
        sqlx::query(
            "INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, status, completed_at)
             SELECT gen_random_uuid(), c.id, m.id, t, t + interval '30 minutes', 'completed',
                    t + interval '30 minutes'
             FROM users c, users m, generate_series($2::bigint + 1, $2 + $1) AS i,
                  LATERAL (SELECT now() - make_interval(hours => i::int + 1)) AS x(t)
             WHERE c.email = 'ana@example.com' AND m.email = 'bo@example.com'",
        )
        .bind(n)
        .bind(offset)
        .execute(&pool)
        .await
        .expect("plant history");
        sqlx::raw_sql("ANALYZE sessions")
            .execute(&pool)
            .await
            .expect("analyze");
        pool.close().await;
    });
}

/// Rows examined by `session list` (not ended) for the coach and for the
/// member.
fn examined(db: &TestDb) -> (f64, f64) {
    common::runtime().block_on(async {
        let pool = db.pool().await;
        let by = |coach: Option<&str>, member: Option<&str>| Filter {
            coach: coach.map(|c| c.parse::<UserRef>().unwrap()),
            member: member.map(|m| m.parse::<UserRef>().unwrap()),
            not_ended: true,
            ..Filter::default()
        };
        let mut out = [0.0; 2];
        for (i, f) in [
            by(Some("ana@example.com"), None),
            by(None, Some("bo@example.com")),
        ]
        .iter()
        .enumerate()
        {
            let plan = session::explain_list(&pool, &Actor::operator(), f)
                .await
                .expect("explain");
            out[i] = sessions_rows_examined(&plan);
        }
        pool.close().await;
        (out[0], out[1])
    })
}

fn listed(db: &TestDb, who: &[&str]) -> usize {
    let mut args = vec!["session", "list"];
    args.extend(who);
    args.extend(["-o", "json"]);
    db.run(&args).json().as_array().unwrap().len()
}

#[test]
fn a_coachs_session_list_reads_the_same_rows_with_20k_and_200k_past_sessions() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    db.book("ana", "bo", &format!("{}T09:00", monday())).ok();

    plant_history(&db, 20_000, 0);
    let (coach_20k, member_20k) = examined(&db);
    assert_eq!(listed(&db, &["--coach", "ana@example.com"]), 1);
    assert_eq!(listed(&db, &["--member", "bo@example.com"]), 1);

    plant_history(&db, 180_000, 20_000);
    let (coach_200k, member_200k) = examined(&db);
    assert_eq!(listed(&db, &["--coach", "ana@example.com"]), 1);
    assert_eq!(listed(&db, &["--member", "bo@example.com"]), 1);

    // The last day of history at most (24 sessions an hour apart) and the
    // one ahead: never the coach's or the member's whole history.
    for (what, rows) in [
        ("coach, 20k", coach_20k),
        ("member, 20k", member_20k),
        ("coach, 200k", coach_200k),
        ("member, 200k", member_200k),
    ] {
        assert!(rows <= 30.0, "{what}: the list examined {rows} sessions");
    }
    assert_eq!((coach_20k, member_20k), (coach_200k, member_200k));
    assert_eq!(
        db.scalar::<i64>("SELECT count(*) FROM sessions"),
        200_001,
        "the history was planted"
    );
}

#[test]
fn a_session_longer_than_the_schemas_bound_is_refused_by_the_database() {
    let db = TestDb::new();
    ana_with_monday_mornings(&db);
    let err = common::runtime().block_on(async {
        let pool = db.pool().await;
        let r = sqlx::raw_sql(
            "INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, status, completed_at)
             SELECT gen_random_uuid(), c.id, m.id, now() - interval '3 days',
                    now() - interval '3 days' + session_max_length() + interval '1 minute',
                    'completed', now()
             FROM users c, users m
             WHERE c.email = 'ana@example.com' AND m.email = 'bo@example.com'",
        )
        .execute(&pool)
        .await;
        pool.close().await;
        format!("{r:?}")
    });
    assert!(err.contains("sessions_length_bounded"), "{err}");
}
