//! `coachctl book ...`

use clap::Args;
use serde::Serialize;
use uuid::Uuid;

use super::{Ctx, output};
use crate::booking::{self, Booking, Request};
use crate::domain::{At, ProfileText, SessionType, UserRef};
use crate::error::{Error, Result};

/// What `book` prints: the booking, named by its session's id, which every
/// `session` command takes (DESIGN.md: `-o ids` of `book` prints the session
/// id; every JSON object has `id`).
#[derive(Serialize)]
struct Booked<'a> {
    id: Uuid,
    #[serde(flatten)]
    booking: &'a Booking,
}

impl output::Record for Booked<'_> {
    const COLUMNS: &'static [&'static str] = <Booking as output::Record>::COLUMNS;
    fn id(&self) -> String {
        self.id.to_string()
    }
}

/// Book a slot: one transaction that cannot overbook.
#[derive(Debug, Args)]
pub struct Cmd {
    /// The coach (email or id)
    #[arg(long)]
    coach: UserRef,
    /// The slot's start; without an offset it is read in the coach's zone.
    /// Left out on a terminal: choose from a list.
    #[arg(long)]
    at: Option<At>,
    /// The member (email or id); a member acting books for themself
    #[arg(long)]
    member: Option<UserRef>,
    /// Notes for the coach
    #[arg(long)]
    notes: Option<ProfileText>,
    /// initial, regular or followup (default: initial for a first session with the coach)
    #[arg(long = "type", value_name = "TYPE")]
    session_type: Option<SessionType>,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (pool, actor) = ctx.session().await?;
        let at = match self.at {
            Some(at) => at,
            None if ctx.can_prompt() => {
                let (coach, slots) =
                    booking::slots(&pool, &actor, &self.coach, None, 14, false).await?;
                if slots.is_empty() {
                    return Err(Error::rule(format!(
                        "coach {} has no open slots in the next 14 days",
                        coach.email
                    )));
                }
                let tz = ctx.global.tz.map(|t| t.tz()).unwrap_or_else(|| coach.tz());
                let items: Vec<String> = slots
                    .iter()
                    .map(|s| {
                        format!(
                            "{} – {}  ({} of {} free)",
                            s.start.with_timezone(&tz).format("%a %Y-%m-%d %H:%M"),
                            s.end.with_timezone(&tz).format("%H:%M %Z"),
                            s.remaining,
                            s.capacity
                        )
                    })
                    .collect();
                let pick = dialoguer::Select::new()
                    .with_prompt(format!("Book a slot with {}", coach.name))
                    .items(&items)
                    .default(0)
                    .max_length(12)
                    .interact()
                    .map_err(|e| Error::invalid(format!("no slot chosen: {e}")))?;
                At::Absolute(slots[pick].start)
            }
            None => return Err(Error::invalid("--at is required when not on a terminal")),
        };
        let req = Request {
            coach: self.coach,
            member: self.member,
            at,
            notes: self.notes,
            session_type: self.session_type,
        };
        let b = booking::book(&pool, &actor, &req).await?;
        let tz = match ctx.global.tz {
            Some(t) => t.tz(),
            None => crate::coach::show(&pool, &actor, &req.coach).await?.tz(),
        };
        let booked = Booked {
            id: b.session_id,
            booking: &b,
        };
        output::one(ctx, tz, &booked)
    }
}
