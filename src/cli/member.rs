//! `coachctl member ...`

use clap::{Args, Subcommand};

use super::{Ctx, output};
use crate::domain::{
    Email, MembershipStatus, OnboardingStatus, PersonName, Privacy, ProfileText, TimeZone, UserRef,
};
use crate::error::Result;
use crate::member::{self, Filter, MemberUpdate, NewMember};
use crate::page::{Limit, Page};
use crate::{coach, ids};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Create a member; with --coach this is signup with a coach choice
    Create {
        /// The member's email address (unique)
        #[arg(long)]
        email: Email,
        /// The member's display name
        #[arg(long)]
        name: PersonName,
        /// The member's IANA time zone
        #[arg(long, default_value = "UTC")]
        timezone: TimeZone,
        /// Assign this coach (email or id)
        ///
        /// Refused if full or not accepting.
        #[arg(long)]
        coach: Option<UserRef>,
        /// The member's goals
        #[arg(long)]
        goals: Option<ProfileText>,
        /// Health information the coach should know
        #[arg(long)]
        health_info: Option<ProfileText>,
    },
    /// List members (a coach sees their own, a member only themself)
    List {
        /// Only members of this coach (email or id)
        #[arg(long)]
        coach: Option<UserRef>,
        /// Only members with this membership status
        #[arg(long)]
        status: Option<MembershipStatus>,
        /// Only members without a coach
        #[arg(long, conflicts_with = "coach")]
        unassigned: bool,
        /// At most this many members
        #[arg(long, value_name = "N")]
        limit: Option<Limit>,
        /// Start after this member
        ///
        /// The email or id of the last one shown (members are ordered by email)
        #[arg(long, value_name = "EMAIL|ID")]
        after: Option<UserRef>,
    },
    /// Show one member
    Show {
        /// The member's email or id
        member: UserRef,
    },
    /// Change a member's profile; an empty text clears a field
    Update {
        /// The member's email or id
        member: UserRef,
        /// New display name
        #[arg(long)]
        name: Option<PersonName>,
        /// New IANA time zone
        #[arg(long)]
        timezone: Option<TimeZone>,
        /// Goals
        #[arg(long)]
        goals: Option<ProfileText>,
        /// Health information
        #[arg(long)]
        health_info: Option<ProfileText>,
        /// Coach-private notes (coach and admins only)
        #[arg(long)]
        coach_notes: Option<ProfileText>,
        /// Membership status
        ///
        /// Active, inactive or paused.
        #[arg(long)]
        status: Option<MembershipStatus>,
    },
    /// Assign a member to a coach (admin only)
    Assign {
        /// The member's email or id
        member: UserRef,
        /// The coach's email or id
        #[arg(long)]
        coach: UserRef,
    },
    /// Remove a member's coach (admin, or that coach)
    Unassign {
        /// The member's email or id
        member: UserRef,
    },
    /// Set onboarding status: pending, in_progress or completed
    Onboarding {
        /// The member's email or id
        member: UserRef,
        /// The new status
        status: OnboardingStatus,
    },
    /// What a member looks at first: next session, the next three, their coach
    Dashboard {
        /// The member's email or id (default: the acting member)
        member: Option<UserRef>,
    },
    /// Attendance, ratings, programs and sessions a week over the last 12 weeks
    Progress {
        /// The member's email or id (default: the acting member)
        member: Option<UserRef>,
    },
    /// What the member's coach sees: goals (default on) and health info (default off);
    /// without flags, shows the current settings
    Sharing {
        /// The member's email or id (default: the acting member)
        member: Option<UserRef>,
        /// Share goals with the coach: on or off
        #[arg(long, value_enum, value_name = "ON|OFF", hide_possible_values = true)]
        goals: Option<OnOff>,
        /// Share health information with the coach: on or off
        #[arg(long, value_enum, value_name = "ON|OFF", hide_possible_values = true)]
        health_info: Option<OnOff>,
    },
    /// Every assignment, unassignment and connection change, with when and who,
    /// and each coach relationship's status (pending, active, inactive, terminated);
    /// a coach sees only their own period
    History {
        /// The member's email or id (default: the acting member)
        member: Option<UserRef>,
    },
    /// Import a roster CSV (email,name[,goals,timezone,coach,membership_status]):
    /// every bad row is reported with its line and nothing is written, else
    /// all rows land in one transaction; a re-run changes nothing
    #[command(after_long_help = "Examples:
  coachctl member import roster.csv --coach ana@example.com
  coachctl member import roster.csv --dry-run -v
  coachctl member export > roster.csv && coachctl member import roster.csv --update")]
    Import(super::roster::ImportArgs),
    /// Export members as a roster CSV that `member import` reads back
    /// (-o json for JSON); a coach exports their own members
    Export(super::roster::ExportArgs),
    /// Set who may find the member: public, connections or private
    Privacy {
        /// The member's email or id
        member: UserRef,
        /// The new privacy level
        level: Privacy,
    },
}

/// A switch: on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

