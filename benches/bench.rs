//! The coachctl side of the benchmark; `bench/run` drives it and measures
//! the baselines (pgbench, psql) on the same server in the same run.
//!
//!   bench throughput-setup <url> <clients> [history]
//!                                                the coachctl side's coaches (`bench_ours`),
//!                                                each with `history` past sessions
//!   bench throughput <url> <clients> <seconds> [skip]
//!                                                bookings/s, distinct coaches, from
//!                                                the `skip`-th booking of each plan
//!   bench pgbench-setup <url> <clients> [history]
//!                                                the same coaches for pgbench, and
//!                                                `bench_plan`: the bookings it makes
//!   bench pgbench-script <url> <file>            the pgbench script of the booking
//!                                                baseline: `booking::book`'s own statement,
//!                                                its arguments from `bench_plan`
//!   bench hotslot <url> <clients> <rounds>       one slot, every client answered
//!   bench hotslot-plan <url> <clients> <rounds>  bench_plan for the per-process hot slot
//!   bench slots-setup <url> <sessions>           a coach with N sessions over 90 days
//!   bench slots-lib <url> <coach> <from> <runs>  library time of 90 days of slots

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use coachctl::actor::Actor;
use coachctl::availability::{self, NewWindow};
use coachctl::booking::{self, Request};
use coachctl::coach::{self, NewCoach, ProfileUpdate};
use coachctl::domain::{
    At, BufferMinutes, DayOfWeek, Email, MaxMembers, PersonName, SessionMinutes, SlotCapacity,
    TimeOfDay, TimeZone, UserId, UserRef,
};
use coachctl::error::Error;
use coachctl::member::{self, NewMember};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::Barrier;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn arg(args: &[String], i: usize, what: &str) -> Res<String> {
    args.get(i)
        .cloned()
        .ok_or_else(|| format!("missing argument: {what}").into())
}

async fn pool(url: &str, size: u32) -> Res<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(size)
        .connect(url)
        .await?)
}

async fn make_coach(pool: &PgPool, email: &str, zone: &str) -> Res<UserRef> {
    let c = coach::create(
        pool,
        &Actor::operator(),
        NewCoach {
            email: Email::parse(email)?,
            name: PersonName::parse("Bench Coach")?,
            timezone: TimeZone::parse(zone)?,
            profile: ProfileUpdate {
                max_members: Some(MaxMembers::parse("100000")?),
                ..ProfileUpdate::default()
            },
        },
    )
    .await?;
    Ok(UserRef::Id(UserId::from_uuid(c.id)))
}

async fn every_day(
    pool: &PgPool,
    coach: &UserRef,
    start: &str,
    end: &str,
    length: i64,
    buffer: i64,
    capacity: i64,
) -> Res<()> {
    for day in 0..7 {
        let w = NewWindow {
            day: DayOfWeek::from_index(day).ok_or("day")?,
            start: TimeOfDay::parse(start)?,
            end: TimeOfDay::parse(end)?,
            length: SessionMinutes::new(length)?,
            buffer: BufferMinutes::new(buffer)?,
            capacity: SlotCapacity::new(capacity)?,
        };
        availability::add(pool, &Actor::operator(), Some(coach), w).await?;
    }
    Ok(())
}

async fn members(pool: &PgPool, coach: &UserRef, tag: &str, n: usize) -> Res<Vec<UserRef>> {
    let mut out = Vec::new();
    for i in 0..n {
        let m = member::create(
            pool,
            &Actor::operator(),
            NewMember {
                email: Email::parse(&format!("{tag}.m{i}@bench.example.com"))?,
                name: PersonName::parse("Bench Member")?,
                timezone: TimeZone::utc(),
                coach: Some(coach.clone()),
                goals: None,
                health_info: None,
            },
        )
        .await?;
        out.push(UserRef::Id(UserId::from_uuid(m.id)));
    }
    Ok(out)
}

