//! The clap tree: one module per top-level noun. Handlers parse, call one
//! library function and render; no SQL lives here.

use std::io::IsTerminal;

use clap::{Args, Parser, Subcommand, ValueEnum};
use sqlx::PgPool;

use crate::actor::Actor;
use crate::db::Target;
use crate::domain::{TimeZone, UserRef};
use crate::error::{Error, Result};

pub mod admin;
pub mod audit;
pub mod availability;
mod batch;
pub mod book;
pub mod coach;
pub mod completions;
pub mod config;
pub mod connect;
pub mod dashboard;
pub mod db;
pub mod demo;
pub mod doctor;
pub mod insight;
pub mod invite;
pub mod login;
pub mod man;
pub mod member;
pub mod message;
pub mod notify;
pub mod output;
pub mod program;
pub mod progress;
pub mod prompt;
pub mod record;
pub mod reference;
pub mod report;
pub mod roster;
pub mod rows;
pub mod seed;
pub mod session;
pub mod slots;
pub mod table;
pub mod waitlist;

/// Command-line admin and coaching tool: coaches, members, availability and
/// booking on one PostgreSQL database.
///
/// Without DATABASE_URL, coachctl runs its own PostgreSQL under COACHCTL_HOME.
#[derive(Debug, Parser)]
#[command(
    name = "coachctl",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options that every command accepts, listed under their own heading in
