//! `notify send`: drain the outbox over SMTP.
//!
//! Messages are claimed in batches with `FOR UPDATE SKIP LOCKED` and a
//! lease under a token of this claim (two senders never hold one message),
//! sent outside the claiming transaction over one SMTP connection, and each
//! is marked sent as soon as the server took it. A slow server may outlast
//! the lease, and another sender may then claim the rest of the batch: so
//! right before each hand-off the claim is checked and the lease renewed
//! (only while the token is still ours), and a message claimed away is left
//! to its new holder. Batches are sized to what the lease lets this sender
//! deliver at the pace it has seen. A refused message is retried with
//! exponential backoff and, after the last attempt, stays `failed`. When the
//! server cannot be reached, the messages in hand are released untouched
//! and the run ends with exit 8: nothing is lost.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use serde::Serialize;
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use super::render::{self, Payload, Recipient};
use super::words;
use crate::actor::Actor;
use crate::error::{Error, Result};

/// How `notify send` runs.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// `COACHCTL_SMTP_URL`: `smtp://host:port` (plain), `smtp://host?tls=required`
    /// (STARTTLS), `smtps://user:pass@host` (implicit TLS).
    pub smtp_url: String,
    /// `COACHCTL_SMTP_FROM`
    pub from: String,
    /// `COACHCTL_SMTP_CA`: a PEM file of the CA that signed the server's
    /// certificate, trusted besides the public roots (a private mail relay).
    pub ca: Option<std::path::PathBuf>,
    /// Messages claimed per batch (memory stays bounded by it).
    pub batch: i64,
    /// Attempts before a message stays `failed`.
    pub max_attempts: i32,
    /// How long a claim holds before another sender may take the message;
    /// renewed right before each hand-off.
    pub lease: Duration,
    /// How people reach the organisation, named in every message as the
    /// way to act on it (else "reply to this email").
    pub contact: Option<String>,
}

/// `notify send --lease`: `30s`, `5m`, `1h` (whole seconds, minutes or
/// hours, from one second to a day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease(Duration);

impl Lease {
    pub fn get(self) -> Duration {
        self.0
    }
}

impl std::str::FromStr for Lease {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "'{s}' is not a lease: give a whole number of seconds, minutes or hours \
                 from 1s to 24h, e.g. 30s, 5m or 1h"
            ))
        };
        let t = s.trim();
        let unit = t.chars().last().ok_or_else(bad)?;
        let per = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(bad()),
        };
        let digits = &t[..t.len() - 1];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let secs = digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(per))
            .filter(|n| (1..=86_400).contains(n))
            .ok_or_else(bad)?;
        Ok(Lease(Duration::from_secs(secs)))
    }
}

impl std::fmt::Display for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}s", self.0.as_secs())
    }
}

impl SendOptions {
    pub fn new(smtp_url: String, from: String) -> Self {
        SendOptions {
            smtp_url,
            from,
            ca: None,
            batch: 100,
            max_attempts: 5,
            lease: Duration::from_secs(300),
            contact: None,
        }
    }
}

/// What one run delivered.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Delivery {
    pub sent: u64,
    pub retrying: u64,
    pub failed: u64,
    pub skipped: u64,
}

#[derive(FromRow)]
struct Claimed {
    id: Uuid,
    event: String,
    payload: sqlx::types::Json<Payload>,
    message_id: String,
    attempts: i32,
    email: String,
    name: String,
    timezone: String,
    /// For reminders: is the session still as it was reminded of?
    stale: bool,
}

