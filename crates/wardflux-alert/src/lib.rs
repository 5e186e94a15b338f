//! WARD FLUX alert engine.
pub mod driver;
pub mod engine;
pub mod escalation;
pub mod group;
pub mod notify;
pub mod outbox;
pub mod rule;
pub mod suppress;
pub mod template;
