//! Prompts on the terminal (dialoguer, on stderr): a picker and a yes/no
//! question. Esc or `q` backs out (exit 3, nothing changed); Ctrl-C shows
//! the cursor again and ends the command (exit 130, nothing changed)
//! instead of dying with the terminal in the picker's state.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::domain::text::shown;
use crate::error::{Error, Result};

/// The exit code of a command ended by Ctrl-C (128 + SIGINT), as shells use.
pub const INTERRUPTED: i32 = 130;

/// Choose one of `items`; `None` when backed out with Esc or `q`.
pub async fn pick(prompt: String, items: Vec<String>) -> Result<Option<usize>> {
    // Names in the items and the question were stored by others.
    let prompt = shown(&prompt).into_owned();
    let items: Vec<String> = items.iter().map(|i| shown(i).into_owned()).collect();
    interact(move || {
        dialoguer::Select::new()
            .with_prompt(prompt)
            .items(&items)
            .default(0)
            .max_length(12)
            // The confirmation names the choice; echoing it too would wrap at 80 columns.
            .report(false)
            .interact_opt()
    })
    .await
}

/// A yes/no question, no by default: `y` says yes, `n` or Enter no, Esc or
/// `q` backs out (`None`).
pub async fn yes_no(question: String) -> Result<Option<bool>> {
    let question = shown(&question).into_owned();
    interact(move || {
        dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact_opt()
    })
    .await
}

/// Run a dialoguer prompt on a blocking thread while this one listens for
/// Ctrl-C. dialoguer reads keys in raw mode and, on Ctrl-C, raises SIGINT;
/// with a listener installed first, that no longer kills the process with
/// the cursor hidden.
async fn interact<T: Send + 'static>(
    prompt: impl FnOnce() -> dialoguer::Result<Option<T>> + Send + 'static,
) -> Result<Option<T>> {
    let mut sigint = signal(SignalKind::interrupt())
        .map_err(|e| Error::Internal(format!("cannot listen for Ctrl-C: {e}")))?;
    PROMPTING.store(true, Ordering::SeqCst);
    let task = tokio::task::spawn_blocking(prompt);
    let answer = tokio::select! {
        joined = task => joined,
        _ = sigint.recv() => interrupted("interrupted; nothing was changed"),
    };
    PROMPTING.store(false, Ordering::SeqCst);
    match answer {
        Ok(Ok(v)) => {
            // Ctrl-C keeps ending the command after the prompt.
            tokio::spawn(end_on_ctrl_c(sigint));
            Ok(v)
        }
        Ok(Err(dialoguer::Error::IO(e))) if e.kind() == std::io::ErrorKind::Interrupted => {
            interrupted("interrupted; nothing was changed")
        }
        Ok(Err(e)) => Err(Error::invalid(format!("cannot read an answer: {e}"))),
        Err(e) => Err(Error::Internal(format!("the prompt failed: {e}"))),
    }
}

/// Set while a prompt runs: its own listener answers Ctrl-C then.
static PROMPTING: AtomicBool = AtomicBool::new(false);

async fn end_on_ctrl_c(mut sigint: Signal) {
    while sigint.recv().await.is_some() {
        if !PROMPTING.load(Ordering::SeqCst) {
            interrupted("interrupted");
        }
    }
}

/// Restore the terminal (show the cursor) and end.
fn interrupted(why: &str) -> ! {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\x1b[?25h\n{why}\n");
    let _ = err.flush();
    std::process::exit(INTERRUPTED)
}
