//! Monitoring templates on SQLite and PostgreSQL: shipped templates loaded once (and kept on
//! re-import by name), apply/unapply with macro overrides, the items rows, the alert rules
//! made from triggers (scoped to the devices, split by threshold, removed with the last
//! device), snmp_port, poll plans and events.

use std::collections::BTreeMap;

use uuid::Uuid;
use wardflux_model::InventoryEvent;
use wardflux_model::alerts::{AlertRule, Severity};
use wardflux_model::inventory::Actor;
use wardflux_store::alerts::RuleQuery;
use wardflux_store::{Store, StoreError};

#[macro_use]
mod common;
use common::*;

fn cisco_like() -> wardflux_template::Template {
    wardflux_template::parse(
        r#"{"name": "T", "macros": {"{$CPU_HIGH}": "90"},
            "items": [{"name": "CPU", "key": "cpu_usage", "oid": "1.3.6.1.4.1.9.2.1.57.0"},
                      {"name": "Name", "key": "system_name", "oid": "1.3.6.1.2.1.1.5.0", "value_type": "string"}],
            "triggers": [{"name": "High CPU", "expression": "cpu_usage > {$CPU_HIGH}", "severity": "high"}]}"#,
    )
    .unwrap()
}

/// The alert rule called `name`.
async fn rule_named(s: &Store, name: &str) -> AlertRule {
    let rules = s.list_alert_rules(&RuleQuery::default()).await.unwrap();
    rules.into_iter().find(|r| r.name == name).unwrap()
}

both!(shipped_templates_load_once_and_keep_their_ids, |db| {
    let s = &db.store;
    let all = s.list_templates().await.unwrap();
    assert_eq!(all.len(), wardflux_template::builtin::FILES.len());
    let cisco = all.iter().find(|t| t.name == "Cisco IOS/IOS-XE").unwrap();
    assert_eq!(cisco.builtin.as_deref(), Some("cisco_ios.json"));
    // migrate() ran twice in open(): nothing duplicated, and a third load changes nothing
    s.ensure_builtin_templates().await.unwrap();
    let again = s.get_template(cisco.id).await.unwrap();
    assert_eq!(again.version, cisco.version);
    // re-import by name keeps the id; an edit makes it the user's
    let (r, created) = s
        .import_template(&Actor::system(), cisco.template.clone())
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(r.id, cisco.id);
    assert_eq!(r.builtin, None);
    assert_eq!(r.version, cisco.version + 1);
});