/// `notify send` (admin, i.e. the cron job): deliver every due message.
pub async fn send(pool: &PgPool, actor: &Actor, opts: &SendOptions) -> Result<Delivery> {
    actor.require_admin_or_cron("send the email outbox")?;
    let from: Mailbox = opts.from.parse().map_err(|_| {
        Error::invalid(format!(
            "COACHCTL_SMTP_FROM is not an email address: {}",
            opts.from
        ))
    })?;
    let transport = Arc::new(transport(opts)?);
    let probe = transport.clone();
    let reachable = tokio::task::spawn_blocking(move || probe.test_connection())
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    match reachable {
        Ok(true) => {}
        Err(e) if e.is_permanent() => {
            // e.g. 535: the server answered, and refused the login
            return Err(Error::Unavailable(format!(
                "the SMTP server at {} refused the connection ({}); check the credentials in \
                 COACHCTL_SMTP_URL; nothing was lost, the messages stay queued",
                shown(&opts.smtp_url),
                e.status().map(|c| c.to_string()).unwrap_or_default()
            )));
        }
        // a certificate refused during STARTTLS reads as a connection error
        Err(e) if e.is_tls() || format!("{e:?}").contains("Certificate") => {
            return Err(Error::Unavailable(format!(
                "cannot set up TLS with the SMTP server at {} (is its certificate trusted? \
                 COACHCTL_SMTP_CA names a private CA); nothing was lost, the messages stay queued",
                shown(&opts.smtp_url)
            )));
        }
        _ => return Err(unreachable(&opts.smtp_url)),
    }
    let mut done = Delivery::default();
    let mut pace = Pace::default();
    loop {
        let token = Uuid::new_v4();
        let batch = claim(pool, opts, pace.batch(opts), token).await?;
        if batch.is_empty() {
            return Ok(done);
        }
        let mut rest = batch.into_iter();
        while let Some(m) = rest.next() {
            if m.stale {
                settle(pool, m.id, token, "skipped", None).await?;
                done.skipped += 1;
                continue;
            }
            // The lease may have run out while earlier messages went: hand
            // this one over only if it is still ours, for a fresh lease.
            if !renew(pool, m.id, token, opts.lease).await? {
                continue;
            }
            let house = render::House {
                contact: opts.contact.clone(),
                now: chrono::Utc::now(),
            };
            let email = build(&from, &m, &house)?;
            let t = transport.clone();
            let started = std::time::Instant::now();
            let outcome = tokio::task::spawn_blocking(move || t.send(&email))
                .await
                .map_err(|e| Error::Internal(e.to_string()))?;
            pace.took(started.elapsed());
            match outcome {
                Ok(_) => {
                    // sent is sent, whoever holds the claim by now
                    settle(pool, m.id, token, "sent", None).await?;
                    done.sent += 1;
                }
                Err(e) if e.is_permanent() || e.is_transient() => {
                    // the server refused this message: back off, or give up
                    let err = e.to_string();
                    if m.attempts >= opts.max_attempts || e.is_permanent() {
                        settle(pool, m.id, token, "failed", Some(&err)).await?;
                        done.failed += 1;
                    } else {
                        back_off(pool, m.id, token, &err).await?;
                        done.retrying += 1;
                    }
                }
                Err(_) => {
                    // the connection failed: this message and the rest go
                    // back untouched (the server may or may not have taken
                    // this one; a resend carries the same Message-ID)
                    let ids: Vec<Uuid> = std::iter::once(m.id).chain(rest.map(|r| r.id)).collect();
                    release(pool, &ids, token).await?;
                    return Err(unreachable(&opts.smtp_url));
                }
            }
        }
    }
}

/// How fast the server takes messages, so that a batch is about what this
/// sender delivers in half its lease: the tail of a larger batch would only
/// wait, claimed, while other senders could take it.
#[derive(Default)]
struct Pace {
    sent: u32,
    spent: Duration,
}

impl Pace {
    /// Before any hand-off the pace is unknown: a small first batch.
    const FIRST: i64 = 10;

    fn took(&mut self, d: Duration) {
        self.sent += 1;
        self.spent += d;
    }

    fn batch(&self, opts: &SendOptions) -> i64 {
        if self.sent == 0 {
            return opts.batch.min(Self::FIRST);
        }
        let each = (self.spent / self.sent).max(Duration::from_micros(100));
        let fits = (opts.lease / 2).as_secs_f64() / each.as_secs_f64();
        (fits as i64).clamp(1, opts.batch)
    }
}