/// every command's help, after the command's own.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// PostgreSQL URL instead of the embedded database
    ///
    /// Also read from DATABASE_URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        hide_env = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,

    /// A standby for read-only commands: `COACHCTL_READ_URL`, else the
    /// profile's `read_url` (no flag: it always comes with a DATABASE_URL).
    #[arg(skip)]
    pub read_url: Option<String>,

    /// Use this profile of the config file
    ///
    /// Its [profiles.NAME] table binds the database, `as`, `tz` and `output`. Also read from
    /// COACHCTL_PROFILE.
    #[arg(
        long,
        env = "COACHCTL_PROFILE",
        hide_env = true,
        global = true,
        value_name = "NAME"
    )]
    pub profile: Option<String>,

    /// Act as this user (email or id)
    ///
    /// Without it, the operator acts as admin. Also read from COACHCTL_AS.
    #[arg(
        long = "as",
        env = "COACHCTL_AS",
        hide_env = true,
        global = true,
        value_name = "EMAIL|ID"
    )]
    pub as_user: Option<UserRef>,

    /// Output: table, wide, json, csv or ids
    ///
    /// table (and wide, with every column) for people; json, csv and ids for scripts.
    /// Default: table. Also read from COACHCTL_OUTPUT.
    #[arg(
        short,
        long,
        env = "COACHCTL_OUTPUT",
        hide_env = true,
        hide_possible_values = true,
        hide_default_value = true,
        global = true,
        value_enum,
        value_name = "FORMAT",
        default_value_t = output::Format::Table
    )]
    pub output: output::Format,

    /// Time zone to show times in (IANA name)
    ///
    /// Default: the actor's, else the system's.
    #[arg(long, global = true, value_name = "IANA")]
    pub tz: Option<TimeZone>,

    /// Answer yes to every confirmation
    #[arg(short, long, global = true)]
    pub yes: bool,

    /// Never prompt; fail when something is missing
    #[arg(long, global = true)]
    pub no_input: bool,

    /// More detail on stderr (repeatable)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// When to use color: auto, always, never
    ///
    /// Default: auto (on a terminal, unless NO_COLOR is set).
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        hide_possible_values = true,
        hide_default_value = true,
        default_value_t = ColorChoice::Auto
    )]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The database: start, stop, status, migrate, reset
    Db(db::Cmd),
    /// Coaches: create, list, show, update, promote, deactivate
    Coach(coach::Cmd),
    /// Members: create (signup), list, show, update, assign, onboarding, privacy
    Member(member::Cmd),
    /// Weekly availability windows and blocked dates
    Availability(availability::Cmd),
    /// Open slots of a coach, in the coach's time zone
    #[command(after_long_help = "Examples:
  coachctl slots --coach ana@example.com --from 2027-03-29 --days 7
  coachctl slots --coach ana@example.com -o json | jq '.[0].start'
  coachctl slots --coach ana@example.com --watch")]
    Slots(slots::Cmd),
    /// Book a slot (atomic: never overbooks)
    #[command(after_long_help = "Examples:
  coachctl --as bo@example.com book --coach ana@example.com \\
        --at 'mon 9:00'
  S=$(coachctl book --coach ana@example.com --member bo@example.com \\
        --at 2027-03-29T09:00 -o ids)
  coachctl book --coach ana@example.com --member bo@example.com
        (without --at on a terminal: pick a slot, then confirm)
  coachctl book --batch bookings.jsonl --atomic
        (lines like {\"coach\":\"ana@example.com\",\"at\":\"mon 9:00\",
         \"member\":\"bo@example.com\"}; all or none)")]
    Book(book::Cmd),
    /// Sessions: list, show, create, accept, decline, reschedule, complete, note, rate, cancel, remind
    #[command(after_long_help = "Examples:
  coachctl --as bo@example.com session list -o json
  coachctl --as ana@example.com session create \\
        --member bo@example.com --at 2027-04-01T15:00
  coachctl session reschedule <id> --at 2027-04-05T09:00
  coachctl session export --coach ana@example.com --ics > ana.ics
  coachctl session remind && coachctl notify send          (cron)")]
    Session(session::Cmd),
    /// The email outbox: list, send (cron), retry
    #[command(after_long_help = "Examples:
  COACHCTL_SMTP_URL=smtp://127.0.0.1:2525 coachctl notify send
  coachctl notify list --status failed
  coachctl notify retry --all-failed")]
    Notify(notify::Cmd),
    /// Named admins: create, list, remove
    #[command(after_long_help = "Examples:
  coachctl admin create --email ad@example.com --name \"Ad Min\"
  coachctl admin list
  coachctl admin remove ad@example.com")]
    Admin(admin::Cmd),
    /// Database logins, one per person (row-level security): grant, list, revoke
    #[command(after_long_help = "Examples:
  coachctl login grant bo@example.com           (prints the login's URL once)
  coachctl login grant --service notifier       (the cron job's login)
  coachctl login list
  coachctl login revoke bo@example.com")]
    Login(login::Cmd),
    /// The audit log: who changed what, when
    Audit(audit::Cmd),
    /// Is everything in order? Binaries, database, config, SMTP, outbox, cron, clock
    #[command(
        after_long_help = "One line per check: ok, FAIL or skip, and why. Exit 0 only when no
check fails (else 8).

Examples:
  coachctl doctor
  COACHCTL_SMTP_URL=smtp://127.0.0.1:25 coachctl doctor -o json"
    )]
    Doctor(doctor::Cmd),
    /// Print a shell completion script
    Completions(completions::Cmd),
    /// Write man pages for every command into a directory
    Man(man::Cmd),
    /// Seed a small realistic organisation and show it
    Demo(demo::Cmd),
    /// Declare an organisation from a TOML or JSON file: create what is missing (CI)
    #[command(after_long_help = "Examples:
  coachctl seed org.toml            (apply; a re-run changes nothing)
  coachctl seed org.toml --dry-run  (what would be created or changed)
  coachctl seed org.json --update -o json")]
    Seed(seed::Cmd),
    /// Invitations: send, list, accept, decline, revoke
    Invite(invite::Cmd),
    /// Connections between coaches and members: request, respond, list, remove
    Connect(connect::Cmd),
    /// Messages between a coach and their members: send, list
    Message(message::Cmd),
    /// Programs: create, list, show, update, archive, assign (a whole series), accept, decline, adjust, cancel
    #[command(after_long_help = "Examples:
  P=$(coachctl --as ana@example.com program create --name 'Strength basics' \\
        --weeks 12 --per-week 2 -o ids)
  coachctl --as ana@example.com program assign $P --member bo@example.com \\
        --start 2027-03-01 --at 'wed 09:00' --at 'fri 17:30'
  coachctl --as bo@example.com program accept <enrolment>
  coachctl program show <enrolment>                 (progress)")]
    Program(program::Cmd),
    /// Coaching insights from a coach to their member: add, list, ack
    #[command(after_long_help = "Examples:
  coachctl --as ana@example.com insight add --member bo@example.com \\
        --type recommendation --title 'Sleep' --text 'Aim for 8 hours' --priority high
  coachctl --as bo@example.com insight list --unread
  coachctl --as bo@example.com insight ack <id> --response 'Will do'")]
    Insight(insight::Cmd),
    /// The config file (~/.config/coachctl/config.toml): show the effective settings
    #[command(after_long_help = "The file (TOML), found at $COACHCTL_CONFIG, else
$XDG_CONFIG_HOME/coachctl/config.toml, else ~/.config/coachctl/config.toml:

  as = \"ana@example.com\"        # default for --as
  output = \"table\"              # default for -o
  tz = \"Europe/Berlin\"          # default for --tz
  profile = \"local\"             # default for --profile

  [profiles.prod]
  database_url = \"postgres://coachctl@db.example.com/coachctl\"
  read_url = \"postgres://coachctl@standby.example.com/coachctl\"  # optional

