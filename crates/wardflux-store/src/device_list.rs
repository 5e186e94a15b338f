//! The device list, served from one in-memory snapshot of the `devices` table.
//!
//! Read from SQL, a device cost about 13 µs (sqlx's SQLite worker hands every row over a
//! channel, SeaORM decodes each column by name): 13 ms for a page of 1,000, and a p99 over
//! 20 ms with a Zabbix sync beside it (docs/perf/zabbix.md). The ICMP monitor's reload paid
//! the same for all 10,000 devices every 30 s. So the store keeps every device once, in name
//! order, behind an `Arc`; [`Store::list_devices`] filters, sorts and pages it in memory and
//! [`Store::all_devices`] hands it out without a copy.
//!
//! Freshness: before using the snapshot, a list reads a one-row stamp, `count(*)` and
//! `max(updated_at)` of `devices`, and the store's generation (bumped by every inventory
//! event this store publishes, as for [`Store::change_stamp`]). The snapshot serves only while both are what it was built
//! at. Every write to `devices` sets `updated_at` to now (so raises the maximum) or changes
//! the count, so a write by another process on the same database (the CLI, a second server
//! on PostgreSQL) is seen at the next read, like one made through this store. The stamp is
//! read before the rows: a write landing between the two is in the rows and changes the
//! next stamp, so at worst the snapshot is rebuilt once more than needed.
//!
//! Memory: one [`Device`] per device (about 500 bytes), held while the store lives.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering as AtomicOrdering;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect};
use uuid::Uuid;
use wardflux_model::inventory::DEVICE_SORT_FIELDS;

use crate::devices::{DEFAULT_PAGE, MAX_PAGE};
use crate::entity::{device, device_group_member};
use crate::{Device, DeviceQuery, Page, Store, StoreError};

/// What the snapshot was built at: `count(*)`, `max(updated_at)` of `devices`.
#[derive(Debug, Clone, PartialEq, FromQueryResult)]
struct Stamp {
    n: i64,
    latest: Option<DateTime<Utc>>,
}

struct Snapshot {
    generation: u64,
    stamp: Stamp,
    devices: Arc<Vec<Device>>,
}

/// Shared by every clone of a [`Store`].
#[derive(Default)]
pub(crate) struct DeviceList {
    /// A tokio lock, held across the reload's queries: concurrent lists that find the
    /// snapshot stale wait for one reload instead of each running their own.
    snapshot: tokio::sync::Mutex<Option<Snapshot>>,
}

impl Store {
    /// Every device, by name then id (exports, the collectors' target lists). Shared, not
    /// copied: see the module doc for how it stays current.
    pub async fn all_devices(&self) -> Result<Arc<Vec<Device>>, StoreError> {
        let generation = self.generation.load(AtomicOrdering::Acquire);
        let stamp = device::Entity::find()
            .select_only()
            .column_as(device::Column::Id.count(), "n")
            .column_as(device::Column::UpdatedAt.max(), "latest")
            .into_model::<Stamp>()
            .one(&self.db)
            .await?
            .unwrap_or(Stamp { n: 0, latest: None });
        let mut slot = self.device_list.snapshot.lock().await;
        if let Some(s) = slot.as_ref()
            && s.generation == generation
            && s.stamp == stamp
        {
            return Ok(s.devices.clone());
        }
        let mut rows: Vec<Device> = crate::records(&self.db, device::Entity::find()).await?;
        // Sorted here, not by the database: PostgreSQL's collation would order names
        // differently from SQLite's bytes, and from the in-memory sorts of other fields.
        rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        let devices = Arc::new(rows);
        *slot = Some(Snapshot {
            generation,
            stamp,
            devices: devices.clone(),
        });
        Ok(devices)
    }

