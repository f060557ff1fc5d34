//! `coachctl doctor`: one line per check; exit 0 only when all pass.

use std::io::Write;

use clap::Args;

use super::{Ctx, output};
use crate::doctor::{self, Check, Inputs, Status};
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct Cmd {
    /// The SMTP server to check
    ///
    /// As `notify send` uses it.
    #[arg(long, env = "COACHCTL_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let inputs = Inputs {
            config: config_check(),
            smtp_url: self.smtp_url,
        };
        let checks = doctor::run(ctx.target(), inputs).await;
        match ctx.global.output {
            output::Format::Table | output::Format::Wide => {
                let mut out = std::io::stdout().lock();
                let width = checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
                for c in &checks {
                    writeln!(
                        out,
                        "{:<4}  {:<width$}  {}",
                        c.status.as_str(),
                        c.id,
                        c.detail
                    )?;
                }
                out.flush()?;
            }
            _ => output::value(
                ctx,
                &serde_json::to_value(&checks).map_err(|e| Error::Internal(e.to_string()))?,
            )?,
        }
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.id)
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        Err(Error::Unavailable(format!(
            "{} of {} checks failed: {}",
            failed.len(),
            checks.len(),
            failed.join(", ")
        )))
    }
}

/// The config file: trusted, and private when it holds a password.
fn config_check() -> Check {
    let (status, detail) = match crate::config::load() {
        Ok(None) => (Status::Skip, "no config file".to_string()),
        Ok(Some(f)) => match f.warnings.first() {
            Some(w) => (Status::Fail, w.trim_start_matches("warning: ").to_string()),
            None => (
                Status::Ok,
                format!("{} is private to its owner", f.path.display()),
            ),
        },
        Err(e) => (Status::Fail, e.to_string()),
    };
    Check {
        id: "config",
        status,
        detail,
    }
}