both!(
    apply_creates_items_and_scoped_rules_and_unapply_removes_them,
    |db| {
        let s = &db.store;
        let a = Actor::system();
        let d1 = add_device(s, "r1", "10.0.0.1").await;
        let d2 = add_device(s, "r2", "10.0.0.2").await;
        let d3 = add_device(s, "r3", "10.0.0.3").await;
        let t = s.create_template(&a, cisco_like()).await.unwrap();
        let mut ev = s.subscribe();

        let none = BTreeMap::new();
        s.apply_template(&a, t.id, &[d1.id, d2.id], &none)
            .await
            .unwrap();
        assert_eq!(ev.recv().await.unwrap(), InventoryEvent::TemplatesChanged);
        let over = BTreeMap::from([("{$CPU_HIGH}".to_string(), "50".to_string())]);
        s.apply_template(&a, t.id, &[d3.id], &over).await.unwrap();

        // one row per scalar item and device, with the template crate's ids
        let items = s.list_items(Some(d1.id)).await.unwrap();
        assert_eq!(items.len(), 2);
        let cpu = items.iter().find(|i| i.key == "cpu_usage").unwrap();
        assert_eq!(cpu.id, wardflux_template::item_id(t.id, d1.id, "cpu_usage"));
        assert_eq!(cpu.oid, "1.3.6.1.4.1.9.2.1.57.0");
        assert_eq!(s.list_items(None).await.unwrap().len(), 6);

        // two rules: the default threshold for r1+r2, 50 for r3
        let rules = s.list_alert_rules(&RuleQuery::default()).await.unwrap();
        let base = rules.iter().find(|r| r.name == "T: High CPU").unwrap();
        let mut ids = [d1.id, d2.id];
        ids.sort();
        assert_eq!(base.expression, "cpu_usage > 90");
        assert_eq!(base.device_ids, Some(ids.to_vec()), "scoped to r1 and r2");
        assert_eq!(base.severity, Severity::High);
        assert_eq!(base.labels.get("template").map(String::as_str), Some("T"));
        let low = rules
            .iter()
            .find(|r| r.name == "T: High CPU [cpu_usage > 50]")
            .unwrap();
        assert_eq!(low.expression, "cpu_usage > 50");
        assert_eq!(low.device_ids, Some(vec![d3.id]));

        // poll plans: one per device, with the overrides' effect on ids none (same key, same id)
        let plans = s.poll_plans().await.unwrap();
        assert_eq!(plans.len(), 3);
        let p1 = plans.iter().find(|p| p.device.id == d1.id).unwrap();
        assert_eq!(p1.plan.plan.items.len(), 2);
        assert_eq!(p1.device.snmp_port, 161);
        assert_eq!(p1.credential_id, None);
        // r1 and r2 (same template, same macros) share one expansion, and so does r3: its
        // override changes a trigger threshold, not what is polled
        let p2 = plans.iter().find(|p| p.device.id == d2.id).unwrap();
        let p3 = plans.iter().find(|p| p.device.id == d3.id).unwrap();
        assert!(std::sync::Arc::ptr_eq(&p1.plan, &p2.plan));
        assert!(std::sync::Arc::ptr_eq(&p1.plan, &p3.plan));
        // each device's item ids, derived from the shared plan, are its stored rows
        for (p, d) in [(p1, d1.id), (p2, d2.id), (p3, d3.id)] {
            let mut derived: Vec<Uuid> = p.plan.for_device(d).items.iter().map(|i| i.id).collect();
            let mut stored: Vec<Uuid> = s
                .list_items(Some(d))
                .await
                .unwrap()
                .into_iter()
                .map(|i| i.id)
                .collect();
            derived.sort();
            stored.sort();
            assert_eq!(derived, stored);
        }

        // removing r3 deletes its items and its rule; removing r1 narrows the base rule
        s.unapply_template(&a, t.id, d3.id).await.unwrap();
        assert!(s.list_items(Some(d3.id)).await.unwrap().is_empty());
        s.unapply_template(&a, t.id, d1.id).await.unwrap();
        let rules = s.list_alert_rules(&RuleQuery::default()).await.unwrap();
        let names: Vec<_> = rules.iter().map(|r| r.name.as_str()).collect();
        assert!(
            !names.contains(&"T: High CPU [cpu_usage > 50]"),
            "{names:?}"
        );
        let base = rules.iter().find(|r| r.name == "T: High CPU").unwrap();
        assert_eq!(base.expression, "cpu_usage > 90");
        assert_eq!(base.device_ids, Some(vec![d2.id]), "narrowed to r2");
        // the last device takes the rule with it
        s.unapply_template(&a, t.id, d2.id).await.unwrap();
        let rules = s.list_alert_rules(&RuleQuery::default()).await.unwrap();
        assert!(!rules.iter().any(|r| r.name.starts_with("T: ")));
        assert!(s.list_items(None).await.unwrap().is_empty());
        assert!(s.poll_plans().await.unwrap().is_empty());
        assert!(matches!(
            s.unapply_template(&a, t.id, d2.id).await,
            Err(StoreError::NotFound { .. })
        ));

        // every change wrote its audit row
        let audit = s.list_audit(200, 0).await.unwrap();
        let actions: Vec<&str> = audit.items.iter().map(|e| e.action.as_str()).collect();
        for want in [
            "template.create",
            "template.apply",
            "template.unapply",
            "alert_rule.create",
            "alert_rule.update",
            "alert_rule.delete",
        ] {
            assert!(actions.contains(&want), "{want} missing from {actions:?}");
        }
    }
);

