//! `coachctl availability ...`

use clap::{Args, Subcommand};

use super::{Ctx, output};
use crate::availability::{self, NewWindow, WindowUpdate};
use crate::domain::{
    BufferMinutes, Day, DayOfWeek, ProfileText, SessionMinutes, SlotCapacity, TimeOfDay, UserRef,
};
use crate::error::Result;
use crate::ids::{self, IdRef, Kind};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Add a weekly window, in the coach's own time zone
    Add {
        /// The coach (email or id)
        ///
        /// A coach acting may leave it out.
        #[arg(long)]
        coach: Option<UserRef>,
        /// Day of week: sun..sat, a full name, or 0-6
        ///
        /// Sunday = 0.
        #[arg(long, value_parser = super::completions::offer::<DayOfWeek>(super::completions::DAYS), hide_possible_values = true)]
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
        /// Minutes kept free around each session
        #[arg(long, default_value = "15")]
        buffer: BufferMinutes,
        /// Sessions per slot
        #[arg(long, value_name = "N", default_value = "1")]
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
        /// The window's id (or its first 8+ hex digits)
        id: IdRef,
        /// New day of week
        #[arg(long, value_parser = super::completions::offer::<DayOfWeek>(super::completions::DAYS), hide_possible_values = true)]
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
        /// The window's id (or its first 8+ hex digits)
        id: IdRef,
    },
    /// Block a date or a range of dates (time off)
    Block {
        /// The coach (email or id)
        ///
        /// A coach acting may leave it out.
        #[arg(long)]
        coach: Option<UserRef>,
        /// The first blocked date in the coach's zone
        ///
        /// YYYY-MM-DD, today, tomorrow, mon..sun (the next one, today included) or +3d.
        #[arg(long)]
        date: Day,
        /// The last blocked date
        ///
        /// Default: the same day.
        #[arg(long)]
        to: Option<Day>,
        /// Why, for the record
        #[arg(long)]
        reason: Option<ProfileText>,
    },
    /// Remove blocked dates
    Unblock {
        /// The block's id (see `availability blocks`), or its first 8+ hex digits
        id: IdRef,
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
        // read-only commands may be served by a standby (COACHCTL_READ_URL)
        let reads_only = matches!(
            self.command,
            Commands::List { .. } | Commands::Blocks { .. }
        );
        let (pool, actor) = ctx.session_for(reads_only).await?;
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
                let coach = ids::user_opt(&pool, &actor, coach).await?;
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
            Commands::List { coach } => {
                let coach = ids::user_opt(&pool, &actor, coach).await?;
                output::list(
                    ctx,
                    tz,
                    &availability::list(&pool, &actor, coach.as_ref()).await?,
                )
            }
            Commands::Update {
                id,
                day,
                start,
                end,
                length,
                buffer,
                capacity,
            } => {
                let id = ids::resolve(&pool, &actor, Kind::Window, &id).await?;
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
                let id = ids::resolve(&pool, &actor, Kind::Window, &id).await?;
                output::one(ctx, tz, &availability::remove(&pool, &actor, id).await?)
            }
            Commands::Block {
                coach,
                date,
                to,
                reason,
            } => {
                let coach = ids::user_opt(&pool, &actor, coach).await?;
                let b =
                    availability::block(&pool, &actor, coach.as_ref(), date, to, reason).await?;
                output::one(ctx, tz, &b)
            }
            Commands::Unblock { id } => {
                let id = ids::resolve(&pool, &actor, Kind::Block, &id).await?;
                output::one(ctx, tz, &availability::unblock(&pool, &actor, id).await?)
            }
            Commands::Blocks { coach } => {
                let coach = ids::user_opt(&pool, &actor, coach).await?;
                output::list(
                    ctx,
                    tz,
                    &availability::list_blocks(&pool, &actor, coach.as_ref()).await?,
                )
            }
        }
    }
}
