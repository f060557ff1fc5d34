//! `coachctl invite ...`

use clap::{ArgGroup, Args, Subcommand};

use super::{Ctx, output};
use crate::domain::{Email, PersonName, ProfileText, UserRef};
use crate::error::Result;
use crate::ids::{self, IdRef, Kind};
use crate::invite::{self, InviteCode, Invitee, NewInvite};

#[derive(Debug, Args)]
pub struct Cmd {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Debug, Subcommand)]
enum Commands {
    /// Invite a person by email or an existing member; prints the code once
    /// (`-o ids` prints only the code). Codes expire after 7 days; a coach
    /// sends at most 10 per rolling 24 hours.
    #[command(group(ArgGroup::new("whom").required(true).args(["email", "user"])))]
    Send {
        /// Invite this email address
        ///
        /// A new or existing member.
        #[arg(long)]
        email: Option<Email>,
        /// Invite this existing member (email or id)
        #[arg(long)]
        user: Option<UserRef>,
        /// The inviting coach
        ///
        /// Admins only; a coach invites as themself.
        #[arg(long)]
        coach: Option<UserRef>,
        /// A personal message for the invitee
        #[arg(long)]
        message: Option<ProfileText>,
        /// Accepting also assigns the member to the coach
        ///
        /// Within the coach's capacity.
        #[arg(long)]
        assign: bool,
    },
    /// Accept an invitation: creates the member if needed and the connection
    Accept {
        /// The invitation code
        ///
        /// Base64url: it may start with '-'.
        #[arg(allow_hyphen_values = true)]
        code: InviteCode,
        /// Your name, for a new account
        ///
        /// When the invitation creates your account; default: the email's local part.
        #[arg(long)]
        name: Option<PersonName>,
    },
    /// Decline an invitation
    Decline {
        /// The invitation code
        ///
        /// Base64url: it may start with '-'.
        #[arg(allow_hyphen_values = true)]
        code: InviteCode,
    },
    /// Withdraw a pending invitation (its coach or an admin)
    Revoke {
        /// The invitation id (from `invite list`), or its first 8+ hex digits
        id: IdRef,
    },
    /// List invitations: a coach's own, a member's received, all for admins
    List,
}

impl Cmd {
    pub async fn run(self, ctx: &Ctx) -> Result<()> {
        // read-only commands may be served by a standby (COACHCTL_READ_URL)
        let reads_only = matches!(self.command, Commands::List);
        let (pool, actor) = ctx.session_for(reads_only).await?;
        let tz = ctx.display_tz(Some(&actor));
        match self.command {
            Commands::Send {
                email,
                user,
                coach,
                message,
                assign,
            } => {
                let invitee = match (email, user) {
                    (Some(e), _) => Invitee::Email(e),
                    (None, Some(u)) => Invitee::User(ids::user(&pool, &actor, u).await?),
                    (None, None) => {
                        return Err(crate::Error::invalid(
                            "name the invitee with --email or --user",
                        ));
                    }
                };
                let new = NewInvite {
                    coach: ids::user_opt(&pool, &actor, coach).await?,
                    invitee,
                    message,
                    assign,
                };
                let sent = invite::send(&pool, &actor, &new).await?;
                output::note(
                    ctx,
                    "Give this code to the invitee now: it is shown only once and expires in 7 days.",
                );
                output::one(ctx, tz, &sent)
            }
            Commands::Accept { code, name } => {
                let a = invite::accept(&pool, &actor, &code, name.as_ref()).await?;
                output::one(ctx, tz, &a)
            }
            Commands::Decline { code } => {
                output::one(ctx, tz, &invite::decline(&pool, &actor, &code).await?)
            }
            Commands::Revoke { id } => {
                let id = ids::resolve(&pool, &actor, Kind::Invitation, &id).await?;
                output::one(ctx, tz, &invite::revoke(&pool, &actor, id).await?)
            }
            Commands::List => output::list(ctx, tz, &invite::list(&pool, &actor).await?),
        }
    }
}
