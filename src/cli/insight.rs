//! `coachctl insight ...`

use clap::{Args, Subcommand};

use super::Ctx;
use super::output::{self, Record};
use crate::domain::{ProfileText, UserRef};
use crate::error::Result;
use crate::ids::{self, IdRef, Kind};
use crate::insight::{self, InsightType, Priority};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Give a member an insight (their coach); the member gets a notice
    Add {
        /// The member (email or id)
        #[arg(long)]
        member: UserRef,
        /// The kind of insight
        ///
        /// recommendation, observation, goal-update or program-adjustment.
        #[arg(long = "type", value_name = "TYPE")]
        kind: InsightType,
        /// A short title
        #[arg(long)]
        title: ProfileText,
        /// The insight itself
        #[arg(long)]
        text: ProfileText,
        /// low, medium (default) or high
        #[arg(long)]
        priority: Option<Priority>,
        /// The enrolment it is about
        #[arg(long, value_name = "ENROLMENT")]
        program: Option<IdRef>,
    },
    /// List insights (the pair's own; unread first)
    List {
        /// Only this member's
        #[arg(long)]
        member: Option<UserRef>,
        /// Only those not yet acknowledged
        #[arg(long)]
        unread: bool,
    },
    /// Acknowledge an insight (its member), optionally with an answer for the coach
    Ack {
        /// The insight's id (or its first 8+ hex digits)
        id: IdRef,
        /// A reply to the coach
        #[arg(long, value_name = "TEXT")]
        response: Option<ProfileText>,
    },
}

impl Record for insight::Insight {
    const COLUMNS: &'static [&'static str] = &[
        "title",
        "type",
        "priority",
        "member_email",
        "created_at",
        "read_at",
    ];
    fn id(&self) -> String {
        self.id.to_string()
    }
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let reads_only = matches!(self.command, Commands::List { .. });
        let (pool, actor) = ctx.session_for(reads_only).await?;
        let tz = ctx.display_tz(Some(&actor));
        match self.command {
            Commands::Add {
                member,
                kind,
                title,
                text,
                priority,
                program,
            } => {
                let new = insight::NewInsight {
                    member: ids::user(&pool, &actor, member).await?,
                    kind,
                    title,
                    text,
                    priority,
                    enrolment: ids::resolve_opt(&pool, &actor, Kind::Program, program.as_ref())
                        .await?,
                };
                output::one(ctx, tz, &insight::add(&pool, &actor, &new).await?)
            }
            Commands::List { member, unread } => {
                let member = ids::user_opt(&pool, &actor, member).await?;
                let rows = insight::list(&pool, &actor, member.as_ref(), unread).await?;
                output::list(ctx, tz, &rows)
            }
            Commands::Ack { id, response } => {
                let id = ids::resolve(&pool, &actor, Kind::Insight, &id).await?;
                output::one(ctx, tz, &insight::ack(&pool, &actor, id, response).await?)
            }
        }
    }
}
