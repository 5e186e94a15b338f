//! Zabbix as a source in the store, on SQLite and PostgreSQL: the connection's secret
//! encrypted and kept, key rotation, and the mirror of hosts (created, matched to our own
//! devices by IP then host name, updated, removed, one event per change, rerun idempotent).

use sea_orm::{ConnectionTrait, Statement};
use wardflux_model::InventoryEvent;
use wardflux_model::inventory::{Actor, DeviceSource, Secret};
use wardflux_model::zabbix::{MirrorHost, MirrorReport, ZabbixAuthKind, ZabbixSettingsInput};
use wardflux_store::StoreError;

#[macro_use]
mod common;
use common::*;

fn password(url: &str, user: &str, pw: Option<&str>) -> ZabbixSettingsInput {
    ZabbixSettingsInput {
        url: url.into(),
        username: Some(user.into()),
        password: pw.map(Secret::new),
        ..Default::default()
    }
}

fn host(id: u64, name: &str, ip: &str, groups: &[&str]) -> MirrorHost {
    MirrorHost {
        host_id: id,
        name: name.into(),
        hostname: name.to_lowercase(),
        ip: ip.parse().unwrap(),
        enabled: true,
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

both!(settings_keep_their_secret_encrypted, |db| {
    let s = &db.store;
    let a = Actor::system();
    assert!(s.zabbix_settings().await.unwrap().is_none());
    // A password is required the first time.
    let e = s
        .set_zabbix_settings(&a, password("http://127.0.0.1/zabbix", "Admin", None))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Invalid(f) if f.field == "password"),
        "{e}"
    );
    let shown = s
        .set_zabbix_settings(
            &a,
            password("http://127.0.0.1/zabbix", "Admin", Some("pw-SECRET-1")),
        )
        .await
        .unwrap();
    assert!(shown.has_password && !shown.has_api_token);
    assert_eq!(shown.sync_interval_s, 30);
    // Stored as a Fernet token: the plain password is nowhere in the table.
    let raw = db
        .store
        .connection()
        .query_one_raw(Statement::from_string(
            db.store.connection().get_database_backend(),
            "SELECT value FROM settings WHERE name = 'zabbix'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<String>("", "value")
        .unwrap();
    assert!(!raw.contains("pw-SECRET-1"), "{raw}");
    // Same user, no password: kept. The audit rows never carry it.
    s.set_zabbix_settings(&a, password("http://127.0.0.1:8080/", "Admin", None))
        .await
        .unwrap();
    let c = s.zabbix_connection().await.unwrap().unwrap();
    assert_eq!(c.secret.expose(), "pw-SECRET-1");
    assert_eq!(c.settings.url, "http://127.0.0.1:8080/");
    let audit = serde_json::to_string(&s.list_audit(1000, 0).await.unwrap().items).unwrap();
    assert!(audit.contains("settings.zabbix.update"));
    assert!(!audit.contains("pw-SECRET-1"));
    // Another user must send a password; an API token replaces the user.
    let e = s
        .set_zabbix_settings(&a, password("http://127.0.0.1/", "other", None))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Invalid(f) if f.field == "password"),
        "{e}"
    );
    let t = s
        .set_zabbix_settings(
            &a,
            ZabbixSettingsInput {
                url: "https://z.example/".into(),
                api_token: Some(Secret::new("tok-SECRET-2")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(t.auth, ZabbixAuthKind::ApiToken);
    assert_eq!(t.username, None);
    // Key rotation re-encrypts it.
    assert_eq!(s.rotate_key(&a, key()).await.unwrap(), 1);
    let c = s.zabbix_connection().await.unwrap().unwrap();
    assert_eq!(c.secret.expose(), "tok-SECRET-2");
});

both!(mirror_creates_matches_updates_and_removes, |db| {
    let s = &db.store;
    let a = Actor::system();
    // Ours: one device by IP, one by host name.
    let ours_ip = add_device(s, "core-sw", "127.50.0.1").await;
    let mut by_name = dev("Edge-Router", "127.50.0.2");
    by_name.hostname = Some("edge-router".into());
    let ours_name = s.create_device(&a, by_name).await.unwrap();
    let mut events = s.subscribe();
    let hosts = vec![
        host(10101, "Core switch", "127.50.0.1", &["Switches"]),
        host(10102, "EDGE-ROUTER", "127.50.9.9", &["Routers"]),
        host(10103, "atm-17", "127.50.0.3", &["ATMs", "Branch 17"]),
        host(10104, "atm-18", "127.50.0.4", &["ATMs"]),
    ];
    let r = s.mirror_zabbix_hosts(&a, &hosts).await.unwrap();
    assert_eq!(
        r,
        MirrorReport {
            created: 2,
            matched: 2,
            ..Default::default()
        }
    );
    assert_eq!(events.try_recv().unwrap(), InventoryEvent::DevicesReplaced);
    let all = s.all_devices().await.unwrap();
    assert_eq!(all.len(), 4, "one record per device: {all:#?}");
    let core = all.iter().find(|d| d.id == ours_ip.id).unwrap();
    assert_eq!(core.name, "core-sw", "our fields are not overwritten");
    assert_eq!(
        core.sources,
        [DeviceSource::Standalone, DeviceSource::Zabbix]
    );
    assert_eq!(core.zabbix_hostid, Some(10101));
    let edge = all.iter().find(|d| d.id == ours_name.id).unwrap();
    assert_eq!(edge.zabbix_hostid, Some(10102));
    let atm = all.iter().find(|d| d.name == "atm-17").unwrap();
    assert_eq!(atm.source, DeviceSource::Zabbix);
    assert_eq!(atm.sources, [DeviceSource::Zabbix]);
    let groups = s.list_groups().await.unwrap();
    let atms = groups.iter().find(|g| g.name == "ATMs").unwrap();
    assert_eq!(atms.device_ids.len(), 2);
    assert!(groups.iter().any(|g| g.name == "Branch 17"));

    // A rerun changes nothing and says so, without an event.
    let r = s.mirror_zabbix_hosts(&a, &hosts).await.unwrap();
    assert_eq!(r.unchanged, 4, "{r:?}");
    assert_eq!(r.created + r.updated + r.removed + r.matched, 0);
    assert!(events.try_recv().is_err());

    // A renamed host, a host that left a group, a host gone, one gone of ours.
    let hosts = vec![
        host(10102, "EDGE-ROUTER", "127.50.9.9", &["Routers"]),
        host(10103, "atm-17 (moved)", "127.50.0.13", &["ATMs"]),
    ];
    let r = s.mirror_zabbix_hosts(&a, &hosts).await.unwrap();
    assert_eq!((r.updated, r.removed, r.unlinked), (1, 1, 1), "{r:?}");
    let all = s.all_devices().await.unwrap();
    assert_eq!(all.len(), 3);
    let core = all.iter().find(|d| d.id == ours_ip.id).unwrap();
    assert_eq!(core.sources, [DeviceSource::Standalone]);
    let atm = all.iter().find(|d| d.zabbix_hostid == Some(10103)).unwrap();
    assert_eq!(
        (atm.name.as_str(), atm.ip.to_string().as_str()),
        ("atm-17 (moved)", "127.50.0.13")
    );
    let groups = s.list_groups().await.unwrap();
    let branch = groups.iter().find(|g| g.name == "Branch 17").unwrap();
    assert!(branch.device_ids.is_empty());

    // Two hosts on one address: the second is skipped, not an error.
    let r = s
        .mirror_zabbix_hosts(
            &a,
            &[
                host(10102, "EDGE-ROUTER", "127.50.9.9", &[]),
                host(10103, "atm-17 (moved)", "127.50.0.13", &[]),
                host(10105, "clone", "127.50.0.13", &[]),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.created, 0, "{r:?}");
});
