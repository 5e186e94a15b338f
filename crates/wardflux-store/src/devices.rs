//! Devices and device groups.
//!
//! A device IP is unique within its source (`ux_devices_source_ip`); the pre-check gives a
//! clear `Conflict{field: "ip"}`, and the index catches the race two writers could win.

use std::collections::{BTreeSet, HashSet};

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;
use wardflux_model::InventoryEvent;

use crate::entity::{device, device_group, device_group_member};
use crate::{
    Actor, Change, Device, DeviceGroup, DeviceGroupInput, DeviceInput, ImportReport, RowError,
    Store, StoreError, find, map_unique, now,
};

/// Default ICMP check interval of a new device, seconds.
pub const DEFAULT_ICMP_INTERVAL_S: i32 = 10;
/// Default SNMP agent port of a new device.
pub const DEFAULT_SNMP_PORT: i32 = 161;
/// Default and maximum page sizes of [`Store::list_devices`].
pub const DEFAULT_PAGE: u64 = 100;
pub const MAX_PAGE: u64 = 1000;

const DUP_IP: &str = "a device with this IP already exists in this source";

fn tags_to_db(tags: &[String]) -> String {
    let set: BTreeSet<&str> = tags.iter().map(|t| t.trim()).collect();
    if set.is_empty() {
        String::new()
    } else {
        format!(",{},", set.into_iter().collect::<Vec<_>>().join(","))
    }
}

