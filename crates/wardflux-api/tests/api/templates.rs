//! Monitoring templates through the API: the shipped ones, create with every validation
//! problem named (422), export/import/clone, apply with macro overrides (items listed as
//! pending, triggers as alert rules scoped to the devices), removal from a device, and the
//! devices' SNMP port.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const BASE: &str = "/api/v1/monitoring/templates";

fn body() -> Value {
    json!({
        "name": "Edge CPU",
        "description": "test",
        "device_types": ["router"],
        "macros": {"{$CPU_HIGH}": "90"},
        "items": [
            {"name": "CPU", "key": "cpu_usage", "oid": "1.3.6.1.4.1.9.2.1.57.0", "interval": 60,
             "units": "%", "value_type": "gauge"},
            {"name": "Name", "key": "system_name", "oid": "1.3.6.1.2.1.1.5.0", "value_type": "string"}
        ],
        "triggers": [{"name": "High CPU", "expression": "cpu_usage > {$CPU_HIGH}", "severity": "high"}]
    })
}

async fn rules(app: &TestApp) -> Vec<Value> {
    let (s, v) = app.get("/api/v1/monitoring/alerts/rules").await;
    assert_eq!(s, StatusCode::OK);
    v.as_array().unwrap().clone()
}

#[tokio::test]
async fn shipped_templates_are_listed() {
    let app = spawn_app().await;
    let (s, v) = app.get(BASE).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for n in [
        "Generic SNMP",
        "Cisco IOS/IOS-XE",
        "Linux Net-SNMP",
        "Windows SNMP",
        "Fortinet FortiGate",
        "Juniper JunOS",
        "HP/Aruba ProCurve",
        "MikroTik RouterOS",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let cisco = v
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Cisco IOS/IOS-XE")
        .unwrap();
    assert_eq!(cisco["builtin"], "cisco_ios.json");
    assert_eq!(cisco["template"]["macros"]["{$CPU_HIGH}"], "90");

    // Applied, every shipped template's triggers become rules the alert engine accepts.
    let d = app.create_device("all", "127.20.9.1").await;
    for t in v.as_array().unwrap() {
        let (s, r) = app
            .post(
                &format!("{BASE}/{}/apply", t["id"].as_str().unwrap()),
                json!({"device_ids": [d["id"]]}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{}: {r}", t["name"]);
    }
    let rs = rules(&app).await;
    let from_templates: Vec<&Value> = rs
        .iter()
        .filter(|r| r["labels"]["template"].is_string())
        .collect();
    assert!(from_templates.len() >= 15, "{}", from_templates.len());
    for r in from_templates {
        let e = r["expression"].as_str().unwrap();
        assert_eq!(
            r["device_ids"],
            json!([d["id"]]),
            "scoped to the device: {r}"
        );
        wardflux_alert::rule::parse(e).unwrap_or_else(|err| panic!("{}: {e}: {err}", r["name"]));
    }
}

#[tokio::test]
async fn invalid_templates_get_422_naming_every_item_and_field() {
    let app = spawn_app().await;
    let mut b = body();
    b["items"][1]["oid"] = json!("sysName.0");
    b["items"][0]["value_type"] = json!("number");
    b["items"].as_array_mut().unwrap().push(
        json!({"name": "CPU", "key": "cpu_usage", "oid": "1.3.6.1.2.1.1.3.0", "interval": 0}),
    );
    b["triggers"][0]["severity"] = json!("urgent");
    let (s, v) = app.post(BASE, b).await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("items[0].value_type"),
    );
    let paths: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "items[0].value_type",
            "items[1].oid",
            "items[2].key",
            "items[2].interval",
            "triggers[0].severity"
        ],
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("items[1].oid: \"sysName.0\" is not a numeric OID")
    );

    // structural errors name their path too
    let mut b = body();
    b["items"][0]["intervall"] = json!(5);
    let (s, v) = app.post(BASE, b).await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("items[0].intervall"),
    );

    // the alert engine's rule language checks trigger expressions (valid PromQL, but an
    // alias that cannot take a range)
    let mut b = body();
    b["triggers"][0]["expression"] = json!("rate(memory_usage[5m]) > {$CPU_HIGH}");
    let (s, v) = app.post(BASE, b).await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("triggers[0].expression"),
    );
    // nothing was stored
    let (_, list) = app.get(BASE).await;
    assert!(
        !list
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "Edge CPU")
    );
}

