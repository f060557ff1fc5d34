//! The path to sharding by coach stays open (DESIGN.md, "Production
//! PostgreSQL"): Citus distributing the booking tables on `coach_id` needs
//! every unique, exclusion and primary key constraint of those tables, and
//! every foreign key between them, to include `coach_id`, so that each
//! booking rule is checked on one coach's shard. Read from `pg_constraint`,
//! not from the migrations' text.

mod common;

use common::{TestDb, runtime};

/// The tables of a coach's bookings: what Citus would distribute on
/// `coach_id` (users, profiles and relationships would be reference tables).
const BOOKING_TABLES: &str = "'sessions','slots','bookings','availability_windows','availability_blocks','slot_watchers','session_ratings'";

/// Constraints of the booking tables that leave `coach_id` out: unique
/// (u), primary key (p), exclusion (x), and foreign keys (f) between two
/// booking tables.
fn leaving_out_coach_id() -> String {
    format!(
        "WITH t AS (
            SELECT c.oid AS rel, a.attnum AS coach_col
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'coach_id'
            WHERE c.relname IN ({BOOKING_TABLES})
        )
        SELECT con.conrelid::regclass::text || '.' || con.conname
        FROM pg_constraint con
        JOIN t ON t.rel = con.conrelid
        LEFT JOIN t r ON r.rel = con.confrelid
        WHERE (con.contype IN ('u', 'p', 'x') AND NOT t.coach_col = ANY (con.conkey))
           OR (con.contype = 'f' AND r.rel IS NOT NULL
               AND NOT (t.coach_col = ANY (con.conkey) AND r.coach_col = ANY (con.confkey)))
        ORDER BY 1"
    )
}

/// Surrogate keys (a uuid `id`) and what hangs on them, as the schema has
/// them today. Every booking *rule* (capacity, buffers, windows, blocks,
/// one seat per member) already includes `coach_id`; these would have to
/// become `(coach_id, id)` before Citus could distribute the tables. The
/// list may only shrink: a new constraint without `coach_id` fails.
const KNOWN_SURROGATE_KEYS: &[&str] = &[
    "availability_blocks.availability_blocks_pkey",
    "availability_windows.availability_windows_pkey",
    "bookings.bookings_pkey",
    "bookings.bookings_session_id_fkey",
    "bookings.bookings_session_id_key",
    "session_ratings.session_ratings_once",
    "session_ratings.session_ratings_session_id_fkey",
    "sessions.sessions_pkey",
    "sessions.sessions_window_id_fkey",
];

#[test]
fn every_unique_exclusion_and_foreign_key_constraint_of_the_booking_tables_includes_coach_id() {
    let db = TestDb::new();
    let (tables, leaving_out): (Vec<String>, Vec<String>) = runtime().block_on(async {
        let pool = db.pool().await;
        let tables = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT c.relname::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid \
             AND a.attname = 'coach_id' WHERE c.relname IN ({BOOKING_TABLES}) ORDER BY 1"
        )))
        .fetch_all(&pool)
        .await
        .expect("tables");
        let leaving_out = sqlx::query_scalar(sqlx::AssertSqlSafe(leaving_out_coach_id()))
            .fetch_all(&pool)
            .await
            .expect("constraints");
        (tables, leaving_out)
    });
    // every booking table is there, each with its coach_id
    assert_eq!(tables.len(), 7, "{tables:?}");
    let known: Vec<String> = KNOWN_SURROGATE_KEYS.iter().map(|k| k.to_string()).collect();
    assert_eq!(
        leaving_out, known,
        "constraints of the booking tables without coach_id (a new one breaks the path to sharding by coach; one fixed: drop it from the list)"
    );
}