Flags beat the environment, which beats the file.")]
    Config(config::Cmd),
    /// Waitlists of full slots: list, leave (`book --waitlist` joins)
    #[command(after_long_help = "Examples:
  coachctl --as bo@example.com book --coach ana@example.com \\
        --at 2027-03-29T09:00 --waitlist
  coachctl --as bo@example.com waitlist list
  coachctl waitlist leave <id>")]
    Waitlist(waitlist::Cmd),
}

/// What every handler gets: the global options and a way to the database.
pub struct Ctx {
    pub global: Global,
    /// The effective settings and where each came from (`config show`).
    pub settings: Vec<crate::config::Setting>,
    target: Target,
    /// Where read-only commands go (`COACHCTL_READ_URL`), if not to `target`.
    read_target: Option<Target>,
    /// The command's connection, kept to be closed politely at the end.
    pools: std::sync::Mutex<Vec<PgPool>>,
}

impl Ctx {
    /// A connection pool to a database whose schema matches this binary.
    pub async fn pool(&self) -> Result<PgPool> {
        if self.global.verbose > 0 {
            eprintln!("coachctl: using {}", self.target.describe());
        }
        let pool = self.target.connect().await?;
        if let Ok(mut pools) = self.pools.lock() {
            pools.push(pool.clone());
        }
        Ok(pool)
    }

    /// The pool and the acting user.
    pub async fn session(&self) -> Result<(PgPool, Actor)> {
        self.session_for(false).await
    }

    /// [`Ctx::session`], for a command that only reads when `reads_only`:
    /// then to `COACHCTL_READ_URL` when it is set (a standby, which may lag
    /// the primary by its replication delay).
    pub async fn session_for(&self, reads_only: bool) -> Result<(PgPool, Actor)> {
        let target = self.target_for(reads_only);
        let (pool, identity) = target
            .connect_identified_as(self.global.as_user.as_ref())
            .await?;
        self.keep(&pool);
        let actor = self.actor_of(&pool, &identity).await?;
        Ok((pool, actor))
    }

    /// The standby for a command that only reads, when there is one.
    fn target_for(&self, reads_only: bool) -> &Target {
        match (&self.read_target, reads_only) {
            (Some(read), true) => {
                if self.global.verbose > 0 {
                    eprintln!("coachctl: reading from {}", read.describe());
                }
                read
            }
            _ => {
                if self.global.verbose > 0 {
                    eprintln!("coachctl: using {}", self.target.describe());
                }
                &self.target
            }
        }
    }

    /// [`Ctx::connect_unchecked`] for a command that only reads (`slots`):
    /// the standby when there is one; [`Ctx::session_read_on`] after it.
    pub async fn connect_unchecked_read(&self) -> Result<PgPool> {
        let pool = self.target_for(true).connect_raw().await?;
        self.keep(&pool);
        Ok(pool)
    }

    /// [`Ctx::session_for`] (reads only) on a connection of
    /// [`Ctx::connect_unchecked_read`].
    pub async fn session_read_on(&self, pool: PgPool) -> Result<(PgPool, Actor)> {
        let target = self.read_target.as_ref().unwrap_or(&self.target);
        let (pool, identity) = target
            .identified_as(pool, self.global.as_user.as_ref())
            .await?;
        let actor = self.actor_of(&pool, &identity).await?;
        Ok((pool, actor))
    }

    /// The command's connection, to be closed politely at the end.
    fn keep(&self, pool: &PgPool) {
        if let Ok(mut pools) = self.pools.lock() {
            pools.push(pool.clone());
        }
    }

    /// A connection not yet checked (schema version, who it is), for a
    /// command whose first statement checks both itself (`book`); then
    /// [`Ctx::session_on`] when it could not.
    pub async fn connect_unchecked(&self) -> Result<PgPool> {
        if self.global.verbose > 0 {
            eprintln!("coachctl: using {}", self.target.describe());
        }
        let pool = self.target.connect_raw().await?;
        self.keep(&pool);
        Ok(pool)
    }

    /// [`Ctx::session`] on a connection of [`Ctx::connect_unchecked`].
    pub async fn session_on(&self, pool: PgPool) -> Result<(PgPool, Actor)> {
        let (pool, identity) = self
            .target
            .identified_as(pool, self.global.as_user.as_ref())
            .await?;
        let actor = self.actor_of(&pool, &identity).await?;
        Ok((pool, actor))
    }

