//! `coachctl notify ...`: the email outbox (cron: `coachctl notify send`).

use clap::{Args, Subcommand};

use super::{Ctx, output};
use crate::error::{Error, Result};
use crate::ids::{self, IdRef, Kind};
use crate::notify::{self, Lease, Retry, SendOptions, Status};
use crate::page::Limit;

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// List the outbox, oldest first (admin)
    List {
        /// Only messages in this state
        ///
        /// queued, sent, failed or skipped.
        #[arg(long, value_enum, hide_possible_values = true)]
        status: Option<Status>,
        /// At most this many rows
        ///
        /// Stderr says when there are more.
        #[arg(long, value_name = "N", default_value = "100")]
        limit: Limit,
    },
    /// Deliver every due message over SMTP (admin; what cron runs)
    ///
    /// Prints nothing when nothing was due, else one line on stderr. Exit 8
    /// when the SMTP server cannot be reached; the messages stay queued.
    Send {
        /// The SMTP server's URL
        ///
        /// smtp://host:port, smtp://host:port?tls=required (STARTTLS), smtps://user:pass@host
        /// (implicit TLS). Also read from COACHCTL_SMTP_URL.
        #[arg(long, env = "COACHCTL_SMTP_URL", hide_env = true, value_name = "URL")]
        smtp_url: Option<String>,
        /// The sender address
        ///
        /// Default: coachctl <coachctl@localhost>. Also read from COACHCTL_SMTP_FROM.
        #[arg(
            long,
            env = "COACHCTL_SMTP_FROM",
            hide_env = true,
            hide_default_value = true,
            value_name = "ADDRESS",
            default_value = "coachctl <coachctl@localhost>"
        )]
        from: String,
        /// Also trust this CA (a PEM file) for the SMTP server
        ///
        /// The CA that signed a private relay's certificate; the public roots stay trusted.
        /// Also read from COACHCTL_SMTP_CA.
        #[arg(long, env = "COACHCTL_SMTP_CA", hide_env = true, value_name = "PEM")]
        smtp_ca: Option<std::path::PathBuf>,
        /// How people reach the organisation
        ///
        /// Named in every email as the way to act on it, e.g. "desk@gym.example or +49 30 1234"
        /// (default: "reply to this email"); the coachctl command is given as well. Also read
        /// from COACHCTL_CONTACT.
        #[arg(long, env = "COACHCTL_CONTACT", hide_env = true, value_name = "TEXT")]
        contact: Option<String>,
        /// Messages claimed at a time
        #[arg(long, value_name = "N", default_value_t = 100)]
        batch: i64,
        /// Attempts before a message stays failed
        #[arg(long, value_name = "N", default_value_t = 5)]
        max_attempts: i32,
        /// How long a sender holds a claim
        ///
        /// Before another sender may take it: 30s, 5m, 1h. Renewed right before each message is
        /// handed over; keep it well above the server's time per message.
        #[arg(long, value_name = "DURATION", default_value = "5m")]
        lease: Lease,
        /// Print only errors
        ///
        /// A message that failed for good is one.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Queue failed messages again (admin)
    Retry {
        /// The message to retry
        #[arg(required_unless_present = "all_failed", conflicts_with = "all_failed")]
        id: Option<IdRef>,
        /// Every failed message
        #[arg(long)]
        all_failed: bool,
    },
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (pool, actor) = ctx.session().await?;
        let tz = ctx.display_tz(Some(&actor));
        match self.command {
            Commands::List { status, limit } => {
                let (rows, more) = notify::list(&pool, &actor, status, limit).await?;
                output::list(ctx, tz, &rows)?;
                if more {
                    output::cut(&format!("showing the first {limit}; --limit N for more"));
                }
                Ok(())
            }
            Commands::Send {
                smtp_url,
                from,
                smtp_ca,
                contact,
                batch,
                max_attempts,
                lease,
                quiet,
            } => {
                let url = smtp_url.ok_or_else(|| {
                    Error::invalid(
                        "set COACHCTL_SMTP_URL (or --smtp-url), e.g. smtp://127.0.0.1:2525",
                    )
                })?;
                let mut opts = SendOptions::new(url, from);
                opts.ca = smtp_ca;
                opts.contact = contact;
                opts.batch = batch.max(1);
                opts.max_attempts = max_attempts.max(1);
                opts.lease = lease.get();
                let d = notify::send(&pool, &actor, &opts).await?;
                let busy = d.sent + d.retrying + d.failed + d.skipped > 0;
                let line = busy.then(|| {
                    let mut line = format!(
                        "sent {}, retrying {}, failed {}, skipped {} (stale reminders)",
                        d.sent, d.retrying, d.failed, d.skipped
                    );
                    if d.failed > 0 {
                        line.push_str("; see coachctl notify list --status failed");
                    }
                    line
                });
                let v = serde_json::to_value(&d).map_err(internal)?;
                output::summary(ctx, quiet, line, d.failed > 0, &v)
            }
            Commands::Retry { id, all_failed } => {
                let which = match (id, all_failed) {
                    (Some(id), _) => {
                        Retry::One(ids::resolve(&pool, &actor, Kind::Notification, &id).await?)
                    }
                    (None, _) => Retry::AllFailed,
                };
                let n = notify::retry(&pool, &actor, which).await?;
                output::note(ctx, &format!("queued {n} message(s) again"));
                output::value(ctx, &serde_json::json!({ "queued": n }))
            }
        }
    }
}

fn internal(e: serde_json::Error) -> Error {
    Error::Internal(e.to_string())
}
