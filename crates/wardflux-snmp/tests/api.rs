//! `probe` / `poll` (behind the REST API) and the engine's sharing and limits, on a real snmpd.

mod common;

use std::time::Duration;

use common::*;
use wardflux_model::inventory::{Secret, SnmpCredential, SnmpSecrets, SnmpVersion};
use wardflux_snmp::{ClientConfig, Oid, SnmpClient, Target, Value, poll, probe};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn credential(
    version: SnmpVersion,
    user: Option<&str>,
    auth: Option<&str>,
    privacy: Option<&str>,
) -> SnmpCredential {
    let now = chrono::Utc::now();
    SnmpCredential {
        id: uuid::Uuid::new_v4(),
        name: "test".into(),
        device_id: None,
        version,
        username: user.map(str::to_string),
        security_level: None,
        auth_protocol: auth.map(|a| a.parse().unwrap()),
        priv_protocol: privacy.map(|p| p.parse().unwrap()),
        context: None,
        has_community: false,
        has_auth_key: false,
        has_priv_key: false,
        created_at: now,
        updated_at: now,
    }
}

#[test]
fn probe_reports_system_group_or_a_typed_reason() {
    let d = snmpd();
    let rt = rt();
    let client = SnmpClient::default();

    // from the model's records, as the API will call it
    let cred = credential(
        SnmpVersion::V3,
        Some(&user_for("SHA-512", "AES-256-C")),
        Some("SHA-512"),
        Some("AES-256-C"),
    );
    let secrets = SnmpSecrets {
        community: None,
        auth_key: Some(Secret::new(AUTH_PASS)),
        priv_key: Some(Secret::new(PRIV_PASS)),
    };
    let t = Target::from_model(d.addr, &cred, &secrets).unwrap();
    let r = rt.block_on(probe(&client, &t));
    assert!(r.reachable, "{r:?}");
    assert!(r.error.is_none());
    assert_eq!(r.sys_object_id.as_deref(), Some(".1.3.6.1.4.1.8072.3.2.10"));
    assert!(r.sys_descr.as_deref().is_some_and(|s| !s.is_empty()));
    assert!(r.sys_uptime_ticks.is_some());
    assert!(r.rtt_ms.is_some_and(|ms| ms >= 0.0));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["reachable"], true);

    // typed reasons
    let bad_user = credential(
        SnmpVersion::V3,
        Some("nosuchuser"),
        Some("SHA-256"),
        Some("AES"),
    );
    let t = Target::from_model(d.addr, &bad_user, &secrets).unwrap();
    let r = rt.block_on(probe(&client, &t));
    assert!(!r.reachable);
    assert_eq!(r.error.as_ref().unwrap().kind, "unknown_user");

    let wrong = SnmpSecrets {
        auth_key: Some(Secret::new("wrongpass12")),
        ..secrets.clone()
    };
    let t = Target::from_model(d.addr, &cred, &wrong).unwrap();
    let r = rt.block_on(probe(&client, &t));
    assert_eq!(r.error.as_ref().unwrap().kind, "auth_failure");

    let v2 = credential(SnmpVersion::V2c, None, None, None);
    let mut t = Target::from_model(
        d.addr,
        &v2,
        &SnmpSecrets {
            community: Some(Secret::new("wrong")),
            ..SnmpSecrets::default()
        },
    )
    .unwrap();
    t.timeout = Duration::from_millis(200);
    t.retries = 0;
    let r = rt.block_on(probe(&client, &t));
    assert_eq!(r.error.as_ref().unwrap().kind, "timeout");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["error"]["kind"], "timeout");

    // missing secrets are a configuration error, not a panic
    assert!(Target::from_model(d.addr, &v2, &SnmpSecrets::default()).is_err());
}

#[test]
fn poll_returns_typed_json_views() {
    let d = snmpd();
    let rt = rt();
    let client = SnmpClient::default();
    let t = Target::v2c(d.addr, "public");
    let oids: Vec<Oid> = [
        ".1.3.6.1.2.1.1.5.0",
        ".1.3.6.1.2.1.1.3.0",
        ".1.3.6.1.2.1.1.2.0",
        ".1.3.6.1.2.1.1.99.0",
        ".1.3.6.1.2.1.2.2.1.10.1",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    let views = rt.block_on(poll(&client, &t, &oids)).unwrap();
    let json = serde_json::to_value(&views).unwrap();
    assert_eq!(json[0]["oid"], ".1.3.6.1.2.1.1.5.0");
    assert_eq!(json[0]["type"], "octet_string");
    assert_eq!(json[0]["value"], "wardflux-test");
    assert_eq!(json[0]["text"], "STRING: \"wardflux-test\"");
    assert_eq!(json[1]["type"], "timeticks");
    assert!(json[1]["value"].is_u64());
    assert_eq!(json[2]["value"], ".1.3.6.1.4.1.8072.3.2.10");
    assert_eq!(json[3]["type"], "no_such_object");
    assert_eq!(json[4]["type"], "counter32");
    assert!(json[4]["value"].is_u64());
}

#[test]
fn many_concurrent_requests_share_one_device_entry_and_respect_limits() {
    let d = snmpd();
    let rt = rt();
    let client = SnmpClient::new(ClientConfig {
        global_in_flight: 4,
        per_device_in_flight: 1,
        ..ClientConfig::default()
    });
    let t = Target::v2c(d.addr, "public");
    let q: Oid = ".1.3.6.1.2.1.1.3.0".parse().unwrap();
    let results = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let (c, t, q) = (client.clone(), t.clone(), q.clone());
            set.spawn(async move { c.get(&t, &[q]).await });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            out.push(r.unwrap());
        }
        out
    });
    assert_eq!(results.len(), 200);
    let mut ticks = Vec::new();
    for r in results {
        let vbs = r.unwrap();
        match vbs[0].value {
            Value::TimeTicks(t) => ticks.push(t),
            ref other => panic!("{other:?}"),
        }
    }
    assert_eq!(client.device_count(), 1);
    // a walk through the same client agrees with a GET of the same scalar
    let walked = rt
        .block_on(client.bulk_walk(&t, &".1.3.6.1.2.1.1".parse().unwrap()))
        .unwrap();
    assert!(walked.iter().any(|vb| vb.oid == q));
    assert!(walked.len() >= 8);
}