/// The SMTP transport the URL names: plain, STARTTLS or implicit TLS, with
/// credentials from the URL, one connection reused for the whole run.
fn transport(opts: &SendOptions) -> Result<SmtpTransport> {
    let bad_url = || {
        Error::invalid(
            "COACHCTL_SMTP_URL is not an SMTP URL; use smtp://host:port, \
             smtp://host:port?tls=required (STARTTLS) or smtps://user:pass@host",
        )
    };
    let mut builder = SmtpTransport::from_url(&opts.smtp_url).map_err(|_| bad_url())?;
    if let Some(path) = &opts.ca {
        let pem = std::fs::read(path).map_err(|e| {
            Error::invalid(format!(
                "cannot read COACHCTL_SMTP_CA {}: {e}",
                path.display()
            ))
        })?;
        let cert = Certificate::from_pem(&pem).map_err(|_| {
            Error::invalid(format!(
                "COACHCTL_SMTP_CA {} holds no PEM certificate",
                path.display()
            ))
        })?;
        let url = url::Url::parse(&opts.smtp_url).map_err(|_| bad_url())?;
        let host = url.host_str().ok_or_else(bad_url)?.to_string();
        let params = TlsParameters::builder(host)
            .add_root_certificate(cert)
            .build()
            .map_err(|e| Error::invalid(format!("cannot set up TLS for SMTP: {e}")))?;
        let starttls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let tls = match (url.scheme(), starttls.as_deref()) {
            ("smtps", _) => Tls::Wrapper(params),
            (_, Some("required")) => Tls::Required(params),
            (_, Some("opportunistic")) => Tls::Opportunistic(params),
            _ => Tls::None,
        };
        builder = builder.tls(tls);
    }
    Ok(builder
        .timeout(Some(Duration::from_secs(10)))
        .pool_config(PoolConfig::new().max_size(1))
        .build())
}

/// The URL without credentials.
fn shown(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| format!("{}://{h}:{}", u.scheme(), u.port().unwrap_or(25)))
        })
        .unwrap_or_else(|| "the SMTP server".into())
}

fn unreachable(url: &str) -> Error {
    Error::Unavailable(format!(
        "cannot reach the SMTP server at {}; nothing was lost, the messages stay queued",
        shown(url)
    ))
}

async fn claim(pool: &PgPool, opts: &SendOptions, batch: i64, token: Uuid) -> Result<Vec<Claimed>> {
    Ok(sqlx::query_as(
        "UPDATE outbox o
         SET lease_until = now() + make_interval(secs => $2), attempts = o.attempts + 1,
             claim_token = $3
         FROM (SELECT id FROM outbox
               WHERE status = 'queued' AND next_attempt_at <= now()
                 AND (lease_until IS NULL OR lease_until <= now())
               ORDER BY next_attempt_at, id
               LIMIT $1
               FOR UPDATE SKIP LOCKED) c,
              users u
         WHERE o.id = c.id AND u.id = o.recipient_id
         RETURNING o.id, o.event, o.payload, o.message_id, o.attempts, u.email, u.name, u.timezone,
                   (o.event LIKE 'reminder.%' AND NOT EXISTS (
                        SELECT 1 FROM sessions s
                        WHERE s.id = o.session_id AND s.status = 'scheduled'
                          AND s.sequence = (o.payload->>'sequence')::int
                          AND s.starts_at > now())) AS stale",
    )
    .bind(batch)
    .bind(opts.lease.as_secs_f64())
    .bind(token)
    .fetch_all(pool)
    .await?)
}

/// Renew the lease on a claimed message if the claim is still ours: false
/// when another sender claimed it since (its token replaced ours) or it was
/// settled. A lease that ran out with no one claiming the message since is
/// still ours. The row lock orders this against a rival claim: whichever
/// comes second sees the other's change.
async fn renew(pool: &PgPool, id: Uuid, token: Uuid, lease: Duration) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE outbox SET lease_until = now() + make_interval(secs => $3)
         WHERE id = $1 AND claim_token = $2 AND status = 'queued'",
    )
    .bind(id)
    .bind(token)
    .bind(lease.as_secs_f64())
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

