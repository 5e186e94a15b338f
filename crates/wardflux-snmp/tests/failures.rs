//! Failure cases against real agents: each gives a typed error within the configured
//! timeout, never a hang or a panic.

mod common;

use std::time::{Duration, Instant};

use common::*;
use wardflux_model::inventory::Secret;
use wardflux_snmp::{
    AuthProtocol, ClientConfig, Oid, PrivProtocol, SecurityLevel, SnmpClient, SnmpError, Target,
    UsmUser, Value, WalkMethod,
};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn oid(s: &str) -> Oid {
    s.parse().unwrap()
}

fn quick(mut t: Target, timeout_ms: u64, retries: u32) -> Target {
    t.timeout = Duration::from_millis(timeout_ms);
    t.retries = retries;
    t
}

fn v3(addr: std::net::SocketAddr, user: &str, auth: &str, privacy: &str) -> Target {
    Target::v3(
        addr,
        UsmUser {
            user: user.into(),
            level: SecurityLevel::AuthPriv,
            auth: Some((AuthProtocol::Sha256, Secret::new(auth))),
            privacy: Some((PrivProtocol::Aes256, Secret::new(privacy))),
            context: String::new(),
        },
    )
}

/// Upper bound for an error that must arrive "within the configured timeout": all attempts
/// plus generous scheduling slack on a loaded 2-core machine.
fn bound(t: &Target) -> Duration {
    t.timeout * (t.retries + 1) + Duration::from_secs(2)
}

#[test]
fn wrong_community_is_a_timeout_within_the_timeout() {
    let d = snmpd();
    let rt = rt();
    let client = SnmpClient::default();
    let t = quick(Target::v2c(d.addr, "wrong"), 300, 1);
    let start = Instant::now();
    let e = rt
        .block_on(client.get(&t, &[oid("1.3.6.1.2.1.1.5.0")]))
        .unwrap_err();
    assert!(matches!(e, SnmpError::Timeout { retries: 1, .. }), "{e:?}");
    assert_eq!(e.kind(), "timeout");
    assert!(start.elapsed() >= Duration::from_millis(600));
    assert!(start.elapsed() < bound(&t), "{:?}", start.elapsed());
}

#[test]
fn v3_credential_failures_are_typed() {
    let d = snmpd();
    let rt = rt();
    let client = SnmpClient::default();
    let user = user_for("SHA-256", "AES-256");
    let q = oid("1.3.6.1.2.1.1.5.0");

    let good = quick(v3(d.addr, &user, AUTH_PASS, PRIV_PASS), 500, 1);
    let vbs = rt
        .block_on(client.get(&good, std::slice::from_ref(&q)))
        .unwrap();
    assert_eq!(vbs[0].value, Value::OctetString(b"wardflux-test".to_vec()));

    let wrong_auth = quick(v3(d.addr, &user, "wrongpass12", PRIV_PASS), 500, 1);
    let start = Instant::now();
    let e = rt
        .block_on(client.get(&wrong_auth, std::slice::from_ref(&q)))
        .unwrap_err();
    assert!(matches!(e, SnmpError::AuthFailure { .. }), "{e:?}");
    assert_eq!(e.kind(), "auth_failure");
    assert!(start.elapsed() < bound(&wrong_auth));

    let unknown = quick(v3(d.addr, "nosuchuser", AUTH_PASS, PRIV_PASS), 500, 1);
    let e = rt
        .block_on(client.get(&unknown, std::slice::from_ref(&q)))
        .unwrap_err();
    assert!(matches!(e, SnmpError::UnknownUserName { .. }), "{e:?}");
    assert_eq!(e.kind(), "unknown_user");

    // snmpd drops a message it cannot decrypt (no report): a timeout, like net-snmp's.
    let wrong_priv = quick(v3(d.addr, &user, AUTH_PASS, "wrongpriv12"), 300, 0);
    let start = Instant::now();
    let e = rt
        .block_on(client.get(&wrong_priv, std::slice::from_ref(&q)))
        .unwrap_err();
    assert!(
        matches!(
            e,
            SnmpError::Timeout { .. } | SnmpError::DecryptionError { .. }
        ),
        "{e:?}"
    );
    assert!(start.elapsed() < bound(&wrong_priv));

    // a password too short for USM is a configuration error, before any packet
    let short = v3(d.addr, &user, "short", PRIV_PASS);
    let e = rt
        .block_on(client.get(&short, std::slice::from_ref(&q)))
        .unwrap_err();
    assert_eq!(e.kind(), "config", "{e:?}");
}

