//! `coachctl book ...`

use clap::Args;

use super::batch::Booked;
use super::{Ctx, output, prompt};
use crate::booking::{self, First, Request};
use crate::domain::{At, ProfileText, SessionType, UserRef};
use crate::error::{Error, Result};
use crate::ids;
use crate::waitlist::Outcome;

/// Book a slot: one transaction that cannot overbook.
#[derive(Debug, Args)]
pub struct Cmd {
    /// The coach (email or id)
    #[arg(long, required_unless_present = "batch")]
    coach: Option<UserRef>,
    /// The slot's start
    ///
    /// E.g. 2027-03-29T09:00, 'tomorrow 9:00', 'mon 14:30'; without an offset it is read in the
    /// coach's zone. Left out on a terminal: choose from a list, then confirm.
    #[arg(long)]
    at: Option<At>,
    /// The member (email or id)
    ///
    /// A member acting books for themself.
    #[arg(long)]
    member: Option<UserRef>,
    /// Notes for the coach
    #[arg(long)]
    notes: Option<ProfileText>,
    /// initial, regular or followup
    ///
    /// Default: initial for a first session with the coach.
    #[arg(long = "type", value_name = "TYPE")]
    session_type: Option<SessionType>,
    /// When the slot is full, join its waitlist
    ///
    /// A freed seat is offered to the first in line (accept it with `session accept`)
    #[arg(long)]
    waitlist: bool,
    /// Book every JSON line of FILE (`-`: stdin)
    ///
    /// Over one connection: lines {"coach","at"} with optional "member", "type", "notes" (as
    /// the flags). Prints one JSON line per line with its outcome; exits with the highest exit
    /// code of any line (0: all booked).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["coach", "at", "member", "notes", "session_type", "waitlist"]
    )]
    batch: Option<std::path::PathBuf>,
    /// With --batch: all lines or none, in one transaction
    ///
    /// The first line that fails rolls back every booking of the batch.
    #[arg(long, requires = "batch")]
    atomic: bool,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        if let Some(file) = &self.batch {
            return super::batch::run(ctx, file, self.atomic).await;
        }
        if self.atomic {
            return Err(Error::Usage("--atomic goes with --batch FILE".into()));
        }
        let coach = self
            .coach
            .ok_or_else(|| Error::Usage("--coach is needed (or --batch FILE)".into()))?;
        let pool = ctx.connect_unchecked().await?;
        // A booking at a given time of people named by email or id: one
        // round trip, the schema check, who acts and the coach's zone
        // included, whoever books (the operator, `--as`, a login's person).
        let mut tried = booking::Tried::Not;
        let mut operator = false;
        let by_prefix = |r: &UserRef| matches!(r, UserRef::Prefix(_));
        let as_user = ctx.global.as_user.as_ref();
        if !as_user.is_some_and(by_prefix)
            && !by_prefix(&coach)
            && !self.member.as_ref().is_some_and(by_prefix)
            && let Some(at @ (At::Absolute(_) | At::Local(_))) = &self.at
        {
            let req = Request {
                coach: coach.clone(),
                member: self.member.clone(),
                at: *at,
                notes: self.notes.clone(),
                session_type: self.session_type,
            };
            match booking::first(&pool, &req, as_user).await? {
                First::Booked(b, tz) => {
                    let tz = ctx.global.tz.map_or(tz, |t| t.tz());
                    let booked = Booked {
                        id: b.session_id,
                        booking: &b,
                    };
                    return output::one(ctx, tz, &booked);
                }
                First::Owner(t) => {
                    tried = t;
                    operator = true;
                }
                First::Person(t) => tried = t,
                // The refusal the statement names is recorded at once, for
                // whoever the database found acting: two round trips.
                // Joining the waitlist needs to know who acts first.
                First::Refused(e) => {
                    if !self.waitlist
                        && let Some(refusal) =
                            booking::record_first_refusal(&pool, &req, as_user, &e).await?
                    {
                        return Err(crate::waitlist::unless_waiting(refusal));
                    }
                    tried = booking::Tried::Refused(e);
                }
                First::Unknown => {}
            }
        }
        let (pool, actor) = if operator {
            // what the statement learnt: the owner, acting as the operator
            (pool, crate::actor::Actor::operator())
        } else {
            ctx.session_on(pool).await?
        };
        let coach = ids::user(&pool, &actor, coach).await?;
        let member = ids::user_opt(&pool, &actor, self.member).await?;
        let at = match self.at {
            Some(at) => at,
            None if ctx.can_prompt() => pick(ctx, &pool, &actor, &coach, member.as_ref()).await?,
            None => {
                return Err(Error::invalid(format!(
                    "--at is needed (e.g. --at 'tomorrow 9:00'): {}, so no slot can be picked from a list",
                    ctx.why_no_prompt()
                )));
            }
        };
        let req = Request {
            coach,
            member,
            at,
            notes: self.notes,
            session_type: self.session_type,
        };
        let b = match crate::waitlist::book(&pool, &actor, &req, self.waitlist, tried).await? {
            Outcome::Booked(b, tz) => (b, tz),
            Outcome::Waitlisted(j) => {
                return output::one(ctx, ctx.display_tz(Some(&actor)), &j);
            }
        };
        let (b, tz) = b;
        let tz = ctx.global.tz.map_or(tz, |t| t.tz());
        let booked = Booked {
            id: b.session_id,
            booking: &b,
        };
        output::one(ctx, tz, &booked)
    }
}

/// Choose a slot on the terminal, then confirm it. Every check that needs
/// no slot runs first, so nobody picks a slot only to be refused.
async fn pick(
    ctx: &Ctx,
    pool: &sqlx::PgPool,
    actor: &crate::actor::Actor,
    coach: &UserRef,
    member: Option<&UserRef>,
) -> Result<At> {
    let parties = booking::prepare(pool, actor, coach, member).await?;
    let (c, m) = (&parties.coach, &parties.member);
    let (_, mut slots) = booking::slots(pool, actor, coach, None, 14, false).await?;
    // A slot the member already has a seat in would only be refused.
    slots.retain(|s| !parties.held.contains(&s.start));
    if slots.is_empty() {
        return Err(Error::rule(format!(
            "coach {} has no open slots for {} in the next 14 days",
            c.email, m.email
        )));
    }
    let tz = ctx.global.tz.map(|t| t.tz()).unwrap_or_else(|| c.tz());
    let when = |t: &chrono::DateTime<chrono::Utc>| t.with_timezone(&tz).format("%a %-d %b %H:%M");
    let items: Vec<String> = slots
        .iter()
        .map(|s| {
            // %e pads the day, so that the rows line up as in `slots`.
            format!(
                "{}–{}  ({} of {} free)",
                s.start.with_timezone(&tz).format("%a %e %b %H:%M"),
                s.end.with_timezone(&tz).format("%H:%M"),
                s.remaining,
                s.capacity
            )
        })
        .collect();
    // One line at 80 columns, with dialoguer's " [Page 1/2]": a wrapped
    // title would break its redraw.
    let name: String = c.name.chars().take(24).collect();
    let title = format!("Slots of {name}, {} (Esc: back out)", tz.name());
    let i = prompt::pick(title, items)
        .await?
        .ok_or_else(|| Error::invalid("no slot chosen; nothing was changed"))?;
    let slot = &slots[i];
    let question = format!("Book {} with {} for {}?", when(&slot.start), c.name, m.name);
    match prompt::yes_no(question).await? {
        Some(true) => Ok(At::Absolute(slot.start)),
        _ => Err(Error::invalid("not booked; nothing was changed")),
    }
}
