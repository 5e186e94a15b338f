//! The Zabbix migration against the real Zabbix 6.0 (`scripts/zabbix-rig.sh`, shared through
//! `wardflux_testkit::zabbix`) into a fresh SQLite store: SNMP hosts made there become
//! devices here with their credential, groups and mapped templates; a dry run writes
//! nothing; a rerun changes nothing.

use std::time::Duration;

use serde_json::json;
use wardflux_model::inventory::{Actor, Secret, SnmpVersion};
use wardflux_store::{Cipher, Store};
use wardflux_testkit::zabbix::{Zabbix, unique};
use wardflux_zabbix::import::{ImportOptions, import};
use wardflux_zabbix::{ZabbixAuth, ZabbixClient, ZabbixConfig};

#[tokio::test]
async fn snmp_hosts_become_devices_once() {
    let z = Zabbix::shared();
    let group = unique("migr");
    let gid = z.create_group(&group).await;
    let tpl = z
        .rpc(
            "template.get",
            json!({"output": ["templateid"], "filter": {"name": ["Generic by SNMP"]}}),
        )
        .await;
    let v2 = unique("migr-v2");
    z.rpc(
        "host.create",
        json!({"host": v2, "name": format!("{v2} switch"), "groups": [{"groupid": gid}],
               "templates": [{"templateid": tpl[0]["templateid"]}],
               "interfaces": [{"type": 2, "main": 1, "useip": 1, "ip": "127.1.0.1", "dns": "",
                               "port": "161", "details": {"version": 2, "bulk": 1,
                               "community": "{$SNMP_COMMUNITY}"}}]}),
    )
    .await;
    let v3 = unique("migr-v3");
    z.rpc(
        "host.create",
        json!({"host": v3, "groups": [{"groupid": gid}],
               "macros": [{"macro": "{$V3_AUTH}", "value": "authpass123"}],
               "interfaces": [{"type": 2, "main": 1, "useip": 1, "ip": "127.1.0.2", "dns": "",
                               "port": "1161", "details": {"version": 3, "bulk": 1,
                               "securityname": "rigsha", "securitylevel": 2,
                               "authprotocol": 1, "authpassphrase": "{$V3_AUTH}",
                               "privprotocol": 1, "privpassphrase": "privpass123",
                               "contextname": ""}}]}),
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(
        &format!("sqlite:{}?mode=rwc", dir.path().join("t.db").display()),
        Cipher::from_key(&Cipher::generate_key()).unwrap(),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let client = ZabbixClient::new(ZabbixConfig {
        url: z.api_url.clone(),
        auth: ZabbixAuth::Password {
            username: z.user.clone(),
            password: Secret::new(z.password.clone()),
        },
        timeout: Duration::from_secs(10),
    })
    .unwrap();
    let actor = Actor::system();
    let mut opts = ImportOptions {
        groups: vec![group.clone()],
        dry_run: true,
        ..Default::default()
    };

    let plan = import(&store, &client, &actor, &opts).await.unwrap();
    assert_eq!(plan.created.len(), 2, "{plan:?}");
    assert_eq!(plan.groups_created, vec![group.clone()]);
    assert!(
        store.all_devices().await.unwrap().is_empty(),
        "a dry run writes nothing"
    );
    let p2 = plan.created.iter().find(|p| p.zabbix_host == v2).unwrap();
    assert_eq!(p2.templates, vec!["Generic SNMP".to_string()]);
    assert_eq!(p2.snmp_version, "v2c");

    opts.dry_run = false;
    let done = import(&store, &client, &actor, &opts).await.unwrap();
    assert_eq!(done.created.len(), 2, "{done:?}");
    let devices = store.all_devices().await.unwrap();
    assert_eq!(devices.len(), 2);
    let d2 = devices
        .iter()
        .find(|d| d.hostname.as_deref() == Some(&v2))
        .unwrap();
    assert_eq!(
        (d2.name.clone(), d2.ip.to_string()),
        (format!("{v2} switch"), "127.1.0.1".into())
    );
    let c2 = store
        .snmp_credential_for_device(d2.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c2.version, SnmpVersion::V2c);
    let s2 = store.snmp_secrets(c2.id).await.unwrap();
    assert_eq!(
        s2.community.unwrap().expose(),
        "public",
        "the global {{$SNMP_COMMUNITY}}"
    );
    let d3 = devices
        .iter()
        .find(|d| d.hostname.as_deref() == Some(&v3))
        .unwrap();
    assert_eq!(d3.snmp_port, 1161);
    let c3 = store
        .snmp_credential_for_device(d3.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (c3.version, c3.username.as_deref()),
        (SnmpVersion::V3, Some("rigsha"))
    );
    let s3 = store.snmp_secrets(c3.id).await.unwrap();
    assert_eq!(
        s3.auth_key.unwrap().expose(),
        "authpass123",
        "the host macro"
    );
    assert_eq!(s3.priv_key.unwrap().expose(), "privpass123");
    let g = store
        .list_groups()
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.name == group)
        .unwrap();
    assert_eq!(g.device_ids.len(), 2);
    let t = store
        .get_template_by_name("Generic SNMP")
        .await
        .unwrap()
        .unwrap();
    assert!(t.devices.iter().any(|a| a.device_id == d2.id));

    let again = import(&store, &client, &actor, &opts).await.unwrap();
    assert!(
        again.created.is_empty() && again.groups_created.is_empty(),
        "{again:?}"
    );
    assert_eq!(again.unchanged.len(), 2);
    assert_eq!(store.all_devices().await.unwrap().len(), 2);
}