both!(
    updating_a_template_follows_on_devices_and_delete_removes_everything,
    |db| {
        let s = &db.store;
        let a = Actor::system();
        let d1 = add_device(s, "r1", "10.0.0.1").await;
        let t = s.create_template(&a, cisco_like()).await.unwrap();
        s.apply_template(&a, t.id, &[d1.id], &BTreeMap::new())
            .await
            .unwrap();
        let cpu_id = wardflux_template::item_id(t.id, d1.id, "cpu_usage");

        let mut t2 = t.template.clone();
        t2.items.retain(|i| i.key.as_deref() == Some("cpu_usage"));
        t2.items[0].oid = "1.3.6.1.4.1.9.2.1.58.0".into();
        t2.triggers[0].severity = "critical".into();
        let r = s.update_template(&a, t.id, t2).await.unwrap();
        assert_eq!(r.devices.len(), 1);
        let items = s.list_items(Some(d1.id)).await.unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].id, cpu_id, "an item keeps its id across edits");
        assert_eq!(items[0].oid, "1.3.6.1.4.1.9.2.1.58.0");
        let rule = rule_named(s, "T: High CPU").await;
        assert_eq!(rule.severity, Severity::Critical);

        // an override for a macro the template lacks, an unknown device: refused, nothing changes
        let bad = BTreeMap::from([("{$NOPE}".to_string(), "1".to_string())]);
        match s.apply_template(&a, t.id, &[d1.id], &bad).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e.field, "macros.{$NOPE}"),
            other => panic!("{other:?}"),
        }
        match s
            .apply_template(&a, t.id, &[Uuid::new_v4()], &BTreeMap::new())
            .await
        {
            Err(StoreError::Invalid(e)) => assert_eq!(e.field, "device_ids"),
            other => panic!("{other:?}"),
        }
        // a duplicate name
        let mut dup = cisco_like();
        dup.name = " T ".into();
        assert!(matches!(
            s.create_template(&a, dup).await,
            Err(StoreError::Conflict { .. })
        ));
        // clone copies the content, not the devices
        let c = s.clone_template(&a, t.id, None).await.unwrap();
        assert_eq!(c.name, "T (copy)");
        assert!(c.devices.is_empty());

        s.delete_template(&a, t.id).await.unwrap();
        assert!(s.list_items(None).await.unwrap().is_empty());
        assert!(
            !s.list_alert_rules(&RuleQuery::default())
                .await
                .unwrap()
                .iter()
                .any(|r| r.name.starts_with("T: "))
        );
        // deleting a device drops its assignment
        let t = s.get_template(c.id).await.unwrap();
        s.apply_template(&a, t.id, &[d1.id], &BTreeMap::new())
            .await
            .unwrap();
        s.delete_device(&a, d1.id).await.unwrap();
        assert!(s.get_template(c.id).await.unwrap().devices.is_empty());
        assert!(s.list_items(None).await.unwrap().is_empty());
    }
);

both!(snmp_port_defaults_to_161_and_is_validated, |db| {
    let s = &db.store;
    let a = Actor::system();
    let d = add_device(s, "r1", "10.0.0.1").await;
    assert_eq!(d.snmp_port, 161);
    let mut i = dev("r2", "10.0.0.2");
    i.snmp_port = Some(16161);
    let d2 = s.create_device(&a, i.clone()).await.unwrap();
    assert_eq!(s.get_device(d2.id).await.unwrap().snmp_port, 16161);
    i.snmp_port = Some(70000);
    i.ip = "10.0.0.3".into();
    match s.create_device(&a, i).await {
        Err(StoreError::Invalid(e)) => assert_eq!(e.field, "snmp_port"),
        other => panic!("{other:?}"),
    }
});

