//! Monitoring templates (migration m0003): the stored templates (the whole JSON, a builtin
//! marker and a version), their device assignments with per-device macro overrides, the
//! `monitoring_items` rows an assignment creates (one per scalar item, id = the template
//! crate's deterministic item id), the alert rules made from the templates' triggers, and
//! the poll plans handed to the SNMP poller.
//!
//! Triggers become alert rules scoped to the template's devices: the expression (macros
//! expanded with each device's overrides) is kept as written and the rule's `device_ids` lists
//! the devices, which the alert engine applies to the results (a `device_id=~"id1|...|idN"`
//! matcher would not scale: 10,000 ids exceed the regex engine's size limit and cost a
//! compile per parse). Devices whose overrides give the same expression
//! share one rule; a device with its own threshold gets its own rule, named after the
//! expression. `monitoring_template_rules` maps each such rule to its template, so the rules
//! follow every change of the template or its assignments and disappear with the last device.
//! Everything a change touches (template, assignments, items, rules, audit rows) is written in
//! one transaction; [`InventoryEvent::TemplatesChanged`] is published after the commit.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use serde_json::Value;
use uuid::Uuid;
use wardflux_model::alerts::{AlertRule, Severity};
use wardflux_model::{InventoryEvent, PollPlan, ScalarIds, SharedPlan};
use wardflux_template::records::{
    DevicePlan, MonitoringItem, MonitoringTemplate, TemplateAssignment,
};
use wardflux_template::{ExpandedTrigger, Template, TemplateErrors};

use crate::alerts::schema::alert_rule;
use crate::entity::{device, snmp_credential};
use crate::{Actor, Change, Device, Store, StoreError, find, map_unique, now};

pub use schema::M0003Templates;

