//! WARD FLUX alert engine.
pub mod engine;
pub mod escalation;
pub mod group;
pub mod rule;
pub mod suppress;
pub mod template;
