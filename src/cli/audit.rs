//! `coachctl audit ...`

use clap::{Args, Subcommand};

use super::{Ctx, output};
use crate::audit::{self, Filter};
use crate::error::Result;
use crate::ids::{self, IdRef, Kind};
use crate::page::{Limit, Page};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// List changes, last committed first (admin only)
    List {
        /// Only this kind of entity: coach, member, ...
        #[arg(long)]
        entity: Option<String>,
        /// Only changes to this id
        ///
        /// Its first 8+ hex digits will do.
        #[arg(long)]
        id: Option<IdRef>,
        /// Only this action, e.g. member.assign
        #[arg(long)]
        action: Option<String>,
        /// At most this many entries
        ///
        /// Stderr says when there are more.
        #[arg(long, value_name = "N", default_value = "50")]
        limit: Limit,
        /// Start after this entry
        ///
        /// The id of the last (oldest) one shown.
        #[arg(long, value_name = "ID")]
        after: Option<i64>,
    },
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        // read-only commands may be served by a standby (COACHCTL_READ_URL)
        let reads_only = matches!(self.command, Commands::List { .. });
        let (pool, actor) = ctx.session_for(reads_only).await?;
        let tz = ctx.display_tz(Some(&actor));
        match self.command {
            Commands::List {
                entity,
                id,
                action,
                limit,
                after,
            } => {
                let filter = Filter {
                    entity,
                    entity_id: ids::resolve_opt(&pool, &actor, Kind::AuditEntity, id.as_ref())
                        .await?,
                    action,
                };
                let page = Page {
                    after,
                    limit: Some(limit),
                };
                let mut rows = output::Rows::new(ctx, tz);
                let mut last = None;
                let more = audit::list_each(&pool, &actor, &filter, &page, |e| {
                    last = Some(e.id);
                    rows.push(&e)
                })
                .await?;
                rows.finish()?;
                if let (true, Some(last)) = (more, last) {
                    output::cut(&format!(
                        "showing the first {limit}; --limit N for more, or --after {last} for the next page"
                    ));
                }
                Ok(())
            }
        }
    }
}
