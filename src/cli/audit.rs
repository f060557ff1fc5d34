//! `coachctl audit ...`

use clap::{Args, Subcommand};

use super::{Ctx, output};
use crate::audit::{self, Filter};
use crate::error::Result;
use crate::ids::{self, IdRef, Kind};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// List changes, newest first (admin only)
    List {
        /// Only this kind of entity: coach, member, ...
        #[arg(long)]
        entity: Option<String>,
        /// Only changes to this id (or its first 8+ hex digits)
        #[arg(long)]
        id: Option<IdRef>,
        /// Only this action, e.g. member.assign
        #[arg(long)]
        action: Option<String>,
        /// At most this many rows
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (pool, actor) = ctx.session().await?;
        let tz = ctx.display_tz(Some(&actor));
        match self.command {
            Commands::List {
                entity,
                id,
                action,
                limit,
            } => {
                let filter = Filter {
                    entity,
                    entity_id: ids::resolve_opt(&pool, &actor, Kind::AuditEntity, id.as_ref())
                        .await?,
                    action,
                    limit,
                };
                output::list(ctx, tz, &audit::list(&pool, &actor, &filter).await?)
            }
        }
    }
}
