//! Zabbix as a data source: the stored connection (its password or API token as one Fernet
//! token, never returned) and the mirror of Zabbix hosts into the inventory
//! (`source = zabbix`, the host id in `devices.external_id`, host groups as device groups of
//! the same name).

use std::collections::{BTreeSet, HashMap};

use sea_orm::sea_query::Table;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, TransactionTrait,
};
use sea_orm_migration::{MigrationName, MigrationTrait, SchemaManager};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use wardflux_model::InventoryEvent;
use wardflux_model::inventory::{DeviceSource, Secret};
use wardflux_model::zabbix::{
    DEFAULT_SYNC_INTERVAL_S, DEFAULT_TIMEOUT_S, MirrorHost, MirrorReport, ZabbixAuthKind,
    ZabbixSettings, ZabbixSettingsInput,
};

use crate::discovery::schema::setting;
use crate::entity::{device, device_group, device_group_member};
use crate::{Actor, Change, Store, StoreError, now};

/// The `settings` row holding the Zabbix connection.
pub(crate) const ZABBIX_SETTINGS: &str = "zabbix";

/// `devices.external_id`: the id of a mirrored record in its source (the Zabbix host id).
pub(crate) struct M0006ExternalIds;

impl MigrationName for M0006ExternalIds {
    fn name(&self) -> &str {
        "m0006_external_ids"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for M0006ExternalIds {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use sea_orm_migration::schema::string_null;
        m.alter_table(
            Table::alter()
                .table("devices")
                .add_column_if_not_exists(string_null("external_id"))
                .take(),
        )
        .await
    }
}

/// The row's JSON: the settings without secrets, and the secret as a Fernet token.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    url: String,
    auth: ZabbixAuthKind,
    username: Option<String>,
    sync_interval_s: u32,
    timeout_s: u32,
    /// The password or the API token, encrypted.
    secret: Option<String>,
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl Stored {
    fn shown(&self) -> ZabbixSettings {
        let has = self.secret.is_some();
        ZabbixSettings {
            url: self.url.clone(),
            auth: self.auth,
            username: self.username.clone(),
            has_password: has && self.auth == ZabbixAuthKind::Password,
            has_api_token: has && self.auth == ZabbixAuthKind::ApiToken,
            sync_interval_s: self.sync_interval_s,
            timeout_s: self.timeout_s,
            updated_at: self.updated_at,
        }
    }
}

/// Re-encrypts one optional Fernet token (key rotation).
pub(crate) type Reencrypt<'a> = dyn Fn(&Option<String>) -> Result<Option<String>, StoreError> + 'a;

/// The stored connection with its secret, for the sync service and the import.
#[derive(Debug, Clone)]
pub struct ZabbixConnection {
    pub settings: ZabbixSettings,
    /// The password (`auth: password`) or the API token.
    pub secret: Secret,
}

impl Store {
    async fn zabbix_row(&self) -> Result<Option<Stored>, StoreError> {
        let Some(v) = setting::Entity::find_by_id(ZABBIX_SETTINGS.to_string())
            .one(&self.db)
            .await?
            .and_then(|m| m.value)
        else {
            return Ok(None);
        };
        serde_json::from_str(&v)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("settings.zabbix: {e}")))
    }

    /// The stored Zabbix connection, without its secret (`None`: not configured).
    pub async fn zabbix_settings(&self) -> Result<Option<ZabbixSettings>, StoreError> {
        Ok(self.zabbix_row().await?.map(|s| s.shown()))
    }

    /// The stored connection with its secret decrypted (`None`: not configured).
    pub async fn zabbix_connection(&self) -> Result<Option<ZabbixConnection>, StoreError> {
        let Some(s) = self.zabbix_row().await? else {
            return Ok(None);
        };
        let Some(token) = &s.secret else {
            return Ok(None);
        };
        Ok(Some(ZabbixConnection {
            settings: s.shown(),
            secret: self.cipher().decrypt(token)?,
        }))
    }

    /// Stores the Zabbix connection (validated here: errors name the field). A password is
    /// kept when the same user sends none; a token when none is sent.
    pub async fn set_zabbix_settings(
        &self,
        actor: &Actor,
        input: ZabbixSettingsInput,
    ) -> Result<ZabbixSettings, StoreError> {
        let txn = self.db.begin().await?;
        let old_model = setting::Entity::find_by_id(ZABBIX_SETTINGS.to_string())
            .one(&txn)
            .await?;
        let old: Option<Stored> = old_model
            .as_ref()
            .and_then(|m| m.value.as_deref())
            .and_then(|v| serde_json::from_str(v).ok());
        let old_shown = old.as_ref().map(Stored::shown);
        let auth = input
            .validate(old_shown.as_ref())
            .map_err(StoreError::from)?;
        let cipher = self.cipher();
        let sent = match auth {
            ZabbixAuthKind::Password => input.password.as_ref(),
            ZabbixAuthKind::ApiToken => input.api_token.as_ref(),
        }
        .filter(|s| !s.is_empty());
        let secret = match sent {
            Some(s) => Some(cipher.encrypt(s.expose())),
            None => old.as_ref().and_then(|o| o.secret.clone()),
        };
        let new = Stored {
            url: input.url.trim().to_string(),
            auth,
            username: match auth {
                ZabbixAuthKind::Password => input.username.as_deref().map(|u| u.trim().to_string()),
                ZabbixAuthKind::ApiToken => None,
            },
            sync_interval_s: input
                .sync_interval_s
                .or(old.as_ref().map(|o| o.sync_interval_s))
                .unwrap_or(DEFAULT_SYNC_INTERVAL_S),
            timeout_s: input
                .timeout_s
                .or(old.as_ref().map(|o| o.timeout_s))
                .unwrap_or(DEFAULT_TIMEOUT_S),
            secret,
            updated_at: now(),
        };
        let text = serde_json::to_string(&new).expect("settings serialise");
        match old_model {
            Some(m) => {
                let mut am = m.into_active_model();
                am.value = Set(Some(text));
                am.updated_at = Set(new.updated_at);
                am.update(&txn).await?;
            }
            None => {
                setting::ActiveModel {
                    name: Set(ZABBIX_SETTINGS.to_string()),
                    value: Set(Some(text)),
                    updated_at: Set(new.updated_at),
                }
                .insert(&txn)
                .await?;
            }
        }
        let shown = new.shown();
        let value =
            |s: &Option<ZabbixSettings>| s.as_ref().and_then(|s| serde_json::to_value(s).ok());
        Change {
            action: "settings.zabbix.update",
            entity: "setting",
            entity_id: Some(ZABBIX_SETTINGS.to_string()),
            before: value(&old_shown),
            after: value(&Some(shown.clone())),
        }
        .commit(txn, actor, ())
        .await?;
        // No inventory event: nothing our monitors watch changed. The API and the UI wake
        // the Zabbix source themselves.
        Ok(shown)
    }

    /// Re-encrypts the stored Zabbix secret under the key rotation's new cipher.
    pub(crate) async fn reencrypt_zabbix<C: sea_orm::ConnectionTrait>(
        conn: &C,
        re: &Reencrypt<'_>,
    ) -> Result<u64, StoreError> {
        let Some(m) = setting::Entity::find_by_id(ZABBIX_SETTINGS.to_string())
            .one(conn)
            .await?
        else {
            return Ok(0);
        };
        let Some(mut s) = m
            .value
            .as_deref()
            .and_then(|v| serde_json::from_str::<Stored>(v).ok())
        else {
            return Ok(0);
        };
        s.secret = re(&s.secret)?;
        let n = u64::from(s.secret.is_some());
        let mut am = m.into_active_model();
        am.value = Set(Some(serde_json::to_string(&s).expect("settings serialise")));
        am.update(conn).await?;
        Ok(n)
    }

    /// Makes the inventory follow the Zabbix hosts `hosts` (keyed by host id), in one
    /// transaction with one audit row summing it up, and one event when anything changed:
    /// - a host already mirrored or matched (its id in `external_id`) is kept up to date;
    /// - else a standalone device with the host's IP, then its host name, is matched: it gets
    ///   the host id and stays ours (its state comes from our engine, never two answers);
    /// - else a `source: zabbix` device is created, in groups named as the host's groups;
    /// - mirrored devices whose host is gone are removed, matched ones unlinked.
    ///
    /// Standalone devices' own fields and groups are never changed.
    pub async fn mirror_zabbix_hosts(
        &self,
        actor: &Actor,
        hosts: &[MirrorHost],
    ) -> Result<MirrorReport, StoreError> {
        let zabbix = DeviceSource::Zabbix.as_str();
        let txn = self.db.begin().await?;
        let all = device::Entity::find().all(&txn).await?;
        let mut linked: HashMap<String, device::Model> = HashMap::new();
        let mut orphans = Vec::new();
        let mut by_ip: HashMap<String, usize> = HashMap::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let mut free: Vec<device::Model> = Vec::new();
        for m in all {
            match m.external_id.clone() {
                Some(x) if !linked.contains_key(&x) => {
                    linked.insert(x, m);
                }
                Some(_) => orphans.push(m),
                None if m.source != zabbix => {
                    by_ip.insert(m.ip.clone(), free.len());
                    if let Some(h) = &m.hostname {
                        by_name.insert(h.to_lowercase(), free.len());
                    }
                    by_name.entry(m.name.to_lowercase()).or_insert(free.len());
                    free.push(m);
                }
                None => orphans.push(m),
            }
        }
        let mut groups: HashMap<String, Uuid> = device_group::Entity::find()
            .all(&txn)
            .await?
            .into_iter()
            .map(|g| (g.name, g.id))
            .collect();
        let mirrored_ids: Vec<Uuid> = linked
            .values()
            .filter(|m| m.source == zabbix)
            .map(|m| m.id)
            .collect();
        let mut members: HashMap<Uuid, BTreeSet<Uuid>> = HashMap::new();
        for chunk in mirrored_ids.chunks(500) {
            for m in device_group_member::Entity::find()
                .filter(device_group_member::Column::DeviceId.is_in(chunk.to_vec()))
                .all(&txn)
                .await?
            {
                members.entry(m.device_id).or_default().insert(m.group_id);
            }
        }
        let t = now();
        let mut report = MirrorReport::default();
        let mut seen_ips = BTreeSet::new();
        let mut taken = BTreeSet::new();
        let mut new_rows = Vec::new();
        let mut want_members: Vec<(Uuid, BTreeSet<Uuid>)> = Vec::new();
        for h in hosts {
            // An IP is unique within a source: a second host on the same address is skipped.
            if !seen_ips.insert(h.ip) {
                tracing::warn!(host = %h.name, ip = %h.ip, "Zabbix host shares an address with another: not mirrored");
                continue;
            }
            let key = h.host_id.to_string();
            let ip = h.ip.to_string();
            let hostname = (!h.hostname.is_empty()).then(|| h.hostname.clone());
            if let Some(m) = linked.remove(&key) {
                if m.source != zabbix {
                    report.unchanged += 1; // matched standalone device: ours, left as it is
                    continue;
                }
                let id = m.id;
                let gids = group_ids(&txn, &mut groups, &h.groups, t).await?;
                let same = m.name == h.name
                    && m.ip == ip
                    && m.hostname == hostname
                    && m.enabled == h.enabled;
                if !same {
                    let mut am = m.into_active_model();
                    am.name = Set(h.name.clone());
                    am.ip = Set(ip);
                    am.hostname = Set(hostname);
                    am.enabled = Set(h.enabled);
                    am.updated_at = Set(t);
                    am.update(&txn).await?;
                }
                let regroup = members.get(&id) != Some(&gids);
                if regroup {
                    want_members.push((id, gids));
                }
                if same && !regroup {
                    report.unchanged += 1;
                } else {
                    report.updated += 1;
                }
                continue;
            }
            let matched = by_ip
                .get(&ip)
                .or_else(|| by_name.get(&h.hostname.to_lowercase()))
                .or_else(|| by_name.get(&h.name.to_lowercase()))
                .copied()
                .filter(|i| taken.insert(*i));
            if let Some(i) = matched {
                let mut am = free[i].clone().into_active_model();
                am.external_id = Set(Some(key));
                am.updated_at = Set(t);
                am.update(&txn).await?;
                report.matched += 1;
                continue;
            }
            let id = Uuid::new_v4();
            let gids = group_ids(&txn, &mut groups, &h.groups, t).await?;
            new_rows.push(device::ActiveModel {
                id: Set(id),
                name: Set(h.name.clone()),
                ip: Set(ip),
                hostname: Set(hostname),
                tags: Set(String::new()),
                enabled: Set(h.enabled),
                source: Set(zabbix.to_string()),
                icmp_interval_s: Set(crate::devices::DEFAULT_ICMP_INTERVAL_S),
                snmp_port: Set(crate::DEFAULT_SNMP_PORT),
                external_id: Set(Some(key)),
                created_at: Set(t),
                updated_at: Set(t),
                ..Default::default()
            });
            if !gids.is_empty() {
                want_members.push((id, gids));
            }
            report.created += 1;
        }
        // Whatever is left lost its host in Zabbix: mirrored rows go, matched ones unlink.
        let mut gone = Vec::new();
        for m in linked.into_values().chain(orphans) {
            if m.source == zabbix {
                gone.push(m.id);
            } else {
                let mut am = m.into_active_model();
                am.external_id = Set(None);
                am.updated_at = Set(t);
                am.update(&txn).await?;
                report.unlinked += 1;
            }
        }
        report.removed = gone.len();
        for chunk in gone.chunks(500) {
            device_group_member::Entity::delete_many()
                .filter(device_group_member::Column::DeviceId.is_in(chunk.to_vec()))
                .exec(&txn)
                .await?;
            device::Entity::delete_many()
                .filter(device::Column::Id.is_in(chunk.to_vec()))
                .exec(&txn)
                .await?;
        }
        // Two kept hosts that swap addresses in one sync violate the (source, ip) index; the
        // sync fails and says so, and the next one after the swap settles succeeds.
        for chunk in new_rows.chunks(200) {
            device::Entity::insert_many(chunk.to_vec())
                .exec(&txn)
                .await?;
        }
        for (id, gids) in &want_members {
            device_group_member::Entity::delete_many()
                .filter(device_group_member::Column::DeviceId.eq(*id))
                .exec(&txn)
                .await?;
            let rows: Vec<_> = gids
                .iter()
                .map(|g| device_group_member::ActiveModel {
                    group_id: Set(*g),
                    device_id: Set(*id),
                })
                .collect();
            if !rows.is_empty() {
                device_group_member::Entity::insert_many(rows)
                    .exec(&txn)
                    .await?;
            }
        }
        let changed =
            report.created + report.updated + report.removed + report.matched + report.unlinked > 0;
        if changed {
            Change {
                action: "zabbix.mirror",
                entity: "device",
                entity_id: None,
                before: None,
                after: serde_json::to_value(&report).ok(),
            }
            .write(&txn, actor)
            .await?;
        }
        txn.commit().await?;
        if changed {
            self.publish(InventoryEvent::DevicesReplaced);
        }
        Ok(report)
    }
}

/// The ids of the groups named `names`, creating the missing ones.
async fn group_ids<C: sea_orm::ConnectionTrait>(
    conn: &C,
    groups: &mut HashMap<String, Uuid>,
    names: &[String],
    t: chrono::DateTime<chrono::Utc>,
) -> Result<BTreeSet<Uuid>, StoreError> {
    let mut out = BTreeSet::new();
    for g in names {
        let id = match groups.get(g) {
            Some(id) => *id,
            None => {
                let id = Uuid::new_v4();
                device_group::ActiveModel {
                    id: Set(id),
                    name: Set(g.clone()),
                    description: Set(Some("Zabbix host group".into())),
                    created_at: Set(t),
                    updated_at: Set(t),
                }
                .insert(conn)
                .await?;
                groups.insert(g.clone(), id);
                id
            }
        };
        out.insert(id);
    }
    Ok(out)
}