    /// [`Ctx::session`] for many statements over one connection (`book
    /// --batch`), and whether they may be prepared: on a connection straight
    /// to PostgreSQL, and with no `coachctl.act_as` prelude, which only
    /// unnamed statements carry outside a transaction.
    pub async fn batch_session(&self) -> Result<(PgPool, Actor, bool)> {
        if self.global.verbose > 0 {
            eprintln!("coachctl: using {}", self.target.describe());
        }
        let (pool, identity, direct) = self.target.connect_batch().await?;
        self.keep(&pool);
        let actor = self.actor_of(&pool, &identity).await?;
        let prelude = !identity.is_owner() && self.global.as_user.is_some();
        Ok((pool, actor, direct && !prelude))
    }

    /// Who acts on a connection whose identity the database told.
    async fn actor_of(&self, pool: &PgPool, identity: &crate::db::Identity) -> Result<Actor> {
        let actor = Actor::from_identity(pool, identity, self.global.as_user.as_ref()).await?;
        // The cron job's login has the two jobs and nothing else; the
        // database refuses the rest anyway, this says so in a sentence.
        if actor.is_service()
            && !["coachctl notify send", "coachctl session remind"]
                .contains(&command_name().as_str())
        {
            return Err(Error::forbidden(format!(
                "{} is the cron job's login: it runs only `notify send` and `session remind`",
                identity.login
            )));
        }
        Ok(actor)
    }

    /// Style output? `--color`, NO_COLOR, and whether stdout is a terminal.
    pub fn color(&self) -> bool {
        match self.global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stdout().is_terminal()
            }
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The zone times are shown in: `--tz`, else the actor's, else the system's.
    pub fn display_tz(&self, actor: Option<&Actor>) -> chrono_tz::Tz {
        self.global
            .tz
            .or_else(|| actor.and_then(Actor::timezone))
            .map(|t| t.tz())
            .unwrap_or_else(system_tz)
    }

    /// The zone of a view about one coach: `--tz` (or the config's), else
    /// the actor's own, else the coach's, so that an operator reads times
    /// as the coach typed them, not in the server's zone.
    pub async fn coach_view_tz(
        &self,
        pool: &sqlx::PgPool,
        actor: &Actor,
        coach: &crate::domain::UserRef,
    ) -> crate::error::Result<chrono_tz::Tz> {
        if let Some(t) = self.global.tz.or_else(|| actor.timezone()) {
            return Ok(t.tz());
        }
        Ok(crate::coach::show(pool, actor, coach).await?.tz())
    }

    /// May we ask the person at the keyboard?
    pub fn can_prompt(&self) -> bool {
        !self.global.no_input && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    /// Why we may not ask, as the end of a sentence: `--no-input` on a
    /// terminal says so rather than blaming a missing terminal.
    pub fn why_no_prompt(&self) -> &'static str {
        if self.global.no_input {
            "--no-input forbids prompts"
        } else {
            "there is no terminal to ask on"
        }
    }

    /// Confirm a destructive step: `--yes`, else a prompt on a terminal,
    /// else refuse (exit 3) so scripts never hang. No, Esc and `q` change
    /// nothing (exit 3).
    pub async fn confirm(&self, question: &str) -> Result<()> {
        if self.global.yes {
            return Ok(());
        }
        if !self.can_prompt() {
            return Err(Error::invalid(format!(
                "{} needs confirmation and {}; pass --yes to confirm",
                question.trim_end_matches('?'),
                self.why_no_prompt()
            )));
        }
        match prompt::yes_no(question.to_string()).await? {
            Some(true) => Ok(()),
            _ => Err(Error::invalid("cancelled; nothing was changed")),
        }
    }
}

/// The system's zone: $TZ, /etc/timezone, the /etc/localtime link, else UTC.
fn system_tz() -> chrono_tz::Tz {
    let from_env = std::env::var("TZ")
        .ok()
        .map(|s| s.trim_start_matches(':').to_string());
    let from_file = || std::fs::read_to_string("/etc/timezone").ok();
    let from_link = || {
        std::fs::read_link("/etc/localtime").ok().and_then(|p| {
            let s = p.to_string_lossy().into_owned();
            s.split_once("zoneinfo/").map(|(_, z)| z.to_string())
        })
    };
    from_env
        .or_else(from_file)
        .or_else(from_link)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(chrono_tz::UTC)
}

