//! `coachctl demo`

use clap::Args;

use super::{Ctx, output};
use crate::demo;
use std::io::Write;

use crate::error::Result;

#[derive(Debug, Args)]
pub struct Cmd {}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        let (pool, actor) = ctx.session().await?;
        let views = demo::seed(&pool, &actor).await?;
        let tz = ctx.display_tz(Some(&actor));
        match ctx.global.output {
            output::Format::Json => output::value(ctx, &output::localized(&views, tz)?),
            output::Format::Ids | output::Format::Csv => {
                let coaches: Vec<_> = views.into_iter().map(|v| v.coach).collect();
                output::list(ctx, tz, &coaches)
            }
            output::Format::Table | output::Format::Wide => {
                output::note(
                    ctx,
                    &format!("Demo organisation ready in {}.", ctx.target().describe()),
                );
                for v in &views {
                    let c = &v.coach;
                    let mut out = Vec::new();
                    // two short lines rather than one that wraps at 80 columns
                    writeln!(out, "\n{} <{}>", c.name, c.email)?;
                    writeln!(
                        out,
                        "{} · {} · {}/{} members, {} free",
                        c.specialization.as_deref().unwrap_or("-"),
                        c.timezone,
                        c.member_count,
                        c.max_members,
                        c.free_capacity
                    )?;
                    output::human(&out)?;
                    output::list(ctx, tz, &v.members)?;
                    // Sessions and slots read best in the coach's own zone,
                    // and by member name, as the coach sees them.
                    let ctz = ctx.global.tz.map(|t| t.tz()).unwrap_or_else(|| c.tz());
                    writeln!(std::io::stdout().lock(), "\nSessions in the next 7 days:")?;
                    let mut rows = output::Rows::new(ctx, ctz).viewer(Some(c.id));
                    for s in &v.sessions {
                        rows.push(s)?;
                    }
                    rows.finish()?;
                    writeln!(std::io::stdout().lock(), "\nNext open slots:")?;
                    output::list(ctx, ctz, &v.open_slots)?;
                    if !v.programs.is_empty() {
                        writeln!(std::io::stdout().lock(), "\nPrograms in progress:")?;
                        output::list(ctx, ctz, &v.programs)?;
                    }
                }
                let me = invoked_as();
                output::note(
                    ctx,
                    &format!(
                        "\nTry: {me} --as ana.berger@example.com member list\n     \
                         {me} --as bo.lind@example.com member progress\n     \
                         {me} notify list --status queued"
                    ),
                );
                Ok(())
            }
        }
    }
}

/// How to run this very binary again: `coachctl` when that is what PATH
/// finds, else its path (after `cargo run -- demo`, `./target/release/coachctl`).
fn invoked_as() -> String {
    let Ok(me) = std::env::current_exe().and_then(std::fs::canonicalize) else {
        return "coachctl".into();
    };
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|d| std::fs::canonicalize(d.join("coachctl")).is_ok_and(|p| p == me))
    });
    if on_path {
        return "coachctl".into();
    }
    let here = std::env::current_dir().ok();
    match here.as_deref().and_then(|d| me.strip_prefix(d).ok()) {
        Some(rel) => format!("./{}", rel.display()),
        None => me.display().to_string(),
    }
}