/// The coachctl side's coaches, made once per history before any round (as
/// `pgbench-setup` makes pgbench's), so that no round measures right after
/// a bulk insert of history: table `bench_ours` (client, coach, members).
async fn throughput_setup(url: &str, clients: usize, history: i64) -> Res<()> {
    let p = pool(url, 2).await?;
    let run = Utc::now().timestamp_micros();
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS bench_ours;
         CREATE TABLE bench_ours (client int PRIMARY KEY, coach_id uuid, members uuid[]);",
    )
    .execute(&p)
    .await?;
    for c in 0..clients {
        let (coach, ms) = bench_coach(&p, &format!("tp{run}.c{c}"), history).await?;
        let ids = |r: &UserRef| match r {
            UserRef::Id(i) => Some(i.as_uuid()),
            _ => None,
        };
        let members: Vec<_> = ms.iter().filter_map(ids).collect();
        sqlx::query("INSERT INTO bench_ours VALUES ($1, $2, $3)")
            .bind(c as i32)
            .bind(ids(&coach))
            .bind(&members)
            .execute(&p)
            .await?;
    }
    println!("coaches={clients}");
    Ok(())
}

/// Each client owns a coach of `bench_ours` and books that coach's open
/// slots one after another for `seconds`, from the `skip`-th booking of its
/// plan on (each round books further into the year, as pgbench's rounds
/// do), each booking a full transaction through the library.
async fn throughput(url: &str, clients: usize, seconds: u64, skip: usize) -> Res<()> {
    let setup = pool(url, 2).await?;
    let ours: Vec<(i32, uuid::Uuid, Vec<uuid::Uuid>)> =
        sqlx::query_as("SELECT client, coach_id, members FROM bench_ours ORDER BY client")
            .fetch_all(&setup)
            .await?;
    if ours.len() < clients {
        return Err("run `bench throughput-setup` with as many clients first".into());
    }
    let mut plans = Vec::new();
    for (_, coach, ms) in ours.into_iter().take(clients) {
        let coach = UserRef::Id(UserId::from_uuid(coach));
        let (_, slots) =
            booking::slots(&setup, &Actor::operator(), &coach, None, 365, false).await?;
        let plan: Vec<(UserRef, chrono::DateTime<Utc>)> = slots
            .iter()
            .flat_map(|s| {
                ms.iter()
                    .map(move |m| (UserRef::Id(UserId::from_uuid(*m)), s.start))
            })
            .skip(skip)
            .collect();
        plans.push((coach, plan));
    }
    let deadline = Instant::now() + StdDuration::from_secs(seconds);
    let barrier = Arc::new(Barrier::new(clients));
    let mut tasks = Vec::new();
    for (coach, plan) in plans {
        let url = url.to_string();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            let pool = pool(&url, 1).await.map_err(|e| e.to_string())?;
            barrier.wait().await;
            let mut done = 0u64;
            for (m, start) in plan {
                if Instant::now() >= deadline {
                    break;
                }
                let req = Request {
                    coach: coach.clone(),
                    member: Some(m),
                    at: At::Absolute(start),
                    notes: None,
                    session_type: None,
                };
                booking::book(&pool, &Actor::operator(), &req)
                    .await
                    .map_err(|e| e.to_string())?;
                done += 1;
            }
            Ok::<u64, String>(done)
        }));
    }
    let started = Instant::now();
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "bookings={total} seconds={secs:.3} per_second={:.1}",
        total as f64 / secs
    );
    Ok(())
}

/// A coach of the throughput runs: windows every day 06:00-22:00 (30
/// minutes, capacity 2), two members, and `history` completed sessions in
/// the past (a coach with a long history makes the snapshot's history check
/// and the guard's neighbour search work on a big table).
async fn bench_coach(p: &PgPool, tag: &str, history: i64) -> Res<(UserRef, Vec<UserRef>)> {
    let coach = make_coach(p, &format!("{tag}@bench.example.com"), "Europe/Berlin").await?;
    every_day(p, &coach, "06:00", "22:00", 30, 0, 2).await?;
    let ms = members(p, &coach, tag, 2).await?;
    let (UserRef::Id(c), UserRef::Id(m)) = (&coach, &ms[0]) else {
        return Err("ids".into());
    };
    sqlx::query(
        "INSERT INTO sessions (id, coach_id, member_id, starts_at, ends_at, status, completed_at)
         SELECT gen_random_uuid(), $1, $2, t, t + interval '30 minutes', 'completed', t + interval '30 minutes'
         FROM generate_series(1, $3) AS i,
              LATERAL (SELECT now() - make_interval(hours => i::int)) AS x(t)",
    )
    .bind(c.as_uuid())
    .bind(m.as_uuid())
    .bind(history)
    .execute(p)
    .await?;
    Ok((coach, ms))
}

