//! Reading the audit log (rows are written by `crate::Change` inside each change's
//! transaction), and events that change no row.

use sea_orm::{EntityTrait, QueryOrder};

use crate::entity::audit_log;
use wardflux_model::inventory::Actor;

use crate::{AuditEntry, Change, Page, Store, StoreError};

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

impl Store {
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
        let sel = audit_log::Entity::find()
            .order_by_desc(audit_log::Column::At)
            .order_by_desc(audit_log::Column::Id);
        let page = crate::paged(&self.db, sel, limit, offset).await?;
        Ok(page.map(AuditEntry::from))
    }

    /// Records an event that changes no row, such as a login throttle engaging: `action`
    /// concerning `entity` `entity_id`, with `details` as the entry's `after`.
    pub async fn record_audit_event(
        &self,
        actor: &Actor,
        action: &str,
        entity: &str,
        entity_id: Option<String>,
        details: serde_json::Value,
    ) -> Result<(), StoreError> {
        Change {
            action,
            entity,
            entity_id,
            before: None,
            after: Some(details),
        }
        .write(&self.db, actor)
        .await
    }
}
