//! Network discovery against real agents: snmpsim serving a different recording on each
//! address (and one recording on two addresses: one device), live addresses without an
//! agent (ping only) and dead ones, all inside a network namespace this test creates.
//! The CLI (`wardflux discover`) and the server (rules, scans, results, add-devices)
//! both run inside the namespace, as a user would run them on the network itself.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use wardflux_testkit::netns::{Netns, require};
use wardflux_testkit::snmp::{Daemon, shipped_recording, snmpsim_devices};

use common::{BIN, eventually, get, poll_now, post, put};

/// One simulated device: its address, sysName, and what the classifier must say.
struct Sim {
    addr: String,
    name: String,
    vendor: &'static str,
    os: &'static str,
    device_type: &'static str,
}

/// A recording with its sysName replaced (distinct devices built from one recording).
fn renamed(rec: &str, name: &str) -> String {
    let mut out: Vec<String> = rec
        .lines()
        .filter(|l| !l.starts_with("1.3.6.1.2.1.1.5.0|"))
        .map(str::to_string)
        .collect();
    out.push(format!("1.3.6.1.2.1.1.5.0|4|{name}"));
    // snmpsim wants its records in OID order.
    out.sort_by_key(|l| {
        l.split('|')
            .next()
            .unwrap()
            .split('.')
            .map(|a| a.parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    });
    out.join("\n") + "\n"
}

/// The recordings of the discovery crate's fixtures, with what each must classify as
/// (`recordings/expected.tsv`: file, vendor, os, device_type).
fn fixture_recordings() -> Vec<(String, String, &'static str, &'static str, &'static str)> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../wardflux-discovery/tests/fixtures/recordings"
    );
    let table = std::fs::read_to_string(format!("{dir}/expected.tsv")).expect("expected.tsv");
    table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            let rec = std::fs::read_to_string(format!("{dir}/{}", c[0])).expect("recording");
            let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
            (c[0].to_string(), rec, leak(c[1]), leak(c[2]), leak(c[3]))
        })
        .collect()
}

/// The namespace: devices on 127.77.0.1..N (the first also on 127.77.0.30), every other
/// address of 127.77.0.0/27 alive without an agent, 127.77.0.32/27 dead.
struct Net {
    ns: Netns,
    _sim: Daemon,
    sims: Vec<Sim>,
    dup: String,
}

fn net() -> Net {
    require(&[("snmpsimd", "snmpsim"), ("snmpget", "snmp")]);
    let ns = Netns::new();
    ns.kill("127.77.0.32-127.77.0.63");
    let mut sims = Vec::new();
    let mut recs = Vec::new();
    // snmpsim's own recordings (the Linux and Windows ones are among the fixtures).
    let shipped = [
        ("cisco3750", "sim-cisco", "cisco", "ios", "switch"),
        ("procurve", "sim-procurve", "hp", "procurve", "switch"),
    ];
    for (i, (rec, name, vendor, os, t)) in shipped.iter().enumerate() {
        let addr = format!("127.77.0.{}", i + 1);
        recs.push((addr.clone(), renamed(&shipped_recording(rec), name)));
        sims.push(Sim {
            addr,
            name: name.to_string(),
            vendor,
            os,
            device_type: t,
        });
    }
    for (file, rec, vendor, os, t) in fixture_recordings() {
        let addr = format!("127.77.0.{}", sims.len() + 1);
        let name = rec
            .lines()
            .find_map(|l| l.strip_prefix("1.3.6.1.2.1.1.5.0|4|"))
            .unwrap_or_else(|| panic!("{file}: no plain sysName"))
            .to_string();
        recs.push((addr.clone(), rec));
        sims.push(Sim {
            addr,
            name,
            vendor,
            os,
            device_type: t,
        });
    }
    assert!(sims.len() < 29, "too many devices for 127.77.0.0/27");
    // The Cisco switch answers on a second address too: one device.
    let dup = "127.77.0.30".to_string();
    recs.push((dup.clone(), recs[0].1.clone()));
    let sim = snmpsim_devices(&ns.name, &recs);
    Net {
        ns,
        _sim: sim,
        sims,
        dup,
    }
}

