//! `coachctl session ...`

use clap::{Args, Subcommand};
use uuid::Uuid;

use super::{Ctx, output};
use crate::domain::{Bound, ProfileText, SessionStatus, UserRef};
use crate::error::Result;
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
    },
    /// Show one session
    Show {
        /// The session's id
        id: Uuid,
    },
    /// Cancel a scheduled session; its slot is free again at once
    Cancel {
        /// The session's id
        id: Uuid,
        /// Why, for the record and the other party
        #[arg(long)]
        reason: Option<ProfileText>,
    },
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (pool, actor) = ctx.session().await?;
        let tz = ctx.display_tz(Some(&actor));
        match self.command {
            Commands::List {
                from,
                to,
                status,
                coach,
                member,
            } => {
                let filter = Filter {
                    from: from.map(|b| b.resolve(tz, false)).transpose()?,
                    to: to.map(|b| b.resolve(tz, true)).transpose()?,
                    status,
                    coach,
                    member,
                };
                output::list(ctx, tz, &session::list(&pool, &actor, &filter).await?)
            }
            Commands::Show { id } => output::one(ctx, tz, &session::show(&pool, &actor, id).await?),
            Commands::Cancel { id, reason } => {
                ctx.confirm(&format!("Cancel session {id}?"))?;
                output::one(ctx, tz, &session::cancel(&pool, &actor, id, reason).await?)
            }
        }
    }
}