#[test]
fn ipv6_targets_use_the_v6_socket() {
    let d = snmpd();
    let rt = rt();
    let client = SnmpClient::default();
    let v6: std::net::SocketAddr = format!("[::1]:{}", d.addr.port()).parse().unwrap();
    let q: Oid = ".1.3.6.1.2.1.1.5.0".parse().unwrap();
    let v4 = rt
        .block_on(client.get(&Target::v2c(d.addr, "public"), std::slice::from_ref(&q)))
        .unwrap();
    let v6r = rt
        .block_on(client.get(&Target::v2c(v6, "public"), std::slice::from_ref(&q)))
        .unwrap();
    assert_eq!(v4, v6r);
    assert_eq!(v6r[0].value, Value::OctetString(b"wardflux-test".to_vec()));
    let host = format!("udp6:[::1]:{}", d.addr.port());
    let args = [
        "get",
        "-v2c",
        "-c",
        "public",
        host.as_str(),
        ".1.3.6.1.2.1.1.5.0",
    ];
    assert_eq!(wardflux(&args), netsnmp(&args));
}

/// Counts the requests a silent UDP endpoint receives before `quiet` passes without one.
fn count_burst(sock: &std::net::UdpSocket, quiet: Duration) -> usize {
    sock.set_read_timeout(Some(quiet)).unwrap();
    let mut buf = [0u8; 2048];
    let mut n = 0;
    while sock.recv_from(&mut buf).is_ok() {
        n += 1;
    }
    n
}

#[test]
fn in_flight_limits_hold_requests_back() {
    // Silent endpoints (bound UDP sockets that never answer): every request stays in flight
    // for its whole timeout, so what arrives in the first burst is what the limits let out.
    // (per-device limit, global limit, devices, requests per device, expected first burst)
    for (per_device, global, devices, each, expect) in
        [(1, 100, 1, 4, 1), (4, 100, 1, 4, 4), (1, 2, 3, 1, 2)]
    {
        let socks: Vec<std::net::UdpSocket> = (0..devices)
            .map(|_| std::net::UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let addrs: Vec<std::net::SocketAddr> =
            socks.iter().map(|s| s.local_addr().unwrap()).collect();
        let poller = std::thread::spawn(move || {
            let rt = rt();
            let client = SnmpClient::new(ClientConfig {
                per_device_in_flight: per_device,
                global_in_flight: global,
                ..ClientConfig::default()
            });
            rt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for a in &addrs {
                    for _ in 0..each {
                        let c = client.clone();
                        let t = Target {
                            timeout: Duration::from_millis(2500),
                            retries: 0,
                            ..Target::v2c(*a, "public")
                        };
                        set.spawn(async move {
                            c.get(&t, &[".1.3.6.1.2.1.1.5.0".parse().unwrap()]).await
                        });
                    }
                }
                let mut kinds = Vec::new();
                while let Some(r) = set.join_next().await {
                    kinds.push(r.unwrap().unwrap_err().kind());
                }
                kinds
            })
        });
        // the first burst: requests sent before any timeout can free a permit
        let mut first = 0;
        for s in &socks {
            first += count_burst(s, Duration::from_millis(400));
        }
        assert_eq!(
            first, expect,
            "per_device={per_device} global={global} devices={devices}"
        );
        let kinds = poller.join().unwrap();
        assert_eq!(kinds.len(), each * devices);
        assert!(kinds.iter().all(|k| *k == "timeout"));
    }
}

/// A 21-OID interface poll (sysUpTime + 10 ifHCInOctets + 10 ifHCOutOctets) is one PDU,
/// as net-snmp sends it, counted by the agent itself (SNMPv2-MIB snmpInPkts.0).
#[test]
fn a_21_oid_poll_is_one_request_pdu() {
    let d = snmpd();
    let rt = rt();
    let client = SnmpClient::default();
    let t = Target::v2c(d.addr, "public");
    let in_pkts: Oid = "1.3.6.1.2.1.11.1.0".parse().unwrap();
    let count = |vbs: Vec<wardflux_snmp::VarBind>| match &vbs[0].value {
        Value::Counter32(n) => u64::from(*n),
        other => panic!("snmpInPkts: {other:?}"),
    };
    let mut oids = vec!["1.3.6.1.2.1.1.3.0".parse::<Oid>().unwrap()];
    for i in 1..=10 {
        oids.push(format!("1.3.6.1.2.1.31.1.1.1.6.{i}").parse().unwrap());
        oids.push(format!("1.3.6.1.2.1.31.1.1.1.10.{i}").parse().unwrap());
    }
    let before = count(
        rt.block_on(client.get(&t, std::slice::from_ref(&in_pkts)))
            .unwrap(),
    );
    let vbs = rt.block_on(client.get(&t, &oids)).unwrap();
    assert_eq!(vbs.len(), 21);
    let after = count(rt.block_on(client.get(&t, &[in_pkts])).unwrap());
    // the poll, plus the second snmpInPkts request itself
    assert_eq!(
        after - before,
        2,
        "the 21 OIDs went out in {} PDUs",
        after - before - 1
    );
}
