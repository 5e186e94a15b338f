//! WARD FLUX alert engine: rules (PromQL + `for`), a pure state machine, suppression
//! (dependencies, self, maintenance), grouping, escalation, templates, notification channels
//! and the outbox worker. See docs/alerts.md.
//!
//! The pure modules (`rule`, `engine`, `suppress`, `group`, `escalation`, `template`) take
//! time as an argument and do no I/O. `notify` talks to SMTP and HTTP receivers, `outbox`
//! delivers what the store queued, and `driver` ties them to the metric sink, the metric
//! store and the SQL store.

pub mod config_checks;
pub mod driver;
pub mod engine;
pub mod escalation;
pub mod group;
pub mod notify;
pub mod outbox;
pub mod rule;
pub mod suppress;
pub mod template;
