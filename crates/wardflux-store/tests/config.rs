//! Whole-configuration export and import on SQLite and PostgreSQL: export, import into a
//! fresh store, export again gives the same document; a second import changes nothing;
//! secrets travel only encrypted to a passphrase; a bad document is refused with every
//! problem's path and nothing written.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wardflux_model::alerts::{
    AlertRuleInput, ChannelInput, ChannelKind, MaintenanceInput, Severity,
};
use wardflux_model::discovery::{CandidateInput, DiscoveryRuleInput};
use wardflux_model::inventory::{
    Actor, DeviceGroupInput, Secret, SnmpCredentialInput, SnmpVersion,
};
use wardflux_store::Store;
use wardflux_store::config::{ConfigError, Outcome, StoreChecksOnly};

#[macro_use]
mod common;
use common::*;

/// A configuration touching every section: devices with a parent and groups, a bound and a
/// global credential, a user template applied with macros, a shipped template applied, a
/// channel with a secret, a rule naming it and two devices, a maintenance window, a
/// discovery rule with a candidate.
async fn populate(s: &Store) {
    let a = Actor::system();
    let core = add_device(s, "core", "10.0.0.1").await;
    let mut edge_in = dev("edge", "10.0.0.2");
    edge_in.parent_id = Some(core.id);
    edge_in.tags = vec!["b".into(), "a".into()];
    edge_in.snmp_port = Some(1161);
    let edge = s.create_device(&a, edge_in).await.unwrap();
    let g = s
        .create_group(
            &a,
            DeviceGroupInput {
                name: "backbone".into(),
                description: Some("the core".into()),
                device_ids: vec![core.id, edge.id],
            },
        )
        .await
        .unwrap();
    s.create_snmp_credential(
        &a,
        SnmpCredentialInput {
            name: "edge v2c".into(),
            device_id: Some(edge.id),
            version: Some(SnmpVersion::V2c),
            community: Some(Secret::new("edge-secret")),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.create_snmp_credential(
        &a,
        SnmpCredentialInput {
            name: "global".into(),
            version: Some(SnmpVersion::V2c),
            community: Some(Secret::new("public-ish")),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let t = wardflux_template::parse(
        &json!({
            "name": "Custom ping",
            "macros": {"{$LIMIT}": "5"},
            "items": [{"key": "custom_uptime", "name": "Uptime", "oid": "1.3.6.1.2.1.1.3.0",
                       "interval": 60, "value_type": "gauge"}],
            "triggers": []
        })
        .to_string(),
    )
    .unwrap();
    let t = s.create_template(&a, t).await.unwrap();
    let macros = BTreeMap::from([("{$LIMIT}".to_string(), "9".to_string())]);
    s.apply_template(&a, t.id, &[edge.id], &macros)
        .await
        .unwrap();
    let shipped = s.list_templates().await.unwrap();
    let shipped = shipped.iter().find(|t| t.builtin.is_some()).unwrap();
    s.apply_template(&a, shipped.id, &[core.id], &BTreeMap::new())
        .await
        .unwrap();
    s.create_channel(
        &a,
        ChannelInput {
            name: "ops hook".into(),
            kind: ChannelKind::Webhook,
            config: json!({"url": "http://127.0.0.1:9/hook", "bearer_token": "tok-3141"}),
            enabled: Some(true),
        },
    )
    .await
    .unwrap();
    let mut rule = AlertRuleInput::new("edge slow", "icmp_rtt_seconds > 1", Severity::High);
    rule.notifications = vec!["ops hook".into()];
    rule.device_ids = Some(vec![edge.id, core.id]);
    s.create_alert_rule(&a, rule).await.unwrap();
    s.create_maintenance(
        &a,
        MaintenanceInput {
            name: "nightly".into(),
            group_ids: vec![g.id],
            device_ids: vec![edge.id],
            cron: Some("0 2 * * *".into()),
            duration_minutes: Some(30),
            timezone: Some("UTC".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.create_discovery_rule(
        &a,
        DiscoveryRuleInput {
            name: "lab".into(),
            ranges: vec!["127.0.0.0/30".into()],
            credentials: vec![CandidateInput {
                name: "lab c".into(),
                ..CandidateInput::community("lab-secret")
            }],
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

/// The document without its export time and secrets, for comparisons.
fn body(s: &wardflux_store::config::ConfigDocument) -> Value {
    let mut v = serde_json::to_value(s).unwrap();
    v.as_object_mut().unwrap().remove("exported_at");
    v.as_object_mut().unwrap().remove("secrets");
    v
}

async fn audit_rows(s: &Store) -> u64 {
    s.list_audit(1, 0).await.unwrap().total
}

both!(round_trip_and_idempotent, |db| {
    let src = &db.store;
    populate(src).await;
    let pass = Secret::new("correct horse");
    let doc = src.export_config(Some(&pass)).await.unwrap();
    let text = serde_json::to_string_pretty(&doc).unwrap();
    // The secrets are only inside the age block.
    for s in [
        "edge-secret",
        "public-ish",
        "tok-3141",
        "lab-secret",
        "127.0.0.1:9/hook",
    ] {
        assert!(!text.contains(s), "{s} leaked into the document");
    }
    assert!(text.contains("BEGIN AGE ENCRYPTED FILE"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["devices"][1]["parent_ip"], "10.0.0.1");
    assert_eq!(v["devices"][1]["groups"], json!(["backbone"]));
    assert_eq!(
        v["alert_rules"][0]["device_ips"],
        json!(["10.0.0.1", "10.0.0.2"])
    );

    // Into a fresh store of the same backend.
    let dst_db = open(src.backend(), key()).await;
    let dst = &dst_db.store;
    let a = Actor::system();
    let dry = dst
        .import_config(&a, &v, Some(&pass), &StoreChecksOnly, true)
        .await
        .unwrap();
    assert!(
        dry.dry_run && dry.created > 0 && dry.updated == 0,
        "{dry:?}"
    );
    assert!(
        dst.all_devices().await.unwrap().is_empty(),
        "a dry run writes nothing"
    );

    let r = dst
        .import_config(&a, &v, Some(&pass), &StoreChecksOnly, false)
        .await
        .unwrap();
    assert_eq!(r.needs_secret, 0, "{r:?}");
    assert_eq!(r.created, dry.created);
    let again = dst.export_config(None).await.unwrap();
    assert_eq!(body(&again), body(&doc));

    // Secrets arrived: the credential and channel secrets decrypt to the originals.
    let creds = dst.list_snmp_credentials().await.unwrap();
    let edge_cred = creds.iter().find(|c| c.name == "edge v2c").unwrap();
    let sec = dst.snmp_secrets(edge_cred.id).await.unwrap();
    assert_eq!(sec.community.unwrap().expose(), "edge-secret");
    let ch = &dst.list_channels().await.unwrap()[0];
    let (_, full) = dst.channel_with_secrets(ch.id).await.unwrap();
    assert_eq!(full["bearer_token"], "tok-3141");
    let rule = &dst.list_discovery_rules().await.unwrap()[0];
    let cands = dst.discovery_candidates(rule.id).await.unwrap();
    assert_eq!(cands[0].community.as_ref().unwrap().expose(), "lab-secret");

    // A second import changes nothing: every record unchanged, no audit row.
    let rows = audit_rows(dst).await;
    let r2 = dst
        .import_config(&a, &v, Some(&pass), &StoreChecksOnly, false)
        .await
        .unwrap();
    assert_eq!(
        (r2.created, r2.updated, r2.needs_secret),
        (0, 0, 0),
        "{r2:?}"
    );
    assert_eq!(audit_rows(dst).await, rows);

    // An edited document updates just that record.
    let mut edited = v.clone();
    edited["devices"][0]["location"] = json!("rack 4");
    let r3 = dst
        .import_config(&a, &edited, Some(&pass), &StoreChecksOnly, false)
        .await
        .unwrap();
    assert_eq!((r3.created, r3.updated), (0, 1), "{r3:?}");
    let e = r3
        .entries
        .iter()
        .find(|e| e.outcome == Outcome::Updated)
        .unwrap();
    assert_eq!(
        (e.section.as_str(), e.key.as_str()),
        ("devices", "10.0.0.1")
    );
});

both!(without_secrets, |db| {
    let src = &db.store;
    populate(src).await;
    let doc = src.export_config(None).await.unwrap();
    assert!(doc.secrets.is_none());
    let v = serde_json::to_value(&doc).unwrap();
    let text = v.to_string();
    for s in [
        "edge-secret",
        "public-ish",
        "tok-3141",
        "lab-secret",
        "127.0.0.1:9/hook",
    ] {
        assert!(!text.contains(s), "{s} leaked into the document");
    }
    assert_eq!(v["credentials"][0]["has_community"], true);

    // Into a fresh store: credentials and the discovery rule need their secrets.
    let dst_db = open(src.backend(), key()).await;
    let dst = &dst_db.store;
    let a = Actor::system();
    let r = dst
        .import_config(&a, &v, None, &StoreChecksOnly, false)
        .await
        .unwrap();
    let needs: Vec<_> = r
        .entries
        .iter()
        .filter(|e| e.outcome == Outcome::NeedsSecret)
        .map(|e| format!("{}: {}", e.section, e.key))
        .collect();
    assert_eq!(
        needs,
        [
            "credentials: edge v2c on 10.0.0.2",
            "credentials: global",
            "channels: ops hook",
            "discovery_rules: lab"
        ]
    );
    assert!(dst.list_snmp_credentials().await.unwrap().is_empty());

    // Over the original store, the stored secrets are kept and nothing changes.
    let r = src
        .import_config(&a, &v, None, &StoreChecksOnly, false)
        .await
        .unwrap();
    assert_eq!((r.created, r.updated, r.needs_secret), (0, 0, 0), "{r:?}");
    // A changed non-secret field of a credential keeps the secret.
    let mut edited = v.clone();
    edited["credentials"][0]["context"] = json!("ctx");
    let r = src
        .import_config(&a, &edited, None, &StoreChecksOnly, false)
        .await
        .unwrap();
    assert_eq!(r.updated, 1, "{r:?}");
    let c = src
        .list_snmp_credentials()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "edge v2c")
        .unwrap();
    assert_eq!(c.context.as_deref(), Some("ctx"));
    let sec = src.snmp_secrets(c.id).await.unwrap();
    assert_eq!(sec.community.unwrap().expose(), "edge-secret");
});

both!(wrong_passphrase_and_bad_documents, |db| {
    let src = &db.store;
    populate(src).await;
    let doc = src
        .export_config(Some(&Secret::new("right")))
        .await
        .unwrap();
    let v = serde_json::to_value(&doc).unwrap();
    let dst_db = open(src.backend(), key()).await;
    let dst = &dst_db.store;
    let rows = audit_rows(dst).await;
    let a = Actor::system();
    let e = dst
        .import_config(&a, &v, Some(&Secret::new("wrong")), &StoreChecksOnly, false)
        .await
        .unwrap_err();
    assert!(matches!(e, ConfigError::WrongPassphrase(_)), "{e}");
    assert!(e.to_string().contains("wrong passphrase"), "{e}");
    let e = dst
        .import_config(&a, &v, None, &StoreChecksOnly, false)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("secrets: the document carries"),
        "{e}"
    );

    // Every problem, with its path; nothing written.
    let mut bad = serde_json::to_value(src.export_config(None).await.unwrap()).unwrap();
    bad["devices"][1]["ip"] = json!("not-an-ip");
    bad["devices"][0]["groups"] = json!(["nope"]);
    bad["alert_rules"][0]["notifications"] = json!(["missing channel"]);
    bad["template_assignments"][0]["template"] = json!("no such template");
    bad["maintenance"][0]["duration_minutes"] = json!(0);
    bad["version"] = json!(2);
    let e = dst
        .import_config(&a, &bad, None, &StoreChecksOnly, false)
        .await
        .unwrap_err();
    let ConfigError::Invalid(problems) = &e else {
        panic!("{e}")
    };
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["version"], "a wrong version stops at the structure");
    bad["version"] = json!(1);
    let e = dst
        .import_config(&a, &bad, None, &StoreChecksOnly, false)
        .await
        .unwrap_err();
    let ConfigError::Invalid(problems) = &e else {
        panic!("{e}")
    };
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    for want in [
        "devices[1].ip",
        "devices[0].groups[0]",
        "alert_rules[0].notifications[0]",
        "template_assignments[0].template",
        "maintenance[0].duration_minutes",
    ] {
        assert!(paths.contains(&want), "{want} missing from {paths:?}");
    }
    assert!(dst.all_devices().await.unwrap().is_empty());
    assert!(dst.list_groups().await.unwrap().is_empty());
    assert_eq!(audit_rows(dst).await, rows);

    // Not a document at all.
    let e = dst
        .import_config(
            &a,
            &json!({"format": "other", "version": 1, "devices": {}}),
            None,
            &StoreChecksOnly,
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "2 problem(s) in the document: format: must be \"wardflux-config\"; devices: must be an array"
    );
});
