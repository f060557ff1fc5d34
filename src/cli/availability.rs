//! `coachctl availability ...`

use clap::{Args, Subcommand};
use uuid::Uuid;

use super::{Ctx, output};
use crate::availability::{self, NewWindow, WindowUpdate};
use crate::domain::{
    BufferMinutes, Date, DayOfWeek, ProfileText, SessionMinutes, SlotCapacity, TimeOfDay, UserRef,
};
use crate::error::Result;

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Add a weekly window, in the coach's own time zone
    Add {
        /// The coach (email or id); a coach acting may leave it out
        #[arg(long)]
        coach: Option<UserRef>,
        /// Day of week: sun..sat, a full name, or 0-6 (Sunday = 0)
        #[arg(long)]
        day: DayOfWeek,
        /// Start, HH:MM
        #[arg(long)]
        start: TimeOfDay,
        /// End, HH:MM (after the start)
        #[arg(long)]
        end: TimeOfDay,
        /// Session length in minutes
        #[arg(long, default_value = "60")]
        length: SessionMinutes,
        /// Minutes kept free before and after each session
        #[arg(long, default_value = "15")]
        buffer: BufferMinutes,
        /// Sessions per slot (max_sessions_per_slot)
        #[arg(long, default_value = "1")]
        capacity: SlotCapacity,
    },
    /// List weekly windows
    List {
        /// Only this coach's windows (email or id)
        #[arg(long)]
        coach: Option<UserRef>,
    },
    /// Change a window; refused while booked sessions would fall outside
    Update {
        /// The window's id
        id: Uuid,
        /// New day of week
        #[arg(long)]
        day: Option<DayOfWeek>,
        /// New start, HH:MM
        #[arg(long)]
        start: Option<TimeOfDay>,
        /// New end, HH:MM
        #[arg(long)]
        end: Option<TimeOfDay>,
        /// New session length in minutes
        #[arg(long)]
        length: Option<SessionMinutes>,
        /// New buffer in minutes
        #[arg(long)]
        buffer: Option<BufferMinutes>,
        /// New sessions per slot
        #[arg(long)]
        capacity: Option<SlotCapacity>,
    },
    /// Remove a window; refused while it has booked future sessions
    Remove {
        /// The window's id
        id: Uuid,
    },
    /// Block a date or a range of dates (time off)
    Block {
        /// The coach (email or id); a coach acting may leave it out
        #[arg(long)]
        coach: Option<UserRef>,
        /// The first blocked date, YYYY-MM-DD (in the coach's zone)
        #[arg(long)]
        date: Date,
        /// The last blocked date (default: the same day)
        #[arg(long)]
        to: Option<Date>,
        /// Why, for the record
        #[arg(long)]
        reason: Option<ProfileText>,
    },
    /// Remove blocked dates
    Unblock {
        /// The block's id (see `availability blocks`)
        id: Uuid,
    },
    /// List blocked dates
    Blocks {
        /// Only this coach's blocks
        #[arg(long)]
        coach: Option<UserRef>,
    },
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (pool, actor) = ctx.session().await?;
        let tz = ctx.display_tz(Some(&actor));
        match self.command {
            Commands::Add {
                coach,
                day,
                start,
                end,
                length,
                buffer,
                capacity,
            } => {
                let new = NewWindow {
                    day,
                    start,
                    end,
                    length,
                    buffer,
                    capacity,
                };
                output::one(
                    ctx,
                    tz,
                    &availability::add(&pool, &actor, coach.as_ref(), new).await?,
                )
            }
            Commands::List { coach } => output::list(
                ctx,
                tz,
                &availability::list(&pool, &actor, coach.as_ref()).await?,
            ),
            Commands::Update {
                id,
                day,
                start,
                end,
                length,
                buffer,
                capacity,
            } => {
                let change = WindowUpdate {
                    day,
                    start,
                    end,
                    length,
                    buffer,
                    capacity,
                };
                output::one(
                    ctx,
                    tz,
                    &availability::update(&pool, &actor, id, change).await?,
                )
            }
            Commands::Remove { id } => {
                output::one(ctx, tz, &availability::remove(&pool, &actor, id).await?)
            }
            Commands::Block {
                coach,
                date,
                to,
                reason,
            } => {
                let b =
                    availability::block(&pool, &actor, coach.as_ref(), date, to, reason).await?;
                output::one(ctx, tz, &b)
            }
            Commands::Unblock { id } => {
                output::one(ctx, tz, &availability::unblock(&pool, &actor, id).await?)
            }
            Commands::Blocks { coach } => output::list(
                ctx,
                tz,
                &availability::list_blocks(&pool, &actor, coach.as_ref()).await?,
            ),
        }
    }
}
