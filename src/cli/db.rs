//! `coachctl db ...`: the embedded database and the schema.

use clap::{Args, Subcommand};
use serde_json::json;

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

use super::{Ctx, output};
use crate::db::{self, Target};
use crate::embedded::{Cluster, DB_NAME};
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Create and start the embedded database if needed, apply migrations (idempotent)
    Up,
    /// Stop the embedded database
    Down,
    /// Where the database lives, the server version and the schema version
    Status,
    /// Apply pending schema migrations
    Migrate,
    /// Drop all coachctl data and recreate the schema (asks first)
    Reset,
    /// Write a backup of coachctl's database (pg_dump's custom format) to FILE
    ///
    /// Works on the embedded database and on a server named by DATABASE_URL.
    Backup {
        /// The file to write (replaced when complete)
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
    },
    /// Restore a backup made by `db backup` into the embedded database
    ///
    /// Into an empty or fresh home at once; replacing data asks first (or --yes).
    Restore {
        /// The backup file
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
    },
    /// Move the embedded cluster to the installed PostgreSQL version
    ///
    /// Takes a backup first (in COACHCTL_HOME/backups), runs pg_upgrade (or a
    /// dump and restore), and keeps the old cluster until the new one answers.
    Upgrade,
    /// Stop the embedded database and remove it with all its data (asks first)
    ///
    /// Removes the cluster, including what a root run keeps under
    /// /var/lib/coachctl; backups in COACHCTL_HOME/backups are kept.
    Destroy,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        match self.command {
            Commands::Up => {
                // The embedded database is ours to migrate; a server named by
                // DATABASE_URL is migrated only by `db migrate`.
                let pool = ctx.target().connect().await?;
                let schema = db::schema_status(&pool).await?;
                report(ctx, &pool, schema, "ready").await
            }
            Commands::Down => match ctx.target() {
                Target::Embedded(c) => {
                    let stopped = c.stop()?;
                    let state = if stopped { "stopped" } else { "not running" };
                    output::value(
                        ctx,
                        &json!({ "database": ctx.target().describe(), "state": state }),
                    )
                }
                Target::Url(_) | Target::ReadUrl(_) => Err(Error::rule(
                    "db down stops only the embedded database; DATABASE_URL names a server coachctl does not manage",
                )),
            },
            Commands::Status => {
                if let Target::Embedded(c) = ctx.target() {
                    return embedded_status(ctx, c).await;
                }
                let reached = ctx.target().connect_reached().await?;
                let pool = reached.pool;
                let schema = db::schema_status(&pool).await?;
                let state = if schema.applied == schema.latest {
                    "up to date"
                } else if schema.applied < schema.latest {
                    "behind: run `coachctl db migrate`"
                } else {
                    "newer than this coachctl"
                };
                report_at(ctx, &pool, schema, state, Some(&reached.place)).await
            }
            Commands::Migrate => {
                let pool = ctx.target().connect_for_migration().await?;
                let schema = db::migrate(&pool).await?;
                report(ctx, &pool, schema, "up to date").await
            }
            Commands::Backup { file } => {
                let b = crate::db::backup(ctx.target(), &file).await?;
                output::note(
                    ctx,
                    &format!("wrote a backup of {} to {}", b.database, b.file.display()),
                );
                output::value(ctx, &to_json(&b)?)
            }
            Commands::Restore { file } => {
                let c = embedded_only(ctx, "db restore")?;
                let people = crate::db::life_people(c).await?;
                if people > 0 {
                    ctx.confirm(&format!(
                        "Replace the {people} people in {} by the backup {}?",
                        ctx.target().describe(),
                        file.display()
                    ))
                    .await?;
                }
                let r = crate::db::restore(c, &file).await?;
                output::note(
                    ctx,
                    &format!(
                        "restored {} into {}: {} people, schema version {}{}",
                        r.file.display(),
                        r.database,
                        r.users,
                        r.schema_version,
                        match r.dropped_logins {
                            0 => String::new(),
                            n => format!(
                                "; {n} database login(s) belonged to the old server: grant them again with coachctl login grant"
                            ),
                        }
                    ),
                );
                output::value(ctx, &to_json(&r)?)
            }
            Commands::Upgrade => {
                let c = embedded_only(ctx, "db upgrade")?;
                let u = crate::db::upgrade(c).await?;
                let line = match u.method {
                    "nothing" => format!(
                        "the embedded cluster is PostgreSQL {} already; nothing to do",
                        u.to
                    ),
                    method => format!(
                        "upgraded the embedded cluster from PostgreSQL {} to {} by {method}: {} people, backup {}, old cluster removed",
                        u.from,
                        u.to,
                        u.users,
                        u.backup
                            .as_deref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    ),
                };
                output::note(ctx, &line);
                output::value(ctx, &to_json(&u)?)
            }
            Commands::Destroy => {
                let c = embedded_only(ctx, "db destroy")?;
                ctx.confirm(&format!(
                    "Stop and remove the {} with all its data?",
                    ctx.target().describe()
                ))
                .await?;
                let d = crate::db::destroy(c)?;
                let line = if d.removed.is_empty() {
                    "there was no embedded database to remove".to_string()
                } else {
                    let list: Vec<String> =
                        d.removed.iter().map(|p| p.display().to_string()).collect();
                    format!("removed {}", list.join(", "))
                };
                output::note(ctx, &line);
                output::value(ctx, &to_json(&d)?)
            }
            Commands::Reset => {
                ctx.confirm(&format!(
                    "Erase every coach, member and session in {}?",
                    ctx.target().describe()
                ))
                .await?;
                let pool = ctx.target().connect_for_migration().await?;
                let schema = db::reset(&pool).await?;
                report(ctx, &pool, schema, "reset").await
            }
        }
    }
}

