//! `coachctl program ...`

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::output::{self, Record};
use super::{Ctx, table};
use crate::domain::{Day, ProfileText, SessionMinutes, UserRef};
use crate::error::{Error, Result};
use crate::ids::{self, IdRef, Kind};
use crate::program::{self, Adjustment, Difficulty, PerWeek, WeeklyAt, Weeks};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Create a program (a coach's own; an admin's for --coach, or a template for all)
    Create {
        /// What it is called
        #[arg(long)]
        name: ProfileText,
        /// How many weeks it runs (1-104)
        #[arg(long)]
        weeks: Weeks,
        /// Sessions a week (default 1)
        #[arg(long, value_name = "K")]
        per_week: Option<PerWeek>,
        /// Minutes a session (default 60)
        #[arg(long, value_name = "MIN")]
        length: Option<SessionMinutes>,
        /// What the member can expect
        #[arg(long)]
        description: Option<ProfileText>,
        /// beginner, intermediate or advanced
        #[arg(long)]
        difficulty: Option<Difficulty>,
        /// A goal of the program (repeatable)
        #[arg(long = "goal", value_name = "G")]
        goals: Vec<ProfileText>,
        /// The coach it belongs to
        ///
        /// Admins only; a coach creates their own.
        #[arg(long)]
        coach: Option<UserRef>,
        /// Make it a template
        ///
        /// An admin's template is for every coach, a coach's for themself.
        #[arg(long)]
        template: bool,
    },
    /// List programs (a coach sees their own and the admins' templates)
    List {
        /// Only templates
        #[arg(long)]
        templates: bool,
        /// Only this coach's programs
        ///
        /// The templates for every coach are listed too.
        #[arg(long)]
        coach: Option<UserRef>,
        /// Archived programs too
        #[arg(long)]
        archived: bool,
        /// List enrolments (assigned programs) instead
        #[arg(long)]
        enrolments: bool,
        /// With --enrolments: only this member's
        #[arg(long, requires = "enrolments")]
        member: Option<UserRef>,
    },
    /// Show a program, or an enrolment with its progress
    Show {
        /// The program's or enrolment's id (or its first 8+ hex digits)
        id: IdRef,
    },
    /// Change a program (its coach, an admin); enrolments keep their series
    Update {
        /// The program's id (or its first 8+ hex digits)
        id: IdRef,
        /// New name
        #[arg(long)]
        name: Option<ProfileText>,
        /// New length of the series, in weeks
        #[arg(long)]
        weeks: Option<Weeks>,
        /// New number of sessions a week
        #[arg(long, value_name = "K")]
        per_week: Option<PerWeek>,
        /// New session length, in minutes
        #[arg(long, value_name = "MIN")]
        length: Option<SessionMinutes>,
        /// New description; an empty text clears it
        #[arg(long, value_name = "TEXT")]
        description: Option<ProfileText>,
        /// New difficulty: beginner, intermediate or advanced
        #[arg(long, value_name = "LEVEL")]
        difficulty: Option<Difficulty>,
        /// Replace the goals (repeatable)
        #[arg(long = "goal", value_name = "G")]
        goals: Vec<ProfileText>,
        /// Make it a template (true) or not (false)
        #[arg(long, value_name = "BOOL", hide_possible_values = true)]
        template: Option<bool>,
    },
    /// Archive a program: no new assignments; enrolments run on
    Archive {
        /// The program's id (or its first 8+ hex digits)
        id: IdRef,
    },
    /// Assign a program to a member: every session of the series, or none
    #[command(after_long_help = "Examples:
  coachctl --as ana@example.com program assign <program> --member bo@example.com \\
        --start 2027-03-01 --at 'wed 09:00' --at 'fri 17:30'
  coachctl program assign <program> --member bo@example.com --start mon \\
        --at 'mon 09:00' --dry-run")]
    Assign {
        /// The program's id (or its first 8+ hex digits)
        id: IdRef,
        /// The member (email or id)
        #[arg(long)]
        member: UserRef,
        /// The first day of the series
        ///
        /// In the coach's zone: YYYY-MM-DD, today, mon..sun, +3d.
        #[arg(long)]
        start: Day,
        /// A weekly time in the coach's zone
        ///
        /// E.g. 'wed 09:00' (once per session a week)
        #[arg(long = "at", value_name = "DAY HH:MM", required = true)]
        at: Vec<WeeklyAt>,
        /// The coach who runs an admins' template
        ///
        /// Admins only.
        #[arg(long)]
        coach: Option<UserRef>,
        /// Show the series and its conflicts
        ///
        /// Book nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Accept a proposed series as a whole (the member)
    Accept {
        /// The enrolment's id (or its first 8+ hex digits)
        id: IdRef,
    },
    /// Decline a proposed series as a whole (the member); its seats are free again
    Decline {
        /// The enrolment's id (or its first 8+ hex digits)
        id: IdRef,
    },
    /// Move the rest of a series to new weekly times, or extend it (all or nothing)
    Adjust {
        /// The enrolment's id (or its first 8+ hex digits)
        id: IdRef,
        /// Move the sessions from this day on
        ///
        /// The coach's zone.
        #[arg(long, requires = "at", conflicts_with = "extend")]
        from: Option<Day>,
        /// The new weekly time(s), e.g. 'thu 10:00'
        #[arg(long = "at", value_name = "DAY HH:MM", requires = "from")]
        at: Vec<WeeklyAt>,
        /// Add this many weeks at the current times
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=52))]
        extend: Option<u8>,
    },
    /// Cancel every remaining session of a series; completed ones stay
    Cancel {
        /// The enrolment's id (or its first 8+ hex digits)
        id: IdRef,
    },
}

