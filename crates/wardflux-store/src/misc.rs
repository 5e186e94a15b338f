//! Monitoring profile, audit log, device status history and key rotation.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;
use wardflux_model::MonitoringMode;

use crate::entity::{
    audit_log, device_status_history, monitoring_profile, notification_channel, snmp_credential,
};
use crate::{
    Actor, AuditEntry, Cipher, MonitoringProfile, Page, StatusChange, Store, StoreError, audit,
    json, now,
};

const DEFAULT_PROFILE: &str = "default";

impl TryFrom<monitoring_profile::Model> for MonitoringProfile {
    type Error = StoreError;
    fn try_from(m: monitoring_profile::Model) -> Result<Self, StoreError> {
        Ok(MonitoringProfile {
            id: m.id,
            name: m.name,
            mode: m.mode.parse().map_err(StoreError::Db)?,
            is_active: m.is_active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

impl From<audit_log::Model> for AuditEntry {
    fn from(m: audit_log::Model) -> Self {
        AuditEntry {
            id: m.id,
            at: m.at,
            actor: m.actor,
            actor_id: m.actor_id,
            action: m.action,
            entity: m.entity,
            entity_id: m.entity_id,
            before: m.before,
            after: m.after,
        }
    }
}

impl From<device_status_history::Model> for StatusChange {
    fn from(m: device_status_history::Model) -> Self {
        StatusChange {
            id: m.id,
            device_id: m.device_id,
            from_state: m.from_state,
            to_state: m.to_state,
            at: m.at,
            reason: m.reason,
        }
    }
}

impl Store {
    /// The active monitoring profile; created (standalone) on first use.
    pub async fn monitoring_profile(&self) -> Result<MonitoringProfile, StoreError> {
        if let Some(m) = monitoring_profile::Entity::find()
            .filter(monitoring_profile::Column::IsActive.eq(true))
            .order_by_asc(monitoring_profile::Column::CreatedAt)
            .one(&self.db)
            .await?
        {
            return m.try_into();
        }
        let t = now();
        let res = monitoring_profile::ActiveModel {
            id: Set(Uuid::new_v4()),
            name: Set(DEFAULT_PROFILE.into()),
            mode: Set(MonitoringMode::Standalone.as_str().into()),
            is_active: Set(true),
            created_at: Set(t),
            updated_at: Set(t),
        }
        .insert(&self.db)
        .await;
        match res {
            Ok(m) => m.try_into(),
            // Another process created it first (unique name): read theirs.
            Err(_) => monitoring_profile::Entity::find()
                .filter(monitoring_profile::Column::Name.eq(DEFAULT_PROFILE))
                .one(&self.db)
                .await?
                .ok_or(StoreError::NotFound {
                    entity: "monitoring profile",
                })?
                .try_into(),
        }
    }

    pub async fn set_monitoring_mode(
        &self,
        actor: &Actor,
        mode: MonitoringMode,
    ) -> Result<MonitoringProfile, StoreError> {
        let current = self.monitoring_profile().await?;
        let txn = self.db.begin().await?;
        let m = monitoring_profile::Entity::find_by_id(current.id)
            .one(&txn)
            .await?
            .ok_or(StoreError::NotFound {
                entity: "monitoring profile",
            })?;
        let mut am = m.into_active_model();
        am.mode = Set(mode.as_str().into());
        am.updated_at = Set(now());
        let after = MonitoringProfile::try_from(am.update(&txn).await?)?;
        audit(
            &txn,
            actor,
            "monitoring_profile.update",
            "monitoring_profile",
            Some(after.id.to_string()),
            json(&current),
            json(&after),
        )
        .await?;
        txn.commit().await?;
        Ok(after)
    }

    /// Newest first.
    pub async fn list_audit(
        &self,
        limit: u64,
        offset: u64,
    ) -> Result<Page<AuditEntry>, StoreError> {
        if !(1..=1000).contains(&limit) {
            return Err(StoreError::invalid("limit", "must be between 1 and 1000"));
        }
        crate::check_offset(offset)?;
        let total = audit_log::Entity::find().count(&self.db).await?;
        let items = audit_log::Entity::find()
            .order_by_desc(audit_log::Column::At)
            .order_by_desc(audit_log::Column::Id)
            .limit(limit)
            .offset(offset)
            .all(&self.db)
            .await?
            .into_iter()
            .map(AuditEntry::from)
            .collect();
        Ok(Page {
            items,
            total,
            limit,
            offset,
        })
    }

    /// Records one device state transition (written by the monitors, not by users: no audit).
    pub async fn record_status_change(
        &self,
        device_id: Uuid,
        from: &str,
        to: &str,
        at: DateTime<Utc>,
        reason: Option<String>,
    ) -> Result<StatusChange, StoreError> {
        let m = device_status_history::ActiveModel {
            id: Set(Uuid::new_v4()),
            device_id: Set(device_id),
            from_state: Set(from.to_string()),
            to_state: Set(to.to_string()),
            at: Set(at.trunc_subsecs(6)),
            reason: Set(reason),
        }
        .insert(&self.db)
        .await?;
        Ok(m.into())
    }

    /// A device's state changes in `[from, to]`, oldest first, at most `limit`.
    pub async fn status_history(
        &self,
        device_id: Uuid,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        limit: u64,
    ) -> Result<Vec<StatusChange>, StoreError> {
        let mut q = device_status_history::Entity::find()
            .filter(device_status_history::Column::DeviceId.eq(device_id));
        if let Some(f) = from {
            q = q.filter(device_status_history::Column::At.gte(f));
        }
        if let Some(t) = to {
            q = q.filter(device_status_history::Column::At.lte(t));
        }
        Ok(q.order_by_asc(device_status_history::Column::At)
            .order_by_asc(device_status_history::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(StatusChange::from)
            .collect())
    }

    /// Re-encrypts every stored secret under `new` in one transaction, then makes `new` the
    /// store's key. Returns how many secret values were re-encrypted. If any secret does not
    /// decrypt with the current key, nothing changes.
    pub async fn rotate_key(&self, actor: &Actor, new: Cipher) -> Result<u64, StoreError> {
        let old = self.cipher();
        let re = |t: &Option<String>| -> Result<Option<String>, StoreError> {
            t.as_deref()
                .map(|t| old.decrypt(t).map(|p| new.encrypt(p.expose())))
                .transpose()
        };
        let txn = self.db.begin().await?;
        let mut n = 0u64;
        for m in snmp_credential::Entity::find().all(&txn).await? {
            let (c, a, p) = (
                re(&m.community_encrypted)?,
                re(&m.auth_key_encrypted)?,
                re(&m.priv_key_encrypted)?,
            );
            n += [&c, &a, &p].iter().filter(|v| v.is_some()).count() as u64;
            let mut am = m.into_active_model();
            am.community_encrypted = Set(c);
            am.auth_key_encrypted = Set(a);
            am.priv_key_encrypted = Set(p);
            am.update(&txn).await?;
        }
        for m in notification_channel::Entity::find().all(&txn).await? {
            let s = re(&m.secret_config_encrypted)?;
            n += u64::from(s.is_some());
            let mut am = m.into_active_model();
            am.secret_config_encrypted = Set(s);
            am.update(&txn).await?;
        }
        audit(
            &txn,
            actor,
            "keys.rotate",
            "encryption_key",
            None,
            None,
            Some(serde_json::json!({ "reencrypted": n })),
        )
        .await?;
        txn.commit().await?;
        self.set_cipher(new);
        Ok(n)
    }
}
