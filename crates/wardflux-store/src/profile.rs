//! The monitoring profile: which mode (standalone, zabbix, hybrid) the installation runs in.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, TransactionTrait,
};
use uuid::Uuid;
use wardflux_model::{InventoryEvent, MonitoringMode};

use crate::entity::monitoring_profile;
use crate::{Actor, Change, MonitoringProfile, Store, StoreError, now};

const DEFAULT_PROFILE: &str = "default";

impl TryFrom<monitoring_profile::Model> for MonitoringProfile {
    type Error = StoreError;
    fn try_from(m: monitoring_profile::Model) -> Result<Self, StoreError> {
        Ok(MonitoringProfile {
            id: m.id,
            name: m.name,
            mode: m.mode.parse().map_err(StoreError::Corrupt)?,
            is_active: m.is_active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
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
        Change::updated(
            "monitoring_profile.update",
            "monitoring_profile",
            after.id,
            &current,
            &after,
        )
        .write(&txn, actor)
        .await?;
        txn.commit().await?;
        self.publish(InventoryEvent::ModeChanged);
        Ok(after)
    }
}