/// The booking baseline's pgbench script: the statement `booking::book`
/// sends, captured from the server after one booking through the library
/// (so it follows the code, lookups and checks included), its arguments
/// those of a booking by ids as the operator, drawn from `bench_plan` for
/// pgbench client `:client_id`'s `:k`-th transaction. Run with -D k=N.
async fn pgbench_script(url: &str, file: &str) -> Res<()> {
    let p = pool(url, 1).await?;
    let tag = format!("script{}", Utc::now().timestamp_micros());
    let (coach, ms) = bench_coach(&p, &tag, 0).await?;
    let actor = Actor::operator();
    let (_, slots) = booking::slots(&p, &actor, &coach, None, 365, false).await?;
    let slot = slots.first().ok_or("no slot to book")?;
    let req = Request {
        coach: coach.clone(),
        member: Some(ms[0].clone()),
        at: At::Absolute(slot.start),
        notes: None,
        session_type: None,
    };
    booking::book(&p, &actor, &req).await?;
    // One connection: the statements it prepared are the booking's.
    let found: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT statement, parameter_types::text[] FROM pg_prepared_statements
         WHERE statement LIKE '%INSERT INTO sessions%' AND statement LIKE '%INSERT INTO bookings%'
           AND statement LIKE '%INSERT INTO audit_log%' AND statement NOT LIKE '%pg_prepared%'",
    )
    .fetch_all(&p)
    .await?;
    // The one-statement booking: the snapshot path's statements write one
    // table each.
    let [(sql, types)] = found.as_slice() else {
        let all: Vec<&str> = found.iter().map(|(s, _)| &s[..s.len().min(200)]).collect();
        return Err(format!(
            "expected one booking statement, found {}: {all:#?}",
            found.len()
        )
        .into());
    };
    let plan =
        |col: &str| format!("(SELECT {col} FROM bench_plan WHERE client = :client_id AND k = :k)");
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    // The arguments of `booking::book_fast` for a booking by ids (keep in
    // step with its binds: a changed count stops the bench below).
    let args: Vec<String> = vec![
        plan("coach_id"),
        "NULL".into(),
        plan("member_id"),
        "NULL".into(),
        plan("starts_at"),
        "NULL".into(),
        "NULL".into(),
        "gen_random_uuid()".into(),
        "NULL".into(),
        "NULL".into(),
        "gen_random_uuid()".into(),
        "NULL".into(),
        quote(actor.label()),
        actor.operator_os_user().map_or("NULL".into(), quote),
    ];
    if types.len() != args.len() {
        return Err(format!(
            "the booking statement takes {} parameters, the bench knows {}: update pgbench_script",
            types.len(),
            args.len()
        )
        .into());
    }
    let text = with_literals(sql, types, &args)?;
    let script = format!(
        "-- generated by `bench pgbench-script`: booking::book's statement\n\\set k :k + 1\n{};\n",
        text.trim_end()
    );
    std::fs::write(file, script)?;
    // The refusal's record (booking::refused): a third member on the slot
    // the two seats of which are taken; its statement to `file.refused`.
    let third = members(&p, &coach, &format!("{tag}x"), 2).await?;
    for m in &third {
        let req = Request {
            member: Some(m.clone()),
            ..req.clone()
        };
        let _ = booking::book(&p, &actor, &req).await;
    }
    let found: Vec<(String, Vec<String>)> = sqlx::query_as(
        "SELECT statement, parameter_types::text[] FROM pg_prepared_statements
         WHERE statement LIKE '%INSERT INTO bookings%' AND statement LIKE '%''rejected''%'
           AND statement NOT LIKE '%pg_prepared%'",
    )
    .fetch_all(&p)
    .await?;
    let [(sql, types)] = found.as_slice() else {
        return Err(format!("expected one refusal statement, found {}", found.len()).into());
    };
    let args: Vec<String> = vec![
        plan("coach_id"),
        "NULL".into(),
        plan("member_id"),
        "NULL".into(),
        plan("starts_at"),
        "NULL".into(),
        "gen_random_uuid()".into(),
        "NULL".into(),
        quote(booking::SLOT_FULL),
        "NULL".into(),
        quote(actor.label()),
        actor.operator_os_user().map_or("NULL".into(), quote),
    ];
    if types.len() != args.len() {
        return Err(format!(
            "the refusal statement takes {} parameters, the bench knows {}: update pgbench_script",
            types.len(),
            args.len()
        )
        .into());
    }
    let text = with_literals(sql, types, &args)?;
    std::fs::write(
        format!("{file}.refused"),
        format!(
            "-- generated by `bench pgbench-script`: booking::refused's statement\n{};\n",
            text.trim_end()
        ),
    )?;
    println!("parameters={}", types.len());
    Ok(())
}

