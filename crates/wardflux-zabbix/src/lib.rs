//! A client for the Zabbix JSON-RPC API (5.0, 6.0, 7.x), written here because no suitable
//! Rust crate exists: the published ones pass session strings by hand, parse ids into
//! small integers, send unbounded reads and cannot tell a wrong password from a blocked
//! account or a page that is not Zabbix.
//!
//! - [`client`]: the transport, login or API token, session renewal, and typed bounded reads
//!   (groups, hosts with SNMP details, items, problems, acknowledgement, history, trends, the
//!   migration's host list);
//! - [`types`]: the typed objects and the serde helpers for Zabbix's string-encoded numbers;
//! - [`sync`]: one snapshot of groups, hosts, ICMP state and problems for the data source;
//! - [`import`]: the migration of Zabbix SNMP hosts into standalone devices (CLI and API);
//! - [`source`]: the server's Zabbix data source: the sync loop, the mirror of hosts, problems
//!   as alerts, `icmpping` states, acknowledgements back to Zabbix, staleness;
//! - [`error`]: the errors, each with a [`ZabbixError::kind`] for the API.
//!
//! Secrets (password, tokens, SNMP passphrases, macro values) are
//! [`wardflux_model::inventory::Secret`]s: never in `Debug`, never serialised, never logged.

pub mod client;
pub mod error;
pub mod import;
pub mod source;
pub mod sync;
pub mod types;

pub use client::{ZabbixAuth, ZabbixClient, ZabbixConfig, ZabbixVersion};
pub use error::ZabbixError;
pub use sync::{IcmpState, Snapshot, fetch_snapshot};
pub use types::*;