/// SNMPv3 authPriv options, SHA-256 and AES-256, with these passwords.
fn v3_opts<'a>(user: &'a str, auth: &'a str, privacy: &'a str) -> Vec<&'a str> {
    v3_args_with(user, ("SHA-256", auth), ("AES-256", privacy))
}

#[test]
fn cli_failure_output_matches_net_snmp() {
    let d = snmpd();
    let host = d.addr.to_string();
    let user = user_for("SHA-256", "AES-256");
    const SYS_NAME: &str = ".1.3.6.1.2.1.1.5.0";
    const SYSTEM: &str = ".1.3.6.1.2.1.1";
    let wrong_community = ["-v2c", "-c", "wrong", "-t", "0.3", "-r", "0"];
    let wrong_priv = [
        v3_opts(&user, AUTH_PASS, "wrongpriv12"),
        vec!["-t", "0.3", "-r", "0"],
    ]
    .concat();
    for args in [
        command("get", &wrong_community, &host, SYS_NAME),
        command("walk", &wrong_community, &host, SYSTEM),
        command("bulkwalk", &wrong_community, &host, SYSTEM),
        command(
            "get",
            &v3_opts(&user, "wrongpass12", PRIV_PASS),
            &host,
            SYS_NAME,
        ),
        command(
            "bulkwalk",
            &v3_opts("nosuchuser", AUTH_PASS, PRIV_PASS),
            &host,
            SYSTEM,
        ),
        command("get", &wrong_priv, &host, SYS_NAME),
    ] {
        let ours = wardflux(&args);
        let theirs = netsnmp(&args);
        assert_eq!(ours, theirs, "{args:?}");
        assert_ne!(ours.code, 0);
    }
    // argument errors net-snmp prints without usage text
    for args in [
        vec!["get", "-v2c", "-c", "public", &host, "1.3.x.5"],
        vec!["walk", "-v2c", "-c", "public", &host, ".1.3.foo"],
        vec!["get", "-c", "public", &host, "1.3.6.1.2.1.1.5.0"],
        vec!["bulkwalk", "-v1", "-c", "public", &host, ".1.3.6.1.2.1.1"],
    ] {
        let ours = wardflux(&args);
        assert_eq!(ours, netsnmp(&args), "{args:?}");
        assert_eq!(ours.code, 1);
    }
    // --json gives the typed reason
    let r = wardflux(&[
        "get",
        "-v2c",
        "-c",
        "wrong",
        "-t",
        "0.2",
        "-r",
        "0",
        "--json",
        &host,
        "1.3.6.1.2.1.1.5.0",
    ]);
    assert_eq!(r.code, 1);
    let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["errors"][0]["kind"], "timeout");
    let r = wardflux(&[
        "get",
        "-v2c",
        "-c",
        "public",
        "--json",
        &host,
        "1.3.6.1.2.1.1.5.0",
        "1.3.6.1.2.1.1.3.0",
    ]);
    assert_eq!(r.code, 0, "{}", r.err);
    let v: serde_json::Value = serde_json::from_str(&r.out).unwrap();
    assert_eq!(v["varbinds"][0]["value"], "wardflux-test");
    assert_eq!(v["varbinds"][0]["type"], "octet_string");
    assert!(v["varbinds"][1]["value"].is_u64());
    assert_eq!(v["varbinds"][1]["type"], "timeticks");
    // bad arguments: usage and exit 1, no panic
    for bad in [
        vec!["get"],
        vec!["frob"],
        vec![],
        vec!["get", "-v", "9", "x"],
        vec!["walk", "-v2c", "-c", "p", &host, "1.x.3"],
    ] {
        let r = wardflux(&bad);
        assert_eq!(r.code, 1, "{bad:?}");
        assert!(!r.err.is_empty());
    }
}

