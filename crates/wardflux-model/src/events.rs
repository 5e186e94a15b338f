//! Events that leave the collectors and the store, and the seams that carry them.
//!
//! - [`StateChange`] / [`StateRecorder`]: a device's reachability changed (ICMP monitor now,
//!   Zabbix sync later). The status-history writer, the alert engine and the UI's live
//!   updates each implement [`StateRecorder`]; [`FanoutRecorder`] hands every change to all.
//! - [`InventoryEvent`]: the configuration store committed a change to devices, groups or
//!   credentials, whoever wrote it (API, CSV import, a Zabbix sync, discovery).
//!
//! Like the rest of this crate: plain data and traits, no runtime.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A device's state as shown and recorded: its reachability, or `flapping` while it
/// changes too often to report each change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeviceState {
    Unknown,
    Up,
    Down,
    Flapping,
}

impl DeviceState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Unknown => "unknown",
            DeviceState::Up => "up",
            DeviceState::Down => "down",
            DeviceState::Flapping => "flapping",
        }
    }
}

impl std::fmt::Display for DeviceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DeviceState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "unknown" => Ok(Self::Unknown),
            "up" => Ok(Self::Up),
            "down" => Ok(Self::Down),
            "flapping" => Ok(Self::Flapping),
            other => Err(format!(
                "unknown device state {other:?}: expected up, down, unknown or flapping"
            )),
        }
    }
}

/// What kind of change a [`StateChange`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    /// The reachability changed (`from` -> `to`).
    Changed,
    /// The device started flapping; `to` is its reachability now. Later up/down changes
    /// are not reported until it settles.
    FlappingStarted,
    /// The device stopped flapping; `to` is the settled reachability.
    FlappingStopped,
}

/// One state change of one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    pub device_id: Uuid,
    pub name: String,
    pub ip: IpAddr,
    pub kind: TransitionKind,
    /// Reachability before (never `Flapping`).
    pub from: DeviceState,
    /// Reachability after (never `Flapping`).
    pub to: DeviceState,
    /// Since when the device is in `to` (for down: start of the first failed check).
    pub since: DateTime<Utc>,
    /// When the change was decided.
    pub at: DateTime<Utc>,
    /// Who decided it (`icmp`, later `zabbix`).
    pub source: &'static str,
}

impl StateChange {
    /// The (from, to) pair as the status history shows it: entering flapping is
    /// `x -> flapping`, leaving it `flapping -> settled`.
    pub fn shown_states(&self) -> (DeviceState, DeviceState) {
        match self.kind {
            TransitionKind::Changed => (self.from, self.to),
            TransitionKind::FlappingStarted => (self.from, DeviceState::Flapping),
            TransitionKind::FlappingStopped => (DeviceState::Flapping, self.to),
        }
    }
}

/// Receives device state changes. Implementations must return quickly (queue slow work):
/// the monitor awaits each call before reporting the next change of that device.
#[async_trait::async_trait]
pub trait StateRecorder: Send + Sync {
    async fn record(&self, change: StateChange);
}

/// Checks devices' reachability now, out of schedule, and reports the outcome through the
/// usual path (samples and state changes). The alert engine asks for it when a child is
/// confirmed down before its parents were checked. Must return at once (spawn the work);
/// a device already being checked is not checked twice.
pub trait ReachabilityProbe: Send + Sync {
    fn probe_now(&self, device_ids: &[Uuid]);
}

/// Hands each change to every subscriber, in the order they were added.
#[derive(Clone, Default)]
pub struct FanoutRecorder {
    subscribers: Vec<Arc<dyn StateRecorder>>,
}

impl FanoutRecorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a subscriber (builder style).
    pub fn with(mut self, r: Arc<dyn StateRecorder>) -> Self {
        self.subscribers.push(r);
        self
    }

    pub fn push(&mut self, r: Arc<dyn StateRecorder>) {
        self.subscribers.push(r);
    }

    pub fn len(&self) -> usize {
        self.subscribers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.subscribers.is_empty()
    }
}

#[async_trait::async_trait]
impl StateRecorder for FanoutRecorder {
    async fn record(&self, change: StateChange) {
        if let Some((last, rest)) = self.subscribers.split_last() {
            for s in rest {
                s.record(change.clone()).await;
            }
            last.record(change).await;
        }
    }
}

/// What part of the inventory changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event", content = "id")]
pub enum InventoryEvent {
    DeviceAdded(Uuid),
    DeviceChanged(Uuid),
    DeviceRemoved(Uuid),
    /// Many devices at once (CSV import): reload everything.
    DevicesReplaced,
    GroupsChanged,
    /// An SNMP credential was added, changed or removed (`Some(device)` when per-device).
    CredentialsChanged(Option<Uuid>),
    /// The monitoring mode changed.
    ModeChanged,
    /// Monitoring templates or their device assignments changed: poll plans (and the alert
    /// rules made from templates' triggers) must be reloaded.
    TemplatesChanged,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Collect(Mutex<Vec<(String, StateChange)>>, &'static str);

    #[async_trait::async_trait]
    impl StateRecorder for Collect {
        async fn record(&self, change: StateChange) {
            self.0.lock().unwrap().push((self.1.to_string(), change));
        }
    }

    fn change(kind: TransitionKind) -> StateChange {
        StateChange {
            device_id: Uuid::nil(),
            name: "r1".into(),
            ip: "127.0.0.1".parse().unwrap(),
            kind,
            from: DeviceState::Up,
            to: DeviceState::Down,
            since: DateTime::UNIX_EPOCH,
            at: DateTime::UNIX_EPOCH,
            source: "icmp",
        }
    }

    #[test]
    fn fanout_reaches_every_subscriber_in_order() {
        let a = Arc::new(Collect(Mutex::new(Vec::new()), "a"));
        let b = Arc::new(Collect(Mutex::new(Vec::new()), "b"));
        let f = FanoutRecorder::new().with(a.clone()).with(b.clone());
        let c = change(TransitionKind::Changed);
        futures_lite_block_on(f.record(c.clone()));
        assert_eq!(
            a.0.lock().unwrap().as_slice(),
            &[("a".to_string(), c.clone())]
        );
        assert_eq!(b.0.lock().unwrap().as_slice(), &[("b".to_string(), c)]);
    }

    #[test]
    fn shown_states_name_flapping() {
        use DeviceState::*;
        assert_eq!(change(TransitionKind::Changed).shown_states(), (Up, Down));
        assert_eq!(
            change(TransitionKind::FlappingStarted).shown_states(),
            (Up, Flapping)
        );
        assert_eq!(
            change(TransitionKind::FlappingStopped).shown_states(),
            (Flapping, Down)
        );
        for s in [Up, Down, Unknown, Flapping] {
            assert_eq!(s.as_str().parse::<DeviceState>(), Ok(s));
        }
    }

    /// The recorders above never await anything, so one poll completes them.
    fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("recorder awaited something"),
        }
    }
}
