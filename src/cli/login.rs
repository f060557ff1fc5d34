//! `coachctl login ...`: a database login per person (row-level security).

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::Ctx;
use super::output::{self, Record};
use crate::domain::UserRef;
use crate::error::{Error, Result};
use crate::ids;
use crate::login::{self, Granted, Holder, Login, Service};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Give a person (or the cron job) a PostgreSQL login and print its URL once (admin only)
    #[command(
        after_long_help = "The URL is DATABASE_URL's servers and database with the login's name
and password; the password is shown only here. The server stores only a
SCRAM-SHA-256 verifier computed by coachctl. A person connected with their
login is that person: --as is refused unless the login is an admin's.

Examples:
  coachctl login grant bo@example.com
  coachctl login grant --service notifier -o json
  coachctl login grant bo@example.com --pgbouncer-file /etc/pgbouncer/userlist.txt
  printf '%s\\n' \"$PW\" |
      coachctl login grant ana@example.com --password-stdin --rotate"
    )]
    Grant {
        /// The person's email or id
        #[arg(required_unless_present = "service", conflicts_with = "service")]
        user: Option<UserRef>,
        /// A service's login instead of a person's
        ///
        /// notifier (for `notify send` and `session remind` from cron) or pgbouncer (for its
        /// auth_query).
        #[arg(long, value_enum, value_name = "NAME", hide_possible_values = true)]
        service: Option<Service>,
        /// Read the password from stdin
        ///
        /// One line, instead of a generated password.
        #[arg(long)]
        password_stdin: bool,
        /// Give an existing login a new password
        ///
        /// Else granting twice exits 6.
        #[arg(long)]
        rotate: bool,
        /// Also write the login into this auth_file
        ///
        /// pgbouncer's auth_file: the login's line with its SCRAM verifier.
        #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
        pgbouncer_file: Option<PathBuf>,
    },
    /// List the logins of this database (admin only)
    List,
    /// Drop a login: its open connections end; the person stays (admin only)
    Revoke {
        /// The person's email or id
        #[arg(required_unless_present = "service", conflicts_with = "service")]
        user: Option<UserRef>,
        /// A service's login instead of a person's
        ///
        /// notifier (for `notify send` and `session remind` from cron) or pgbouncer (for its
        /// auth_query).
        #[arg(long, value_enum, value_name = "NAME", hide_possible_values = true)]
        service: Option<Service>,
        /// Also remove the login from this auth_file
        #[arg(long, value_name = "PATH", value_hint = clap::ValueHint::FilePath)]
        pgbouncer_file: Option<PathBuf>,
    },
}

impl Record for Granted {
    const COLUMNS: &'static [&'static str] = &["user", "login", "url"];
    fn id(&self) -> String {
        self.id.clone()
    }
}

impl Record for Login {
    const COLUMNS: &'static [&'static str] = &["user", "login", "role", "changed_at"];
    fn id(&self) -> String {
        self.id.clone()
    }
}

async fn holder(
    pool: &sqlx::PgPool,
    actor: &crate::actor::Actor,
    user: Option<UserRef>,
    service: Option<Service>,
) -> Result<Holder> {
    match (user, service) {
        (_, Some(s)) => Ok(Holder::Service(s)),
        (Some(u), None) => Ok(Holder::User(ids::user(pool, actor, u).await?)),
        (None, None) => Err(Error::invalid("name a user or --service")),
    }
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self.command {
            Commands::Grant {
                user,
                service,
                password_stdin,
                rotate,
                pgbouncer_file,
            } => {
                let base = login::base_url(ctx.target())?;
                let password = if password_stdin {
                    let mut text = String::new();
                    std::io::stdin().read_to_string(&mut text).map_err(|e| {
                        Error::invalid(format!("cannot read the password from stdin: {e}"))
                    })?;
                    Some(text.lines().next().unwrap_or_default().to_string())
                } else {
                    None
                };
                let (pool, actor) = ctx.session().await?;
                let tz = ctx.display_tz(Some(&actor));
                let who = holder(&pool, &actor, user, service).await?;
                let granted = login::grant(
                    &pool,
                    &actor,
                    base,
                    &who,
                    password,
                    rotate,
                    pgbouncer_file.as_deref(),
                )
                .await?;
                output::one(ctx, tz, &granted)
            }
            Commands::List => {
                let (pool, actor) = ctx.session().await?;
                let tz = ctx.display_tz(Some(&actor));
                output::list(ctx, tz, &login::list(&pool, &actor).await?)
            }
            Commands::Revoke {
                user,
                service,
                pgbouncer_file,
            } => {
                let (pool, actor) = ctx.session().await?;
                let tz = ctx.display_tz(Some(&actor));
                let who = holder(&pool, &actor, user, service).await?;
                let revoked = login::revoke(&pool, &actor, &who, pgbouncer_file.as_deref()).await?;
                output::one(ctx, tz, &revoked)
            }
        }
    }
}
