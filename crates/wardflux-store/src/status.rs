//! Device status history: one row per state change, written by the monitors.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;
use wardflux_model::DeviceState;

use crate::entity::device_status_history;
use crate::{StatusChange, Store, StoreError};

impl TryFrom<device_status_history::Model> for StatusChange {
    type Error = StoreError;
    fn try_from(m: device_status_history::Model) -> Result<Self, StoreError> {
        Ok(StatusChange {
            id: m.id,
            device_id: m.device_id,
            from_state: m.from_state.parse().map_err(StoreError::Corrupt)?,
            to_state: m.to_state.parse().map_err(StoreError::Corrupt)?,
            at: m.at,
            reason: m.reason,
        })
    }
}

impl Store {
    /// Records one device state transition (written by the monitors, not by users: no audit).
    pub async fn record_status_change(
        &self,
        device_id: Uuid,
        from: DeviceState,
        to: DeviceState,
        at: DateTime<Utc>,
        reason: Option<String>,
    ) -> Result<StatusChange, StoreError> {
        let m = device_status_history::ActiveModel {
            id: Set(Uuid::new_v4()),
            device_id: Set(device_id),
            from_state: Set(from.as_str().to_owned()),
            to_state: Set(to.as_str().to_owned()),
            at: Set(at.trunc_subsecs(6)),
            reason: Set(reason),
        }
        .insert(&self.db)
        .await?;
        m.try_into()
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
        let sel = q
            .order_by_asc(device_status_history::Column::At)
            .order_by_asc(device_status_history::Column::Id)
            .limit(limit);
        crate::records(&self.db, sel).await
    }
}