#[test]
fn silent_agent_times_out_and_recovers() {
    let d = snmpd();
    let rt = rt();
    let client = SnmpClient::default();
    let t = quick(Target::v2c(d.addr, "public"), 300, 2);
    let q = [oid("1.3.6.1.2.1.1.5.0")];
    assert!(rt.block_on(client.get(&t, &q)).is_ok());
    d.stop();
    let start = Instant::now();
    let e = rt.block_on(client.get(&t, &q)).unwrap_err();
    assert!(matches!(e, SnmpError::Timeout { .. }), "{e:?}");
    assert!(start.elapsed() < bound(&t));
    // a walk against the silent agent ends the same way
    let e = rt
        .block_on(client.bulk_walk(&t, &oid("1.3.6.1.2.1.1")))
        .unwrap_err();
    assert_eq!(e.kind(), "timeout");
    d.cont();
    assert!(rt.block_on(client.get(&t, &q)).is_ok());
}

#[test]
fn agent_killed_mid_walk_gives_a_timeout() {
    let mut d = snmpd();
    let rt = rt();
    let client = SnmpClient::default();
    let mut t = quick(Target::v2c(d.addr, "public"), 300, 1);
    t.max_repetitions = 5;
    let mut seen = 0usize;
    let start = Instant::now();
    let res = rt.block_on(client.walk_with(&t, &oid("1.3"), WalkMethod::GetBulk, |_| {
        seen += 1;
        if seen == 50 {
            d.kill();
        }
    }));
    let e = res.unwrap_err();
    assert!(matches!(e, SnmpError::Timeout { .. }), "{e:?}");
    assert!(seen >= 50);
    assert!(start.elapsed() < bound(&t) + Duration::from_secs(3));
}

const ODD_AGENT: &str = "\
1.3.6.1.2.1.1.1.0|4|odd agent
1.3.6.1.2.1.1.5.0|4:delay|value=slow,wait=1500
1.3.6.1.2.1.1.7.0|2|72
";

#[test]
fn slow_agent_times_out_then_answers() {
    let d = snmpsim(&[("odd", ODD_AGENT)]);
    let rt = rt();
    let client = SnmpClient::default();

    // slow: 1.5 s answer, 0.4 s timeout → typed timeout in time; 3 s timeout → the value
    let t = quick(Target::v2c(d.addr, "odd"), 400, 0);
    let start = Instant::now();
    let e = rt
        .block_on(client.get(&t, &[oid("1.3.6.1.2.1.1.5.0")]))
        .unwrap_err();
    assert!(matches!(e, SnmpError::Timeout { .. }), "{e:?}");
    assert!(start.elapsed() < bound(&t));
    let patient = quick(Target::v2c(d.addr, "odd"), 3000, 0);
    let vbs = rt
        .block_on(client.get(&patient, &[oid("1.3.6.1.2.1.1.5.0")]))
        .unwrap();
    assert_eq!(vbs[0].value, Value::OctetString(b"slow".to_vec()));
}

