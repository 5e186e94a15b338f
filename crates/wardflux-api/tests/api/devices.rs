use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn device_crud_roundtrip() {
    let app = spawn_app().await;
    let (s, d) = app
        .post(
            "/api/v1/devices",
            json!({"name": "branch-001-rtr", "ip": "127.10.0.1", "hostname": "rtr1.branch001",
                   "vendor": "Cisco", "device_type": "router", "model": "ISR4331",
                   "location": "Tbilisi", "region": "east", "branch": "001",
                   "tags": ["atm", "core"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let id = d["id"].as_str().unwrap();
    assert_eq!(d["enabled"], true);
    assert_eq!(d["source"], "standalone");
    assert_eq!(d["icmp_interval_s"], 10);
    assert_eq!(d["tags"], json!(["atm", "core"]));
    assert!(d["created_at"].as_str().unwrap().ends_with('Z'), "{d}");
    uuid::Uuid::parse_str(id).unwrap();

    let (s, got) = app.get(&format!("/api/v1/devices/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got, d);

    let (s, upd) = app
        .put(
            &format!("/api/v1/devices/{id}"),
            json!({"name": "branch-001-rtr", "ip": "127.10.0.2", "enabled": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{upd}");
    assert_eq!(upd["ip"], "127.10.0.2");
    assert_eq!(upd["enabled"], false);
    assert_eq!(upd["vendor"], Value::Null);

    assert_eq!(
        app.delete(&format!("/api/v1/devices/{id}")).await,
        StatusCode::NO_CONTENT
    );
    let (s, v) = app.get(&format!("/api/v1/devices/{id}")).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, None);
    assert_eq!(
        app.delete(&format!("/api/v1/devices/{id}")).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn duplicate_ip_is_409_within_a_source() {
    let app = spawn_app().await;
    app.create_device("a", "127.10.1.1").await;
    let (s, v) = app
        .post("/api/v1/devices", json!({"name": "b", "ip": "127.10.1.1"}))
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, Some("ip"));
    // The same address written differently is the same address.
    let b = app.create_device("v6", "::1").await;
    let (s, v) = app
        .post(
            "/api/v1/devices",
            json!({"name": "c", "ip": "0:0:0:0:0:0:0:1"}),
        )
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, Some("ip"));
    assert_eq!(b["ip"], "::1");
    // Another source may hold the same IP.
    let (s, _) = app
        .post(
            "/api/v1/devices",
            json!({"name": "z", "ip": "127.10.1.1", "source": "zabbix"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // An update onto a taken IP is refused too, and the device is unchanged.
    let d = app.create_device("d", "127.10.1.2").await;
    let id = d["id"].as_str().unwrap();
    let (s, v) = app
        .put(
            &format!("/api/v1/devices/{id}"),
            json!({"name": "d", "ip": "127.10.1.1"}),
        )
        .await;
    assert_error(s, &v, StatusCode::CONFLICT, Some("ip"));
    assert_eq!(
        app.get(&format!("/api/v1/devices/{id}")).await.1["ip"],
        "127.10.1.2"
    );
}

#[tokio::test]
async fn bad_input_on_every_field() {
    let app = spawn_app().await;
    let mut cases: Vec<(Value, StatusCode, &str)> = vec![
        (json!({"ip": "127.0.0.1"}), StatusCode::BAD_REQUEST, "name"),
        (json!({"name": "x"}), StatusCode::BAD_REQUEST, "ip"),
        (
            json!({"name": "", "ip": "127.0.0.1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            json!({"name": "x".repeat(256), "ip": "127.0.0.1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            json!({"name": "x", "ip": "300.1.1.1"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "ip",
        ),
        (
            json!({"name": "x", "ip": "example.com"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "ip",
        ),
        (
            json!({"name": 7, "ip": "127.0.0.1"}),
            StatusCode::BAD_REQUEST,
            "name",
        ),
        (
            json!({"name": "x", "ip": "127.0.0.1", "tags": "atm"}),
            StatusCode::BAD_REQUEST,
            "tags",
        ),
        (
            json!({"name": "x", "ip": "127.0.0.1", "tags": [""]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "tags",
        ),
        (
            json!({"name": "x", "ip": "127.0.0.1", "enabled": "yes"}),
            StatusCode::BAD_REQUEST,
            "enabled",
        ),
        (
            json!({"name": "x", "ip": "127.0.0.1", "parent_id": "nope"}),
            StatusCode::BAD_REQUEST,
            "parent_id",
        ),
        (
            json!({"name": "x", "ip": "127.0.0.1", "parent_id": "00000000-0000-0000-0000-000000000001"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parent_id",
        ),
        (
            json!({"name": "x", "ip": "127.0.0.1", "source": "nagios"}),
            StatusCode::BAD_REQUEST,
            "source",
        ),
        (
            json!({"name": "x", "ip": "127.0.0.1", "icmp_interval_s": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "icmp_interval_s",
        ),
        (
            json!({"name": "x", "ip": "127.0.0.1", "colour": "red"}),
            StatusCode::BAD_REQUEST,
            "colour",
        ),
    ];
    // Every free-text field refuses 300 characters.
    for (field, letter) in [
        ("hostname", "h"),
        ("vendor", "v"),
        ("device_type", "t"),
        ("model", "m"),
        ("location", "l"),
        ("region", "r"),
        ("branch", "b"),
    ] {
        cases.push((
            json!({"name": "x", "ip": "127.0.0.1", field: letter.repeat(300)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            field,
        ));
    }
    for (body, want, field) in cases {
        let (s, v) = app.post("/api/v1/devices", body.clone()).await;
        assert_error(s, &v, want, Some(field));
    }
    let (s, v) = app.get("/api/v1/devices/not-a-uuid").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("id"));
    // Wrong content type
    let r = app
        .client
        .post(app.url("/api/v1/devices"))
        .bearer_auth(&app.admin)
        .body(r#"{"name":"x","ip":"127.0.0.1"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Nothing was created by any of the above.
    assert_eq!(app.get("/api/v1/devices").await.1["total"], 0);
}

#[tokio::test]
async fn filter_search_sort_paginate() {
    let app = spawn_app().await;
    for (i, (vendor, region)) in [
        ("Cisco", "east"),
        ("Juniper", "west"),
        ("Cisco", "west"),
        ("HP", "east"),
        ("Cisco", "north"),
    ]
    .iter()
    .enumerate()
    {
        let (s, v) = app
            .post(
                "/api/v1/devices",
                json!({"name": format!("dev-{i}"), "ip": format!("127.11.0.{}", 10 - i),
                       "vendor": vendor, "region": region, "hostname": format!("host{i}.Example.net"),
                       "tags": if i % 2 == 0 { vec!["atm"] } else { vec![] }}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, v) = app.get("/api/v1/devices?vendor=Cisco&sort=name").await;
    assert_eq!(names(&v), ["dev-0", "dev-2", "dev-4"]);
    assert_eq!(v["total"], 3);
    let (_, v) = app.get("/api/v1/devices?region=west&sort=-name").await;
    assert_eq!(names(&v), ["dev-2", "dev-1"]);
    let (_, v) = app.get("/api/v1/devices?search=HOST3.example").await;
    assert_eq!(names(&v), ["dev-3"]);
    let (_, v) = app.get("/api/v1/devices?search=127.11.0.10").await;
    assert_eq!(names(&v), ["dev-0"]);
    let (_, v) = app.get("/api/v1/devices?tag=atm&sort=name").await;
    assert_eq!(names(&v), ["dev-0", "dev-2", "dev-4"]);
    let (_, v) = app.get("/api/v1/devices?sort=name&limit=2&offset=2").await;
    assert_eq!(names(&v), ["dev-2", "dev-3"]);
    assert_eq!(v["total"], 5);
    assert_eq!(v["limit"], 2);
    assert_eq!(v["offset"], 2);
    let (_, v) = app.get("/api/v1/devices?enabled=true&limit=1").await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);

    let (s, v) = app.get("/api/v1/devices?sort=password").await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("sort"));
    let (s, v) = app.get("/api/v1/devices?limit=0").await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("limit"));
    let (s, v) = app.get("/api/v1/devices?limit=abc").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("limit"));
    let (s, v) = app.get("/api/v1/devices?frobnicate=1").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("frobnicate"));
}

async fn import(app: &TestApp, query: &str, ct: &str, body: String) -> (StatusCode, Value) {
    let r = app
        .client
        .post(app.url(&format!("/api/v1/devices/import{query}")))
        .bearer_auth(&app.admin)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap())
}

#[tokio::test]
async fn csv_import_is_all_or_nothing_unless_partial() {
    let app = spawn_app().await;
    app.create_device("existing", "127.12.0.1").await;
    let mut csv = String::from("name,ip,vendor,region,branch,tags,enabled\n");
    for i in 0..300 {
        csv.push_str(&format!(
            "br-{i},127.12.{}.{},Cisco,east,{i},atm;branch,true\n",
            1 + i / 200,
            2 + i % 200
        ));
    }
    let good = csv.clone();
    csv.push_str("bad-ip,999.1.1.1,,,,,\n"); // row 301
    csv.push_str("dup,127.12.0.1,,,,,\n"); // row 302: taken in the database
    csv.push_str("bad-enabled,127.12.9.9,,,,,maybe\n"); // row 303
    let (s, v) = import(&app, "", "text/csv", csv.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["field"], "rows");
    let errs = v["report"]["errors"].as_array().unwrap();
    let rows: Vec<u64> = errs.iter().map(|e| e["row"].as_u64().unwrap()).collect();
    assert!(rows.contains(&301) && rows.contains(&303), "{v}");
    assert!(errs.iter().any(|e| e["row"] == 301 && e["field"] == "ip"));
    assert!(
        errs.iter()
            .any(|e| e["row"] == 303 && e["field"] == "enabled")
    );
    assert_eq!(v["report"]["created"], 0);
    assert_eq!(
        app.get("/api/v1/devices").await.1["total"],
        1,
        "nothing may be written"
    );

    let (s, v) = import(&app, "?partial=true", "text/csv", csv).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["created"], 300);
    let errs = v["errors"].as_array().unwrap();
    assert_eq!(errs.len(), 3, "{v}");
    assert!(
        errs.iter().any(|e| e["row"] == 302 && e["field"] == "ip"),
        "{v}"
    );
    let (_, all) = app.get("/api/v1/devices?tag=branch&limit=1000").await;
    assert_eq!(all["total"], 300);

    // Importing the same rows again: all duplicates, nothing written.
    let (s, v) = import(&app, "", "text/csv", good).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["report"]["errors"].as_array().unwrap().len(), 300);
}

#[tokio::test]
async fn json_import_and_export_roundtrip() {
    let app = spawn_app().await;
    let rows = json!([
        {"name": "a", "ip": "127.13.0.1", "tags": ["x"], "region": "east"},
        {"name": "b", "ip": "127.13.0.2", "vendor": "HP"},
        {"name": "b2", "ip": "127.13.0.2"}
    ]);
    let (s, v) = import(&app, "", "application/json", rows.to_string()).await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "duplicate inside the batch: {v}"
    );
    assert_eq!(v["report"]["errors"][0]["row"], 3);
    assert_eq!(v["report"]["errors"][0]["field"], "ip");
    let (s, v) = import(
        &app,
        "?format=json&partial=true",
        "application/json",
        rows.to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["created"], 2);

    let r = app
        .req(
            Method::GET,
            "/api/v1/devices/export?format=csv",
            &app.viewer,
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("name,ip,hostname,vendor"), "{csv}");
    assert_eq!(csv.lines().count(), 3);

    // The export imports into a fresh instance unchanged.
    let other = spawn_app().await;
    let (s, v) = import(&other, "", "text/csv", csv).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, a) = app.get("/api/v1/devices/export?format=json").await;
    let (_, b) = other.get("/api/v1/devices/export?format=json").await;
    let strip = |v: &Value| -> Vec<(Value, Value, Value, Value)> {
        let mut x: Vec<_> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["name"].clone(),
                    d["ip"].clone(),
                    d["tags"].clone(),
                    d["vendor"].clone(),
                )
            })
            .collect();
        x.sort_by_key(|t| t.0.to_string());
        x
    };
    assert_eq!(strip(&a), strip(&b));

    let (s, v) = import(&app, "?format=xml", "text/csv", "x".into()).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("format"));
    let (s, v) = import(
        &app,
        "",
        "text/csv",
        "name,ip,colour\nx,127.0.0.1,red\n".into(),
    )
    .await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("colour"));
    let (s, v) = import(&app, "", "application/json", "{}".into()).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, None);
}

/// Found by schemathesis: an offset past i64::MAX once panicked in the SQL layer.
#[tokio::test]
async fn huge_offsets_are_refused_not_crashed_on() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/devices?offset=9223372036854775808",
        "/api/v1/audit?offset=9223372036854775808",
    ] {
        let (s, v) = app.get(path).await;
        assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("offset"));
    }
    let (s, v) = app.get("/api/v1/devices?offset=18446744073709551616").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("offset"));
}

/// PATCH is a JSON merge patch: absent fields keep their value, `null` clears an optional
/// one, `name`/`ip` cannot be cleared; PUT stays a full replacement.
#[tokio::test]
async fn patch_changes_only_the_given_fields() {
    let app = spawn_app().await;
    let (s, d) = app
        .post(
            "/api/v1/devices",
            json!({"name": "edge-1", "ip": "127.0.0.21", "vendor": "acme", "location": "rack 1",
                   "tags": ["a", "b"], "icmp_interval_s": 30, "snmp_port": 1161}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let path = format!("/api/v1/devices/{}", d["id"].as_str().unwrap());

    // One field changes; everything else, including fields PUT would reset, stays.
    let (s, v) = app.patch(&path, json!({"location": "rack 2"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["location"], "rack 2");
    assert_eq!(v["name"], "edge-1");
    assert_eq!(v["vendor"], "acme");
    assert_eq!(v["tags"], json!(["a", "b"]));
    assert_eq!(v["icmp_interval_s"], 30);
    assert_eq!(v["snmp_port"], 1161);

    // null clears an optional field and resets a defaulted one.
    let (s, v) = app
        .patch(&path, json!({"vendor": null, "snmp_port": null}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["vendor"], Value::Null);
    assert_eq!(v["snmp_port"], 161);
    assert_eq!(v["location"], "rack 2");

    // The same content type a merge-patch client sends.
    let r = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&app.admin)
        .header("content-type", "application/merge-patch+json")
        .body(r#"{"name": "edge-1b"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.get(&path).await.1["name"], "edge-1b");

    // Bad patches name the field and change nothing.
    let (s, v) = app.patch(&path, json!({"name": null})).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("name"));
    let (s, v) = app.patch(&path, json!({"ip": "300.0.0.1"})).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, Some("ip"));
    let (s, v) = app.patch(&path, json!({"colour": "red"})).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("colour"));
    let (s, v) = app.patch(&path, json!({"icmp_interval_s": "ten"})).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("icmp_interval_s"));
    let (s, v) = app.patch(&path, json!([1])).await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, None);
    let other = app.create_device("edge-2", "127.0.0.22").await;
    let (s, v) = app.patch(&path, json!({"ip": other["ip"]})).await;
    assert_error(s, &v, StatusCode::CONFLICT, Some("ip"));
    let (s, v) = app
        .patch(
            "/api/v1/devices/00000000-0000-0000-0000-000000000000",
            json!({"location": "x"}),
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, None);
    let (_, now) = app.get(&path).await;
    assert_eq!(now["ip"], "127.0.0.21");
    assert_eq!(now["location"], "rack 2");

    // PUT replaces: what it is not given is reset.
    let (s, v) = app
        .put(&path, json!({"name": "edge-1", "ip": "127.0.0.21"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["location"], Value::Null);
    assert_eq!(v["tags"], json!([]));
}

/// A wrong JSON body is explained in the terms of someone writing JSON, naming the field
/// and the type it must have, not in serde's (`expected i32`, `struct DeviceInput with 14
/// elements`).
#[tokio::test]
async fn json_errors_are_in_the_users_terms() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"name": "x", "ip": "127.0.0.1", "icmp_interval_s": "ten"}),
            Some("icmp_interval_s"),
            "icmp_interval_s: must be a whole number (got the string \"ten\")",
        ),
        (
            json!({"name": "x", "ip": "127.0.0.1", "snmp_port": 16.5}),
            Some("snmp_port"),
            "snmp_port: must be a whole number (got the number 16.5)",
        ),
        (
            json!({"name": "x", "ip": "127.0.0.1", "enabled": "yes"}),
            Some("enabled"),
            "enabled: must be true or false (got the string \"yes\")",
        ),
        (
            json!({"name": "x", "ip": "127.0.0.1", "tags": "a"}),
            Some("tags"),
            "tags: must be a list (JSON array)",
        ),
        (
            json!({"ip": "127.0.0.1"}),
            Some("name"),
            "name: is required",
        ),
        (
            json!([]),
            None,
            "body: must be a JSON object with named fields, not a list",
        ),
        (
            json!({"name": "x", "ip": "127.0.0.1", "parent_id": "nope"}),
            Some("parent_id"),
            "parent_id: must be a UUID",
        ),
    ];
    for (body, field, want) in cases {
        let (s, v) = app.post("/api/v1/devices", body.clone()).await;
        assert_error(s, &v, StatusCode::BAD_REQUEST, field);
        let msg = v["message"].as_str().unwrap();
        assert!(msg.starts_with(want), "{body}: got {msg:?}, want {want:?}");
        for serde_word in [
            "i32",
            "u16",
            "struct DeviceInput",
            "elements",
            "invalid type",
        ] {
            assert!(
                !msg.contains(serde_word),
                "{body}: serde's words in {msg:?}"
            );
        }
    }
    let r = app
        .client
        .post(app.url("/api/v1/devices"))
        .bearer_auth(&app.admin)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["message"].as_str().unwrap().starts_with("empty body"),
        "{v}"
    );
    let (s, v) = app.get("/api/v1/devices?limit=many").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("limit"));
    assert_eq!(
        v["message"],
        "query parameter limit: must be a whole number in range"
    );
}

/// An empty import says so; the API document lists the CSV columns and what is unique.
#[tokio::test]
async fn import_documents_its_columns_and_refuses_an_empty_body() {
    let app = spawn_app().await;
    for (ct, body) in [
        ("text/csv", ""),
        ("text/csv", "\n"),
        ("application/json", " "),
    ] {
        let (s, v) = import(&app, "", ct, body.into()).await;
        assert_error(s, &v, StatusCode::BAD_REQUEST, None);
        assert!(
            v["message"].as_str().unwrap().starts_with("empty body"),
            "{ct} {body:?}: {v}"
        );
    }
    let (_, doc) = app.get("/api/v1/openapi.json").await;
    let import_doc = doc["paths"]["/api/v1/devices/import"]["post"]["description"]
        .as_str()
        .unwrap();
    for col in wardflux_api::routes::devices::CSV_COLUMNS {
        assert!(
            import_doc.contains(&format!("`{col}`")),
            "column {col} not in the import's description: {import_doc}"
        );
    }
    let create = &doc["paths"]["/api/v1/devices"]["post"];
    let text = format!("{} {}", create["summary"], create["description"]);
    assert!(text.contains("unique within the device's source"), "{text}");
    assert!(text.contains("names need not be unique"), "{text}");
}