/// A statement with its parameters replaced by SQL expressions, for psql
/// and pgbench.
fn with_literals(sql: &str, types: &[String], args: &[String]) -> Res<String> {
    // pgbench reads `:name` as a variable even inside a string literal (the
    // audit row's time format): those colons become chr(58).
    let mut text = String::new();
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                text.push(c);
            }
            ':' if quoted => text.push_str("' || chr(58) || '"),
            // a comment (it may hold an apostrophe) goes
            '-' if !quoted && chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        text.push(c);
                        break;
                    }
                }
            }
            '$' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut n = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    n.push(*d);
                    chars.next();
                }
                let i: usize = n.parse::<usize>()? - 1;
                text.push_str(&format!("(({})::{})", args[i], types[i]));
            }
            c => text.push(c),
        }
    }
    Ok(text)
}

/// Coaches like `throughput`'s for pgbench, and the table `bench_plan`
/// (client, k, the booking's values): pgbench client `c`'s `k`-th
/// transaction makes booking k of its own coach with the very statement the
/// library issues, so the baseline carries every guarantee.
async fn pgbench_setup(url: &str, clients: usize, history: i64) -> Res<()> {
    let p = pool(url, 2).await?;
    let run = Utc::now().timestamp_micros();
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS bench_plan;
         CREATE TABLE bench_plan (client int, k int, coach_id uuid, member_id uuid, window_id uuid,
             starts_at timestamptz, ends_at timestamptz, PRIMARY KEY (client, k));",
    )
    .execute(&p)
    .await?;
    let mut planned = 0;
    for c in 0..clients {
        let (coach, ms) = bench_coach(&p, &format!("pgb{run}.c{c}"), history).await?;
        let (_, slots) = booking::slots(&p, &Actor::operator(), &coach, None, 365, false).await?;
        let UserRef::Id(coach_id) = coach else {
            return Err("coach".into());
        };
        let mut k = 0i32;
        let (mut cl, mut ks, mut mem, mut win, mut st, mut en) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        for slot in &slots {
            for m in &ms {
                let UserRef::Id(m) = m else { continue };
                k += 1;
                cl.push(c as i32);
                ks.push(k);
                mem.push(m.as_uuid());
                win.push(slot.window_id);
                st.push(slot.start);
                en.push(slot.end);
            }
        }
        sqlx::query(
            "INSERT INTO bench_plan SELECT cl, k, $7, m, w, s, e
             FROM unnest($1::int[], $2::int[], $3::uuid[], $4::uuid[], $5::timestamptz[], $6::timestamptz[])
                  AS t(cl, k, m, w, s, e)",
        )
        .bind(&cl)
        .bind(&ks)
        .bind(&mem)
        .bind(&win)
        .bind(&st)
        .bind(&en)
        .bind(coach_id.as_uuid())
        .execute(&p)
        .await?;
        planned += k;
    }
    println!("planned={planned}");
    Ok(())
}