fn build(from: &Mailbox, m: &Claimed, house: &render::House) -> Result<Message> {
    let tz = m.timezone.parse().unwrap_or(chrono_tz::UTC);
    let to = Recipient {
        email: m.email.clone(),
        name: m.name.clone(),
        tz,
    };
    let email = render::compose(&m.event, &m.payload.0, &to, house);
    let address: lettre::Address = m
        .email
        .parse()
        .map_err(|_| Error::Internal(format!("unusable recipient address {}", m.email)))?;
    let name = crate::domain::text::shown(&m.name).into_owned();
    let mut builder = Message::builder()
        .from(from.clone())
        .message_id(Some(m.message_id.clone()));
    // Text outside ASCII goes as whole-word encoded-words (see words.rs).
    builder = if words::is_plain(&name) {
        builder.to(Mailbox::new(Some(name), address))
    } else {
        let value = format!("{} <{address}>", words::encode(&name, 4));
        builder
            .envelope(
                lettre::address::Envelope::new(from.email.clone().into(), vec![address.clone()])
                    .map_err(|e| Error::Internal(format!("cannot address the message: {e}")))?,
            )
            .raw_header(HeaderValue::dangerous_new_pre_encoded(
                HeaderName::new_from_ascii_str("To"),
                format!("{name} <{address}>"),
                value,
            ))
    };
    builder = if words::is_plain(&email.subject) {
        builder.subject(email.subject)
    } else {
        let value = words::encode(&email.subject, 9);
        builder.raw_header(HeaderValue::dangerous_new_pre_encoded(
            HeaderName::new_from_ascii_str("Subject"),
            email.subject,
            value,
        ))
    };
    let text = SinglePart::plain(email.body);
    let built = match email.calendar {
        Some((method, ics)) => {
            let kind =
                ContentType::parse(&format!("text/calendar; charset=UTF-8; method={method}"))
                    .map_err(|e| Error::Internal(e.to_string()))?;
            builder.multipart(
                MultiPart::mixed()
                    .singlepart(text)
                    .singlepart(Attachment::new("session.ics".into()).body(ics, kind)),
            )
        }
        None => builder.singlepart(text),
    };
    built.map_err(|e| Error::Internal(format!("cannot build the message: {e}")))
}

/// Record a message's outcome. A delivery is recorded whoever holds the
/// claim by now (a rival holder then finds it settled and skips it); any
/// other outcome only while the claim is ours.
async fn settle(
    pool: &PgPool,
    id: Uuid,
    token: Uuid,
    status: &str,
    err: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = $2, lease_until = NULL, claim_token = NULL, last_error = $3,
                sent_at = CASE WHEN $2 = 'sent' THEN now() END
         WHERE id = $1 AND status = 'queued' AND ($2 = 'sent' OR claim_token = $4)",
    )
    .bind(id)
    .bind(status)
    .bind(err)
    .bind(token)
    .execute(pool)
    .await?;
    Ok(())
}

/// Try again after 1, 2, 4, ... minutes.
async fn back_off(pool: &PgPool, id: Uuid, token: Uuid, err: &str) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET lease_until = NULL, claim_token = NULL, last_error = $2,
                next_attempt_at = now() + interval '1 minute' * power(2, greatest(attempts - 1, 0))
         WHERE id = $1 AND claim_token = $3",
    )
    .bind(id)
    .bind(err)
    .bind(token)
    .execute(pool)
    .await?;
    Ok(())
}

/// Give claimed messages back as they were (an outage is not their fault),
/// those still ours.
async fn release(pool: &PgPool, ids: &[Uuid], token: Uuid) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET lease_until = NULL, claim_token = NULL,
                attempts = greatest(attempts - 1, 0)
         WHERE id = ANY($1) AND status = 'queued' AND claim_token = $2",
    )
    .bind(ids)
    .bind(token)
    .execute(pool)
    .await?;
    Ok(())
}