impl OnOff {
    fn on(self) -> bool {
        self == OnOff::On
    }
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        // read-only commands may be served by a standby (COACHCTL_READ_URL)
        let reads_only = matches!(
            self.command,
            Commands::List { .. }
                | Commands::Show { .. }
                | Commands::Dashboard { .. }
                | Commands::Progress { .. }
                | Commands::History { .. }
                | Commands::Export(_)
        );
        let (pool, actor) = ctx.session_for(reads_only).await?;
        let tz = ctx.display_tz(Some(&actor));
        let m = match self.command {
            Commands::Create {
                email,
                name,
                timezone,
                coach,
                goals,
                health_info,
            } => {
                let new = NewMember {
                    email,
                    name,
                    timezone,
                    coach: ids::user_opt(&pool, &actor, coach).await?,
                    goals,
                    health_info,
                };
                member::create(&pool, &actor, new).await?
            }
            Commands::List {
                coach,
                status,
                unassigned,
                limit,
                after,
            } => {
                let filter = Filter {
                    coach: ids::user_opt(&pool, &actor, coach).await?,
                    status,
                    unassigned,
                };
                let after = ids::user_opt(&pool, &actor, after).await?;
                let page = Page { after, limit };
                let mut rows = output::Rows::<member::Member>::new(ctx, tz);
                if ctx.global.output == output::Format::Csv {
                    // 100,000 members at the speed of psql's \copy
                    member::list_csv_each(&pool, &actor, &filter, &page, |c| rows.push_cells(c))
                        .await?;
                } else {
                    member::list_each(&pool, &actor, &filter, &page, |m| rows.push(&m)).await?;
                }
                return rows.finish();
            }
            Commands::Show { member: who } => {
                let who = ids::user(&pool, &actor, who).await?;
                member::show(&pool, &actor, &who).await?
            }
            Commands::Progress { member: who } => {
                let who = ids::user_opt(&pool, &actor, who).await?;
                let p = crate::program::progress::member_progress(
                    &pool,
                    &actor,
                    who.as_ref(),
                    chrono::Utc::now(),
                )
                .await?;
                return super::progress::member(ctx, tz, &p);
            }
            Commands::Dashboard { member: who } => {
                let who = ids::user_opt(&pool, &actor, who).await?;
                let d = crate::dashboard::member(&pool, &actor, who.as_ref(), chrono::Utc::now())
                    .await?;
                return super::dashboard::member(ctx, tz, &d);
            }
            Commands::Update {
                member: who,
                name,
                timezone,
                goals,
                health_info,
                coach_notes,
                status,
            } => {
                let who = ids::user(&pool, &actor, who).await?;
                let change = MemberUpdate {
                    name,
                    timezone,
                    goals,
                    health_info,
                    coach_notes,
                    membership_status: status,
                };
                member::update(&pool, &actor, &who, change).await?
            }
            Commands::Assign { member: who, coach } => {
                let who = ids::user(&pool, &actor, who).await?;
                let coach = ids::user(&pool, &actor, coach).await?;
                // Moving a member from another coach is said, and asked on a
                // terminal; a script (no terminal, or --yes) is not stopped.
                let before = member::show(&pool, &actor, &who).await?;
                let from = before.coach_email.clone();
                if from.is_some() && ctx.can_prompt() {
                    let to = coach::show(&pool, &actor, &coach).await?;
                    if before.coach_id != Some(to.id) {
                        ctx.confirm(&format!(
                            "Move {} from {} to {}?",
                            before.email,
                            from.as_deref().unwrap_or_default(),
                            to.email
                        ))
                        .await?;
                    }
                }
                let after = member::assign(&pool, &actor, &who, &coach).await?;
                if let Some(from) = from.filter(|_| before.coach_id != after.coach_id) {
                    output::note(
                        ctx,
                        &format!(
                            "moved {} from {from} to {}",
                            after.email,
                            after.coach_email.as_deref().unwrap_or_default()
                        ),
                    );
                }
                after
            }
            Commands::Unassign { member: who } => {
                let who = ids::user(&pool, &actor, who).await?;
                member::unassign(&pool, &actor, &who).await?
            }
            Commands::Onboarding {
                member: who,
                status,
            } => {
                let who = ids::user(&pool, &actor, who).await?;
                member::set_onboarding(&pool, &actor, &who, status).await?
            }
            Commands::History { member: who } => {
                let who = match who {
                    Some(w) => ids::user(&pool, &actor, w).await?,
                    None => actor.id().map(UserRef::Id).ok_or_else(|| {
                        crate::Error::invalid("name the member whose history to show")
                    })?,
                };
                let events = crate::history::of_member(&pool, &actor, &who).await?;
                return output::list(ctx, tz, &events);
            }
            Commands::Sharing {
                member: who,
                goals,
                health_info,
            } => {
                let who = match who {
                    Some(w) => ids::user(&pool, &actor, w).await?,
                    None => actor.id().map(UserRef::Id).ok_or_else(|| {
                        crate::Error::invalid("name the member whose sharing to change")
                    })?,
                };
                member::set_sharing(
                    &pool,
                    &actor,
                    &who,
                    goals.map(OnOff::on),
                    health_info.map(OnOff::on),
                )
                .await?
            }
            Commands::Import(args) => return super::roster::import(ctx, &pool, &actor, args).await,
            Commands::Export(args) => return super::roster::export(ctx, &pool, &actor, args).await,
            Commands::Privacy { member: who, level } => {
                let who = ids::user(&pool, &actor, who).await?;
                member::set_privacy(&pool, &actor, &who, level).await?
            }
        };
        output::one(ctx, tz, &m)
    }
}
