//! Zabbix and hybrid mode end to end: the real server binary against the real Zabbix 6.0
//! (server, frontend API, `zabbix_sender`) that scripts/test.sh starts once per run.
//!
//! Hosts and a host group made through Zabbix' API appear as devices (one matched to a
//! device of ours by IP: one record, both sources); a value sent with `zabbix_sender` fires a
//! trigger whose problem appears as an alert with the mapped severity; an acknowledge from
//! WARD FLUX lands in Zabbix (read back with `event.get`); Zabbix' `icmpping` says whether a
//! Zabbix-only device is up; when the frontend this server talks to stops, the data stays,
//! marked stale with its age and the error's kind. Wrong password and a non-Zabbix URL give
//! their errors through the settings test. The migration through the API turns a Zabbix SNMP
//! host into a device our poller polls against snmpsim.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use wardflux_testkit::zabbix::{Zabbix, unique};

/// A second frontend (PHP's built-in server, as the shared one) on the same Zabbix
/// database, so that this test can stop "its" frontend without disturbing the other tests.
struct Frontend {
    child: Child,
    url: String,
}

impl Frontend {
    fn start(z: &Zabbix) -> Frontend {
        let port = wardflux_testkit::free_port();
        let child = Command::new("php")
            .args([
                "-S",
                &format!("127.0.0.1:{port}"),
                "-t",
                "/usr/share/zabbix",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("php (Debian package php8.2-cli)");
        let url = format!("http://127.0.0.1:{port}/api_jsonrpc.php");
        let body = json!({"jsonrpc": "2.0", "method": "apiinfo.version", "params": [], "id": 1});
        eventually("the extra frontend", Duration::from_secs(20), || {
            let r = client().post(&url).json(&body).send().ok()?;
            r.json::<Value>().ok()?["result"].as_str().map(|_| ())
        });
        assert!(z.api_url.ends_with("/api_jsonrpc.php"));
        Frontend { child, url }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Frontend {
    fn drop(&mut self) {
        self.stop();
    }
}

const PW: &str = "zabbix-e2e-pw-1";

#[test]
fn zabbix_and_hybrid_mode_against_a_real_zabbix() {
    let z = Zabbix::shared();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rpc = |m: &str, p: Value| rt.block_on(z.rpc(m, p));
    let send = |h: &str, k: &str, v: &str| rt.block_on(z.send_until_processed(h, k, v));
    let t = unique("e2e")[4..].to_string();
    let third = u8::from_str_radix(&t[..2], 16).unwrap();
    let ip = |n: u8| format!("127.62.{third}.{n}");
    // Zabbix side: a group, a host only Zabbix knows (with a trapper item, a disaster
    // trigger on it and a trapper `icmpping`), and a host that is also one of our devices.
    let group = format!("wf-e2e-{t}");
    let gid = rpc("hostgroup.create", json!({"name": group}))["groupids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let iface = |addr: String| json!([{"type": 1, "main": 1, "useip": 1, "ip": addr, "dns": "", "port": "10050"}]);
    let atm = format!("atm-{t}");
    let atm_id = rpc(
        "host.create",
        json!({"host": atm, "groups": [{"groupid": gid}], "interfaces": iface(ip(1))}),
    )["hostids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let core = format!("core-{t}");
    rpc(
        "host.create",
        json!({"host": core, "groups": [{"groupid": gid}], "interfaces": iface(ip(2))}),
    );
    for (key, vt, units) in [
        ("cpu.trap", 3, ""),
        ("icmpping", 3, ""),
        ("net.if.in[eth0]", 3, "bps"),
    ] {
        rpc(
            "item.create",
            json!({"hostid": atm_id, "name": key, "key_": key, "type": 2, "value_type": vt, "units": units}),
        );
    }
    rpc(
        "trigger.create",
        json!({"description": format!("CPU too high on {atm}"),
               "expression": format!("last(/{atm}/cpu.trap)>90"), "priority": 5}),
    );

    // A Zabbix user of its own, with a password no log line could contain by chance.
    let zuser = format!("wf-e2e-{t}");
    let zpass = format!("WfE2e-{t}-Secret9");
    rpc(
        "user.create",
        json!({"username": zuser, "passwd": zpass, "roleid": "3", "usrgrps": [{"usrgrpid": "7"}]}),
    );

    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), Some(PW));
    wait_healthy(&s);
    let tok = login(&s, PW);
    let ours = post(
        &s,
        &tok,
        "/api/v1/devices",
        json!({"name": "our-core", "ip": ip(2)}),
    );
    assert_eq!(ours.0, 201, "{:?}", ours.1);
    let ours_id = ours.1["id"].as_str().unwrap().to_string();

    // Zabbix modes need a connection first.
    let (st, body) = put(&s, &tok, "/api/v1/settings/mode", json!({"mode": "hybrid"}));
    assert_eq!(st, 409, "{body}");
    assert_eq!(body["field"], "mode");

    // The test button: wrong password, a page that is not the API, then the right one.
    let wrong = json!({"url": z.api_url, "username": zuser, "password": "not-the-password"});
    let (st, r) = post(&s, &tok, "/api/v1/settings/zabbix/test", wrong);
    assert_eq!((st, r["ok"].clone()), (200, json!(false)), "{r}");
    assert_eq!(r["error_kind"], "wrong_credentials", "{r}");
    let html = z.api_url.replace("api_jsonrpc.php", "index.php");
    let (_, r) = post(
        &s,
        &tok,
        "/api/v1/settings/zabbix/test",
        json!({"url": html, "username": zuser, "password": zpass}),
    );
    assert_eq!(r["error_kind"], "not_zabbix", "{r}");

    // The connection goes through a frontend of its own, so that stopping it later does not
    // disturb other tests sharing the Zabbix server.
    let mut front = Frontend::start(z);
    let (st, r) = put(
        &s,
        &tok,
        "/api/v1/settings/zabbix",
        json!({"url": front.url, "username": zuser, "password": zpass, "sync_interval_s": 5, "timeout_s": 2}),
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["has_password"], true);
    assert!(!r.to_string().contains(&zpass), "secret returned: {r}");
    // No body: the stored connection is tested.
    let r: Value = client()
        .post(format!("http://{}/api/v1/settings/zabbix/test", s.addr))
        .bearer_auth(&tok)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
    assert!(r["version"].as_str().unwrap().starts_with("6.0"), "{r}");

    let (st, r) = put(&s, &tok, "/api/v1/settings/mode", json!({"mode": "hybrid"}));
    assert_eq!((st, r["mode"].as_str()), (200, Some("hybrid")), "{r}");

    // Hosts become devices within one sync; ours is matched, not duplicated.
    let atm_dev = eventually(
        "the Zabbix host as a device",
        Duration::from_secs(30),
        || {
            let (_, r) = get(&s, &tok, &format!("/api/v1/devices?search={atm}"));
            r["items"].as_array()?.first().cloned()
        },
    );
    assert_eq!(atm_dev["source"], "zabbix");
    assert_eq!(atm_dev["sources"], json!(["zabbix"]));
    assert_eq!(atm_dev["zabbix_hostid"].to_string(), atm_id);
    assert_eq!(atm_dev["ip"], ip(1));
    let (_, r) = get(&s, &tok, &format!("/api/v1/devices?search=127.62.{third}."));
    let items = r["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "one record per device: {r}");
    let merged = items.iter().find(|d| d["id"] == ours_id.as_str()).unwrap();
    assert_eq!(merged["sources"], json!(["standalone", "zabbix"]));
    assert_eq!(merged["name"], "our-core");
    let (_, groups) = get(&s, &tok, "/api/v1/device-groups");
    assert!(groups.to_string().contains(&group), "{groups}");

    // A problem fires: it is an alert of origin zabbix, severity disaster -> critical.
    send(&atm, "cpu.trap", "97");
    send(&atm, "icmpping", "1");
    let alert = eventually(
        "the Zabbix problem as an alert",
        Duration::from_secs(30),
        || {
            let (_, r) = get(&s, &tok, "/api/v1/monitoring/alerts/active");
            r.as_array()?
                .iter()
                .find(|a| a["origin"] == "zabbix" && a["device"] == atm.as_str())
                .cloned()
        },
    );
    assert_eq!(alert["severity"], "critical", "{alert}");
    assert_eq!(alert["state"], "firing");
    assert_eq!(alert["device_id"], atm_dev["id"]);
    assert_eq!(alert["acknowledged"], false);
    let (_, r) = get(&s, &tok, "/api/v1/monitoring/alerts/active?severity=high");
    assert!(!r.to_string().contains(&atm), "severity filter: {r}");

    // Zabbix' icmpping is the state of a device only Zabbix watches.
    let row = eventually(
        "icmpping in the ICMP status",
        Duration::from_secs(30),
        || {
            let (_, r) = get(
                &s,
                &tok,
                &format!("/api/v1/monitoring/icmp/status?search={atm}"),
            );
            r.as_array()?
                .first()
                .filter(|d| d["state"] == "up")
                .cloned()
        },
    );
    assert_eq!(row["source"], "zabbix", "{row}");
    // ... and its history, read from Zabbix (history.get), and a PromQL series.
    let dev_id = atm_dev["id"].as_str().unwrap();
    let (st, h) = get(
        &s,
        &tok,
        &format!("/api/v1/monitoring/icmp/history/{dev_id}"),
    );
    assert_eq!(st, 200, "{h}");
    assert_eq!(
        h["up"].as_array().unwrap().last().unwrap()["value"],
        1.0,
        "{h}"
    );
    let q =
        format!("/api/v1/query?query=ping_up%7Bsource%3D%22zabbix%22%2Cdevice%3D%22{atm}%22%7D");
    let v = eventually(
        "ping_up from Zabbix in PromQL",
        Duration::from_secs(30),
        || {
            let (_, r) = get(&s, &tok, &q);
            r["data"]["result"].as_array()?.first()?["value"][1]
                .as_str()
                .map(str::to_string)
        },
    );
    assert_eq!(v, "1");
    // An interface item in bits per second, as Zabbix' templates keep them: bytes per second here.
    send(&atm, "net.if.in[eth0]", "8000");
    let q = format!(
        "/api/v1/query?query=interface_in_octets_per_second%7Bsource%3D%22zabbix%22%2CifName%3D%22eth0%22%2Cdevice%3D%22{atm}%22%7D"
    );
    let v = eventually(
        "an interface series from Zabbix in PromQL",
        Duration::from_secs(30),
        || {
            let (_, r) = get(&s, &tok, &q);
            r["data"]["result"].as_array()?.first()?["value"][1]
                .as_str()
                .map(str::to_string)
        },
    );
    assert_eq!(v, "1000");

    // Acknowledge from WARD FLUX: it lands in Zabbix with the comment.
    let (st, r) = post(
        &s,
        &tok,
        &format!(
            "/api/v1/monitoring/alerts/{}/acknowledge",
            alert["id"].as_str().unwrap()
        ),
        json!({"comment": "field team on the way"}),
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["acknowledged"], true);
    let event: u64 = alert["labels"]["zabbix_eventid"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let ev = rpc(
        "event.get",
        json!({"eventids": [event.to_string()], "output": ["acknowledged"], "select_acknowledges": ["message"]}),
    );
    assert_eq!(ev[0]["acknowledged"], "1", "{ev}");
    assert!(ev.to_string().contains("field team on the way"), "{ev}");

    // The frontend goes away: data stays, marked stale with the error's kind.
    front.stop();
    let status = eventually(
        "stale after the frontend stopped",
        Duration::from_secs(30),
        || {
            let (_, r) = get(&s, &tok, "/api/v1/zabbix/status");
            (r["stale"] == true).then_some(r)
        },
    );
    assert_eq!(status["error_kind"], "unreachable", "{status}");
    assert!(status["age_s"].as_i64().unwrap() >= 0);
    let resp = client()
        .get(format!("http://{}/api/v1/monitoring/alerts/active", s.addr))
        .bearer_auth(&tok)
        .send()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let warning = resp.headers()["warning"].to_str().unwrap().to_string();
    assert!(
        warning.starts_with("110 ") && warning.contains("unreachable"),
        "{warning}"
    );
    let r: Value = resp.json().unwrap();
    assert!(
        r.to_string().contains(&atm),
        "cached problems still shown: {r}"
    );
    let (_, r) = get(&s, &tok, &format!("/api/v1/devices?search={atm}"));
    assert_eq!(r["items"].as_array().unwrap().len(), 1);

    // Standalone again: no Zabbix alerts.
    let (st, _) = put(
        &s,
        &tok,
        "/api/v1/settings/mode",
        json!({"mode": "standalone"}),
    );
    assert_eq!(st, 200);
    let (_, r) = get(&s, &tok, "/api/v1/monitoring/alerts/active");
    assert!(!r.to_string().contains("\"zabbix\""), "{r}");
    let log = s.stderr.lock().unwrap().clone();
    assert!(!log.contains(&zpass), "the Zabbix password is in the log");
}

/// The migration through the server's API: a Zabbix SNMP host (community from a host
/// macro, Zabbix' "Cisco IOS by SNMP" template) pointing at snmpsim's Catalyst 3750 becomes
/// a standalone device with its credential and our Cisco template, which our poller then
/// polls (avgBusy1 = 14 % in the recording); a dry run first writes nothing, a rerun
/// changes nothing.
#[test]
fn imported_zabbix_snmp_hosts_are_polled_by_the_standalone_engine() {
    let z = Zabbix::shared();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rpc = |m: &str, p: Value| rt.block_on(z.rpc(m, p));
    let sim = wardflux_testkit::snmp::snmpsim(&[]);
    let t = unique("imp");
    let gid = rpc("hostgroup.create", json!({"name": t}))["groupids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let tpl = rpc(
        "template.get",
        json!({"output": ["templateid"], "filter": {"host": ["Cisco IOS by SNMP"]}}),
    );
    let tpl = tpl[0]["templateid"]
        .as_str()
        .expect("Zabbix 6.0 ships Cisco IOS by SNMP");
    let host = format!("{t}-cat");
    rpc(
        "host.create",
        json!({"host": host, "groups": [{"groupid": gid}], "templates": [{"templateid": tpl}],
               "macros": [{"macro": "{$SNMP_COMMUNITY}", "value": "cisco3750"}],
               "interfaces": [{"type": 2, "main": 1, "useip": 1, "ip": "127.0.0.1", "dns": "",
                               "port": sim.addr.port().to_string(),
                               "details": {"version": 2, "bulk": 1, "community": "{$SNMP_COMMUNITY}"}}]}),
    );

    let data = tempfile::tempdir().unwrap();
    let s = start(data.path(), Some(PW));
    wait_healthy(&s);
    let tok = login(&s, PW);
    let (st, r) = post(&s, &tok, "/api/v1/zabbix/import", json!({"groups": [t]}));
    assert_eq!(st, 409, "no connection yet: {r}");
    let (st, r) = put(
        &s,
        &tok,
        "/api/v1/settings/zabbix",
        json!({"url": z.api_url, "username": z.user, "password": z.password}),
    );
    assert_eq!(st, 200, "{r}");
    let (st, plan) = post(
        &s,
        &tok,
        "/api/v1/zabbix/import",
        json!({"groups": [t], "dry_run": true}),
    );
    assert_eq!(st, 200, "{plan}");
    assert_eq!(plan["created"].as_array().unwrap().len(), 1, "{plan}");
    assert_eq!(
        plan["created"][0]["templates"],
        json!(["Cisco IOS/IOS-XE"]),
        "{plan}"
    );
    let (_, devs) = get(&s, &tok, "/api/v1/devices");
    assert_eq!(devs["total"], 0, "a dry run writes nothing");

    let (st, r) = post(&s, &tok, "/api/v1/zabbix/import", json!({"groups": [t]}));
    assert_eq!(st, 200, "{r}");
    let id = r["created"][0]["device_id"].as_str().unwrap().to_string();
    let (_, dev) = get(&s, &tok, &format!("/api/v1/devices/{id}"));
    assert_eq!(dev["source"], "standalone");
    assert_eq!(dev["snmp_port"], sim.addr.port());
    // Polled by our engine with the imported credential and template.
    let items = poll_now(&s, &tok, &id, Duration::from_secs(20));
    let cpu = polled_item(&items, "cpu_usage");
    assert_eq!(cpu["status"], "ok", "{cpu}");
    assert_eq!(cpu["last_value"], json!(14.0), "avgBusy1 in the recording");

    let (_, again) = post(&s, &tok, "/api/v1/zabbix/import", json!({"groups": [t]}));
    assert_eq!(again["created"].as_array().unwrap().len(), 0, "{again}");
    assert_eq!(again["unchanged"].as_array().unwrap().len(), 1, "{again}");
}
