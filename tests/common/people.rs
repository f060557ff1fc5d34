//! Setting up people and bookings in a test database, so a test states only
//! what it is about:
//!
//! ```ignore
//! db.coach("ana").tz("Europe/Berlin").max_members(2).create();
//! db.member("bo").assigned_to("ana").create();
//! db.book("ana", "bo", &format!("{}T09:00", monday())).ok();
//! ```
//!
//! A person is named by a handle (`ana` is ana@example.com, named "Ana"),
//! or by a whole email or an id. Each builder runs the real command, as a test
//! would by hand, and checks that it succeeded.

use std::fmt::Display;

use super::{Run, TestDb};

/// `ana` -> ana@example.com. A handle is a short lowercase word (under 8
/// characters, so never an id or an id's prefix); an email or an id stays
/// as it is.
pub fn email(who: &str) -> String {
    let handle = who.len() < 8
        && who
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if handle {
        format!("{who}@example.com")
    } else {
        who.to_string()
    }
}

/// The name a person gets unless the test gives one: the handle,
/// capitalised (`ana@example.com` -> "Ana").
fn default_name(email: &str) -> String {
    let local = email.split('@').next().unwrap_or(email);
    let mut c = local.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A person about to be created: `coach create` or `member create`.
#[must_use = "a person is created by .create()"]
pub struct Person<'a> {
    db: &'a TestDb,
    noun: &'static str,
    email: String,
    name: Option<String>,
    args: Vec<String>,
    by: Option<String>,
    windows: Vec<Window>,
}

struct Window {
    day: String,
    hours: (String, String),
    length: u32,
    buffer: u32,
    capacity: u32,
}

impl TestDb {
    /// A coach to create; see [`Person`].
    pub fn coach(&self, who: &str) -> Person<'_> {
        Person::new(self, "coach", who)
    }

    /// A member to create; see [`Person`].
    pub fn member(&self, who: &str) -> Person<'_> {
        Person::new(self, "member", who)
    }

    /// Run coachctl `--as` this person (a handle, an email or an id).
    pub fn run_as(&self, who: &str, args: &[&str]) -> Run {
        let who = email(who);
        let mut all = vec!["--as", who.as_str()];
        all.extend(args);
        self.run(&all)
    }

    /// `member assign MEMBER --coach COACH`, which must succeed.
    pub fn assign(&self, member: &str, coach: &str) {
        self.run(&["member", "assign", &email(member), "--coach", &email(coach)])
            .ok();
    }

    /// `book --coach COACH --member MEMBER --at AT`, as the operator.
    pub fn book(&self, coach: &str, member: &str, at: &str) -> Run {
        self.book_with(coach, member, at, &[])
    }

    /// [`TestDb::book`] that must succeed: the session's id.
    pub fn booked(&self, coach: &str, member: &str, at: &str) -> String {
        self.book_with(coach, member, at, &["-o", "ids"]).id()
    }

    /// [`TestDb::book`] with more flags (`-o json`, `--waitlist`).
    pub fn book_with(&self, coach: &str, member: &str, at: &str, more: &[&str]) -> Run {
        let (coach, member) = (email(coach), email(member));
        let mut args = vec!["book", "--coach", &coach, "--member", &member, "--at", at];
        args.extend(more);
        self.run(&args)
    }
}

impl<'a> Person<'a> {
    fn new(db: &'a TestDb, noun: &'static str, who: &str) -> Self {
        Person {
            db,
            noun,
            email: email(who),
            name: None,
            args: Vec::new(),
            by: None,
            windows: Vec::new(),
        }
    }

    /// `--name` (default: the handle, capitalised).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// `--timezone`.
    pub fn tz(self, zone: &str) -> Self {
        self.arg("--timezone", zone)
    }

    /// `--max-members` (coaches).
    pub fn max_members(self, n: impl Display) -> Self {
        self.arg("--max-members", &n.to_string())
    }

    /// `--coach` (members): created assigned to this coach.
    pub fn assigned_to(self, coach: &str) -> Self {
        let coach = email(coach);
        self.arg("--coach", &coach)
    }

    /// Any other flag of the create command, with its value.
    pub fn arg(mut self, flag: &str, value: &str) -> Self {
        self.args.push(flag.to_string());
        self.args.push(value.to_string());
        self
    }

    /// Created by this person (`--as`) instead of the operator.
    pub fn by(mut self, who: &str) -> Self {
        self.by = Some(email(who));
        self
    }

    /// A weekly window for the coach once created: `day start-end`,
    /// sessions of `length` minutes, `buffer` between, `capacity` seats.
    pub fn window(
        mut self,
        day: &str,
        (start, end): (&str, &str),
        length: u32,
        buffer: u32,
        capacity: u32,
    ) -> Self {
        self.windows.push(Window {
            day: day.to_string(),
            hours: (start.to_string(), end.to_string()),
            length,
            buffer,
            capacity,
        });
        self
    }

    /// Run the create command (and the windows); the new person's id.
    pub fn create(self) -> String {
        let name = self.name.unwrap_or_else(|| default_name(&self.email));
        let mut args: Vec<&str> = Vec::new();
        if let Some(by) = &self.by {
            args.extend(["--as", by]);
        }
        args.extend([self.noun, "create", "--email", &self.email, "--name", &name]);
        args.extend(self.args.iter().map(String::as_str));
        args.extend(["-o", "ids"]);
        let id = self.db.run(&args).id();
        for w in &self.windows {
            super::window(
                self.db,
                &self.email,
                &w.day,
                (&w.hours.0, &w.hours.1),
                w.length,
                w.buffer,
                w.capacity,
            );
        }
        id
    }
}
