//! `coachctl session ...`

use clap::{Args, Subcommand};

use super::{Ctx, output};
use crate::domain::{
    At, Bound, ProfileText, Rating, SessionMinutes, SessionStatus, SessionType, UserRef,
};
use crate::error::Result;
use crate::ids::{self, IdRef, Kind};
use crate::page::{Limit, Page};
use crate::session::{self, Filter};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// List sessions (a member sees their own, a coach theirs)
    List {
        /// From this date or time (inclusive)
        ///
        /// YYYY-MM-DD, today, tomorrow, mon..sun, +3d, or a time like 'tomorrow 9:00'.
        #[arg(long)]
        from: Option<Bound>,
        /// Until this date (inclusive) or time (exclusive)
        #[arg(long)]
        to: Option<Bound>,
        /// Only sessions with this status
        #[arg(long)]
        status: Option<SessionStatus>,
        /// Only this coach's sessions
        #[arg(long)]
        coach: Option<UserRef>,
        /// Only this member's sessions
        #[arg(long)]
        member: Option<UserRef>,
        /// Only sessions still ahead that hold a seat
        ///
        /// Proposed or scheduled.
        #[arg(long)]
        upcoming: bool,
        /// Past sessions too
        ///
        /// Without it, and without --from/--to, only sessions that have not ended are listed.
        #[arg(long)]
        all: bool,
        /// At most this many sessions
        #[arg(long, value_name = "N")]
        limit: Option<Limit>,
        /// Start after this session
        ///
        /// The id of the last one shown (sessions are ordered by start, then id)
        #[arg(long, value_name = "ID")]
        after: Option<IdRef>,
    },
    /// Put a member into a session (a coach proposes, an admin schedules)
    Create {
        /// The member (email or id)
        #[arg(long)]
        member: UserRef,
        /// The coach (email or id)
        ///
        /// A coach acting creates their own sessions.
        #[arg(long)]
        coach: Option<UserRef>,
        /// The start
        ///
        /// E.g. 2027-04-01T15:00, 'tomorrow 9:00', 'fri 14:30'; without an offset it is read in the
        /// coach's zone.
        #[arg(long)]
        at: At,
        /// Length in minutes
        ///
        /// Default: the window's; off the grid 60.
        #[arg(long)]
        length: Option<SessionMinutes>,
        /// initial, regular or followup
        ///
        /// Default: initial for a first session.
        #[arg(long = "type", value_name = "TYPE")]
        session_type: Option<SessionType>,
        /// A shared note for the member
        #[arg(long)]
        notes: Option<ProfileText>,
        /// Outside the coach's windows
        ///
        /// Capacity, buffers and blocks still hold.
        #[arg(long)]
        off_grid: bool,
        /// Until when a proposal holds its seat
        ///
        /// E.g. 'tomorrow 18:00' (default 48 h, never after the start)
        #[arg(long)]
        expires: Option<At>,
    },
    /// Accept a proposed session (the member)
    Accept {
        /// The session's id (or its first 8+ hex digits)
        id: IdRef,
    },
    /// Decline a proposed session (the member); its seat is free again
    Decline {
        /// The session's id (or its first 8+ hex digits)
        id: IdRef,
        /// Why, for the coach
        #[arg(long)]
        reason: Option<ProfileText>,
    },
    /// Move a session to another time, atomically (the member, the coach, an admin)
    Reschedule {
        /// The session's id (or its first 8+ hex digits)
        id: IdRef,
        /// The new start
        ///
        /// E.g. 2027-04-05T09:00 or 'mon 9:00'; without an offset it is read in the coach's
        /// zone.
        #[arg(long)]
        at: At,
    },
    /// Mark a session that took place as completed (the coach, an admin)
    Complete {
        /// The session's id (or its first 8+ hex digits)
        id: IdRef,
        /// Coach-private notes
        #[arg(long)]
        notes: Option<ProfileText>,
        /// What came out of it
        #[arg(long)]
        outcomes: Option<ProfileText>,
    },
    /// Record that the member did not come (the coach, an admin; after the start)
    NoShow {
        /// The session's id (or its first 8+ hex digits)
        id: IdRef,
    },
    /// Add a note to a session (--private: the coach's own)
    Note {
        /// The session's id (or its first 8+ hex digits)
        id: IdRef,
        /// The note
        #[arg(long)]
        text: ProfileText,
        /// Only the coach and admins read it
        #[arg(long)]
        private: bool,
    },
    /// Rate a completed session, once (its member)
    Rate {
        /// The session's id (or its first 8+ hex digits)
        id: IdRef,
        /// 1 to 5
        #[arg(long)]
        rating: Rating,
        /// What went well or not
        #[arg(long)]
        feedback: Option<ProfileText>,
    },
    /// Export sessions as an iCalendar feed (RFC 5545) that calendar clients import
    Export {
        /// Write iCalendar (the one export format)
        #[arg(long, required = true)]
        ics: bool,
        /// Only this coach's sessions
        #[arg(long)]
        coach: Option<UserRef>,
        /// Only this member's sessions
        #[arg(long)]
        member: Option<UserRef>,
        /// From this date or time (inclusive)
        ///
        /// YYYY-MM-DD, today, tomorrow, mon..sun, +3d, or a time like 'tomorrow 9:00'.
        #[arg(long)]
        from: Option<Bound>,
        /// Until this date (inclusive) or time (exclusive)
        #[arg(long)]
        to: Option<Bound>,
    },
    /// Queue the due 24 h and 1 h reminders (admin; cron runs it before `notify send`)
    ///
    /// Prints nothing when nothing was due, else one line on stderr.
    Remind {
        /// Print only errors
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show one session
    Show {
        /// The session's id (or its first 8+ hex digits)
        id: IdRef,
    },
    /// Cancel a scheduled session; its slot is free again at once
    Cancel {
        /// The session's id (or its first 8+ hex digits)
        id: IdRef,
        /// Why, for the record and the other party
        #[arg(long)]
        reason: Option<ProfileText>,
    },
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        // read-only commands may be served by a standby (COACHCTL_READ_URL)
        let reads_only = matches!(
            self.command,
            Commands::List { .. } | Commands::Show { .. } | Commands::Export { .. }
        );
        let (pool, actor) = ctx.session_for(reads_only).await?;
        let tz = ctx.display_tz(Some(&actor));
        match self.command {
            Commands::List {
                from,
                to,
                status,
                coach,
                member,
                upcoming,
                all,
                limit,
                after,
            } => {
                let coach = ids::user_opt(&pool, &actor, coach).await?;
                let tz = match &coach {
                    Some(c) => ctx.coach_view_tz(&pool, &actor, c).await?,
                    None => tz,
                };
                let filter = Filter {
                    not_ended: !all && from.is_none() && to.is_none(),
                    from: from.map(|b| b.resolve(tz, false)).transpose()?,
                    to: to.map(|b| b.resolve(tz, true)).transpose()?,
                    status,
                    coach,
                    member: ids::user_opt(&pool, &actor, member).await?,
                    upcoming,
                };
                let after = ids::resolve_opt(&pool, &actor, Kind::Session, after.as_ref()).await?;
                let page = Page { after, limit };
                let mut rows = output::Rows::new(ctx, tz).viewer(actor.id().map(|i| i.as_uuid()));
                session::list_each(&pool, &actor, &filter, &page, |s| rows.push(&s)).await?;
                rows.finish()
            }
            Commands::Create {
                member,
                coach,
                at,
                length,
                session_type,
                notes,
                off_grid,
                expires,
            } => {
                let new = session::NewSession {
                    member: ids::user(&pool, &actor, member).await?,
                    coach: ids::user_opt(&pool, &actor, coach).await?,
                    at,
                    length,
                    session_type,
                    notes,
                    off_grid,
                    expires,
                };
                output::one(ctx, tz, &session::create(&pool, &actor, &new).await?)
            }
            Commands::Accept { id } => {
                let id = ids::resolve(&pool, &actor, Kind::Session, &id).await?;
                output::one(ctx, tz, &session::accept(&pool, &actor, id).await?)
            }
            Commands::Decline { id, reason } => {
                let id = ids::resolve(&pool, &actor, Kind::Session, &id).await?;
                output::one(ctx, tz, &session::decline(&pool, &actor, id, reason).await?)
            }
            Commands::Reschedule { id, at } => {
                let id = ids::resolve(&pool, &actor, Kind::Session, &id).await?;
                output::one(ctx, tz, &session::reschedule(&pool, &actor, id, &at).await?)
            }
            Commands::Complete {
                id,
                notes,
                outcomes,
            } => {
                let id = ids::resolve(&pool, &actor, Kind::Session, &id).await?;
                let done = session::complete(&pool, &actor, id, notes, outcomes).await?;
                output::one(ctx, tz, &done)
            }
            Commands::NoShow { id } => {
                let id = ids::resolve(&pool, &actor, Kind::Session, &id).await?;
                output::one(ctx, tz, &session::no_show(&pool, &actor, id).await?)
            }
            Commands::Note { id, text, private } => {
                let id = ids::resolve(&pool, &actor, Kind::Session, &id).await?;
                let noted = session::note(&pool, &actor, id, text, private).await?;
                output::one(ctx, tz, &noted)
            }
            Commands::Rate {
                id,
                rating,
                feedback,
            } => {
                let id = ids::resolve(&pool, &actor, Kind::Session, &id).await?;
                let rated = session::rate(&pool, &actor, id, rating, feedback).await?;
                output::one(ctx, tz, &rated)
            }
            Commands::Export {
                ics: _,
                coach,
                member,
                from,
                to,
            } => {
                let filter = Filter {
                    from: from.map(|b| b.resolve(tz, false)).transpose()?,
                    to: to.map(|b| b.resolve(tz, true)).transpose()?,
                    status: None,
                    coach: ids::user_opt(&pool, &actor, coach).await?,
                    member: ids::user_opt(&pool, &actor, member).await?,
                    upcoming: false,
                    not_ended: false,
                };
                let feed = crate::calendar::feed(&pool, &actor, &filter).await?;
                output::raw(&feed)
            }
            Commands::Remind { quiet } => {
                let r = crate::notify::remind(&pool, &actor).await?;
                let line = (r.queued > 0).then(|| format!("queued {} reminder(s)", r.queued));
                let v = serde_json::json!({ "queued": r.queued });
                output::summary(ctx, quiet, line, false, &v)
            }
            Commands::Show { id } => {
                let id = ids::resolve(&pool, &actor, Kind::Session, &id).await?;
                let s = session::show(&pool, &actor, id).await?;
                let coach =
                    crate::domain::UserRef::Id(crate::domain::UserId::from_uuid(s.coach_id));
                let tz = ctx.coach_view_tz(&pool, &actor, &coach).await?;
                output::one(ctx, tz, &s)
            }
            Commands::Cancel { id, reason } => {
                let id = ids::resolve(&pool, &actor, Kind::Session, &id).await?;
                // Found and cancellable first, so the question names who and when.
                let s = session::cancellable(&pool, &actor, id).await?;
                let coach =
                    crate::domain::UserRef::Id(crate::domain::UserId::from_uuid(s.coach_id));
                let tz = ctx.coach_view_tz(&pool, &actor, &coach).await?;
                let when = crate::domain::dates::moment_now(s.start, tz);
                // Names, not emails: the question fits one line at 80 columns.
                ctx.confirm(&format!(
                    "Cancel {}'s session with {} on {when}?",
                    s.member_name, s.coach_name
                ))
                .await?;
                output::one(ctx, tz, &session::cancel(&pool, &actor, id, reason).await?)
            }
        }
    }
}
