//! `coachctl coach ...`

use clap::{Args, Subcommand};

use super::{Ctx, output};
use crate::coach::{self, CoachUpdate, Filter, NewCoach, ProfileUpdate};
use crate::domain::{
    CancelNoticeHours, Email, HorizonDays, MaxMembers, NoticeMinutes, OfferMinutes, PersonName,
    ProfileText, SessionLimit, TimeZone, UserRef,
};
use crate::error::Result;
use crate::ids;
use crate::page::{Limit, Page};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// What a coach looks at first: today, this week, members, proposals, activity
    Dashboard {
        /// The coach's email or id (default: the acting coach)
        coach: Option<UserRef>,
    },
    /// One row per member and the coach's utilisation a week (80 columns; -o json|csv)
    Report {
        /// The coach's email or id (default: the acting coach; admins name any)
        coach: Option<UserRef>,
        /// From this day's week
        ///
        /// Default: 12 weeks before --to.
        #[arg(long)]
        from: Option<crate::domain::Day>,
        /// Up to this day (default: today)
        #[arg(long)]
        to: Option<crate::domain::Day>,
    },
    /// Create a coach (admin only)
    Create {
        /// The coach's email address (unique)
        #[arg(long)]
        email: Email,
        /// The coach's display name
        #[arg(long)]
        name: PersonName,
        /// The coach's IANA time zone
        ///
        /// Availability is read in it.
        #[arg(long, default_value = "UTC")]
        timezone: TimeZone,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// List coaches
    List {
        /// Only coaches accepting members
        ///
        /// The signup choice.
        #[arg(long)]
        accepting: bool,
        /// Include deactivated coaches
        #[arg(long)]
        all: bool,
        /// At most this many coaches
        #[arg(long, value_name = "N")]
        limit: Option<Limit>,
        /// Start after this coach
        ///
        /// The email or id of the last one shown (coaches are ordered by email)
        #[arg(long, value_name = "EMAIL|ID")]
        after: Option<UserRef>,
    },
    /// Show a coach's profile: member count, free capacity, ratings
    Show {
        /// The coach's email or id
        coach: UserRef,
    },
    /// Change a coach's profile (admin, or the coach themself)
    Update {
        /// The coach's email or id
        coach: UserRef,
        /// New display name
        #[arg(long)]
        name: Option<PersonName>,
        /// New IANA time zone
        #[arg(long)]
        timezone: Option<TimeZone>,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// Make an existing member a coach (admin only)
    Promote {
        /// The member's email or id
        member: UserRef,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// Deactivate a coach: they stop taking members and cannot act (admin only)
    Deactivate {
        /// The coach's email or id
        coach: UserRef,
    },
}

/// Coach profile fields; an empty text clears a field.
#[derive(Debug, Args)]
struct ProfileArgs {
    /// Specialization, e.g. "strength training"
    #[arg(long, value_name = "TEXT")]
    specialization: Option<ProfileText>,
    /// A short biography
    #[arg(long, value_name = "TEXT")]
    bio: Option<ProfileText>,
    /// Certifications, free text
    #[arg(long, value_name = "TEXT")]
    certifications: Option<ProfileText>,
    /// Most active members the coach takes
    ///
    /// Default 20.
    #[arg(long, value_name = "N")]
    max_members: Option<MaxMembers>,
    /// Accept new members
    ///
    /// The default for a new coach.
    #[arg(long, overrides_with = "not_accepting")]
    accepting: bool,
    /// Stop accepting new members
    ///
    /// Hides the coach from signup.
    #[arg(long)]
    not_accepting: bool,
    /// Minimum notice for a booking, in minutes
    ///
    /// Default 0.
    #[arg(long, value_name = "MINUTES")]
    min_notice: Option<NoticeMinutes>,
    /// Take bookings at most this many days ahead
    #[arg(long, value_name = "DAYS", conflicts_with = "no_horizon")]
    horizon: Option<HorizonDays>,
    /// Take bookings any time ahead (the default)
    #[arg(long)]
    no_horizon: bool,
    /// Take at most N sessions a day
    ///
    /// In the coach's zone.
    #[arg(long, value_name = "N", conflicts_with = "no_max_per_day")]
    max_per_day: Option<SessionLimit>,
    /// No daily limit (the default)
    #[arg(long)]
    no_max_per_day: bool,
    /// Take at most N sessions a week
    ///
    /// Monday to Sunday, in the coach's zone.
    #[arg(long, value_name = "N", conflicts_with = "no_max_per_week")]
    max_per_week: Option<SessionLimit>,
    /// No weekly limit (the default)
    #[arg(long)]
    no_max_per_week: bool,
    /// Take at most N sessions a week from one member
    #[arg(long, value_name = "N", conflicts_with = "no_member_max_per_week")]
    member_max_per_week: Option<SessionLimit>,
    /// No weekly limit per member (the default)
    #[arg(long)]
    no_member_max_per_week: bool,
    /// A cancel under HOURS before the start is late
    ///
    /// A member's cancellation that late is recorded as a late cancel.
    #[arg(long, value_name = "HOURS", conflicts_with = "no_cancel_notice")]
    cancel_notice: Option<CancelNoticeHours>,
    /// No cancellation is late (the default)
    #[arg(long)]
    no_cancel_notice: bool,
    /// Minutes a freed seat is offered to a waiter
    ///
    /// The first on the slot's waitlist holds it that long; default: 120.
    #[arg(long, value_name = "MINUTES")]
    waitlist_offer: Option<OfferMinutes>,
}

/// A value to set (`Some(Some)`), to clear (`Some(None)`), or neither.
fn set_or_clear<T>(value: Option<T>, clear: bool) -> Option<Option<T>> {
    match (value, clear) {
        (Some(v), _) => Some(Some(v)),
        (None, true) => Some(None),
        (None, false) => None,
    }
}

impl ProfileArgs {
    fn into_update(self) -> ProfileUpdate {
        ProfileUpdate {
            specialization: self.specialization,
            bio: self.bio,
            certifications: self.certifications,
            max_members: self.max_members,
            accepting_members: match (self.accepting, self.not_accepting) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            min_notice: self.min_notice,
            horizon: set_or_clear(self.horizon, self.no_horizon),
            max_per_day: set_or_clear(self.max_per_day, self.no_max_per_day),
            max_per_week: set_or_clear(self.max_per_week, self.no_max_per_week),
            member_max_per_week: set_or_clear(
                self.member_max_per_week,
                self.no_member_max_per_week,
            ),
            cancel_notice: set_or_clear(self.cancel_notice, self.no_cancel_notice),
            waitlist_offer: self.waitlist_offer,
        }
    }
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        // read-only commands may be served by a standby (COACHCTL_READ_URL)
        let reads_only = matches!(
            self.command,
            Commands::List { .. }
                | Commands::Dashboard { .. }
                | Commands::Show { .. }
                | Commands::Report { .. }
        );
        let (pool, actor) = ctx.session_for(reads_only).await?;
        let tz = ctx.display_tz(Some(&actor));
        match self.command {
            Commands::Create {
                email,
                name,
                timezone,
                profile,
            } => {
                let new = NewCoach {
                    email,
                    name,
                    timezone,
                    profile: profile.into_update(),
                };
                let c = coach::create(&pool, &actor, new).await?;
                output::one(ctx, tz, &c)
            }
            Commands::List {
                accepting,
                all,
                limit,
                after,
            } => {
                let filter = Filter {
                    accepting_only: accepting,
                    include_inactive: all,
                };
                let after = ids::user_opt(&pool, &actor, after).await?;
                let page = Page { after, limit };
                let mut rows = output::Rows::new(ctx, tz);
                coach::list_each(&pool, &actor, filter, &page, |c| rows.push(&c)).await?;
                rows.finish()
            }
            Commands::Report {
                coach: who,
                from,
                to,
            } => {
                let who = ids::user_opt(&pool, &actor, who).await?;
                let tz = match &who {
                    Some(c) => ctx.coach_view_tz(&pool, &actor, c).await?,
                    None => tz,
                };
                let from = from.map(|d| d.resolve(tz)).transpose()?.map(|d| d.naive());
                let to = to.map(|d| d.resolve(tz)).transpose()?.map(|d| d.naive());
                let r = crate::program::progress::coach_report(
                    &pool,
                    &actor,
                    who.as_ref(),
                    from,
                    to,
                    chrono::Utc::now(),
                )
                .await?;
                super::progress::coach(ctx, tz, &r)
            }
            Commands::Dashboard { coach: who } => {
                let who = ids::user_opt(&pool, &actor, who).await?;
                let d = crate::dashboard::coach(&pool, &actor, who.as_ref(), chrono::Utc::now())
                    .await?;
                let tz = ctx
                    .global
                    .tz
                    .map(|t| t.tz())
                    .unwrap_or_else(|| d.timezone.parse().unwrap_or(chrono_tz::UTC));
                super::dashboard::coach(ctx, tz, &d)
            }
            Commands::Show { coach: who } => {
                let who = ids::user(&pool, &actor, who).await?;
                output::one(
                    ctx,
                    tz,
                    &coach::show_with_ratings(&pool, &actor, &who).await?,
                )
            }
            Commands::Update {
                coach: who,
                name,
                timezone,
                profile,
            } => {
                let who = ids::user(&pool, &actor, who).await?;
                let change = CoachUpdate {
                    name,
                    timezone,
                    profile: profile.into_update(),
                };
                output::one(ctx, tz, &coach::update(&pool, &actor, &who, change).await?)
            }
            Commands::Promote { member, profile } => {
                let member = ids::user(&pool, &actor, member).await?;
                let c = coach::promote(&pool, &actor, &member, profile.into_update()).await?;
                output::one(ctx, tz, &c)
            }
            Commands::Deactivate { coach: who } => {
                let who = ids::user(&pool, &actor, who).await?;
                // Found first, so the question names who it touches.
                let c = coach::deactivatable(&pool, &actor, &who).await?;
                ctx.confirm(&format!("Deactivate coach {} <{}>?", c.name, c.email))
                    .await?;
                output::one(ctx, tz, &coach::deactivate(&pool, &actor, &who).await?)
            }
        }
    }
}