/// The embedded cluster, or a sentence: these commands manage only it.
fn embedded_only<'a>(ctx: &'a Ctx, what: &str) -> Result<&'a Cluster> {
    match ctx.target() {
        Target::Embedded(c) => Ok(c),
        Target::Url(_) | Target::ReadUrl(_) => Err(Error::rule(format!(
            "{what} works on the embedded database only; DATABASE_URL names a server coachctl does not manage"
        ))),
    }
}

fn to_json(v: &impl serde::Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| Error::Internal(e.to_string()))
}

/// `db status` on the embedded database: where it lives and whether it
/// runs. It reports only: it never creates or starts the server.
async fn embedded_status(ctx: &Ctx, c: &Cluster) -> Result<()> {
    let st = c.status().await;
    let latest = db::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let mut v = json!({
        "database": ctx.target().describe(),
        "home": st.home,
        "server_dir": st.server_dir,
        "data_dir": st.data_dir,
        "socket_dir": st.socket_dir,
        "log_file": st.log_file,
        "url": c.url(DB_NAME),
        "running": st.running,
        "made_by": c.major().map(|v| format!("PostgreSQL {v}")),
        "server_version": null,
        "schema_version": null,
        "schema_latest": latest,
    });
    let pool = if st.running {
        match PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(c.connect_options(DB_NAME))
            .await
        {
            Ok(pool) => Some(pool),
            // invalid_catalog_name: the server runs, coachctl's database is
            // not there yet; anything else is worth its own sentence.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let state = match pool {
        Some(pool) => {
            let schema = db::schema_status(&pool).await?;
            v["server_version"] = json!(db::server_version(&pool).await?);
            v["schema_version"] = json!(schema.applied);
            if schema.applied == schema.latest {
                "up to date"
            } else if schema.applied < schema.latest {
                "behind: the next command migrates it"
            } else {
                "newer than this coachctl"
            }
        }
        None if st.running => {
            "running, without coachctl's database yet: the next command creates it"
        }
        None if st.initialized => "not running: the next command starts it",
        None => "not created: the next command creates it",
    };
    v["state"] = json!(state);
    output::value(ctx, &v)
}

async fn report(
    ctx: &Ctx,
    pool: &sqlx::PgPool,
    schema: db::SchemaStatus,
    state: &str,
) -> Result<()> {
    report_at(ctx, pool, schema, state, None).await
}

/// The report, naming the server of a multi-host URL that was reached.
async fn report_at(
    ctx: &Ctx,
    pool: &sqlx::PgPool,
    schema: db::SchemaStatus,
    state: &str,
    server: Option<&str>,
) -> Result<()> {
    let version = db::server_version(pool).await?;
    let role = if db::is_standby(pool).await? {
        "standby"
    } else {
        "primary"
    };
    let mut v = json!({
        "database": ctx.target().describe(),
        "role": role,
        "server_version": version,
        "schema_version": schema.applied,
        "schema_latest": schema.latest,
        "state": state,
    });
    if let Some(server) = server {
        v["server"] = json!(server);
    }
    if let Target::Embedded(c) = ctx.target() {
        v["data_dir"] = json!(c.data_dir());
        v["socket_dir"] = json!(c.socket_dir());
        v["url"] = json!(c.url(DB_NAME));
    }
    output::value(ctx, &v)
}
