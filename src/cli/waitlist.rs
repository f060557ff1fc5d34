//! `coachctl waitlist ...` (`book --waitlist` joins a full slot's queue).

use clap::{Args, Subcommand};

use super::{Ctx, output};
use crate::domain::UserRef;
use crate::error::Result;
use crate::ids::{self, IdRef, Kind};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Open places in future slots' queues: a member's own, a coach's slots', all for admins
    List {
        /// Only the queues of this coach (email or id)
        #[arg(long)]
        coach: Option<UserRef>,
        /// Only this member's places (email or id)
        #[arg(long)]
        member: Option<UserRef>,
    },
    /// Leave a waitlist; an open offer of that place is declined and goes to the next in line
    Leave {
        /// The place's id (or a unique prefix), from `waitlist list`
        id: IdRef,
    },
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let reads_only = matches!(self.command, Commands::List { .. });
        let (pool, actor) = ctx.session_for(reads_only).await?;
        let tz = ctx.display_tz(Some(&actor));
        match self.command {
            Commands::List { coach, member } => {
                let coach = ids::user_opt(&pool, &actor, coach).await?;
                let member = ids::user_opt(&pool, &actor, member).await?;
                let rows =
                    crate::waitlist::list(&pool, &actor, coach.as_ref(), member.as_ref()).await?;
                output::list(ctx, tz, &rows)
            }
            Commands::Leave { id } => {
                let id = ids::resolve(&pool, &actor, Kind::Waitlist, &id).await?;
                output::one(ctx, tz, &crate::waitlist::leave(&pool, &actor, id).await?)
            }
        }
    }
}