    /// Filter, search, sort and paginate. Errors name the query parameter at fault.
    pub async fn list_devices(&self, q: &DeviceQuery) -> Result<Page<Device>, StoreError> {
        let limit = q.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(StoreError::invalid("limit", "must be between 1 and 1000"));
        }
        let offset = q.offset.unwrap_or(0);
        crate::check_offset(offset)?;
        let (field, descending) = match q.sort.as_deref() {
            None | Some("") => ("name", false),
            Some(s) => match s.strip_prefix('-') {
                Some(f) => (f, true),
                None => (s, false),
            },
        };
        if !DEVICE_SORT_FIELDS.contains(&field) {
            return Err(StoreError::invalid(
                "sort",
                format!(
                    "must be one of {} (prefix - for descending)",
                    DEVICE_SORT_FIELDS.join(", ")
                ),
            ));
        }
        let members: Option<HashSet<Uuid>> = match q.group_id {
            Some(g) => Some(
                device_group_member::Entity::find()
                    .filter(device_group_member::Column::GroupId.eq(g))
                    .all(&self.db)
                    .await?
                    .into_iter()
                    .map(|m| m.device_id)
                    .collect(),
            ),
            None => None,
        };
        let all = self.all_devices().await?;
        let filter = Filter::new(q, members);
        let mut picked: Vec<&Device> = all.iter().filter(|d| filter.keeps(d)).collect();
        // The snapshot is in name, id order already.
        if field != "name" {
            picked.sort_by(|a, b| by_field(field, a, b).then(a.id.cmp(&b.id)));
        }
        if descending {
            picked.reverse();
        }
        let total = picked.len() as u64;
        let items = picked
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(limit as usize)
            .cloned()
            .collect();
        Ok(Page {
            items,
            total,
            limit,
            offset,
        })
    }
}

/// Orders two devices by a sort field of [`DEVICE_SORT_FIELDS`] other than `name`. Absent
/// values come first, as in SQLite's ascending order; addresses in numeric order.
fn by_field(field: &str, a: &Device, b: &Device) -> Ordering {
    match field {
        "ip" => a.ip.cmp(&b.ip),
        "vendor" => a.vendor.cmp(&b.vendor),
        "device_type" => a.device_type.cmp(&b.device_type),
        "region" => a.region.cmp(&b.region),
        "branch" => a.branch.cmp(&b.branch),
        "created_at" => a.created_at.cmp(&b.created_at),
        "updated_at" => a.updated_at.cmp(&b.updated_at),
        _ => a.name.cmp(&b.name),
    }
}

/// A text field of a device, and the value a query wants it to have.
type Equal<'q> = (fn(&Device) -> Option<&str>, Option<&'q str>);

/// A [`DeviceQuery`]'s conditions, all of which a listed device meets.
struct Filter<'q> {
    /// Lower-cased, trimmed; matched as a substring of name, address or host name.
    search: Option<String>,
    equal: [Equal<'q>; 5],
    q: &'q DeviceQuery,
    tag: Option<&'q str>,
    members: Option<HashSet<Uuid>>,
}

impl<'q> Filter<'q> {
    fn new(q: &'q DeviceQuery, members: Option<HashSet<Uuid>>) -> Self {
        Filter {
            search: q
                .search
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_lowercase),
            equal: [
                (|d| d.vendor.as_deref(), q.vendor.as_deref()),
                (|d| d.device_type.as_deref(), q.device_type.as_deref()),
                (|d| d.region.as_deref(), q.region.as_deref()),
                (|d| d.branch.as_deref(), q.branch.as_deref()),
                (|d| d.location.as_deref(), q.location.as_deref()),
            ],
            q,
            tag: q.tag.as_deref().map(str::trim),
            members,
        }
    }

    fn keeps(&self, d: &Device) -> bool {
        if let Some(s) = &self.search {
            let hit = d.name.to_lowercase().contains(s.as_str())
                || d.ip.to_string().contains(s.as_str())
                || d.hostname
                    .as_deref()
                    .is_some_and(|h| h.to_lowercase().contains(s.as_str()));
            if !hit {
                return false;
            }
        }
        if self
            .equal
            .iter()
            .any(|(get, want)| want.is_some_and(|w| get(d) != Some(w)))
        {
            return false;
        }
        if self.q.source.is_some_and(|s| d.source != s)
            || self.q.enabled.is_some_and(|e| d.enabled != e)
        {
            return false;
        }
        if let Some(t) = self.tag
            && !d.tags.iter().any(|x| x == t)
        {
            return false;
        }
        self.members.as_ref().is_none_or(|m| m.contains(&d.id))
    }
}
