//! What the live pages need from the inventory besides the monitor's table (region and type
//! per device), cached between renders.
//!
//! Loading 10,000 devices from the SQL store took about 90 ms a render (docs/perf/ui.md), and
//! the Monitor and dashboard fragments are re-rendered on every state-change burst by every
//! open page. The cache is dropped when the store publishes a device change (the receiver
//! is drained on each use: no task to run) and after 30 s, for changes made by another
//! process sharing the database (the same bound the services' reload uses).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::TryRecvError;
use uuid::Uuid;
use wardflux_model::InventoryEvent;
use wardflux_model::inventory::DeviceSource;
use wardflux_store::{Store, StoreError};

/// Inventory facts of one device that the monitor's table lacks.
pub struct Facts {
    pub name: String,
    pub ip: std::net::IpAddr,
    /// Only Zabbix knows the device (`sources: [zabbix]`): its state is Zabbix' `icmpping`.
    pub zabbix_only: bool,
    pub region: String,
    pub device_type: String,
    /// Names of the device groups it is in (group changes show within the cache's age).
    pub groups: Vec<String>,
}

pub type FactsMap = Arc<HashMap<Uuid, Facts>>;

const MAX_AGE: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct InventoryCache {
    // A std Mutex: held for a few field operations, never across an await (loading happens
    // outside it; two renders that miss at once both load, the later one is kept).
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    events: Option<Receiver<InventoryEvent>>,
    facts: Option<(Instant, FactsMap)>,
}

impl InventoryCache {
    pub async fn facts(&self, store: &Store) -> Result<FactsMap, StoreError> {
        {
            let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            let events = inner.events.get_or_insert_with(|| store.subscribe());
            let mut stale = false;
            loop {
                match events.try_recv() {
                    Ok(
                        InventoryEvent::DeviceAdded(_)
                        | InventoryEvent::DeviceChanged(_)
                        | InventoryEvent::DeviceRemoved(_)
                        | InventoryEvent::DevicesReplaced,
                    )
                    | Err(TryRecvError::Lagged(_)) => stale = true,
                    Ok(_) => {}
                    Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                }
            }
            if stale {
                inner.facts = None;
            }
            if let Some((at, f)) = &inner.facts
                && at.elapsed() < MAX_AGE
            {
                return Ok(f.clone());
            }
        }
        let facts: FactsMap = Arc::new(load(store).await?);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.facts = Some((Instant::now(), facts.clone()));
        Ok(facts)
    }
}

pub async fn load(store: &Store) -> Result<HashMap<Uuid, Facts>, StoreError> {
    let mut member: HashMap<Uuid, Vec<String>> = HashMap::new();
    for g in store.list_groups().await? {
        for d in g.device_ids {
            member.entry(d).or_default().push(g.name.clone());
        }
    }
    Ok(store
        .all_devices()
        .await?
        .iter()
        .map(|d| {
            (
                d.id,
                Facts {
                    zabbix_only: !d.sources.contains(&DeviceSource::Standalone),
                    name: d.name.clone(),
                    ip: d.ip,
                    region: d.region.clone().unwrap_or_default(),
                    device_type: d.device_type.clone().unwrap_or_default(),
                    groups: member.remove(&d.id).unwrap_or_default(),
                },
            )
        })
        .collect())
}
