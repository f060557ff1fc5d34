//! `coachctl connect ...`

use clap::{ArgGroup, Args, Subcommand};

use super::{Ctx, output};
use crate::connect::{self, NewRequest};
use crate::domain::{ProfileText, UserRef};
use crate::error::Result;
use crate::ids::{self, IdRef, Kind};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Ask to connect: a member names a coach, a coach a member. One open
    /// request per pair; after a decline, ask again after 30 days.
    Request {
        /// The coach to connect with (email or id)
        #[arg(long)]
        coach: Option<UserRef>,
        /// The member to connect with (email or id)
        #[arg(long)]
        member: Option<UserRef>,
        /// The expertise area the connection is about
        #[arg(long)]
        area: ProfileText,
        /// A message for the other side
        #[arg(long)]
        message: Option<ProfileText>,
    },
    /// Accept or decline a request (the side that was asked)
    #[command(group(ArgGroup::new("answer").required(true).args(["accept", "decline"])))]
    Respond {
        /// The connection id (or its first 8+ hex digits)
        id: IdRef,
        /// Accept the request
        #[arg(long)]
        accept: bool,
        /// Decline the request
        #[arg(long)]
        decline: bool,
    },
    /// List your connections (all for admins)
    List,
    /// Find people to connect with, honouring privacy: coaches find public
    /// members and connected ones; members find coaches accepting members
    Search {
        /// Part of the name
        #[arg(long)]
        name: Option<String>,
        /// Part of the expertise area
        ///
        /// A coach's specialization, a member's goals.
        #[arg(long)]
        area: Option<String>,
    },
    /// End a connection (either side); scheduled sessions stay
    Remove {
        /// The connection id (or its first 8+ hex digits)
        id: IdRef,
    },
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        // read-only commands may be served by a standby (COACHCTL_READ_URL)
        let reads_only = matches!(self.command, Commands::List | Commands::Search { .. });
        let (pool, actor) = ctx.session_for(reads_only).await?;
        let tz = ctx.display_tz(Some(&actor));
        let c = match self.command {
            Commands::Request {
                coach,
                member,
                area,
                message,
            } => {
                let new = NewRequest {
                    coach: ids::user_opt(&pool, &actor, coach).await?,
                    member: ids::user_opt(&pool, &actor, member).await?,
                    area,
                    message,
                };
                connect::request(&pool, &actor, &new).await?
            }
            Commands::Respond { id, accept, .. } => {
                let id = ids::resolve(&pool, &actor, Kind::Connection, &id).await?;
                connect::respond(&pool, &actor, id, accept).await?
            }
            Commands::List => return output::list(ctx, tz, &connect::list(&pool, &actor).await?),
            Commands::Search { name, area } => {
                let found =
                    connect::search(&pool, &actor, name.as_deref(), area.as_deref()).await?;
                return output::list(ctx, tz, &found);
            }
            Commands::Remove { id } => {
                let id = ids::resolve(&pool, &actor, Kind::Connection, &id).await?;
                connect::remove(&pool, &actor, id).await?
            }
        };
        output::one(ctx, tz, &c)
    }
}