impl Record for program::Program {
    const COLUMNS: &'static [&'static str] = &[
        "name",
        "coach_email",
        "template",
        "weeks",
        "per_week",
        "length_minutes",
        "difficulty",
        "archived",
    ];
    fn id(&self) -> String {
        self.id.to_string()
    }
}

impl Record for program::Enrolment {
    const COLUMNS: &'static [&'static str] = &[
        "program_name",
        "member_email",
        "status",
        "done",
        "remaining",
        "percent",
        "next_session_at",
    ];
    fn id(&self) -> String {
        self.id.to_string()
    }
}

/// One session of a planned series (`--dry-run`).
#[derive(Debug, Serialize)]
struct Planned {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// `ok`, or every rule it breaks
    conflicts: Vec<String>,
}

impl Record for Planned {
    const COLUMNS: &'static [&'static str] = &["start", "end", "conflicts"];
    const ID_FIELD: Option<&'static str> = None;
    fn id(&self) -> String {
        table::day_time(self.start)
    }
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let reads_only = matches!(self.command, Commands::List { .. } | Commands::Show { .. });
        let (pool, actor) = ctx.session_for(reads_only).await?;
        let tz = ctx.display_tz(Some(&actor));
        match self.command {
            Commands::Create {
                name,
                weeks,
                per_week,
                length,
                description,
                difficulty,
                goals,
                coach,
                template,
            } => {
                let new = program::NewProgram {
                    name,
                    weeks,
                    per_week,
                    length,
                    description,
                    difficulty,
                    goals,
                    coach: ids::user_opt(&pool, &actor, coach).await?,
                    template,
                };
                output::one(ctx, tz, &program::create(&pool, &actor, &new).await?)
            }
            Commands::List {
                templates,
                coach,
                archived,
                enrolments,
                member,
            } => {
                if enrolments {
                    let member = match ids::user_opt(&pool, &actor, member).await? {
                        Some(r) => Some(crate::member::show(&pool, &actor, &r).await?.id),
                        None => None,
                    };
                    let rows = program::series::list_enrolments(&pool, &actor, member).await?;
                    return output::list(ctx, tz, &rows);
                }
                let coach = ids::user_opt(&pool, &actor, coach).await?;
                let rows =
                    program::list(&pool, &actor, templates, coach.as_ref(), archived).await?;
                output::list(ctx, tz, &rows)
            }
            Commands::Show { id } => {
                let id = ids::resolve(&pool, &actor, Kind::Program, &id).await?;
                if program::is_program(&pool, id).await? {
                    output::one(ctx, tz, &program::show(&pool, &actor, id).await?)
                } else {
                    let e = program::series::show_enrolment(&pool, &actor, id).await?;
                    output::one(ctx, tz, &e)
                }
            }
            Commands::Update {
                id,
                name,
                weeks,
                per_week,
                length,
                description,
                difficulty,
                goals,
                template,
            } => {
                let id = ids::resolve(&pool, &actor, Kind::Program, &id).await?;
                let u = program::ProgramUpdate {
                    name,
                    weeks,
                    per_week,
                    length,
                    description,
                    difficulty,
                    goals: (!goals.is_empty()).then_some(goals),
                    template,
                };
                output::one(ctx, tz, &program::update(&pool, &actor, id, &u).await?)
            }
            Commands::Archive { id } => {
                let id = ids::resolve(&pool, &actor, Kind::Program, &id).await?;
                output::one(ctx, tz, &program::archive(&pool, &actor, id).await?)
            }
            Commands::Assign {
                id,
                member,
                start,
                at,
                coach,
                dry_run,
            } => {
                let id = ids::resolve(&pool, &actor, Kind::Program, &id).await?;
                let a = program::Assignment {
                    program: id,
                    member: ids::user(&pool, &actor, member).await?,
                    coach: ids::user_opt(&pool, &actor, coach).await?,
                    start,
                    weekly: at,
                };
                match program::series::assign(&pool, &actor, &a, dry_run).await? {
                    Ok(e) => output::one(ctx, tz, &e),
                    Err(plan) => {
                        let conflicts = plan.conflicts();
                        let rows: Vec<Planned> = plan
                            .occurrences
                            .iter()
                            .map(|o| Planned {
                                start: o.start,
                                end: o.end,
                                conflicts: if o.problems.is_empty() {
                                    vec!["ok".into()]
                                } else {
                                    o.problems.clone()
                                },
                            })
                            .collect();
                        output::list(ctx, tz, &rows)?;
                        output::note(
                            ctx,
                            &format!(
                                "dry run: {} of {} sessions of {} for {} can be booked; nothing was booked",
                                rows.len() - conflicts,
                                rows.len(),
                                plan.program_name,
                                plan.member_email
                            ),
                        );
                        Ok(())
                    }
                }
            }
            Commands::Accept { id } => {
                let id = ids::resolve(&pool, &actor, Kind::Program, &id).await?;
                output::one(
                    ctx,
                    tz,
                    &program::series::answer(&pool, &actor, id, true).await?,
                )
            }
            Commands::Decline { id } => {
                let id = ids::resolve(&pool, &actor, Kind::Program, &id).await?;
                output::one(
                    ctx,
                    tz,
                    &program::series::answer(&pool, &actor, id, false).await?,
                )
            }
            Commands::Adjust {
                id,
                from,
                at,
                extend,
            } => {
                let id = ids::resolve(&pool, &actor, Kind::Program, &id).await?;
                let change = match (from, extend) {
                    (Some(from), None) => Adjustment::Move { from, weekly: at },
                    (None, Some(n)) => Adjustment::Extend(i32::from(n)),
                    _ => {
                        return Err(Error::invalid(
                            "say what to change: --from DATE --at 'DAY HH:MM', or --extend N",
                        ));
                    }
                };
                let e = program::series::adjust(&pool, &actor, id, &change).await?;
                output::one(ctx, tz, &e)
            }
            Commands::Cancel { id } => {
                let id = ids::resolve(&pool, &actor, Kind::Program, &id).await?;
                output::one(ctx, tz, &program::series::cancel(&pool, &actor, id).await?)
            }
        }
    }
}
