//! `coachctl slots ...`

use std::io::{IsTerminal, Write};

use clap::Args;

use super::{Ctx, output};
use crate::booking;
use crate::domain::{Day, UserRef};
use crate::error::Result;
use crate::ids;

/// The offered slots of a coach, computed in the coach's own time zone.
#[derive(Debug, Args)]
pub struct Cmd {
    /// The coach (email or id)
    #[arg(long)]
    coach: UserRef,
    /// First local date
    ///
    /// Default: today in the coach's zone. YYYY-MM-DD, today, tomorrow, mon..sun (the next one,
    /// today included) or +3d.
    #[arg(long)]
    from: Option<Day>,
    /// How many days from --from (default 7)
    #[arg(long, conflicts_with = "to")]
    days: Option<u32>,
    /// Last local date, inclusive
    #[arg(long)]
    to: Option<Day>,
    /// List full slots too, with remaining 0
    #[arg(long)]
    all: bool,
    /// Keep the view current as others book and cancel
    ///
    /// Ctrl-C stops. On a terminal it redraws, otherwise it prints one JSON line per change.
    #[arg(long)]
    watch: bool,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let range = booking::DayRange {
            from: self.from,
            to: self.to,
            days: self.days,
        };
        // LISTEN needs the primary: only a plain view may come from a standby
        let (pool, actor) = if self.watch {
            ctx.session_for(false).await?
        } else {
            // The operator's plain view: one round trip, the schema check
            // and the coach included (issue 23).
            let pool = ctx.connect_unchecked_read().await?;
            if ctx.global.as_user.is_none()
                && let Some((coach, slots)) =
                    booking::slots_first(&pool, &self.coach, &range, self.all).await?
            {
                let tz = ctx.global.tz.map(|t| t.tz()).unwrap_or_else(|| coach.tz());
                return output::list(ctx, tz, &slots);
            }
            ctx.session_read_on(pool).await?
        };
        let coach_ref = ids::user(&pool, &actor, self.coach).await?;
        let (coach, slots) = booking::slots_in(&pool, &actor, &coach_ref, &range, self.all).await?;
        // Slots read best in the coach's own zone unless --tz says otherwise.
        let tz = ctx.global.tz.map(|t| t.tz()).unwrap_or_else(|| coach.tz());
        if !self.watch {
            return output::list(ctx, tz, &slots);
        }
        // LISTEN needs a session of its own, beside the command's connection.
        let mut listener = sqlx::postgres::PgListener::connect_with(&ctx.pool().await?).await?;
        listener.listen("coachctl_slots").await?;
        // Register this session as a watcher of the coach (bookings notify
        // only watched coaches), clearing registrations of sessions that are
        // gone; the view is read after this, so it misses nothing before.
        crate::booking::watch_slots(&mut listener, coach.id).await?;
        let redraw = matches!(
            ctx.global.output,
            output::Format::Table | output::Format::Wide
        ) && std::io::stdout().is_terminal();
        let coach_id = coach.id.to_string();
        // Read again now that changes reach us: nothing falls in between.
        let mut current = booking::slots_in(&pool, &actor, &coach_ref, &range, self.all)
            .await?
            .1;
        drop(slots);
        loop {
            if redraw {
                // clear the screen, cursor home: the view replaces itself
                let mut out = std::io::stdout().lock();
                write!(out, "\x1b[2J\x1b[H")?;
                out.flush()?;
                drop(out);
                output::list(ctx, tz, &current)?;
                eprintln!(
                    "watching {}'s slots; Ctrl-C to stop",
                    crate::domain::text::shown(&coach.email)
                );
            } else {
                let line = serde_json::json!({
                    "coach_email": coach.email,
                    "at": chrono::Utc::now(),
                    "slots": output::localized(&current, tz)?,
                });
                let mut out = std::io::stdout().lock();
                writeln!(out, "{}", output::json_text(&line))?;
                out.flush()?;
            }
            // Wait for a change of this coach (or Ctrl-C, which is no error).
            loop {
                tokio::select! {
                    n = listener.recv() => {
                        if n?.payload() == coach_id {
                            break;
                        }
                    }
                    _ = tokio::signal::ctrl_c() => {
                        crate::booking::unwatch_slots(&mut listener, coach.id).await?;
                        return Ok(());
                    }
                }
            }
            // A burst of changes (a booking touches several rows) is one redraw.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            while listener.next_buffered().is_some() {}
            current = booking::slots_in(&pool, &actor, &coach_ref, &range, self.all)
                .await?
                .1;
        }
    }
}