fn tags_from_db(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

impl From<device::Model> for Device {
    fn from(m: device::Model) -> Self {
        let source: wardflux_model::inventory::DeviceSource = m.source.parse().unwrap_or_default();
        let zabbix_hostid: Option<u64> = m.external_id.as_deref().and_then(|x| x.parse().ok());
        let mut sources = vec![source];
        if source == wardflux_model::inventory::DeviceSource::Standalone && zabbix_hostid.is_some()
        {
            sources.push(wardflux_model::inventory::DeviceSource::Zabbix);
        }
        Device {
            id: m.id,
            name: m.name,
            // Written only after validation (canonical form). A row edited by hand into
            // something unparsable shows as 0.0.0.0 rather than hiding every device.
            ip: m
                .ip
                .parse()
                .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            hostname: m.hostname,
            vendor: m.vendor,
            device_type: m.device_type,
            model: m.model,
            location: m.location,
            region: m.region,
            branch: m.branch,
            tags: tags_from_db(&m.tags),
            enabled: m.enabled,
            parent_id: m.parent_id,
            source,
            sources,
            zabbix_hostid,
            icmp_interval_s: m.icmp_interval_s,
            snmp_port: u16::try_from(m.snmp_port).unwrap_or(DEFAULT_SNMP_PORT as u16),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

fn group_from(m: device_group::Model, device_ids: Vec<Uuid>) -> DeviceGroup {
    DeviceGroup {
        id: m.id,
        name: m.name,
        description: m.description,
        device_ids,
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

fn blank_to_none(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Fills the active model's writable columns from a validated input.
fn apply(am: &mut device::ActiveModel, i: DeviceInput) {
    am.name = Set(i.name);
    am.ip = Set(i.ip);
    am.hostname = Set(blank_to_none(i.hostname));
    am.vendor = Set(blank_to_none(i.vendor));
    am.device_type = Set(blank_to_none(i.device_type));
    am.model = Set(blank_to_none(i.model));
    am.location = Set(blank_to_none(i.location));
    am.region = Set(blank_to_none(i.region));
    am.branch = Set(blank_to_none(i.branch));
    am.tags = Set(tags_to_db(&i.tags));
    am.enabled = Set(i.enabled.unwrap_or(true));
    am.parent_id = Set(i.parent_id);
    am.source = Set(i.source.unwrap_or_default().as_str().to_owned());
    am.icmp_interval_s = Set(i.icmp_interval_s.unwrap_or(DEFAULT_ICMP_INTERVAL_S));
    am.snmp_port = Set(i.snmp_port.unwrap_or(DEFAULT_SNMP_PORT));
}

async fn ip_taken<C: ConnectionTrait>(
    conn: &C,
    source: wardflux_model::inventory::DeviceSource,
    ip: &str,
    except: Option<Uuid>,
) -> Result<bool, StoreError> {
    let mut q = device::Entity::find()
        .filter(device::Column::Source.eq(source.as_str()))
        .filter(device::Column::Ip.eq(ip));
    if let Some(id) = except {
        q = q.filter(device::Column::Id.ne(id));
    }
    Ok(q.count(conn).await? > 0)
}

async fn check_parent<C: ConnectionTrait>(
    conn: &C,
    parent: Option<Uuid>,
    me: Option<Uuid>,
) -> Result<(), StoreError> {
    let Some(p) = parent else { return Ok(()) };
    if Some(p) == me {
        return Err(StoreError::invalid(
            "parent_id",
            "a device cannot be its own parent",
        ));
    }
    if device::Entity::find_by_id(p).one(conn).await?.is_none() {
        return Err(StoreError::invalid("parent_id", "no device with this id"));
    }
    Ok(())
}

/// Creates a device from a validated input on `conn` (the caller's transaction) with its
/// audit row: parent and IP checked first. The caller publishes `DeviceAdded` after commit.
pub(crate) async fn insert_device<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    input: DeviceInput,
) -> Result<Device, StoreError> {
    check_parent(conn, input.parent_id, None).await?;
    let source = input.source.unwrap_or_default();
    if ip_taken(conn, source, &input.ip, None).await? {
        return Err(StoreError::conflict("ip", DUP_IP));
    }
    let t = now();
    let mut am = device::ActiveModel {
        id: Set(Uuid::new_v4()),
        created_at: Set(t),
        updated_at: Set(t),
        ..Default::default()
    };
    apply(&mut am, input);
    let d = Device::from(
        am.insert(conn)
            .await
            .map_err(|e| map_unique(e, "ip", DUP_IP))?,
    );
    Change::created("device.create", "device", d.id, &d)
        .write(conn, actor)
        .await?;
    Ok(d)
}

impl Store {
    /// What the SNMP poller learned about each device's agent (only devices that have some).
    /// Runtime knowledge, not configuration: no audit row, no inventory event.
    pub async fn snmp_limits(
        &self,
    ) -> Result<std::collections::HashMap<Uuid, serde_json::Value>, StoreError> {
        Ok(device::Entity::find()
            .filter(device::Column::SnmpLimits.is_not_null())
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|m| Some((m.id, m.snmp_limits?)))
            .collect())
    }

    /// Keeps what the SNMP poller learned about a device's agent. A device deleted meanwhile
    /// is no error (nothing to keep).
    pub async fn set_snmp_limits(
        &self,
        device_id: Uuid,
        limits: serde_json::Value,
    ) -> Result<(), StoreError> {
        device::Entity::update_many()
            .col_expr(device::Column::SnmpLimits, Expr::value(limits))
            .filter(device::Column::Id.eq(device_id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    pub async fn create_device(
        &self,
        actor: &Actor,
        mut input: DeviceInput,
    ) -> Result<Device, StoreError> {
        input.validate()?;
        let txn = self.db.begin().await?;
        let d = insert_device(&txn, actor, input).await?;
        txn.commit().await?;
        self.publish(InventoryEvent::DeviceAdded(d.id));
        Ok(d)
    }

    pub async fn get_device(&self, id: Uuid) -> Result<Device, StoreError> {
        Ok(find::<device::Entity, _>(&self.db, id, "device")
            .await?
            .into())
    }

    /// Replaces every writable field of a device.
    pub async fn update_device(
        &self,
        actor: &Actor,
        id: Uuid,
        mut input: DeviceInput,
    ) -> Result<Device, StoreError> {
        input.validate()?;
        let txn = self.db.begin().await?;
        let m = find::<device::Entity, _>(&txn, id, "device").await?;
        check_parent(&txn, input.parent_id, Some(id)).await?;
        let source = input
            .source
            .unwrap_or_else(|| m.source.parse().unwrap_or_default());
        input.source = Some(source);
        if ip_taken(&txn, source, &input.ip, Some(id)).await? {
            return Err(StoreError::conflict("ip", DUP_IP));
        }
        let before = Device::from(m.clone());
        let mut am = m.into_active_model();
        apply(&mut am, input);
        am.updated_at = Set(now());
        let after = Device::from(
            am.update(&txn)
                .await
                .map_err(|e| map_unique(e, "ip", DUP_IP))?,
        );
        Change::updated("device.update", "device", id, &before, &after)
            .write(&txn, actor)
            .await?;
        txn.commit().await?;
        self.publish(InventoryEvent::DeviceChanged(id));
        Ok(after)
    }

    /// Deletes a device; its template assignments and items go with it (foreign keys), and
    /// the alert rules of those templates are narrowed to the remaining devices.
    pub async fn delete_device(&self, actor: &Actor, id: Uuid) -> Result<(), StoreError> {
        let templates = self.templates_of_device(id).await?;
        self.delete_audited::<device::Entity, _>(
            actor,
            id,
            ("device", "device", "device.delete"),
            async |_, m| Ok(Device::from(m)),
        )
        .await?;
        self.publish(InventoryEvent::DeviceRemoved(id));
        if !templates.is_empty() {
            self.resync_template_rules(actor, &templates).await?;
        }
        Ok(())
    }

    /// Imports many devices in one transaction. Rows are numbered from 1 in the order
    /// given. Without `partial`, any invalid row (bad field, IP already stored, IP repeated
    /// in the batch, unknown parent) means nothing is written; with `partial`, the valid
    /// rows are written and the others reported.
    /// What [`Store::import_devices`] would do with `inputs`, without writing anything:
    /// `created` is the number of rows that would be created, `committed` is false.
    pub async fn check_device_import(
        &self,
        inputs: Vec<DeviceInput>,
    ) -> Result<ImportReport, StoreError> {
        let (valid, errors) = screen_import(&self.db, inputs).await?;
        Ok(ImportReport {
            created: valid.len() as u64,
            committed: false,
            errors,
        })
    }

    pub async fn import_devices(
        &self,
        actor: &Actor,
        inputs: Vec<DeviceInput>,
        partial: bool,
    ) -> Result<ImportReport, StoreError> {
        let txn = self.db.begin().await?;
        let (valid, errors) = screen_import(&txn, inputs).await?;
        if !errors.is_empty() && !partial {
            // Dropping the transaction rolls it back; nothing was written anyway.
            return Ok(ImportReport {
                created: 0,
                committed: false,
                errors,
            });
        }
        let t = now();
        let mut ids = Vec::with_capacity(valid.len());
        for chunk in valid.chunks(200) {
            let models: Vec<device::ActiveModel> = chunk
                .iter()
                .cloned()
                .map(|input| {
                    let id = Uuid::new_v4();
                    ids.push(id);
                    let mut am = device::ActiveModel {
                        id: Set(id),
                        created_at: Set(t),
                        updated_at: Set(t),
                        ..Default::default()
                    };
                    apply(&mut am, input);
                    am
                })
                .collect();
            device::Entity::insert_many(models)
                .exec(&txn)
                .await
                .map_err(|e| map_unique(e, "ip", DUP_IP))?;
        }
        let created = ids.len() as u64;
        let report =
            serde_json::json!({ "created": created, "ids": ids, "rejected_rows": errors.len() });
        Change {
            action: "device.import",
            entity: "device",
            entity_id: None,
            before: None,
            after: Some(report),
        }
        .commit(txn, actor, ())
        .await?;
        self.publish(InventoryEvent::DevicesReplaced);
        Ok(ImportReport {
            created,
            committed: true,
            errors,
        })
    }

    // --- groups -------------------------------------------------------------------------

    async fn group_record<C: ConnectionTrait>(
        conn: &C,
        m: device_group::Model,
    ) -> Result<DeviceGroup, StoreError> {
        let device_ids = device_group_member::Entity::find()
            .filter(device_group_member::Column::GroupId.eq(m.id))
            .order_by_asc(device_group_member::Column::DeviceId)
            .all(conn)
            .await?
            .into_iter()
            .map(|r| r.device_id)
            .collect();
        Ok(group_from(m, device_ids))
    }

    /// Validates a group input inside `conn`: name, uniqueness, members exist.
    async fn check_group<C: ConnectionTrait>(
        conn: &C,
        input: &mut DeviceGroupInput,
        except: Option<Uuid>,
    ) -> Result<(), StoreError> {
        input.name = input.name.trim().to_string();
        if input.name.is_empty() || input.name.chars().count() > 255 {
            return Err(StoreError::invalid("name", "must be 1-255 characters"));
        }
        if input
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 4096)
        {
            return Err(StoreError::invalid(
                "description",
                "must be at most 4096 characters",
            ));
        }
        let mut q = device_group::Entity::find().filter(device_group::Column::Name.eq(&input.name));
        if let Some(id) = except {
            q = q.filter(device_group::Column::Id.ne(id));
        }
        if q.count(conn).await? > 0 {
            return Err(StoreError::conflict(
                "name",
                "a group with this name exists",
            ));
        }
        let wanted: BTreeSet<Uuid> = input.device_ids.iter().copied().collect();
        input.device_ids = wanted.iter().copied().collect();
        if !wanted.is_empty() {
            let found = device::Entity::find()
                .filter(device::Column::Id.is_in(input.device_ids.clone()))
                .count(conn)
                .await?;
            if found != wanted.len() as u64 {
                return Err(StoreError::invalid(
                    "device_ids",
                    "contains an unknown device id",
                ));
            }
        }
        Ok(())
    }

    async fn set_members<C: ConnectionTrait>(
        conn: &C,
        group: Uuid,
        ids: &[Uuid],
    ) -> Result<(), StoreError> {
        device_group_member::Entity::delete_many()
            .filter(device_group_member::Column::GroupId.eq(group))
            .exec(conn)
            .await?;
        for chunk in ids.chunks(500) {
            let rows = chunk.iter().map(|d| device_group_member::ActiveModel {
                group_id: Set(group),
                device_id: Set(*d),
            });
            device_group_member::Entity::insert_many(rows)
                .exec(conn)
                .await?;
        }
        Ok(())
    }

    pub async fn create_group(
        &self,
        actor: &Actor,
        mut input: DeviceGroupInput,
    ) -> Result<DeviceGroup, StoreError> {
        let txn = self.db.begin().await?;
        Self::check_group(&txn, &mut input, None).await?;
        let t = now();
        let m = device_group::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(input.name.clone()),
            description: Set(blank_to_none(input.description.clone())),
            created_at: Set(t),
            updated_at: Set(t),
        }
        .insert(&txn)
        .await
        .map_err(|e| map_unique(e, "name", "a group with this name exists"))?;
        Self::set_members(&txn, m.id, &input.device_ids).await?;
        let g = Self::group_record(&txn, m).await?;
        Change::created("group.create", "device_group", g.id, &g)
            .write(&txn, actor)
            .await?;
        txn.commit().await?;
        self.publish(InventoryEvent::GroupsChanged);
        Ok(g)
    }

    pub async fn get_group(&self, id: Uuid) -> Result<DeviceGroup, StoreError> {
        let m = find::<device_group::Entity, _>(&self.db, id, "device group").await?;
        Self::group_record(&self.db, m).await
    }

    /// Every group with its members: two queries, whatever the number of groups.
    pub async fn list_groups(&self) -> Result<Vec<DeviceGroup>, StoreError> {
        let groups = device_group::Entity::find()
            .order_by_asc(device_group::Column::Name)
            .all(&self.db)
            .await?;
        let mut members: std::collections::HashMap<Uuid, Vec<Uuid>> = Default::default();
        for r in device_group_member::Entity::find()
            .order_by_asc(device_group_member::Column::DeviceId)
            .all(&self.db)
            .await?
        {
            members.entry(r.group_id).or_default().push(r.device_id);
        }
        Ok(groups
            .into_iter()
            .map(|m| {
                let ids = members.remove(&m.id).unwrap_or_default();
                group_from(m, ids)
            })
            .collect())
    }

    pub async fn update_group(
        &self,
        actor: &Actor,
        id: Uuid,
        mut input: DeviceGroupInput,
    ) -> Result<DeviceGroup, StoreError> {
        let txn = self.db.begin().await?;
        let m = find::<device_group::Entity, _>(&txn, id, "device group").await?;
        Self::check_group(&txn, &mut input, Some(id)).await?;
        let before = Self::group_record(&txn, m.clone()).await?;
        let mut am = m.into_active_model();
        am.name = Set(input.name.clone());
        am.description = Set(blank_to_none(input.description.clone()));
        am.updated_at = Set(now());
        let m = am
            .update(&txn)
            .await
            .map_err(|e| map_unique(e, "name", "a group with this name exists"))?;
        Self::set_members(&txn, id, &input.device_ids).await?;
        let after = Self::group_record(&txn, m).await?;
        Change::updated("group.update", "device_group", id, &before, &after)
            .write(&txn, actor)
            .await?;
        txn.commit().await?;
        self.publish(InventoryEvent::GroupsChanged);
        Ok(after)
    }

    pub async fn delete_group(&self, actor: &Actor, id: Uuid) -> Result<(), StoreError> {
        self.delete_audited::<device_group::Entity, _>(
            actor,
            id,
            ("device group", "device_group", "group.delete"),
            async |txn, m| Self::group_record(txn, m).await,
        )
        .await?;
        self.publish(InventoryEvent::GroupsChanged);
        Ok(())
    }
}

/// Sorts import rows into the valid ones and per-row errors (field checks, unknown parent,
/// an IP already stored for the same source or repeated in the import). Rows are numbered
/// from 1.
async fn screen_import<C: sea_orm::ConnectionTrait>(
    db: &C,
    inputs: Vec<DeviceInput>,
) -> Result<(Vec<DeviceInput>, Vec<RowError>), StoreError> {
    let existing: HashSet<(String, String)> = device::Entity::find()
        .select_only()
        .column(device::Column::Source)
        .column(device::Column::Ip)
        .into_tuple::<(String, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut errors = Vec::new();
    let mut valid = Vec::new();
    for (i, mut input) in inputs.into_iter().enumerate() {
        let row = i as u64 + 1;
        let err = |field: &str, message: String| RowError {
            row,
            field: field.to_string(),
            message,
        };
        if let Err(fe) = input.validate() {
            errors.push(err(&fe.field, fe.message));
            continue;
        }
        if let Some(p) = input.parent_id
            && device::Entity::find_by_id(p).one(db).await?.is_none()
        {
            errors.push(err("parent_id", "no device with this id".into()));
            continue;
        }
        let key = (
            input.source.unwrap_or_default().as_str().to_owned(),
            input.ip.clone(),
        );
        if existing.contains(&key) {
            errors.push(err("ip", DUP_IP.into()));
            continue;
        }
        if !seen.insert(key) {
            errors.push(err(
                "ip",
                "this IP appears more than once in the import".into(),
            ));
            continue;
        }
        valid.push(input);
    }
    Ok((valid, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_sorted_and_deduplicated() {
        let db = tags_to_db(&["b".into(), "a".into(), "b".into()]);
        assert_eq!(db, ",a,b,");
        assert_eq!(tags_from_db(&db), vec!["a", "b"]);
        assert_eq!(tags_to_db(&[]), "");
        assert!(tags_from_db("").is_empty());
    }
}
