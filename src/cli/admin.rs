//! `coachctl admin ...`: named admins.

use clap::{Args, Subcommand};

use super::Ctx;
use super::output::{self, Record, View};
use super::table::{Cell, Row};
use crate::admin::{self, Admin};
use crate::domain::{Email, PersonName, TimeZone, UserRef};
use crate::error::Result;
use crate::ids;

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Create a named admin (admin only)
    Create {
        /// The admin's email address (unique)
        #[arg(long)]
        email: Email,
        /// The admin's display name
        #[arg(long)]
        name: PersonName,
        /// The admin's IANA time zone
        ///
        /// For times shown to them.
        #[arg(long, default_value = "UTC")]
        timezone: TimeZone,
    },
    /// List admins (admin only)
    List {
        /// Include removed admins
        #[arg(long)]
        all: bool,
    },
    /// Remove an admin: they can no longer act; the audit trail stays (admin only)
    Remove {
        /// The admin's email or id
        admin: UserRef,
    },
}

impl Record for Admin {
    const COLUMNS: &'static [&'static str] = &[
        "email",
        "name",
        "timezone",
        "active",
        "has_login",
        "created_at",
    ];
    fn id(&self) -> String {
        self.id.to_string()
    }
    const TABLE_HEADERS: &'static [&'static str] = &["name", "email", "login", "status", "id"];
    fn table_row(&self, _view: &View) -> Option<Row> {
        Some(Row::Cells(vec![
            Cell::text(&self.name),
            Cell::text(&self.email),
            Cell::fixed(if self.has_login { "yes" } else { "no" }),
            Cell::status(if self.active { "active" } else { "removed" }),
            Cell::id(&self.id),
        ]))
    }
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (pool, actor) = ctx.session().await?;
        let tz = ctx.display_tz(Some(&actor));
        match self.command {
            Commands::Create {
                email,
                name,
                timezone,
            } => output::one(
                ctx,
                tz,
                &admin::create(&pool, &actor, &email, &name, timezone).await?,
            ),
            Commands::List { all } => {
                output::list(ctx, tz, &admin::list(&pool, &actor, all).await?)
            }
            Commands::Remove { admin: who } => {
                let who = ids::user(&pool, &actor, who).await?;
                output::one(ctx, tz, &admin::remove(&pool, &actor, &who).await?)
            }
        }
    }
}
