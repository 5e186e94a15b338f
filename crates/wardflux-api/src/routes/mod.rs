//! Route handlers, one module per area of the API.

pub mod alerts;
pub mod auth;
pub mod devices;
pub mod groups;
pub mod icmp;
pub mod monitoring;
pub mod snmp;
pub mod system;
pub mod users;
