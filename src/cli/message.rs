//! `coachctl message ...`

use clap::{Args, Subcommand};

use super::{Ctx, output};
use crate::domain::{ProfileText, UserRef};
use crate::error::Result;
use crate::ids;
use crate::message;

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Send a message to your coach or member (participants only)
    Send {
        /// The recipient (email or id)
        #[arg(long)]
        to: UserRef,
        /// The message
        #[arg(long)]
        text: ProfileText,
    },
    /// List your messages, unread first; listing marks them read
    List {
        /// Only the conversation with this person
        ///
        /// Email or id.
        #[arg(long)]
        with: Option<UserRef>,
        /// Print only the number of unread messages
        ///
        /// For scripts; marks nothing.
        #[arg(long)]
        unread: bool,
    },
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (pool, actor) = ctx.session().await?;
        let tz = ctx.display_tz(Some(&actor));
        match self.command {
            Commands::Send { to, text } => {
                let to = ids::user(&pool, &actor, to).await?;
                output::one(ctx, tz, &message::send(&pool, &actor, &to, &text).await?)
            }
            Commands::List { with, unread: true } => {
                let with = ids::user_opt(&pool, &actor, with).await?;
                let n = message::unread(&pool, &actor, with.as_ref()).await?;
                output::value(ctx, &serde_json::json!(n))
            }
            Commands::List { with, .. } => {
                let with = ids::user_opt(&pool, &actor, with).await?;
                output::list(ctx, tz, &message::list(&pool, &actor, with.as_ref()).await?)
            }
        }
    }
}