/// Rounds of `clients` bookers released at once on one slot of capacity 3:
/// every client must get an answer, exactly 3 a seat.
async fn hotslot(url: &str, clients: usize, rounds: usize) -> Res<()> {
    let setup = pool(url, 2).await?;
    let run = Utc::now().timestamp();
    let coach = make_coach(&setup, &format!("hot{run}@bench.example.com"), "UTC").await?;
    every_day(&setup, &coach, "09:00", "10:00", 60, 0, 3).await?;
    let ms = members(&setup, &coach, &format!("hot{run}"), clients).await?;
    let mut pools = Vec::new();
    for _ in 0..clients {
        pools.push(pool(url, 1).await?);
    }
    let mut latencies = Vec::new();
    for round in 0..rounds {
        let day = (Utc::now() + Duration::days(2 + round as i64)).date_naive();
        let at = At::parse(&format!("{day}T09:00"))?;
        let barrier = Arc::new(Barrier::new(clients));
        let mut tasks = Vec::new();
        for (m, p) in ms.iter().zip(pools.iter()) {
            let (m, p, coach, barrier) = (m.clone(), p.clone(), coach.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let t = Instant::now();
                let req = Request {
                    coach,
                    member: Some(m),
                    at,
                    notes: None,
                    session_type: None,
                };
                let outcome = booking::book(&p, &Actor::operator(), &req).await;
                (t.elapsed(), outcome)
            }));
        }
        let mut seats = 0;
        for t in tasks {
            let (took, outcome) = t.await?;
            latencies.push(took);
            match outcome {
                Ok(_) => seats += 1,
                Err(Error::Conflict(m)) if m == booking::SLOT_FULL => {}
                Err(e) => return Err(format!("a client got no proper answer: {e}").into()),
            }
        }
        if seats != 3 {
            return Err(format!("round {round}: {seats} seats for capacity 3").into());
        }
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    println!(
        "answered={} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        latencies.len(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies
            .last()
            .map(|d| d.as_secs_f64() * 1e3)
            .unwrap_or(0.0)
    );
    Ok(())
}

/// The plan of the per-process hot slot (bench section 2): one coach with
/// two slots a day (09:00 and 10:00 UTC) of capacity 3 and `clients`
/// members; in `bench_plan`, client c books as member c, round k
/// (1..=rounds) the 09:00 slot of day k, round rounds+k its 10:00 slot.
async fn hotslot_plan(url: &str, clients: usize, rounds: usize) -> Res<()> {
    let p = pool(url, 2).await?;
    let run = Utc::now().timestamp_micros();
    let coach = make_coach(&p, &format!("hotp{run}@bench.example.com"), "UTC").await?;
    every_day(&p, &coach, "09:00", "11:00", 60, 0, 3).await?;
    let ms = members(&p, &coach, &format!("hotp{run}"), clients).await?;
    let UserRef::Id(coach_id) = coach else {
        return Err("coach".into());
    };
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS bench_plan;
         CREATE TABLE bench_plan (client int, k int, coach_id uuid, member_id uuid, window_id uuid,
             starts_at timestamptz, ends_at timestamptz, PRIMARY KEY (client, k));",
    )
    .execute(&p)
    .await?;
    let ids: Vec<uuid::Uuid> = ms
        .iter()
        .filter_map(|m| match m {
            UserRef::Id(m) => Some(m.as_uuid()),
            _ => None,
        })
        .collect();
    sqlx::query(
        "INSERT INTO bench_plan (client, k, coach_id, member_id, starts_at)
         SELECT c.i - 1, r.k, $1, c.m,
                date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                    + make_interval(days => 2 + (r.k - 1) % $3, hours => 9 + (r.k - 1) / $3)
         FROM unnest($2::uuid[]) WITH ORDINALITY AS c(m, i), generate_series(1, 2 * $3) AS r(k)",
    )
    .bind(coach_id.as_uuid())
    .bind(&ids)
    .bind(rounds as i32)
    .execute(&p)
    .await?;
    println!("planned={}", ids.len() * rounds * 2);
    Ok(())
}