/// A template error as the store reports it: the first problem's path as the field, every
/// problem in the message. (The API validates first and reports the full list.)
fn invalid(e: &TemplateErrors) -> StoreError {
    StoreError::invalid(&e.first().path, e.to_string())
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn record(
    m: schema::template::Model,
    devices: Vec<TemplateAssignment>,
) -> Result<MonitoringTemplate, StoreError> {
    let template: Template = serde_json::from_value(m.template.unwrap_or(Value::Null))
        .map_err(|e| corrupt("monitoring_templates.template", e))?;
    Ok(MonitoringTemplate {
        id: m.id,
        name: m.name,
        builtin: m.builtin,
        version: m.version,
        template,
        devices,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

fn item_record(m: schema::item::Model) -> Result<MonitoringItem, StoreError> {
    Ok(MonitoringItem {
        id: m.id,
        device_id: m.device_id,
        template_id: m.template_id,
        key: m.key.unwrap_or_default(),
        name: m.name,
        oid: m.oid,
        interval_seconds: u32::try_from(m.interval_seconds).unwrap_or(1),
        value_type: serde_json::from_value(Value::String(m.value_type.clone()))
            .map_err(|e| corrupt("monitoring_items.value_type", e))?,
        units: m.units,
        enabled: m.enabled,
    })
}

async fn assignments<C: ConnectionTrait>(
    conn: &C,
    template_id: Uuid,
) -> Result<Vec<TemplateAssignment>, StoreError> {
    schema::assignment::Entity::find()
        .filter(schema::assignment::Column::TemplateId.eq(template_id))
        .order_by_asc(schema::assignment::Column::DeviceId)
        .all(conn)
        .await?
        .into_iter()
        .map(|a| {
            Ok(TemplateAssignment {
                device_id: a.device_id,
                macros: serde_json::from_value(a.macros)
                    .map_err(|e| corrupt("monitoring_template_devices.macros", e))?,
            })
        })
        .collect()
}

async fn load<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<MonitoringTemplate, StoreError> {
    let m = find::<schema::template::Entity, _>(conn, id, "template").await?;
    let devices = assignments(conn, id).await?;
    record(m, devices)
}

fn template_columns(am: &mut schema::template::ActiveModel, t: &Template) {
    am.name = Set(t.name.trim().to_string());
    am.description = Set(t.description.clone());
    am.device_types = Set(serde_json::to_value(&t.device_types).unwrap_or(Value::Null));
    am.items = Set(serde_json::to_value(&t.items).unwrap_or(Value::Null));
    am.triggers = Set(serde_json::to_value(&t.triggers).unwrap_or(Value::Null));
    am.template = Set(serde_json::to_value(t).ok());
}

/// Expands `t` for one device, mapping problems to the store's error (the path names the
/// device's overrides when they are the cause).
fn expand_for(
    t: &Template,
    template_id: Uuid,
    a: &TemplateAssignment,
) -> Result<(PollPlan, Vec<ExpandedTrigger>), StoreError> {
    wardflux_template::expand(t, template_id, a.device_id, &a.macros).map_err(|e| {
        let p = e.first();
        StoreError::invalid(&p.path, format!("device {}: {}", a.device_id, e))
    })
}

/// The merged plan of `list` (templates in that order, with their macro overrides), shared by
/// every device it is applied to: expanded once, for the nil device; each scalar item keeps
/// the template it comes from, so its id on a device is derived
/// ([`wardflux_model::ScalarIds::Derived`]). A scalar item whose key and OID an earlier
/// template already polls is left out.
fn merged_plan(
    templates: &HashMap<Uuid, (String, Template)>,
    list: &[(String, Uuid, BTreeMap<String, String>)],
) -> SharedPlan {
    let mut plan = PollPlan::default();
    let mut from = Vec::new();
    let mut seen = BTreeSet::new();
    for (_, tid, macros) in list {
        let (_, t) = &templates[tid];
        // A stored template that no longer expands (cannot happen through this store,
        // which checks on every write) is skipped rather than stopping all.
        let Ok((p, _)) = wardflux_template::expand(t, *tid, Uuid::nil(), macros) else {
            tracing::warn!(template = %tid, "template does not expand; skipped");
            continue;
        };
        for i in p.items {
            if seen.insert((i.key.clone(), i.oid.clone())) {
                plan.items.push(i);
                from.push(*tid);
            }
        }
        plan.discoveries.extend(p.discoveries);
    }
    SharedPlan {
        plan,
        scalar_ids: ScalarIds::Derived(from),
    }
}

/// Makes the `monitoring_items` rows of (template, device) equal to `plan.items`.
async fn write_items<C: ConnectionTrait>(
    conn: &C,
    template_id: Uuid,
    device_id: Uuid,
    plan: &PollPlan,
) -> Result<(), StoreError> {
    use schema::item;
    let existing: HashMap<Uuid, item::Model> = item::Entity::find()
        .filter(item::Column::DeviceId.eq(device_id))
        .filter(item::Column::TemplateId.eq(template_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let t = now();
    let wanted: BTreeSet<Uuid> = plan.items.iter().map(|i| i.id).collect();
    for i in &plan.items {
        let am = item::ActiveModel {
            id: Set(i.id),
            device_id: Set(device_id),
            template_id: Set(Some(template_id)),
            name: Set(i.name.clone()),
            oid: Set(i.oid.clone()),
            interval_seconds: Set(i32::try_from(i.interval_seconds).unwrap_or(i32::MAX)),
            value_type: Set(i.value_type.as_str().to_string()),
            units: Set(i.units.clone()),
            enabled: Set(true),
            key: Set(Some(i.key.clone())),
            spec: Set(serde_json::to_value(i).ok()),
            created_at: Set(existing.get(&i.id).map_or(t, |m| m.created_at)),
            updated_at: Set(t),
        };
        if existing.contains_key(&i.id) {
            am.update(conn).await?;
        } else {
            am.insert(conn).await?;
        }
    }
    let gone: Vec<Uuid> = existing
        .keys()
        .filter(|id| !wanted.contains(id))
        .copied()
        .collect();
    if !gone.is_empty() {
        item::Entity::delete_many()
            .filter(item::Column::Id.is_in(gone))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// A rule wanted for a template: one per (trigger, expanded expression).
struct WantedRule {
    trigger: String,
    variant: String,
    name: String,
    expression: String,
    device_ids: Vec<Uuid>,
    severity: Severity,
    description: Option<String>,
}

fn rule_record(m: alert_rule::Model) -> Result<AlertRule, StoreError> {
    AlertRule::try_from(m)
}

/// Makes the alert rules of template `tid` match its triggers and assignments.
async fn sync_rules<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    tid: Uuid,
    t: &Template,
    devices: &[TemplateAssignment],
) -> Result<(), StoreError> {
    // trigger name -> expanded expression -> (trigger, devices)
    let mut groups: BTreeMap<String, BTreeMap<String, (ExpandedTrigger, Vec<Uuid>)>> =
        BTreeMap::new();
    let mut defaults: BTreeMap<String, String> = BTreeMap::new();
    if let Ok((_, trig)) = wardflux_template::expand(t, tid, Uuid::nil(), &BTreeMap::new()) {
        for x in trig {
            defaults.insert(x.name.clone(), x.expression.clone());
        }
    }
    for a in devices {
        let (_, trig) = expand_for(t, tid, a)?;
        for x in trig {
            groups
                .entry(x.name.clone())
                .or_default()
                .entry(x.expression.clone())
                .or_insert_with(|| (x.clone(), Vec::new()))
                .1
                .push(a.device_id);
        }
    }
    let mut wanted = Vec::new();
    for (trigger, by_expr) in groups {
        let base = format!("{}: {}", t.name.trim(), trigger);
        for (expr, (x, mut devs)) in by_expr {
            devs.sort();
            let name = if defaults.get(&trigger) == Some(&expr) {
                base.clone()
            } else {
                format!("{base} [{expr}]")
            };
            let name: String = name.chars().take(200).collect();
            wanted.push(WantedRule {
                trigger: trigger.clone(),
                variant: expr.clone(),
                name,
                expression: expr,
                device_ids: devs,
                severity: x.severity,
                description: x.description.clone(),
            });
        }
    }

    let links = schema::rule_link::Entity::find()
        .filter(schema::rule_link::Column::TemplateId.eq(tid))
        .all(conn)
        .await?;
    let mut have: HashMap<(String, String), Uuid> = links
        .iter()
        .map(|l| ((l.trigger.clone(), l.variant.clone()), l.rule_id))
        .collect();
    let ts = now();
    for w in wanted {
        let labels = serde_json::json!({ "template": t.name.trim() });
        match have.remove(&(w.trigger.clone(), w.variant.clone())) {
            Some(rule_id) => {
                let Some(old) = alert_rule::Entity::find_by_id(rule_id).one(conn).await? else {
                    continue;
                };
                let scope = Some(serde_json::json!(w.device_ids));
                if old.expression == w.expression
                    && old.device_ids == scope
                    && old.name == w.name
                    && old.severity == w.severity.as_str()
                    && old.description == w.description
                {
                    continue;
                }
                let before = rule_record(old.clone())?;
                let mut am: alert_rule::ActiveModel = old.into();
                am.name = Set(w.name);
                am.expression = Set(w.expression);
                am.device_ids = Set(scope);
                am.severity = Set(w.severity.as_str().to_string());
                am.description = Set(w.description);
                am.updated_at = Set(ts);
                let m = am
                    .update(conn)
                    .await
                    .map_err(|e| map_unique(e, "name", "an alert rule with this name exists"))?;
                let after = rule_record(m)?;
                Change::updated("alert_rule.update", "alert_rule", rule_id, &before, &after)
                    .write(conn, actor)
                    .await?;
            }
            None => {
                let id = Uuid::new_v4();
                let m = alert_rule::ActiveModel {
                    id: Set(id),
                    name: Set(w.name),
                    expression: Set(w.expression),
                    severity: Set(w.severity.as_str().to_string()),
                    enabled: Set(true),
                    notification_channels: Set(Value::Array(vec![])),
                    description: Set(w.description),
                    labels: Set(Some(labels)),
                    message: Set(None),
                    escalation: Set(None),
                    builtin: Set(None),
                    device_ids: Set(Some(serde_json::json!(w.device_ids))),
                    created_at: Set(ts),
                    updated_at: Set(ts),
                }
                .insert(conn)
                .await
                .map_err(|e| map_unique(e, "name", "an alert rule with this name exists"))?;
                schema::rule_link::ActiveModel {
                    rule_id: Set(id),
                    template_id: Set(tid),
                    trigger: Set(w.trigger),
                    variant: Set(w.variant),
                }
                .insert(conn)
                .await?;
                Change::created("alert_rule.create", "alert_rule", id, &rule_record(m)?)
                    .write(conn, actor)
                    .await?;
            }
        }
    }
    // Rules no longer wanted (trigger removed, last device of a threshold gone).
    for rule_id in have.into_values() {
        delete_rule(conn, actor, rule_id).await?;
    }
    Ok(())
}

async fn delete_rule<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    rule_id: Uuid,
) -> Result<(), StoreError> {
    if let Some(old) = alert_rule::Entity::find_by_id(rule_id).one(conn).await? {
        let before = rule_record(old)?;
        alert_rule::Entity::delete_by_id(rule_id).exec(conn).await?;
        Change::deleted("alert_rule.delete", "alert_rule", rule_id, &before)
            .write(conn, actor)
            .await?;
    }
    schema::rule_link::Entity::delete_by_id(rule_id)
        .exec(conn)
        .await?;
    Ok(())
}

/// Recomputes items of every assigned device and the rules, after the template changed.
async fn refresh<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    tid: Uuid,
    t: &Template,
) -> Result<(), StoreError> {
    let devices = assignments(conn, tid).await?;
    for a in &devices {
        let (plan, _) = expand_for(t, tid, a)?;
        write_items(conn, tid, a.device_id, &plan).await?;
    }
    sync_rules(conn, actor, tid, t, &devices).await
}

/// Whether template `id` exists.
pub(crate) async fn template_exists<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<bool, StoreError> {
    Ok(schema::template::Entity::find_by_id(id)
        .one(conn)
        .await?
        .is_some())
}

/// [`Store::apply_template`] on `conn` (the caller's transaction): assignments, items, the
/// template's alert rules and the audit row. The caller commits and publishes
/// `TemplatesChanged`.
pub(crate) async fn apply_template_in<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: Uuid,
    device_ids: &[Uuid],
    macros: &BTreeMap<String, String>,
) -> Result<MonitoringTemplate, StoreError> {
    let before = load(conn, id).await?;
    let t = before.template.clone();
    let ids: BTreeSet<Uuid> = device_ids.iter().copied().collect();
    let found = device::Entity::find()
        .filter(device::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    if found.len() != ids.len() {
        let have: BTreeSet<Uuid> = found.iter().map(|d| d.id).collect();
        let missing: Vec<String> = ids.difference(&have).map(Uuid::to_string).collect();
        return Err(StoreError::invalid(
            "device_ids",
            format!("no such device: {}", missing.join(", ")),
        ));
    }
    let ts = now();
    for &d in &ids {
        let a = TemplateAssignment {
            device_id: d,
            macros: macros.clone(),
        };
        let (plan, _) = wardflux_template::expand(&t, id, d, macros).map_err(|e| invalid(&e))?;
        let am = schema::assignment::ActiveModel {
            template_id: Set(id),
            device_id: Set(d),
            macros: Set(serde_json::to_value(&a.macros).unwrap_or(Value::Null)),
            created_at: Set(ts),
        };
        let exists = schema::assignment::Entity::find_by_id((id, d))
            .one(conn)
            .await?
            .is_some();
        if exists {
            am.update(conn).await?;
        } else {
            am.insert(conn).await?;
        }
        write_items(conn, id, d, &plan).await?;
    }
    let devices = assignments(conn, id).await?;
    sync_rules(conn, actor, id, &t, &devices).await?;
    let after = load(conn, id).await?;
    let applied = serde_json::json!({"device_ids": ids, "macros": macros});
    Change::updated(
        "template.apply",
        "monitoring_template",
        id,
        &before.devices,
        &applied,
    )
    .write(conn, actor)
    .await?;
    Ok(after)
}

impl Store {
    /// Creates a template (validated here again; the API reports every problem first).
    pub async fn create_template(
        &self,
        actor: &Actor,
        t: Template,
    ) -> Result<MonitoringTemplate, StoreError> {
        let r = self.insert_template(actor, t, None).await?;
        self.publish(InventoryEvent::TemplatesChanged);
        Ok(r)
    }

    async fn insert_template(
        &self,
        actor: &Actor,
        t: Template,
        builtin: Option<(&str, i64)>,
    ) -> Result<MonitoringTemplate, StoreError> {
        wardflux_template::validate(&t).map_err(|e| invalid(&e))?;
        let txn = self.db.begin().await?;
        let ts = now();
        let mut am = schema::template::ActiveModel {
            id: Set(Uuid::new_v4()),
            builtin: Set(builtin.map(|b| b.0.to_string())),
            version: Set(1),
            shipped_version: Set(builtin.map(|b| b.1)),
            created_at: Set(ts),
            updated_at: Set(ts),
            ..Default::default()
        };
        template_columns(&mut am, &t);
        let m = am
            .insert(&txn)
            .await
            .map_err(|e| map_unique(e, "name", "a template with this name exists"))?;
        let r = record(m, vec![])?;
        Change::created("template.create", "monitoring_template", r.id, &r)
            .commit(txn, actor, r)
            .await
    }

    pub async fn list_templates(&self) -> Result<Vec<MonitoringTemplate>, StoreError> {
        let all = schema::assignment::Entity::find()
            .order_by_asc(schema::assignment::Column::DeviceId)
            .all(&self.db)
            .await?;
        let mut by_t: HashMap<Uuid, Vec<TemplateAssignment>> = HashMap::new();
        for a in all {
            by_t.entry(a.template_id)
                .or_default()
                .push(TemplateAssignment {
                    device_id: a.device_id,
                    macros: serde_json::from_value(a.macros)
                        .map_err(|e| corrupt("monitoring_template_devices.macros", e))?,
                });
        }
        schema::template::Entity::find()
            .order_by_asc(schema::template::Column::Name)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| {
                let d = by_t.remove(&m.id).unwrap_or_default();
                record(m, d)
            })
            .collect()
    }

    pub async fn get_template(&self, id: Uuid) -> Result<MonitoringTemplate, StoreError> {
        load(&self.db, id).await
    }

    pub async fn get_template_by_name(
        &self,
        name: &str,
    ) -> Result<Option<MonitoringTemplate>, StoreError> {
        match schema::template::Entity::find()
            .filter(schema::template::Column::Name.eq(name.trim()))
            .one(&self.db)
            .await?
        {
            Some(m) => Ok(Some(load(&self.db, m.id).await?)),
            None => Ok(None),
        }
    }

    /// Replaces a template's content (same id): items of every device it is applied to and
    /// its alert rules follow. A shipped template edited here stops being updated from the
    /// shipped file (`builtin` becomes `None`).
    pub async fn update_template(
        &self,
        actor: &Actor,
        id: Uuid,
        t: Template,
    ) -> Result<MonitoringTemplate, StoreError> {
        let r = self.replace_template(actor, id, t, None).await?;
        self.publish(InventoryEvent::TemplatesChanged);
        Ok(r)
    }

    async fn replace_template(
        &self,
        actor: &Actor,
        id: Uuid,
        t: Template,
        builtin: Option<(&str, i64)>,
    ) -> Result<MonitoringTemplate, StoreError> {
        wardflux_template::validate(&t).map_err(|e| invalid(&e))?;
        let txn = self.db.begin().await?;
        let before = load(&txn, id).await?;
        let old = find::<schema::template::Entity, _>(&txn, id, "template").await?;
        let version = old.version + 1;
        let mut am: schema::template::ActiveModel = old.into();
        template_columns(&mut am, &t);
        am.version = Set(version);
        am.builtin = Set(builtin.map(|b| b.0.to_string()));
        am.shipped_version = Set(builtin.map(|b| b.1));
        am.updated_at = Set(now());
        am.update(&txn)
            .await
            .map_err(|e| map_unique(e, "name", "a template with this name exists"))?;
        refresh(&txn, actor, id, &t).await?;
        let after = load(&txn, id).await?;
        Change::updated(
            "template.update",
            "monitoring_template",
            id,
            &before,
            &after,
        )
        .commit(txn, actor, after)
        .await
    }

    /// Imports a template: replaces the one with the same name (keeping its id, so item ids,
    /// history and assignments stay) or creates it. Returns the record and whether it is new.
    pub async fn import_template(
        &self,
        actor: &Actor,
        t: Template,
    ) -> Result<(MonitoringTemplate, bool), StoreError> {
        let r = match self.get_template_by_name(&t.name).await? {
            Some(old) => (self.replace_template(actor, old.id, t, None).await?, false),
            None => (self.insert_template(actor, t, None).await?, true),
        };
        self.publish(InventoryEvent::TemplatesChanged);
        Ok(r)
    }

    /// Copies a template under `name` (default: "<name> (copy)"), without its devices.
    pub async fn clone_template(
        &self,
        actor: &Actor,
        id: Uuid,
        name: Option<String>,
    ) -> Result<MonitoringTemplate, StoreError> {
        let src = self.get_template(id).await?;
        let mut t = src.template;
        t.name = name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("{} (copy)", t.name));
        self.create_template(actor, t).await
    }

    /// Deletes a template and everything it added: items, assignments, alert rules.
    pub async fn delete_template(&self, actor: &Actor, id: Uuid) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        let before = load(&txn, id).await?;
        let links = schema::rule_link::Entity::find()
            .filter(schema::rule_link::Column::TemplateId.eq(id))
            .all(&txn)
            .await?;
        for l in links {
            delete_rule(&txn, actor, l.rule_id).await?;
        }
        schema::item::Entity::delete_many()
            .filter(schema::item::Column::TemplateId.eq(id))
            .exec(&txn)
            .await?;
        schema::template::Entity::delete_by_id(id)
            .exec(&txn)
            .await?;
        Change::deleted("template.delete", "monitoring_template", id, &before)
            .write(&txn, actor)
            .await?;
        txn.commit().await?;
        self.publish(InventoryEvent::TemplatesChanged);
        Ok(())
    }

    /// Applies a template to devices (bulk) with the same macro overrides for each; a device
    /// that already has it gets the new overrides. All or nothing: an unknown device
    /// (`device_ids`) or overrides the template refuses (`macros.{$X}`) change nothing.
    pub async fn apply_template(
        &self,
        actor: &Actor,
        id: Uuid,
        device_ids: &[Uuid],
        macros: &BTreeMap<String, String>,
    ) -> Result<MonitoringTemplate, StoreError> {
        if device_ids.is_empty() {
            return Err(StoreError::invalid("device_ids", "must not be empty"));
        }
        let txn = self.db.begin().await?;
        let after = apply_template_in(&txn, actor, id, device_ids, macros).await?;
        txn.commit().await?;
        self.publish(InventoryEvent::TemplatesChanged);
        Ok(after)
    }

    /// Removes a template from a device: its items there, the assignment, and the device from
    /// the template's alert rules (the rules go with the last device).
    pub async fn unapply_template(
        &self,
        actor: &Actor,
        id: Uuid,
        device_id: Uuid,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        let before = load(&txn, id).await?;
        let Some(a) = before
            .devices
            .iter()
            .find(|a| a.device_id == device_id)
            .cloned()
        else {
            return Err(StoreError::NotFound {
                entity: "template assignment",
            });
        };
        schema::item::Entity::delete_many()
            .filter(schema::item::Column::TemplateId.eq(id))
            .filter(schema::item::Column::DeviceId.eq(device_id))
            .exec(&txn)
            .await?;
        schema::assignment::Entity::delete_by_id((id, device_id))
            .exec(&txn)
            .await?;
        let devices = assignments(&txn, id).await?;
        sync_rules(&txn, actor, id, &before.template, &devices).await?;
        Change::deleted("template.unapply", "monitoring_template", id, &a)
            .write(&txn, actor)
            .await?;
        txn.commit().await?;
        self.publish(InventoryEvent::TemplatesChanged);
        Ok(())
    }

    /// Ids of the templates applied to a device.
    pub(crate) async fn templates_of_device(
        &self,
        device_id: Uuid,
    ) -> Result<Vec<Uuid>, StoreError> {
        Ok(schema::assignment::Entity::find()
            .filter(schema::assignment::Column::DeviceId.eq(device_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|a| a.template_id)
            .collect())
    }

    /// Re-derives the alert rules of `templates` from their current assignments (after a
    /// device was deleted and its assignments went with it).
    pub(crate) async fn resync_template_rules(
        &self,
        actor: &Actor,
        templates: &[Uuid],
    ) -> Result<(), StoreError> {
        let txn = self.db.begin().await?;
        for &tid in templates {
            let Ok(t) = load(&txn, tid).await else {
                continue;
            };
            sync_rules(&txn, actor, tid, &t.template, &t.devices).await?;
        }
        txn.commit().await?;
        self.publish(InventoryEvent::TemplatesChanged);
        Ok(())
    }

    /// Stored items, of one device or all, ordered by device and key.
    pub async fn list_items(
        &self,
        device_id: Option<Uuid>,
    ) -> Result<Vec<MonitoringItem>, StoreError> {
        let mut q = schema::item::Entity::find();
        if let Some(d) = device_id {
            q = q.filter(schema::item::Column::DeviceId.eq(d));
        }
        q.order_by_asc(schema::item::Column::DeviceId)
            .order_by_asc(schema::item::Column::Key)
            .all(&self.db)
            .await?
            .into_iter()
            .map(item_record)
            .collect()
    }

    /// One plan per device with at least one template applied: the device, its SNMP
    /// credential's id (the device's own newest, else the newest global one) and the merged
    /// plan of its templates (templates in name order; a scalar item whose key and OID an
    /// earlier template already polls is left out). Disabled devices are left out.
    ///
    /// Devices with the same templates and the same macro values share one plan (one
    /// expansion, one `Arc`): only their scalar item ids differ, and those are derived
    /// ([`SharedPlan::item_id`]) from the template, the device and the key.
    pub async fn poll_plans(&self) -> Result<Vec<DevicePlan>, StoreError> {
        let templates: HashMap<Uuid, (String, Template)> = schema::template::Entity::find()
            .all(&self.db)
            .await?
            .into_iter()
            .map(|m| {
                let r = record(m, vec![])?;
                Ok((r.id, (r.name, r.template)))
            })
            .collect::<Result<_, StoreError>>()?;
        // device -> (template name, template id, macro overrides)
        type Assigned = (String, Uuid, BTreeMap<String, String>);
        let mut by_device: BTreeMap<Uuid, Vec<Assigned>> = BTreeMap::new();
        for a in schema::assignment::Entity::find().all(&self.db).await? {
            let Some((name, _)) = templates.get(&a.template_id) else {
                continue;
            };
            let macros = serde_json::from_value(a.macros)
                .map_err(|e| corrupt("monitoring_template_devices.macros", e))?;
            by_device
                .entry(a.device_id)
                .or_default()
                .push((name.clone(), a.template_id, macros));
        }
        if by_device.is_empty() {
            return Ok(vec![]);
        }
        let devices = device::Entity::find()
            .filter(device::Column::Id.is_in(by_device.keys().copied()))
            .filter(device::Column::Enabled.eq(true))
            .all(&self.db)
            .await?;
        let creds = snmp_credential::Entity::find()
            .order_by_desc(snmp_credential::Column::CreatedAt)
            .all(&self.db)
            .await?;
        let global = creds.iter().find(|c| c.device_id.is_none()).map(|c| c.id);
        // One plan per (templates, macro overrides) set, and one per content: overrides
        // that only change trigger thresholds give equal plans, shared too.
        let mut shared: HashMap<Vec<Assigned>, Arc<SharedPlan>> = HashMap::new();
        let mut by_content: HashMap<u64, Vec<Arc<SharedPlan>>> = HashMap::new();
        let mut out = Vec::with_capacity(devices.len());
        for d in devices {
            let mut list = by_device.remove(&d.id).unwrap_or_default();
            list.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
            let plan = match shared.get(&list) {
                Some(p) => p.clone(),
                None => {
                    let p = merged_plan(&templates, &list);
                    let same = by_content.entry(p.fingerprint()).or_default();
                    let p = match same.iter().find(|q| ***q == p) {
                        Some(q) => q.clone(),
                        None => {
                            let p = Arc::new(p);
                            same.push(p.clone());
                            p
                        }
                    };
                    shared.insert(list, p.clone());
                    p
                }
            };
            let credential_id = creds
                .iter()
                .find(|c| c.device_id == Some(d.id))
                .map(|c| c.id)
                .or(global);
            out.push(DevicePlan {
                device: Device::from(d),
                credential_id,
                plan,
            });
        }
        Ok(out)
    }

    /// Loads the shipped templates: a missing one is created; one still marked as shipped
    /// whose file changed is replaced (same id); one a user edited, or a user template of the
    /// same name, is left alone. Called by [`Store::migrate`].
    pub async fn ensure_builtin_templates(&self) -> Result<(), StoreError> {
        let actor = Actor::system();
        let mut changed = false;
        for (file, text) in wardflux_template::builtin::FILES {
            let version = wardflux_template::builtin::version(text);
            let t = wardflux_template::parse(text)
                .map_err(|e| StoreError::Corrupt(format!("shipped template {file}: {e}")))?;
            let by_file = schema::template::Entity::find()
                .filter(schema::template::Column::Builtin.eq(*file))
                .one(&self.db)
                .await?;
            match by_file {
                Some(m) if m.shipped_version == Some(version) => {}
                Some(m) => {
                    self.replace_template(&actor, m.id, t, Some((file, version)))
                        .await?;
                    changed = true;
                }
                None => {
                    let taken = schema::template::Entity::find()
                        .filter(schema::template::Column::Name.eq(t.name.trim()))
                        .one(&self.db)
                        .await?
                        .is_some();
                    if !taken {
                        match self.insert_template(&actor, t, Some((file, version))).await {
                            Ok(_) => changed = true,
                            // Another process sharing the database loaded it first.
                            Err(StoreError::Conflict { .. }) => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        }
        if changed {
            self.publish(InventoryEvent::TemplatesChanged);
        }
        Ok(())
    }
}

pub(crate) mod schema {
    //! Migration m0003 and the entities of the template tables.

    use sea_orm_migration::prelude::*;
    use sea_orm_migration::schema::{
        big_integer, big_integer_null, integer, json, json_null, pk_uuid, string, string_null,
        timestamp_with_time_zone, uuid,
    };

    use crate::migration::NewTable;

    pub struct M0003Templates;

    impl MigrationName for M0003Templates {
        fn name(&self) -> &str {
            "m0003_templates"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for M0003Templates {
        fn use_transaction(&self) -> Option<bool> {
            Some(true)
        }

        async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
            use ForeignKeyAction::Cascade;
            NewTable::alter("devices")
                .col(integer("snmp_port").default(161).take())
                .create(m)
                .await?;
            NewTable::alter("monitoring_templates")
                .col(json_null("template"))
                .col(string_null("builtin"))
                .col(big_integer("version").default(1).take())
                .col(big_integer_null("shipped_version"))
                .unique("ux_monitoring_templates_name", &["name"])
                .create(m)
                .await?;
            NewTable::alter("monitoring_items")
                .col(string_null("key"))
                .col(json_null("spec"))
                .index(
                    "ix_monitoring_items_template",
                    &["template_id", "device_id"],
                )
                .create(m)
                .await?;
            NewTable::new("monitoring_template_devices")
                .col(uuid("template_id"))
                .col(uuid("device_id"))
                .col(json("macros"))
                .col(timestamp_with_time_zone("created_at"))
                .primary_key(&["template_id", "device_id"])
                .refs("template_id", "monitoring_templates", Cascade)
                .refs("device_id", "devices", Cascade)
                .index("ix_monitoring_template_devices_device", &["device_id"])
                .create(m)
                .await?;
            NewTable::new("monitoring_template_rules")
                .col(pk_uuid("rule_id"))
                .col(uuid("template_id"))
                .col(string("trigger"))
                .col(string("variant"))
                .refs("rule_id", "alert_rules", Cascade)
                .refs("template_id", "monitoring_templates", Cascade)
                .create(m)
                .await?;
            Ok(())
        }
    }

    pub mod template {
        use sea_orm::entity::prelude::*;
        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "monitoring_templates")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: Uuid,
            pub name: String,
            pub description: Option<String>,
            /// m0001's seed columns, kept filled for readers of the seed schema.
            pub device_types: Json,
            pub items: Json,
            pub triggers: Json,
            /// The whole template JSON (the source of truth).
            pub template: Option<Json>,
            /// Shipped file name while unmodified.
            pub builtin: Option<String>,
            pub version: i64,
            /// Hash of the shipped file's text this row was loaded from.
            pub shipped_version: Option<i64>,
            pub created_at: DateTimeUtc,
            pub updated_at: DateTimeUtc,
        }
        crate::entity::empty_relation!();
    }

    pub mod item {
        use sea_orm::entity::prelude::*;
        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "monitoring_items")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: Uuid,
            pub device_id: Uuid,
            pub template_id: Option<Uuid>,
            pub name: String,
            pub oid: String,
            pub interval_seconds: i32,
            pub value_type: String,
            pub units: Option<String>,
            pub enabled: bool,
            pub key: Option<String>,
            /// The item's full `ItemSpec` (multiplier, preprocess, labels).
            pub spec: Option<Json>,
            pub created_at: DateTimeUtc,
            pub updated_at: DateTimeUtc,
        }
        crate::entity::empty_relation!();
    }

    pub mod assignment {
        use sea_orm::entity::prelude::*;
        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "monitoring_template_devices")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub template_id: Uuid,
            #[sea_orm(primary_key, auto_increment = false)]
            pub device_id: Uuid,
            pub macros: Json,
            pub created_at: DateTimeUtc,
        }
        crate::entity::empty_relation!();
    }

    pub mod rule_link {
        use sea_orm::entity::prelude::*;
        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "monitoring_template_rules")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub rule_id: Uuid,
            pub template_id: Uuid,
            pub trigger: String,
            /// The expanded expression (one rule per distinct expression of a trigger).
            pub variant: String,
        }
        crate::entity::empty_relation!();
    }
}