#[test]
fn too_big_is_split_then_typed() {
    let d = snmpd();
    let rt = rt();
    // 1472 octets: what async-snmp advertises by default and a common device limit
    let client = SnmpClient::new(ClientConfig {
        max_message_size: 1472,
        ..ClientConfig::default()
    });
    let user = user_for("SHA", "AES");
    let t = Target::v3(
        d.addr,
        UsmUser {
            user,
            level: SecurityLevel::AuthPriv,
            auth: Some((AuthProtocol::Sha1, Secret::new(AUTH_PASS))),
            privacy: Some((PrivProtocol::Aes128, Secret::new(PRIV_PASS))),
            context: String::new(),
        },
    );
    let big1 = oid(&extend_output_oid("big1"));
    let big2 = oid(&extend_output_oid("big2"));
    let huge = oid(&extend_output_oid("huge"));
    // together 2000 octets: tooBig, split into two GETs that fit
    let vbs = rt
        .block_on(client.get(&t, &[big1.clone(), big2.clone()]))
        .unwrap();
    assert_eq!(vbs.len(), 2);
    assert_eq!(vbs[0].value.as_bytes().unwrap().len(), 1000);
    assert_eq!(vbs[1].oid, big2);
    // 3000 octets alone cannot fit: a typed TooBig
    let e = rt
        .block_on(client.get(&t, std::slice::from_ref(&huge)))
        .unwrap_err();
    assert!(matches!(e, SnmpError::TooBig { .. }), "{e:?}");
    assert_eq!(e.kind(), "too_big");
    // a bulk walk over the three: snmpd truncates bulk responses to fit, but a single
    // 3000-octet row cannot fit; max-repetitions is halved down to 1 and the walk ends
    // with a typed TooBig after the rows that fit
    let column = oid(".1.3.6.1.4.1.8072.1.3.2.3.1.2");
    let mut seen = Vec::new();
    let mut walk_t = t.clone();
    walk_t.max_repetitions = 10;
    let e = rt
        .block_on(
            client.walk_with(&walk_t, &column, WalkMethod::GetBulk, |vb| {
                seen.push(vb.oid)
            }),
        )
        .unwrap_err();
    assert!(matches!(e, SnmpError::TooBig { .. }), "{e:?}");
    assert_eq!(seen, vec![big1.clone(), big2.clone()]);
    // with the default (65507, as net-snmp) everything is answered
    let client = SnmpClient::default();
    let vbs = rt
        .block_on(client.get(&t, std::slice::from_ref(&huge)))
        .unwrap();
    assert_eq!(vbs[0].value.as_bytes().unwrap().len(), 3000);
    let rows = rt.block_on(client.bulk_walk(&walk_t, &column)).unwrap();
    assert_eq!(
        rows.iter().map(|v| v.oid.clone()).collect::<Vec<_>>(),
        vec![big1, big2, huge]
    );
}

#[test]
fn v3_resyncs_after_agent_reboot_and_rediscovers_a_new_engine() {
    let mut d = snmpd();
    let rt = rt();
    let client = SnmpClient::default();
    let t = quick(
        v3(
            d.addr,
            &user_for("SHA-256", "AES-256"),
            AUTH_PASS,
            PRIV_PASS,
        ),
        1000,
        1,
    );
    let q = [oid("1.3.6.1.2.1.1.3.0")];
    let ticks = |v: &[wardflux_snmp::VarBind]| match v[0].value {
        Value::TimeTicks(t) => t,
        ref other => panic!("{other:?}"),
    };
    rt.block_on(client.get(&t, &q)).unwrap();

    // Reboot, same engine ID: boots + 1, time from 0. The client still holds the old
    // boots/time; the agent answers notInTimeWindow, the library re-synchronises once and
    // the call succeeds: no error reaches the caller.
    restart_snmpd(&mut d);
    let after = rt.block_on(client.get(&t, &q)).unwrap();
    assert!(ticks(&after) < 1000, "uptime restarted");

    // Replaced device: another engine ID. Its reports name an engine we do not know and are
    // dropped, so this call times out (typed, within the timeout); the next call
    // rediscovers the engine and succeeds.
    set_engine_id(&d, "0x80001f8804776172646675780002");
    restart_snmpd(&mut d);
    let start = Instant::now();
    match rt.block_on(client.get(&t, &q)) {
        Err(SnmpError::Timeout { .. }) => assert!(start.elapsed() < bound(&t)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    rt.block_on(client.get(&t, &q)).unwrap();
    assert_eq!(
        client.device_count(),
        1,
        "the same cached device state was reused"
    );
    let vbs = rt
        .block_on(client.bulk_walk(&t, &oid("1.3.6.1.2.1.1")))
        .unwrap();
    assert!(vbs.len() >= 8);
}