both!(deleting_a_device_narrows_the_template_rules, |db| {
    let s = &db.store;
    let a = Actor::system();
    let d1 = add_device(s, "r1", "10.0.0.1").await;
    let d2 = add_device(s, "r2", "10.0.0.2").await;
    let t = s.create_template(&a, cisco_like()).await.unwrap();
    s.apply_template(&a, t.id, &[d1.id, d2.id], &BTreeMap::new())
        .await
        .unwrap();
    s.delete_device(&a, d1.id).await.unwrap();
    let rule = rule_named(s, "T: High CPU").await;
    assert_eq!(rule.expression, "cpu_usage > 90");
    assert_eq!(rule.device_ids, Some(vec![d2.id]));
});

both!(
    poll_plans_merge_templates_pick_credentials_and_skip_disabled_devices,
    |db| {
        use wardflux_model::inventory::{Secret, SnmpCredentialInput};
        use wardflux_model::snmp::SnmpVersion;
        let s = &db.store;
        let a = Actor::system();
        let mut i = dev("r1", "10.0.0.1");
        i.snmp_port = Some(1161);
        let d1 = s.create_device(&a, i).await.unwrap();
        let d2 = add_device(s, "r2", "10.0.0.2").await;
        let mut off = dev("off", "10.0.0.3");
        off.enabled = Some(false);
        let d3 = s.create_device(&a, off).await.unwrap();
        let v2c = |name: &str, device_id| SnmpCredentialInput {
            name: name.into(),
            device_id,
            version: Some(SnmpVersion::V2c),
            community: Some(Secret::new("c")),
            ..Default::default()
        };
        let global = s
            .create_snmp_credential(&a, v2c("global", None))
            .await
            .unwrap();
        let own = s
            .create_snmp_credential(&a, v2c("own", Some(d1.id)))
            .await
            .unwrap();

        let all = s.list_templates().await.unwrap();
        let generic = all.iter().find(|t| t.name == "Generic SNMP").unwrap();
        let cisco = all.iter().find(|t| t.name == "Cisco IOS/IOS-XE").unwrap();
        let ids = [d1.id, d2.id, d3.id];
        s.apply_template(&a, generic.id, &ids, &BTreeMap::new())
            .await
            .unwrap();
        s.apply_template(&a, cisco.id, &[d1.id], &BTreeMap::new())
            .await
            .unwrap();

        let plans = s.poll_plans().await.unwrap();
        assert_eq!(plans.len(), 2, "the disabled device has no plan");
        let p1 = plans.iter().find(|p| p.device.id == d1.id).unwrap();
        assert_eq!(p1.device.snmp_port, 1161);
        assert_eq!(p1.credential_id, Some(own.id));
        let keys: Vec<&str> = p1.plan.plan.items.iter().map(|i| i.key.as_str()).collect();
        // Cisco (C...) sorts before Generic (G...): its items come first
        assert_eq!(
            keys,
            [
                "cpu_usage",
                "cpu_usage_5s",
                "system_uptime_seconds",
                "system_name",
                "system_description"
            ]
        );
        let rules: Vec<&str> = p1
            .plan
            .plan
            .discoveries
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(rules, ["CPUs", "Memory pools", "Network interfaces"]);
        let p2 = plans.iter().find(|p| p.device.id == d2.id).unwrap();
        assert_eq!(p2.credential_id, Some(global.id));
        assert_eq!(p2.plan.plan.items.len(), 3);
        assert_eq!(
            p2.plan.plan.discoveries[0].key_labels,
            ["ifName", "ifDescr"]
        );
        // the items of the plan are the stored rows
        let stored: Vec<Uuid> = s
            .list_items(Some(d2.id))
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        let p1_stored: Vec<Uuid> = s
            .list_items(Some(d1.id))
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect();
        for i in &p2.plan.for_device(d2.id).items {
            assert!(stored.contains(&i.id));
            assert!(!p1_stored.contains(&i.id), "ids are per device");
        }
        for i in &p1.plan.for_device(d1.id).items {
            assert!(p1_stored.contains(&i.id));
        }
    }
);