/// Fill the global options from the config file where neither a flag nor
/// the environment set them; returns where each setting came from.
pub fn configure(cli: &mut Cli) -> Result<Vec<crate::config::Setting>> {
    let settings = match matches() {
        Some(m) => config::apply(&mut cli.global, &m),
        None => Ok(Vec::new()),
    };
    // `doctor` reports a config file it cannot use as one of its checks.
    match (&cli.command, settings) {
        (Command::Doctor(_), Err(_)) => Ok(Vec::new()),
        (_, settings) => settings,
    }
}

/// Run a parsed (and [`configure`]d) command line on a single-threaded runtime.
pub fn run(cli: Cli, settings: Vec<crate::config::Setting>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    crate::db::set_application_name(command_name());
    let target = match Target::from_url_or_env(cli.global.database_url.clone())? {
        Target::Embedded(c) => Target::Embedded(c.verbose(cli.global.verbose > 0)),
        url => url,
    };
    // COACHCTL_READ_URL, else the profile's read_url
    let read_url = std::env::var("COACHCTL_READ_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .or(cli.global.read_url.clone());
    let read_target = match read_url.as_deref().filter(|u| !u.trim().is_empty()) {
        None => None,
        Some(_) if matches!(target, Target::Embedded(_)) => {
            return Err(Error::invalid(
                "COACHCTL_READ_URL needs DATABASE_URL too: reads go to a standby of the server that takes the writes",
            ));
        }
        Some(u) => Some(Target::ReadUrl(u.to_string())),
    };
    let ctx = Ctx {
        global: cli.global,
        settings,
        target,
        read_target,
        pools: std::sync::Mutex::new(Vec::new()),
    };
    rt.block_on(async move {
        let result = match cli.command {
            Command::Db(c) => c.run(&ctx).await,
            Command::Coach(c) => c.run(&ctx).await,
            Command::Member(c) => c.run(&ctx).await,
            Command::Availability(c) => c.run(&ctx).await,
            Command::Slots(c) => c.run(&ctx).await,
            Command::Book(c) => c.run(&ctx).await,
            Command::Session(c) => c.run(&ctx).await,
            Command::Notify(c) => c.run(&ctx).await,
            Command::Admin(c) => c.run(&ctx).await,
            Command::Login(c) => c.run(&ctx).await,
            Command::Audit(c) => c.run(&ctx).await,
            Command::Doctor(c) => c.run(&ctx).await,
            Command::Completions(c) => c.run(),
            Command::Man(c) => c.run(),
            Command::Demo(c) => c.run(&ctx).await,
            Command::Seed(c) => c.run(&ctx).await,
            Command::Invite(c) => c.run(&ctx).await,
            Command::Connect(c) => c.run(&ctx).await,
            Command::Message(c) => c.run(&ctx).await,
            Command::Program(c) => c.run(&ctx).await,
            Command::Insight(c) => c.run(&ctx).await,
            Command::Config(c) => c.run(&ctx).await,
            Command::Waitlist(c) => c.run(&ctx).await,
        };
        // Say goodbye (Terminate) instead of vanishing from the server.
        let pools = ctx.pools.lock().map(|p| p.clone()).unwrap_or_default();
        for pool in pools {
            pool.close().await;
        }
        result
    })
}

/// `coachctl coach list`: the subcommand path of this process, for
/// `application_name`. Read from the arguments again: the parsed `Cli`
/// keeps no names.
fn command_name() -> String {
    let mut name = String::from("coachctl");
    let Some(matches) = matches() else {
        return name;
    };
    let mut m = &matches;
    while let Some((sub, next)) = m.subcommand() {
        name.push(' ');
        name.push_str(sub);
        m = next;
    }
    name
}

/// The matches [`parse`] made, kept for [`matches`].
static MATCHES: std::sync::OnceLock<clap::ArgMatches> = std::sync::OnceLock::new();

/// Parse this process's command line (as `Cli::try_parse`), keeping the
/// matches: the clap tree of every command is built once a process, not
/// again by each reader of the matches (the config file, the command's
/// name: three builds were a millisecond of every command).
pub fn parse() -> std::result::Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = Cli::command();
    let matches = cmd.try_get_matches_from_mut(std::env::args_os())?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
    let _ = MATCHES.set(matches);
    Ok(cli)
}

/// This process's command line as clap matched it (the parsed `Cli` keeps
/// neither names nor where each value came from): [`parse`]'s, else
/// matched again.
fn matches() -> Option<clap::ArgMatches> {
    use clap::CommandFactory;
    if let Some(m) = MATCHES.get() {
        return Some(m.clone());
    }
    Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(std::env::args_os())
        .ok()
}
