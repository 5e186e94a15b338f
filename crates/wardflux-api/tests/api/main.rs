//! Black-box API tests: each test spawns the app on port 0 with a fresh database.
//!
//! The database is SQLite in a temporary directory by default; with
//! `WARDFLUX_TEST_DATABASE=postgres` every test gets a fresh PostgreSQL database instead
//! (the test command runs the suite both ways).

mod alerts;
mod auth;
mod config;
mod devices;
mod discovery;
mod groups;
mod helpers;
mod icmp;
mod limits;
mod metrics;
mod monitoring;
mod rbac;
mod settings;
mod snmp;
mod system;
mod templates;
mod users;