/// A coach with every-day windows and `n` scheduled sessions spread over
/// the next 90 days; prints the coach's email and the first date.
async fn slots_setup(url: &str, n: i64) -> Res<()> {
    let p = pool(url, 2).await?;
    let run = Utc::now().timestamp();
    let email = format!("slots{run}@bench.example.com");
    let coach = make_coach(&p, &email, "Europe/Berlin").await?;
    every_day(&p, &coach, "08:00", "20:00", 30, 0, 3).await?;
    let m = members(&p, &coach, &format!("slots{run}"), 3).await?;
    let from = (Utc::now() + Duration::days(1)).date_naive();
    let (_, slots) = booking::slots(&p, &Actor::operator(), &coach, Some(from), 90, false).await?;
    let UserRef::Id(coach_id) = coach else {
        return Err("coach".into());
    };
    // Bulk insert, as bookings would leave them: every slot, up to n, with
    // up to 3 members each; the triggers and constraints run as for any session.
    let mut left = n;
    'fill: for seat in &m {
        let UserRef::Id(member_id) = seat else {
            continue;
        };
        for s in slots.iter().step_by(2) {
            if left == 0 {
                break 'fill;
            }
            sqlx::query(
                "INSERT INTO sessions (id, coach_id, member_id, window_id, starts_at, ends_at, buffer_minutes, slot_capacity)
                 VALUES ($1, $2, $3, $4, $5, $6, 0, 3)",
            )
            .bind(uuid::Uuid::new_v4())
            .bind(coach_id.as_uuid())
            .bind(member_id.as_uuid())
            .bind(s.window_id)
            .bind(s.start)
            .bind(s.end)
            .execute(&p)
            .await?;
            left -= 1;
        }
    }
    println!("coach={email} from={from} sessions={}", n - left);
    Ok(())
}

async fn slots_lib(url: &str, coach: &str, from: &str, runs: usize) -> Res<()> {
    let p = pool(url, 1).await?;
    let coach = UserRef::parse(coach)?;
    let from = chrono::NaiveDate::parse_from_str(from, "%Y-%m-%d")?;
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let (_, slots) =
            booking::slots(&p, &Actor::operator(), &coach, Some(from), 90, false).await?;
        times.push(t.elapsed());
        count = slots.len();
    }
    times.sort();
    println!(
        "slots={count} median_ms={:.2}",
        times[times.len() / 2].as_secs_f64() * 1e3
    );
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mode = arg(&args, 0, "mode")?;
    let url = arg(&args, 1, "database url")?;
    rt.block_on(async {
        match mode.as_str() {
            "throughput-setup" => {
                throughput_setup(
                    &url,
                    arg(&args, 2, "clients")?.parse()?,
                    args.get(3).map(|h| h.parse()).transpose()?.unwrap_or(0),
                )
                .await
            }
            "throughput" => {
                throughput(
                    &url,
                    arg(&args, 2, "clients")?.parse()?,
                    arg(&args, 3, "seconds")?.parse()?,
                    args.get(4).map(|h| h.parse()).transpose()?.unwrap_or(0),
                )
                .await
            }
            "pgbench-setup" => {
                pgbench_setup(
                    &url,
                    arg(&args, 2, "clients")?.parse()?,
                    args.get(3).map(|h| h.parse()).transpose()?.unwrap_or(0),
                )
                .await
            }
            "pgbench-script" => pgbench_script(&url, &arg(&args, 2, "file")?).await,
            "hotslot" => {
                hotslot(
                    &url,
                    arg(&args, 2, "clients")?.parse()?,
                    arg(&args, 3, "rounds")?.parse()?,
                )
                .await
            }
            "hotslot-plan" => {
                hotslot_plan(
                    &url,
                    arg(&args, 2, "clients")?.parse()?,
                    arg(&args, 3, "rounds")?.parse()?,
                )
                .await
            }
            "slots-setup" => slots_setup(&url, arg(&args, 2, "sessions")?.parse()?).await,
            "slots-lib" => {
                slots_lib(
                    &url,
                    &arg(&args, 2, "coach")?,
                    &arg(&args, 3, "from")?,
                    arg(&args, 4, "runs")?.parse()?,
                )
                .await
            }
            other => Err(format!("unknown mode {other}").into()),
        }
    })
}
