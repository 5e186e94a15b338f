//! One bounded read of what the Zabbix data source shows: groups, hosts, ICMP state (the
//! `icmpping` items: 1 up, 0 down) and open problems, with the number of API calls it took.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::client::ZabbixClient;
use crate::error::ZabbixError;
use crate::types::{Host, HostGroup, Problem};

/// A host's last `icmpping` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IcmpState {
    pub up: bool,
    pub clock: DateTime<Utc>,
}

/// Everything one sync cycle reads.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub groups: Vec<HostGroup>,
    pub hosts: Vec<Host>,
    /// By host id; hosts without an `icmpping` item, or whose item has no value yet, are absent.
    pub icmp: HashMap<u64, IcmpState>,
    /// The hosts' `net.if.in[...]` and `net.if.out[...]` items with their last values.
    pub interfaces: Vec<crate::types::Item>,
    pub problems: Vec<Problem>,
    pub fetched_at: DateTime<Utc>,
    /// API requests this snapshot took (including the first call's version and login).
    pub api_calls: u64,
}

/// Reads a snapshot: groups, hosts and problems at once, then the hosts' `icmpping` items.
/// Other calls made on the same client meanwhile are counted in `api_calls` too.
pub async fn fetch_snapshot(c: &ZabbixClient) -> Result<Snapshot, ZabbixError> {
    let before = c.api_calls();
    // Version and login first, so the three reads below share one session.
    c.server_version().await?;
    let (groups, hosts, problems) = tokio::try_join!(c.host_groups(), c.hosts(None), c.problems())?;
    let ids: Vec<u64> = hosts.iter().map(|h| h.id).collect();
    let (icmp, interfaces) = tokio::try_join!(
        c.items_by_key(&ids, "icmpping"),
        c.items_by_key_prefix(&ids, "net.if.")
    )?;
    let interfaces = interfaces
        .into_iter()
        .filter(|i| i.key.starts_with("net.if.in[") || i.key.starts_with("net.if.out["))
        .collect();
    let icmp = icmp
        .into_iter()
        .filter_map(|i| {
            let clock = i.last_clock?;
            let up = i.last_value.as_deref().map(str::trim) == Some("1");
            Some((i.host_id, IcmpState { up, clock }))
        })
        .collect();
    Ok(Snapshot {
        groups,
        hosts,
        icmp,
        interfaces,
        problems,
        fetched_at: Utc::now(),
        api_calls: c.api_calls() - before,
    })
}
