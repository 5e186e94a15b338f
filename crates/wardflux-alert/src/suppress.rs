//! Whether an alert may be notified now, decided at the moment of notifying from the device
//! tree, the devices' reachability and the maintenance windows. Pure: time is passed in.
//!
//! In order:
//! 1. A device in an active maintenance window (directly or through a group): suppressed.
//! 2. A metric alert of a device that is confirmed down: suppressed by the device itself
//!    (the `Device unreachable` alert says it all).
//! 3. An ancestor (parent chain) confirmed down: suppressed by the nearest such ancestor.
//! 4. An ancestor that recovered less than one check cycle ago: held until that cycle has
//!    passed, so a recovering branch whose children have not been re-checked sends no burst.
//! 5. A device confirmed down whose ancestors have not been checked since it started failing:
//!    held (and the ancestors should be probed now) until they have been, at most one check
//!    cycle after the device started failing. A child detected before its parent therefore
//!    waits for the parent's verdict instead of racing it.
//!
//! Suppressed alerts are recorded with the reason (`maintenance:<window>`, `self:<device>`,
//! `parent:<device>`) and never notified or escalated while suppressed.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use wardflux_model::alerts::MaintenanceWindow;

/// What the inventory says about a device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceNode {
    pub name: String,
    pub parent: Option<Uuid>,
    pub groups: Vec<Uuid>,
}

/// Reachability of a device as the state machine confirmed it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reach {
    pub down: bool,
    /// For a down device: the start of its first failed check.
    pub down_since: Option<DateTime<Utc>>,
    /// The last completed check (of any outcome).
    pub last_check: Option<DateTime<Utc>>,
    pub recovered_at: Option<DateTime<Utc>>,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Notify,
    Suppress(String),
    /// Ask again at `until` (or when a device in `probe` reports). `probe`: ancestors to check now.
    Hold {
        until: DateTime<Utc>,
        probe: Vec<Uuid>,
    },
}

/// The device tree and reachability.
#[derive(Debug, Clone)]
pub struct Topology {
    pub devices: HashMap<Uuid, DeviceNode>,
    pub reach: HashMap<Uuid, Reach>,
    /// One check cycle (the ICMP interval plus confirmation time).
    pub check_cycle: Duration,
}

const MAX_DEPTH: usize = 64;

impl Topology {
    pub fn new(check_cycle: Duration) -> Self {
        Self {
            devices: HashMap::new(),
            reach: HashMap::new(),
            check_cycle,
        }
    }

    fn name(&self, id: Uuid) -> String {
        self.devices
            .get(&id)
            .map_or_else(|| id.to_string(), |d| d.name.clone())
    }

    /// Ancestors, nearest first (cycle-safe).
    pub fn ancestors(&self, id: Uuid) -> Vec<Uuid> {
        let mut out = Vec::new();
        let mut cur = self.devices.get(&id).and_then(|d| d.parent);
        while let Some(p) = cur {
            if p == id || out.contains(&p) || out.len() >= MAX_DEPTH {
                break;
            }
            out.push(p);
            cur = self.devices.get(&p).and_then(|d| d.parent);
        }
        out
    }

    /// Decides for an alert of `device` (`None`: an alert not tied to a device).
    /// `reachability`: the alert is the device's own `Device unreachable`/flapping alert.
    pub fn decide(
        &self,
        now: DateTime<Utc>,
        device: Option<Uuid>,
        reachability: bool,
        windows: &[MaintenanceWindow],
    ) -> Decision {
        let Some(id) = device else {
            return Decision::Notify;
        };
        let groups = self
            .devices
            .get(&id)
            .map(|d| d.groups.as_slice())
            .unwrap_or_default();
        if let Some(w) = windows.iter().find(|w| {
            (w.device_ids.contains(&id) || w.group_ids.iter().any(|g| groups.contains(g)))
                && window_active(w, now)
        }) {
            return Decision::Suppress(format!("maintenance:{}", w.name));
        }
        let me = self.reach.get(&id).copied().unwrap_or_default();
        if !reachability && me.down {
            return Decision::Suppress(format!("self:{}", self.name(id)));
        }
        let ancestors = self.ancestors(id);
        for a in &ancestors {
            if self.reach.get(a).is_some_and(|r| r.down) {
                return Decision::Suppress(format!("parent:{}", self.name(*a)));
            }
        }
        let cycle = chrono::Duration::from_std(self.check_cycle).unwrap_or_default();
        let hold_recovery = ancestors
            .iter()
            .filter_map(|a| self.reach.get(a).and_then(|r| r.recovered_at))
            .map(|r| r + cycle)
            .filter(|until| *until > now)
            .max();
        if let Some(until) = hold_recovery {
            return Decision::Hold {
                until,
                probe: Vec::new(),
            };
        }
        if reachability
            && me.down
            && let Some(since) = me.down_since
        {
            let unchecked: Vec<Uuid> = ancestors
                .iter()
                .copied()
                .filter(|a| {
                    self.reach
                        .get(a)
                        .and_then(|r| r.last_check)
                        .is_none_or(|c| c < since)
                })
                .collect();
            let until = since + cycle;
            if !unchecked.is_empty() && now < until {
                return Decision::Hold {
                    until,
                    probe: unchecked,
                };
            }
        }
        Decision::Notify
    }
}

/// Errors of a maintenance window's schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("cron: {0}")]
    Cron(String),
    #[error("timezone: unknown IANA zone {0:?}")]
    Zone(String),
}

/// Checks a window's schedule fields (the API names the field from the variant).
pub fn check_window(w: &MaintenanceWindow) -> Result<(), WindowError> {
    chrono_tz::Tz::from_str(&w.timezone).map_err(|_| WindowError::Zone(w.timezone.clone()))?;
    if let Some(c) = &w.cron {
        croner::Cron::from_str(c).map_err(|e| WindowError::Cron(e.to_string()))?;
    }
    Ok(())
}

/// Whether `w` covers `now`: one-off between `starts_at` (inclusive) and `ends_at`
/// (exclusive); recurring when the latest cron occurrence at or before `now`, read in the
/// window's IANA zone, is less than `duration_minutes` ago. A window that does not parse is
/// never active (it was checked when saved).
pub fn window_active(w: &MaintenanceWindow, now: DateTime<Utc>) -> bool {
    if let Some(c) = &w.cron {
        let (Ok(cron), Ok(tz)) = (
            croner::Cron::from_str(c),
            chrono_tz::Tz::from_str(&w.timezone),
        ) else {
            return false;
        };
        let dur = chrono::Duration::minutes(i64::from(w.duration_minutes.unwrap_or(60)));
        if w.starts_at.is_some_and(|s| now < s) || w.ends_at.is_some_and(|e| now >= e) {
            return false;
        }
        let local = now.with_timezone(&tz);
        return cron
            .find_previous_occurrence(&local, true)
            .is_ok_and(|occ| occ.with_timezone(&Utc) + dur > now);
    }
    match (w.starts_at, w.ends_at) {
        (Some(s), Some(e)) => s <= now && now < e,
        (Some(s), None) => s <= now,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
