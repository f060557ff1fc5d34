//! coachctl: coaches, members, availability and atomic booking on PostgreSQL.
//!
//! The library holds every rule; `src/cli` is a thin front end over it.
//! Every entry point takes the acting [`actor::Actor`] and checks permission
//! itself, so scripts using the library get the same guarantees as the CLI.
#![forbid(unsafe_code)]

pub mod actor;
pub mod admin;
pub mod audit;
pub mod availability;
pub mod booking;
pub mod calendar;
pub mod cli;
pub mod coach;
pub mod complete;
pub mod config;
pub mod connect;
pub mod copy_csv;
pub mod dashboard;
pub mod db;
pub mod demo;
pub mod doctor;
pub mod domain;
pub mod embedded;
pub mod error;
pub mod history;
pub mod ids;
pub mod insight;
pub mod invite;
pub mod login;
pub mod member;
pub mod message;
pub mod notify;
pub mod page;
pub mod program;
pub mod roster;
pub mod schedule;
pub mod seed;
pub mod session;
pub mod text;
pub mod users;
pub mod waitlist;

pub use error::{Error, Result};
