//! SNMP test and poll routes against a real net-snmp snmpd started by the test.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// A net-snmp agent on a free loopback port; killed on drop.
struct Snmpd {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn snmpd() -> Snmpd {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.path().join("snmpd.conf");
    std::fs::write(
        &conf,
        "rocommunity wf-community 127.0.0.1\n\
         createUser wfuser SHA-256 \"authpass123\" AES \"privpass123\"\n\
         rouser wfuser priv\n\
         sysLocation wardflux-test-rack\n",
    )
    .unwrap();
    let child = Command::new("snmpd")
        .args(["-f", "-Lo", "-C", "-c"])
        .arg(&conf)
        .args(["-M", "/dev/null", "-m", ""])
        .arg(format!("udp:127.0.0.1:{port}"))
        .env("SNMP_PERSISTENT_DIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("net-snmp snmpd is required (Debian package snmpd; scripts/test.sh installs it)");
    let s = Snmpd {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ok = Command::new("snmpget")
            .args(["-v2c", "-c", "wf-community", "-t", "0.2", "-r", "0", "-On"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("1.3.6.1.2.1.1.3.0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("snmpget is required (Debian package snmp)")
            .success();
        if ok {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "snmpd did not answer on port {port}"
        );
    }
}

async fn credential(app: &TestApp, body: Value) -> String {
    let (s, v) = app.post("/api/v1/monitoring/snmp/credentials", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn test_and_poll_over_v2c_and_v3_with_typed_failures() {
    let agent = snmpd();
    let app = spawn_app().await;
    let port = agent.port;
    let d = app.create_device("agent", "127.0.0.1").await;
    let id = d["id"].as_str().unwrap();

    // No credential yet: a clear 422.
    let (s, v) = app
        .get(&format!(
            "/api/v1/monitoring/snmp/test?device_id={id}&port={port}"
        ))
        .await;
    assert_error(
        s,
        &v,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("credential_id"),
    );

    let v2 = credential(
        &app,
        json!({"name": "v2", "version": "v2c", "community": "wf-community", "device_id": id}),
    )
    .await;
    let r = app
        .req(
            Method::GET,
            &format!("/api/v1/monitoring/snmp/test?device_id={id}&port={port}"),
            &app.operator,
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["reachable"], true, "{v}");
    assert_eq!(v["credential_id"], v2.as_str());
    assert!(v["sys_descr"].as_str().unwrap().contains("Linux"), "{v}");
    assert_eq!(v["sys_object_id"], ".1.3.6.1.4.1.8072.3.2.10");
    assert!(v["sys_uptime_ticks"].as_u64().is_some() && v["rtt_ms"].as_f64().is_some());
    let rtt = v["rtt_ms"].to_string();
    assert!(
        rtt.split('.').nth(1).map_or(0, str::len) <= 3,
        "RTT {rtt} ms not rounded to the microsecond"
    );
    // POST is the action's method; it answers like the GET (kept for links).
    let (s, p) = app
        .post(
            "/api/v1/monitoring/snmp/test",
            json!({"device_id": id, "port": port}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["reachable"], true, "{p}");
    assert_eq!(p["sys_object_id"], v["sys_object_id"]);
    assert!(
        !v.to_string().contains("wf-community"),
        "the community never comes back"
    );

    let r = app
        .req(
            Method::GET,
            &format!("/api/v1/monitoring/snmp/test?device_id={id}&port={port}"),
            &app.viewer,
            None,
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let (s, v) = app
        .post(
            "/api/v1/monitoring/snmp/poll",
            json!({"device_id": id, "port": port, "oids": ["1.3.6.1.2.1.1.6.0", ".1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.99.0"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["error"], Value::Null, "{v}");
    let vb = v["varbinds"].as_array().unwrap();
    assert_eq!(vb.len(), 3);
    assert_eq!(vb[0]["oid"], ".1.3.6.1.2.1.1.6.0");
    assert_eq!(vb[0]["value"], "wardflux-test-rack");
    assert_eq!(vb[0]["text"], "STRING: \"wardflux-test-rack\"");
    assert!(vb[1]["value"].is_u64(), "{v}");
    assert_ne!(vb[2]["type"], vb[0]["type"], "noSuchObject is typed: {v}");

    // v3 authPriv (SHA-256/AES) through a named credential; then a wrong key.
    let v3 = credential(
        &app,
        json!({"name": "v3", "version": "v3", "username": "wfuser", "auth_protocol": "SHA-256",
               "auth_key": "authpass123", "priv_protocol": "AES", "priv_key": "privpass123"}),
    )
    .await;
    let (s, v) = app
        .get(&format!(
            "/api/v1/monitoring/snmp/test?device_id={id}&port={port}&credential_id={v3}"
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["reachable"], true, "{v}");
    let bad = credential(
        &app,
        json!({"name": "v3-bad", "version": "v3", "username": "wfuser", "auth_protocol": "SHA-256",
               "auth_key": "wrong-password", "priv_protocol": "AES", "priv_key": "privpass123"}),
    )
    .await;
    let (_, v) = app
        .get(&format!("/api/v1/monitoring/snmp/test?device_id={id}&port={port}&credential_id={bad}&timeout_ms=500&retries=0"))
        .await;
    assert_eq!(v["reachable"], false);
    assert_eq!(v["error"]["kind"], "auth_failure", "{v}");
    let nouser = credential(
        &app,
        json!({"name": "v3-nouser", "version": "v3", "username": "nobody", "auth_protocol": "SHA",
               "auth_key": "authpass123"}),
    )
    .await;
    let (_, v) = app
        .get(&format!("/api/v1/monitoring/snmp/test?device_id={id}&port={port}&credential_id={nouser}&timeout_ms=500&retries=0"))
        .await;
    assert_eq!(v["error"]["kind"], "unknown_user", "{v}");

    // A wrong community gets no answer at all: a timeout, within the configured time.
    let wrong = credential(
        &app,
        json!({"name": "v2-wrong", "version": "v2c", "community": "nope"}),
    )
    .await;
    let t0 = Instant::now();
    let (_, v) = app
        .get(&format!("/api/v1/monitoring/snmp/test?device_id={id}&port={port}&credential_id={wrong}&timeout_ms=300&retries=1"))
        .await;
    assert_eq!(v["error"]["kind"], "timeout", "{v}");
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "took {:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn poll_and_test_reject_bad_input() {
    let app = spawn_app().await;
    let d = app.create_device("agent", "127.0.0.1").await;
    let id = d["id"].as_str().unwrap();
    credential(
        &app,
        json!({"name": "v2", "version": "v2c", "community": "c-secret"}),
    )
    .await;
    for (body, status, field) in [
        (
            json!({"device_id": id, "oids": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "oids",
        ),
        (
            json!({"device_id": id, "oids": ["1.3.6.1", "sysDescr"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "oids[1]",
        ),
        (
            json!({"device_id": id, "oids": ["1.3"], "timeout_ms": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "timeout_ms",
        ),
        (
            json!({"device_id": id, "oids": ["1.3"], "retries": 9}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "retries",
        ),
        (
            json!({"device_id": id, "oids": ["1.3"], "port": 70000}),
            StatusCode::BAD_REQUEST,
            "port",
        ),
        (
            json!({"device_id": "x", "oids": ["1.3"]}),
            StatusCode::BAD_REQUEST,
            "device_id",
        ),
        (
            json!({"oids": ["1.3"]}),
            StatusCode::BAD_REQUEST,
            "device_id",
        ),
        (
            json!({"device_id": id, "oids": ["1.3"], "credential_id": uuid::Uuid::new_v4()}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "credential_id",
        ),
    ] {
        let (s, v) = app.post("/api/v1/monitoring/snmp/poll", body.clone()).await;
        assert_error(s, &v, status, Some(field));
    }
    let (s, v) = app
        .post(
            "/api/v1/monitoring/snmp/poll",
            json!({"device_id": uuid::Uuid::new_v4(), "oids": ["1.3"]}),
        )
        .await;
    assert_error(s, &v, StatusCode::NOT_FOUND, None);
    let (s, v) = app.get("/api/v1/monitoring/snmp/test").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, Some("device_id"));
}