#[tokio::test]
async fn crud_export_import_and_clone() {
    let app = spawn_app().await;
    let (s, t) = app.post(BASE, body()).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    let id = t["id"].as_str().unwrap().to_string();
    let (s, dup) = app.post(BASE, body()).await;
    assert_error(s, &dup, StatusCode::CONFLICT, Some("name"));

    let (s, got) = app.get(&format!("{BASE}/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["template"]["items"][0]["oid"], "1.3.6.1.4.1.9.2.1.57.0");

    // export gives the JSON as written; importing it back under the same name keeps the id
    let r = app
        .req(
            Method::GET,
            &format!("{BASE}/{id}/export"),
            &app.viewer,
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("Edge_CPU.json")
    );
    let mut exported: Value = r.json().await.unwrap();
    assert_eq!(exported["name"], "Edge CPU");
    exported["items"][0]["interval"] = json!(30);
    let (s, imp) = app.post(&format!("{BASE}/import"), exported.clone()).await;
    assert_eq!(s, StatusCode::OK, "{imp}");
    assert_eq!(imp["id"], id.as_str());
    assert_eq!(imp["version"], 2);
    assert_eq!(imp["template"]["items"][0]["interval"], 30);
    exported["name"] = json!("Imported");
    let (s, imp) = app.post(&format!("{BASE}/import"), exported).await;
    assert_eq!(s, StatusCode::CREATED, "{imp}");

    // clone: default name, or the one given
    let (s, c) = app.post(&format!("{BASE}/{id}/clone"), json!({})).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["name"], "Edge CPU (copy)");
    let (s, c) = app
        .post(&format!("{BASE}/{id}/clone"), json!({"name": "Edge 2"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["name"], "Edge 2");

    // update
    let mut b = body();
    b["description"] = json!("changed");
    let (s, u) = app.put(&format!("{BASE}/{id}"), b).await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["template"]["description"], "changed");
    let (s, v) = app.put(&format!("{BASE}/not-a-uuid"), body()).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("id"));

    assert_eq!(
        app.delete(&format!("{BASE}/{id}")).await,
        StatusCode::NO_CONTENT
    );
    let (s, _) = app.get(&format!("{BASE}/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn apply_lists_items_and_scopes_the_trigger_rules_to_the_devices() {
    let app = spawn_app().await;
    let d1 = app.create_device("r1", "127.20.0.1").await;
    let d2 = app.create_device("r2", "127.20.0.2").await;
    let d1_id = d1["id"].as_str().unwrap();
    let d2_id = d2["id"].as_str().unwrap();
    let (_, t) = app.post(BASE, body()).await;
    let id = t["id"].as_str().unwrap();

    let (s, r) = app
        .post(
            &format!("{BASE}/{id}/apply"),
            json!({"device_ids": [d1_id]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, r) = app
        .post(
            &format!("{BASE}/{id}/apply"),
            json!({"device_ids": [d2_id], "macros": {"{$CPU_HIGH}": "50"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["devices"].as_array().unwrap().len(), 2);

    // a macro the template does not define, an unknown device: 422 naming them
    let (s, v) = app
        .post(
            &format!("{BASE}/{id}/apply"),
            json!({"device_ids": [d1_id], "macros": {"{$NOPE}": "1"}}),
        )
        .await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("macros.{$NOPE}"),
    );
    let (s, v) = app
        .post(
            &format!("{BASE}/{id}/apply"),
            json!({"device_ids": ["00000000-0000-0000-0000-000000000001"]}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("device_ids"));

    // items: stored, pending until the poller reports
    let r = app
        .req(
            Method::GET,
            &format!("/api/v1/monitoring/items?device_id={d1_id}"),
            &app.viewer,
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let items: Value = r.json().await.unwrap();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    let cpu = items.iter().find(|i| i["key"] == "cpu_usage").unwrap();
    assert_eq!(cpu["status"], "pending");
    assert_eq!(cpu["oid"], "1.3.6.1.4.1.9.2.1.57.0");
    assert_eq!(cpu["device_id"], d1_id);
    let (_, all) = app.get("/api/v1/monitoring/items").await;
    assert_eq!(all.as_array().unwrap().len(), 4);

    // triggers: one rule per threshold, each scoped to its devices
    let rs = rules(&app).await;
    let base = rs
        .iter()
        .find(|r| r["name"] == "Edge CPU: High CPU")
        .unwrap();
    assert_eq!(base["expression"], "cpu_usage > 90");
    assert_eq!(base["device_ids"], json!([d1_id]));
    let low = rs
        .iter()
        .find(|r| r["name"] == "Edge CPU: High CPU [cpu_usage > 50]")
        .unwrap();
    assert_eq!(low["expression"], "cpu_usage > 50");
    assert_eq!(low["device_ids"], json!([d2_id]));
    assert_eq!(low["severity"], "high");

    // removal from d2 takes its items and its rule; from the last device, the other rule
    assert_eq!(
        app.delete(&format!("{BASE}/{id}/devices/{d2_id}")).await,
        StatusCode::NO_CONTENT
    );
    let (_, items) = app
        .get(&format!("/api/v1/monitoring/items?device_id={d2_id}"))
        .await;
    assert!(items.as_array().unwrap().is_empty());
    assert!(!rules(&app).await.iter().any(|r| r["name"] == low["name"]));
    assert_eq!(
        app.delete(&format!("{BASE}/{id}/devices/{d2_id}")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("{BASE}/{id}/devices/{d1_id}")).await,
        StatusCode::NO_CONTENT
    );
    assert!(
        !rules(&app)
            .await
            .iter()
            .any(|r| r["name"].as_str().unwrap().starts_with("Edge CPU:"))
    );
    let (_, all) = app.get("/api/v1/monitoring/items").await;
    assert!(all.as_array().unwrap().is_empty());

    // the shipped Cisco template applies as is: its trigger becomes a scoped rule
    let (_, list) = app.get(BASE).await;
    let cisco = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Cisco IOS/IOS-XE")
        .unwrap()
        .clone();
    let (s, r) = app
        .post(
            &format!("{BASE}/{}/apply", cisco["id"].as_str().unwrap()),
            json!({"device_ids": [d1_id], "macros": {"{$CPU_HIGH}": "10"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(
        rules(&app)
            .await
            .iter()
            .any(|r| r["expression"] == "cpu_usage > 10" && r["device_ids"] == json!([d1_id]))
    );
}

#[tokio::test]
async fn devices_take_an_snmp_port() {
    let app = spawn_app().await;
    let d = app.create_device("r1", "127.21.0.1").await;
    assert_eq!(d["snmp_port"], 161);
    let (s, d) = app
        .post(
            "/api/v1/devices",
            json!({"name": "nat", "ip": "127.21.0.2", "snmp_port": 16161}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["snmp_port"], 16161);
    let (s, v) = app
        .post(
            "/api/v1/devices",
            json!({"name": "bad", "ip": "127.21.0.3", "snmp_port": 0}),
        )
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("snmp_port"));

    // CSV import and export carry the column
    let r = app
        .client
        .post(app.url("/api/v1/devices/import"))
        .bearer_auth(&app.admin)
        .header("content-type", "text/csv")
        .body("name,ip,snmp_port\ncsv-1,127.21.1.1,1161\ncsv-2,127.21.1.2,\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let (_, list) = app.get("/api/v1/devices?search=csv-").await;
    let items = list["items"].as_array().unwrap();
    let port = |n: &str| {
        items
            .iter()
            .find(|d| d["name"] == n)
            .map(|d| d["snmp_port"].clone())
            .unwrap()
    };
    assert_eq!(port("csv-1"), 1161);
    assert_eq!(port("csv-2"), 161);
    let r = app
        .req(Method::GET, "/api/v1/devices/export", &app.admin, None)
        .await;
    let text = r.text().await.unwrap();
    assert!(
        text.lines().next().unwrap().ends_with(",snmp_port"),
        "{text}"
    );
    assert!(text.contains(",1161"), "{text}");
}