fn discover(net: &Net, args: &[&str]) -> std::process::Output {
    Command::new("ip")
        .args(["netns", "exec", &net.ns.name, BIN, "discover"])
        .args(args)
        .output()
        .expect("spawn wardflux discover")
}

fn by_ip(found: &[Value]) -> BTreeMap<String, Value> {
    found
        .iter()
        .map(|f| (f["ip"].as_str().unwrap().to_string(), f.clone()))
        .collect()
}

/// Every live device found once and classified as its recording says; the second
/// address of one device folded into it; ping-only hosts marked; dead ones absent.
fn check_findings(net: &Net, found: &[Value], credential: &str) {
    let m = by_ip(found);
    for s in &net.sims {
        let f = m
            .get(&s.addr)
            .unwrap_or_else(|| panic!("{} ({}) not found", s.addr, s.name));
        assert_eq!(f["snmp"], true, "{}: {f}", s.name);
        assert_eq!(f["sys_name"], s.name.as_str(), "{f}");
        assert_eq!(f["vendor"], s.vendor, "{}: {f}", s.name);
        let os = if s.os == "-" {
            Value::Null
        } else {
            json!(s.os)
        };
        assert_eq!(f["os"], os, "{}: {f}", s.name);
        assert_eq!(f["device_type"], s.device_type, "{}: {f}", s.name);
        assert_eq!(f["credential"], credential, "{f}");
        assert!(
            f["sys_object_id"]
                .as_str()
                .unwrap()
                .starts_with("1.3.6.1.4.1."),
            "{f}"
        );
    }
    let cisco = &m[&net.sims[0].addr];
    assert_eq!(
        cisco["addresses"],
        json!([net.sims[0].addr, net.dup]),
        "one device on two addresses is one result"
    );
    assert!(
        !m.contains_key(&net.dup),
        "the second address is not a result of its own"
    );
    let sim_addrs: BTreeSet<&str> = net.sims.iter().map(|s| s.addr.as_str()).collect();
    let ping_only: Vec<&Value> = m
        .values()
        .filter(|f| !sim_addrs.contains(f["ip"].as_str().unwrap()))
        .collect();
    // 127.77.0.1-31 are alive: the devices, the duplicate address, and the rest.
    assert_eq!(ping_only.len(), 31 - net.sims.len() - 1, "{ping_only:?}");
    for f in &ping_only {
        assert_eq!(f["alive"], true);
        assert_eq!(f["snmp"], false, "{f}");
        assert!(f["credential"].is_null());
    }
    for dead in 32..64 {
        assert!(
            !m.contains_key(&format!("127.77.0.{dead}")),
            "dead host found"
        );
    }
}

