//! `coachctl slots ...`

use clap::Args;

use super::{Ctx, output};
use crate::booking;
use crate::domain::{Date, UserRef};
use crate::error::{Error, Result};

/// The offered slots of a coach, computed in the coach's own time zone.
#[derive(Debug, Args)]
pub struct Cmd {
    /// The coach (email or id)
    #[arg(long)]
    coach: UserRef,
    /// First local date, YYYY-MM-DD (default: today in the coach's zone)
    #[arg(long)]
    from: Option<Date>,
    /// How many days from --from (default 7)
    #[arg(long, conflicts_with = "to")]
    days: Option<u32>,
    /// Last local date, inclusive
    #[arg(long)]
    to: Option<Date>,
    /// List full slots too, with remaining 0
    #[arg(long)]
    all: bool,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (pool, actor) = ctx.session().await?;
        let days = match (self.days, self.to) {
            (Some(d), _) => d,
            (None, Some(to)) => {
                let from = self
                    .from
                    .ok_or_else(|| Error::invalid("--to needs --from"))?;
                let n = (to.naive() - from.naive()).num_days() + 1;
                if n < 1 {
                    return Err(Error::invalid(format!(
                        "--to ({to}) is before --from ({from})"
                    )));
                }
                n as u32
            }
            (None, None) => 7,
        };
        if days == 0 || days > 366 {
            return Err(Error::invalid(format!(
                "--days must be between 1 and 366, not {days}"
            )));
        }
        let (coach, slots) = booking::slots(
            &pool,
            &actor,
            &self.coach,
            self.from.map(|d| d.naive()),
            days,
            self.all,
        )
        .await?;
        // Slots read best in the coach's own zone unless --tz says otherwise.
        let tz = ctx.global.tz.map(|t| t.tz()).unwrap_or_else(|| coach.tz());
        output::list(ctx, tz, &slots)
    }
}