#[test]
fn discover_cli_finds_classifies_and_folds_duplicates() {
    let net = net();
    // A wrong community first: the one that worked is named, never its secret.
    let out = discover(
        &net,
        &[
            "127.77.0.0/26",
            "-c",
            "wrong-community",
            "-c",
            "public",
            "--timeout-ms",
            "400",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("wrong-community"),
        "a secret in the output"
    );
    let found: Vec<Value> = serde_json::from_str(&stdout).expect("one JSON array");
    check_findings(&net, &found, "community #2");

    // The table a user reads.
    let out = discover(
        &net,
        &[
            "127.77.0.1-127.77.0.3",
            "-c",
            "public",
            "--timeout-ms",
            "400",
        ],
    );
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    let mut lines = table.lines();
    let head = lines.next().unwrap();
    for col in ["ADDRESS", "SYSNAME", "VENDOR", "OS", "TYPE", "CREDENTIAL"] {
        assert!(head.contains(col), "{head}");
    }
    assert!(
        table.contains("sim-cisco") && table.contains("sim-procurve"),
        "{table}"
    );
    assert!(
        table.contains("3 hosts found, 3 answered SNMP, 0 ping only"),
        "{table}"
    );

    // Bad input: a clear message and exit status 2, before any probe.
    let out = discover(&net, &["10.0.0.0/8"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ranges") && err.contains("split"), "{err}");
    let out = discover(&net, &["10.0.0.0/15"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pass --allow-large"));
    let out = discover(&net, &["127.0.0.1", "-x", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exclusions[0]"));
}

/// nft counts the packets above a rate: the scan's echo requests and SNMP requests must
/// stay under `--rate`, and at most `--concurrency` silent hosts are asked at once.
#[test]
fn discovery_keeps_its_rate_and_concurrency_caps() {
    require(&[("nft", "nftables")]);
    let ns = Netns::new();
    // Output hook: counts what the scan sends. `limit rate over` matches only the packets
    // beyond the rate (token bucket with the given burst).
    ns.nft(
        "table inet caps {
           chain out {
             type filter hook output priority 0; policy accept;
             icmp type echo-request counter name echo_all
             icmp type echo-request limit rate over 100/second burst 5 packets counter name echo_over
             udp dport 161 counter name snmp_all
             udp dport 161 limit rate over 20/second burst 10 packets counter name snmp_over
           }
           counter echo_all {}
           counter echo_over {}
           counter snmp_all {}
           counter snmp_over {}
         }",
    );
    let run = |args: &[&str]| {
        let out = Command::new("ip")
            .args(["netns", "exec", &ns.name, BIN, "discover"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
    };
    let counter = |name: &str| -> u64 {
        let out = ns.exec(&["nft", "-j", "list", "counter", "inet", "caps", name]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["nftables"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|o| o["counter"]["packets"].as_u64())
            .unwrap()
    };
    // 62 live hosts at 100 probes a second, no agent anywhere: 8 hosts at a time, each
    // asked once (no retry) and given 500 ms, so at most 16 SNMP requests a second
    // (without the concurrency cap, the 62 would go out within 0.62 s at the rate cap).
    let found = run(&[
        "127.78.0.0/26",
        "--rate",
        "100",
        "--concurrency",
        "8",
        "--retries",
        "0",
        "--timeout-ms",
        "500",
        "--json",
    ]);
    assert_eq!(found.len(), 62);
    assert!(
        found
            .iter()
            .all(|f| f["alive"] == true && f["snmp"] == false)
    );
    assert_eq!(counter("echo_all"), 62, "one echo request per live host");
    assert_eq!(counter("echo_over"), 0, "echo requests above 100/s");
    assert_eq!(counter("snmp_all"), 62, "one SNMP request per host");
    assert_eq!(counter("snmp_over"), 0, "more than 8 hosts asked at once");
}

#[test]
fn server_discovers_records_reruns_and_adds_devices() {
    let net = net();
    let reach = net.ns.link_to_host();
    let data = tempfile::tempdir().unwrap();
    let pw = "discover-admin-1";
    let s = common::start_in(Some((&net.ns.name, &reach)), data.path(), Some(pw));
    common::wait_healthy(&s);
    let tok = common::login(&s, pw);

    // Bad rules: errors name the field, nothing is stored.
    let bad = [
        (json!({"name": "big", "ranges": ["10.0.0.0/15"]}), "ranges"),
        (
            json!({"name": "x", "ranges": ["127.0.0.1", "300.1.1.1"]}),
            "ranges[1]",
        ),
        (
            json!({"name": "x", "ranges": ["127.0.0.1"], "schedule": "every day"}),
            "schedule",
        ),
        (
            json!({"name": "x", "ranges": ["127.0.0.1"], "credentials": [{"version": "v2c"}]}),
            "credentials[0].community",
        ),
        (
            json!({"name": "x", "ranges": ["127.0.0.1"], "rate_limit": 0}),
            "rate_limit",
        ),
        (json!({"name": "", "ranges": ["127.0.0.1"]}), "name"),
    ];
    for (body, field) in bad {
        let (code, b) = post(&s, &tok, "/api/v1/monitoring/discovery/rules", body.clone());
        assert_eq!(code, 422, "{body}: {b}");
        assert_eq!(b["field"], field, "{body}: {b}");
    }
    let (_, rules) = get(&s, &tok, "/api/v1/monitoring/discovery/rules");
    assert_eq!(rules, json!([]));

    let (code, rule) = post(
        &s,
        &tok,
        "/api/v1/monitoring/discovery/rules",
        json!({
            "name": "lab",
            "ranges": ["127.77.0.0/26"],
            "exclusions": ["127.77.0.31"],
            "credentials": [{"name": "lab community", "version": "v2c", "community": "public"}],
            "schedule": "0 3 * * *",
            "rate_limit": 1000,
            "concurrency": 64,
        }),
    );
    assert_eq!(code, 201, "{rule}");
    assert!(
        !rule.to_string().contains("public"),
        "a secret in the rule: {rule}"
    );
    assert_eq!(rule["credentials"][0]["has_community"], true);
    let rule_id = rule["id"].as_str().unwrap().to_string();

    let scan = |expect_busy: bool| -> String {
        let (code, b) = post(
            &s,
            &tok,
            "/api/v1/monitoring/discovery/scan",
            json!({"rule_id": rule_id}),
        );
        assert_eq!(code, 202, "{b}");
        let job = b["job_id"].as_str().unwrap().to_string();
        if expect_busy {
            // Two runs of one rule never overlap.
            let (code, b) = post(
                &s,
                &tok,
                &format!("/api/v1/monitoring/discovery/rules/{rule_id}/run"),
                json!({}),
            );
            assert_eq!(code, 409, "{b}");
            assert_eq!(b["field"], "rule_id");
        }
        let run = eventually("the scan to end", Duration::from_secs(60), || {
            let (_, r) = get(
                &s,
                &tok,
                &format!("/api/v1/monitoring/discovery/jobs/{job}"),
            );
            (r["state"] != "running").then_some(r)
        });
        assert_eq!(run["state"], "done", "{run}");
        assert_eq!(run["total"], 61, "{run}"); // /26 hosts minus one exclusion
        assert_eq!(run["done"], 61, "{run}");
        assert_eq!(run["alive"], 30, "{run}"); // .1-.30 (.31 excluded)
        assert_eq!(run["snmp"], (net.sims.len() + 1) as u64, "{run}");
        job
    };
    let job1 = scan(true);
    let (code, page) = get(
        &s,
        &tok,
        &format!("/api/v1/monitoring/discovery/results?job_id={job1}&limit=1000"),
    );
    assert_eq!(code, 200, "{page}");
    let items = page["items"].as_array().unwrap().clone();
    // The findings, without .31 (excluded): one less ping-only host than the CLI run.
    assert_eq!(items.len(), 30 - 1, "{page}");
    let m = by_ip(&items);
    for sim in &net.sims {
        let r = &m[&sim.addr];
        assert_eq!(r["sys_name"], sim.name.as_str());
        assert_eq!(r["vendor"], sim.vendor, "{r}");
        assert_eq!(r["credential"], "lab community");
        assert!(r["device_id"].is_null());
        assert_eq!(r["rule_id"], rule_id.as_str());
    }
    assert_eq!(
        m[&net.sims[0].addr]["addresses"],
        json!([net.sims[0].addr, net.dup])
    );

    // A rerun updates the rows: same ids, same first_seen, the new job.
    let job2 = scan(false);
    let (_, page2) = get(&s, &tok, "/api/v1/monitoring/discovery/results?limit=1000");
    assert_eq!(page2["total"], 29, "a rerun added rows: {page2}");
    let m2 = by_ip(page2["items"].as_array().unwrap());
    for (ip, r) in &m {
        assert_eq!(m2[ip]["id"], r["id"]);
        assert_eq!(m2[ip]["first_seen"], r["first_seen"]);
        assert_eq!(m2[ip]["job_id"], job2.as_str());
    }
    // Filters.
    let (_, cisco) = get(
        &s,
        &tok,
        "/api/v1/monitoring/discovery/results?vendor=cisco",
    );
    let ciscos = net.sims.iter().filter(|x| x.vendor == "cisco").count();
    assert!(ciscos >= 2);
    assert_eq!(cisco["total"], ciscos, "{cisco}");
    for t in ["switch", "router", "firewall", "server", "printer"] {
        let (_, page) = get(
            &s,
            &tok,
            &format!("/api/v1/monitoring/discovery/results?device_type={t}"),
        );
        let want = net.sims.iter().filter(|x| x.device_type == t).count();
        assert!(want >= 1, "no {t} among the recordings");
        assert_eq!(page["total"], want, "{t}: {page}");
    }
    let (code, b) = get(
        &s,
        &tok,
        "/api/v1/monitoring/discovery/results?status=maybe",
    );
    assert_eq!(code, 422, "{b}");
    assert_eq!(b["field"], "status");

    // Add two devices: all or nothing.
    let cisco_id = m[&net.sims[0].addr]["id"].as_str().unwrap().to_string();
    let linux = net
        .sims
        .iter()
        .find(|x| x.os == "linux")
        .expect("a Linux recording");
    let linux_id = m[&linux.addr]["id"].as_str().unwrap().to_string();
    let missing = "00000000-0000-4000-8000-000000000000";
    let (code, b) = post(
        &s,
        &tok,
        "/api/v1/monitoring/discovery/add-devices",
        json!({"result_ids": [cisco_id, missing]}),
    );
    assert_eq!(code, 409, "{b}");
    assert!(
        b.to_string().contains(missing),
        "the failing result is named: {b}"
    );
    let (_, devices) = get(&s, &tok, "/api/v1/devices");
    assert_eq!(devices["total"], 0, "nothing added on a conflict");

    let (code, added) = post(
        &s,
        &tok,
        "/api/v1/monitoring/discovery/add-devices",
        json!({"result_ids": [cisco_id, linux_id]}),
    );
    assert_eq!(code, 201, "{added}");
    let devs = added["devices"].as_array().unwrap();
    assert_eq!(devs.len(), 2);
    let cisco_dev = devs
        .iter()
        .find(|d| d["name"] == "sim-cisco")
        .expect("named after sysName");
    assert_eq!(cisco_dev["ip"], net.sims[0].addr.as_str());
    assert_eq!(cisco_dev["vendor"], "cisco");
    assert_eq!(cisco_dev["device_type"], "switch");
    let linux_dev = devs
        .iter()
        .find(|d| d["name"] == linux.name.as_str())
        .unwrap();

    // Known now, and a second add is a conflict naming both.
    let (_, known) = get(
        &s,
        &tok,
        "/api/v1/monitoring/discovery/results?status=known",
    );
    assert_eq!(known["total"], 2, "{known}");
    let (code, b) = post(
        &s,
        &tok,
        "/api/v1/monitoring/discovery/add-devices",
        json!({"result_ids": [cisco_id, linux_id]}),
    );
    assert_eq!(code, 409, "{b}");
    assert!(
        b.to_string().contains(&cisco_id) && b.to_string().contains(&linux_id),
        "{b}"
    );

    // Monitored: the template of its classification applied, with the credential that
    // worked, so SNMP items get values; and ICMP says up.
    let (_, templates) = get(&s, &tok, "/api/v1/monitoring/templates");
    let applied: BTreeMap<String, String> = templates
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| {
            t["devices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        d["device_id"].as_str().unwrap().to_string(),
                        t["name"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        applied[cisco_dev["id"].as_str().unwrap()],
        "Cisco IOS/IOS-XE"
    );
    assert_eq!(applied[linux_dev["id"].as_str().unwrap()], "Linux Net-SNMP");
    for d in [cisco_dev, linux_dev] {
        let id = d["id"].as_str().unwrap();
        // The poller picks the plan up from the store's event; then poll now: the
        // device's own credential (the one that worked) answers.
        let polled = poll_now(&s, &tok, id, Duration::from_secs(20));
        // The agent answered every item (values, or noSuchObject where the trimmed
        // recording lacks the MIB): the credential works.
        let items = polled["items"].as_array().unwrap();
        assert!(!items.is_empty(), "{polled}");
        assert!(
            items
                .iter()
                .all(|i| i["status"] == "ok" || i["status"] == "not_supported"),
            "{polled}"
        );
        if d["name"] == "sim-cisco" {
            let cpu = items
                .iter()
                .find(|i| i["key"] == "cpu_usage")
                .expect("cpu_usage");
            assert_eq!(cpu["status"], "ok", "{cpu}");
            assert!(cpu["last_value"].is_number(), "{cpu}");
        }
        eventually("ICMP up", Duration::from_secs(60), || {
            let (_, st) = get(&s, &tok, "/api/v1/monitoring/icmp/status");
            st.to_string().contains(id).then_some(()).filter(|_| {
                st.as_array()
                    .is_some_and(|a| a.iter().any(|x| x["device_id"] == id && x["state"] == "up"))
            })
        });
    }

    // Rule edit without re-typing the secret keeps it; a viewer cannot write.
    let (code, r) = put(
        &s,
        &tok,
        &format!("/api/v1/monitoring/discovery/rules/{rule_id}"),
        json!({
            "name": "lab",
            "ranges": ["127.77.0.1-127.77.0.3"],
            "credentials": [{"name": "lab community", "version": "v2c"}],
        }),
    );
    assert_eq!(code, 200, "{r}");
    assert_eq!(r["credentials"][0]["has_community"], true);
    let job3 = scan_small(&s, &tok, &rule_id);
    let (_, r3) = get(
        &s,
        &tok,
        &format!("/api/v1/monitoring/discovery/results?job_id={job3}"),
    );
    assert_eq!(r3["total"], 3, "{r3}");
    assert!(
        r3["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["snmp"] == true),
        "{r3}"
    );
}

fn scan_small(s: &common::Server, tok: &str, rule_id: &str) -> String {
    let (code, b) = post(
        s,
        tok,
        &format!("/api/v1/monitoring/discovery/rules/{rule_id}/run"),
        json!({}),
    );
    assert_eq!(code, 202, "{b}");
    let job = b["job_id"].as_str().unwrap().to_string();
    let run = eventually("the scan to end", Duration::from_secs(60), || {
        let (_, r) = get(s, tok, &format!("/api/v1/monitoring/discovery/jobs/{job}"));
        (r["state"] != "running").then_some(r)
    });
    assert_eq!(run["state"], "done", "{run}");
    job
}

/// A v3 user after a community that fails: the real net-snmp agent answers the v3
/// candidate, which is named (never its keys), and its engine ID identifies the device.
#[test]
fn discover_cli_tries_a_v3_user_after_the_communities() {
    use wardflux_testkit::snmp::{AUTH_PASS, ENGINE_ID, PRIV_PASS, snmpd, user_for};
    let agent = snmpd();
    let user = user_for("SHA", "AES");
    let out = Command::new(BIN)
        .args([
            "discover",
            "127.0.0.1",
            "--port",
            &agent.addr.port().to_string(),
        ])
        .args([
            "-c",
            "not-this-one",
            "--timeout-ms",
            "300",
            "--retries",
            "0",
        ])
        .args([
            "--v3-user",
            &user,
            "--v3-auth-proto",
            "SHA",
            "--v3-priv-proto",
            "AES",
        ])
        .env("WARDFLUX_V3_AUTH_KEY", AUTH_PASS)
        .env("WARDFLUX_V3_PRIV_KEY", PRIV_PASS)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains(AUTH_PASS) && !stdout.contains(PRIV_PASS));
    let found: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(found.len(), 1, "{stdout}");
    let f = &found[0];
    assert_eq!(f["snmp"], true, "{f}");
    assert_eq!(f["credential"], format!("v3 {user}"));
    assert_eq!(f["sys_name"], "wardflux-test");
    assert_eq!(f["engine_id"], ENGINE_ID.trim_start_matches("0x"));
    assert_eq!(
        f["identity"],
        format!("engine:{}", ENGINE_ID.trim_start_matches("0x"))
    );
    assert_eq!(f["sys_object_id"], "1.3.6.1.4.1.8072.3.2.10");
    assert_eq!(f["os"], "linux");
    assert_eq!(f["device_type"], "server");
}

/// A rule's cron schedule runs it in the server; runs of one rule never overlap (an
/// occurrence during a run is skipped); each run keeps its times and counts.
#[test]
fn the_server_runs_a_rule_on_its_schedule_without_overlap() {
    let data = tempfile::tempdir().unwrap();
    let pw = "schedule-admin-1";
    let s = common::start(data.path(), Some(pw));
    common::wait_healthy(&s);
    let tok = common::login(&s, pw);
    // Every second; each run takes about 2 s (a live address without an agent: one SNMP
    // attempt and one retry of 1 s), so most occurrences find the previous run going.
    let (code, rule) = post(
        &s,
        &tok,
        "/api/v1/monitoring/discovery/rules",
        json!({"name": "every second", "ranges": ["127.45.0.1"], "schedule": "* * * * * *",
               "credentials": [{"version": "v2c", "community": "public"}]}),
    );
    assert_eq!(code, 201, "{rule}");
    let id = rule["id"].as_str().unwrap().to_string();
    let runs = eventually(
        "three finished scheduled runs",
        Duration::from_secs(30),
        || {
            let (_, runs) = get(
                &s,
                &tok,
                &format!("/api/v1/monitoring/discovery/jobs?rule_id={id}"),
            );
            let done: Vec<Value> = runs
                .as_array()?
                .iter()
                .filter(|r| r["state"] == "done")
                .cloned()
                .collect();
            (done.len() >= 3).then_some(runs)
        },
    );
    let mut runs: Vec<Value> = runs.as_array().unwrap().clone();
    runs.reverse(); // oldest first
    for pair in runs.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a["state"] == "done" {
            assert!(
                b["started_at"].as_str().unwrap() >= a["finished_at"].as_str().unwrap(),
                "runs overlap: {a} / {b}"
            );
        }
    }
    for r in runs.iter().filter(|r| r["state"] == "done") {
        assert_eq!(r["total"], 1);
        assert_eq!(r["alive"], 1);
        assert_eq!(r["found"], 1);
        assert!(r["duration_ms"].as_u64().unwrap() >= 1000, "{r}");
    }
    let (_, rule) = get(
        &s,
        &tok,
        &format!("/api/v1/monitoring/discovery/rules/{id}"),
    );
    assert!(!rule["last_run"].is_null());
    let (_, results) = get(&s, &tok, "/api/v1/monitoring/discovery/results");
    assert_eq!(
        results["total"], 1,
        "reruns update the one result: {results}"
    );
}

/// On a terminal the CLI draws a progress bar (stderr, from a runtime thread) and still
/// ends: `script` gives it a pseudo-terminal. (It once deadlocked on the stderr lock.)
#[test]
fn discover_cli_on_a_terminal_draws_progress_and_ends() {
    require(&[("script", "bsdutils")]);
    let cmd = format!("{BIN} discover 127.0.0.1-127.0.0.2 -c public --timeout-ms 200 --retries 0");
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = eventually(
        "wardflux discover to end on a terminal (it once hung)",
        Duration::from_secs(30),
        || child.try_wait().unwrap(),
    );
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(status.success(), "{out}");
    assert!(
        out.contains("ADDRESS") && out.contains("127.0.0.2"),
        "{out}"
    );
    assert!(out.contains("hosts found"), "{out}");
}
