//! The Zabbix client against a real Zabbix 6.0 (server, frontend API, PostgreSQL:
//! `scripts/zabbix-rig.sh`, shared by all tests through `wardflux_testkit::zabbix`). Every
//! test names what it creates with a unique prefix, so tests run at once and reruns do not
//! collide.
//!
//! Only the protocol variants no server here can show (5.0's `user` login and its "blocked"
//! wording, 7.2's Bearer header without the `auth` field) are replayed by a tiny local HTTP
//! server: see `replay` at the end.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};
use wardflux_model::inventory::Secret;
use wardflux_testkit::zabbix::{Zabbix, id, unique};
use wardflux_zabbix::{
    HistoryValue, InterfaceKind, ValueType, ZabbixAuth, ZabbixClient, ZabbixConfig, fetch_snapshot,
};

fn client_as(url: &str, auth: ZabbixAuth) -> ZabbixClient {
    ZabbixClient::new(ZabbixConfig {
        url: url.to_string(),
        auth,
        timeout: Duration::from_secs(10),
    })
    .expect("a valid URL")
}

fn password(user: &str, pass: &str) -> ZabbixAuth {
    ZabbixAuth::Password {
        username: user.to_string(),
        password: Secret::new(pass),
    }
}

fn admin_client() -> ZabbixClient {
    let z = Zabbix::shared();
    // the frontend's base URL: the client appends api_jsonrpc.php
    client_as(&z.frontend_url(), password(&z.user, &z.password))
}

/// Polls `f` until it returns `Some`, at most `secs` seconds.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A group with one host (agent + SNMPv3 interfaces) and a trapper item per `(key, value_type)`.
async fn host_with_items(prefix: &str, items: &[(&str, u8)]) -> (u64, u64, String, Vec<u64>) {
    let z = Zabbix::shared();
    let group = unique(prefix);
    let gid = z.create_group(&group).await;
    let host = unique(prefix);
    let r = z
        .rpc(
            "host.create",
            json!({
                "host": host, "name": format!("{host} visible"),
                "groups": [{"groupid": gid}],
                "interfaces": [
                    {"type": 1, "main": 1, "useip": 1, "ip": "127.0.0.1", "dns": "", "port": "10050"},
                    {"type": 2, "main": 1, "useip": 1, "ip": "127.0.0.2", "dns": "", "port": "161",
                     "details": {"version": 3, "bulk": 1, "securityname": "mon",
                                 "securitylevel": 2, "authprotocol": 1, "authpassphrase": "authpass1",
                                 "privprotocol": 1, "privpassphrase": "privpass1", "contextname": ""}}
                ]
            }),
        )
        .await;
    let hid = id(&r["hostids"][0]);
    let mut item_ids = Vec::new();
    for (key, vt) in items {
        let r = z
            .rpc(
                "item.create",
                json!({"hostid": hid, "name": key, "key_": key, "type": 2, "value_type": vt}),
            )
            .await;
        item_ids.push(id(&r["itemids"][0]));
    }
    (gid, hid, host, item_ids)
}

#[tokio::test]
async fn version_needs_no_credentials() {
    let z = Zabbix::shared();
    // wrong password: apiinfo.version must not need a login
    let c = client_as(&z.api_url, password("nobody", "wrong"));
    let v = c.version().await.unwrap();
    assert_eq!((v.major, v.minor), (6, 0), "{v:?}");
    assert_eq!(c.api_calls(), 1);
}

#[tokio::test]
async fn hosts_groups_and_items_come_back_typed() {
    let (gid, hid, host, items) = host_with_items("typed", &[("icmpping", 3), ("temp", 0)]).await;
    let z = Zabbix::shared();
    z.send_until_processed(&host, "icmpping", "1").await;
    let c = admin_client();
    assert_eq!(c.url(), z.api_url);

    let groups = c.host_groups().await.unwrap();
    assert!(groups.iter().any(|g| g.id == gid), "{groups:?}");

    let hosts = c.hosts(Some(&[gid])).await.unwrap();
    assert_eq!(hosts.len(), 1, "{hosts:?}");
    let h = &hosts[0];
    assert_eq!((h.id, h.host.as_str()), (hid, host.as_str()));
    assert_eq!(h.name, format!("{host} visible"));
    assert!(h.enabled && !h.in_maintenance);
    assert_eq!(h.groups[0].id, gid);
    let snmp_if = h
        .interfaces
        .iter()
        .find(|i| i.kind == InterfaceKind::Snmp)
        .expect("the SNMP interface");
    let snmp = snmp_if.snmp.as_ref().expect("SNMP details");
    assert_eq!((snmp.version, snmp.security_level), (3, 2));
    assert_eq!(snmp.security_name, "mon");
    assert_eq!(snmp.auth_passphrase.expose(), "authpass1");
    assert_eq!(
        (snmp_if.ip.as_str(), snmp_if.port.as_str()),
        ("127.0.0.2", "161")
    );
    let agent = h
        .interfaces
        .iter()
        .find(|i| i.kind == InterfaceKind::Agent)
        .unwrap();
    assert!(agent.snmp.is_none() && agent.main && agent.use_ip);
    assert!(!format!("{h:?}").contains("privpass1"));

    let found = eventually(30, "the icmpping value", || async {
        let items = c.items_by_key(&[hid], "icmpping").await.unwrap();
        items.into_iter().find(|i| i.last_clock.is_some())
    })
    .await;
    assert_eq!(found.id, items[0]);
    assert_eq!(found.value_type, ValueType::Unsigned);
    assert_eq!(found.last_value.as_deref(), Some("1"));
    let temp = c.items_by_key(&[hid], "temp").await.unwrap();
    assert_eq!(temp.len(), 1);
    assert_eq!(
        (temp[0].value_type, temp[0].last_clock),
        (ValueType::Float, None)
    );
}

#[tokio::test]
async fn api_token_works_without_password() {
    let z = Zabbix::shared();
    let user = unique("tok");
    let uid = z.create_user(&user, "Token-pass-123").await;
    let r = z
        .rpc("token.create", json!({"name": unique("t"), "userid": uid}))
        .await;
    let tid = r["tokenids"][0].clone();
    let r = z.rpc("token.generate", json!([tid])).await;
    let token = r[0]["token"].as_str().unwrap().to_string();

    let c = client_as(&z.api_url, ZabbixAuth::ApiToken(Secret::new(token.clone())));
    let v = c.check().await.unwrap();
    assert_eq!(v.major, 6);
    assert!(!c.host_groups().await.unwrap().is_empty());
    assert!(!format!("{c:?}").contains(&token));

    let bad = client_as(
        &z.api_url,
        ZabbixAuth::ApiToken(Secret::new("0".repeat(64))),
    );
    let e = bad.check().await.unwrap_err();
    assert_eq!(e.kind(), "wrong_credentials", "{e}");
}

#[tokio::test]
async fn wrong_password_is_wrong_credentials() {
    let z = Zabbix::shared();
    let user = unique("wrong");
    z.create_user(&user, "Right-pass-123").await;
    let c = client_as(&z.api_url, password(&user, "not-the-password"));
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), "wrong_credentials", "{e}");
    assert!(!e.to_string().contains("not-the-password"));
}

/// Zabbix 6.0 answers a blocked account exactly as a wrong password ("Incorrect user name or
/// password or account is temporarily blocked.", even with the right password), so the
/// client can only say both; 5.0's distinct wording is tested in `replay_5_0`.
#[tokio::test]
async fn blocked_account_on_6_0_says_so_in_the_message() {
    let z = Zabbix::shared();
    let user = unique("blocked");
    z.create_user(&user, "Right-pass-123").await;
    for _ in 0..5 {
        assert!(z.login(&user, "bad").await.is_err());
    }
    let c = client_as(&z.api_url, password(&user, "Right-pass-123"));
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), "wrong_credentials", "{e}");
    assert!(e.to_string().contains("temporarily blocked"), "{e}");
}

#[tokio::test]
async fn ended_session_logs_in_again_once_then_fails_clearly() {
    let z = Zabbix::shared();
    let user = unique("sess");
    let uid = z.create_user(&user, "First-pass-123").await;
    let c = client_as(&z.api_url, password(&user, "First-pass-123"));
    c.host_groups().await.unwrap();
    let n = c.api_calls();

    // out of band, what user.logout does to the session: mark it passive
    z.sql(&format!(
        "UPDATE sessions SET status = 1 WHERE userid = {uid}"
    ));
    c.host_groups()
        .await
        .expect("logged in again transparently");
    assert_eq!(c.api_calls() - n, 3, "refused call, login, retried call");

    // the session ends again and the password changed: one login attempt, then an error
    z.rpc(
        "user.update",
        json!({"userid": uid, "passwd": "Second-pass-123"}),
    )
    .await;
    z.sql(&format!(
        "UPDATE sessions SET status = 1 WHERE userid = {uid}"
    ));
    let n = c.api_calls();
    let e = c.host_groups().await.unwrap_err();
    assert_eq!(e.kind(), "wrong_credentials", "{e}");
    assert_eq!(c.api_calls() - n, 2, "refused call, failed login, no loop");
}

#[tokio::test]
async fn closed_port_is_unreachable() {
    let port = wardflux_testkit::free_port();
    let c = client_as(
        &format!("http://127.0.0.1:{port}/zabbix"),
        password("a", "b"),
    );
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), "unreachable", "{e}");
}

#[tokio::test]
async fn silent_listener_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // accepts and holds connections, never answers
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let c = ZabbixClient::new(ZabbixConfig {
        url: format!("http://{addr}/"),
        auth: password("a", "b"),
        timeout: Duration::from_millis(500),
    })
    .unwrap();
    let t0 = Instant::now();
    let e = c.version().await.unwrap_err();
    assert_eq!(e.kind(), "timeout", "{e}");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    holder.abort();
}

#[tokio::test]
async fn html_page_is_not_zabbix() {
    let z = Zabbix::shared();
    let c = client_as(
        &format!("{}/index.php", z.frontend_url()),
        password(&z.user, &z.password),
    );
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), "not_zabbix", "{e}");
}

#[tokio::test]
async fn problems_fire_and_acknowledge_lands_in_zabbix() {
    let z = Zabbix::shared();
    let (_, hid, host, _) = host_with_items("prob", &[("load", 3)]).await;
    let r = z
        .rpc(
            "trigger.create",
            json!({"description": format!("{host} load high"),
                   "expression": format!("last(/{host}/load)>5"), "priority": 4}),
        )
        .await;
    let tid = id(&r["triggerids"][0]);
    z.send_until_processed(&host, "load", "10").await;

    let c = admin_client();
    let p = eventually(30, "the problem", || async {
        c.problems()
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.trigger_id == tid)
    })
    .await;
    assert_eq!(p.severity, 4);
    assert_eq!(p.name, format!("{host} load high"));
    assert_eq!(p.hosts, vec![(hid, format!("{host} visible"))]);
    assert!(!p.acknowledged && p.acks.is_empty());

    c.acknowledge(&[p.event_id], "looking into it")
        .await
        .unwrap();
    let ev = z
        .rpc(
            "event.get",
            json!({"eventids": [p.event_id], "output": ["acknowledged"],
                   "select_acknowledges": ["message", "action"]}),
        )
        .await;
    assert_eq!(ev[0]["acknowledged"], "1", "{ev}");
    assert_eq!(
        ev[0]["acknowledges"][0]["message"], "looking into it",
        "{ev}"
    );

    let p = c
        .problems()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.trigger_id == tid)
        .unwrap();
    assert!(p.acknowledged);
    assert_eq!(p.acks[0].message, "looking into it");
    assert_eq!(p.acks[0].user, z.user);
    assert_eq!(p.acks[0].action & 6, 6);
}

#[tokio::test]
async fn history_over_several_windows_returns_the_sent_values() {
    let z = Zabbix::shared();
    let (_, hid, host, _) = host_with_items("hist", &[("rtt", 0)]).await;
    let now = Utc::now().timestamp();
    // 20 values over 19 hours: the 6 h windows cut through them
    let values: Vec<(i64, String)> = (0..20)
        .map(|i| (now - 19 * 3600 + i * 3600, format!("{}.5", i)))
        .collect();
    eventually(30, "the timed values", || async {
        z.send_values(&host, "rtt", &values).await.ok()
    })
    .await;
    let c = admin_client();
    let item = c.items_by_key(&[hid], "rtt").await.unwrap().remove(0);
    let from = chrono::DateTime::from_timestamp(now - 20 * 3600, 0).unwrap();
    let till = Utc::now();
    let points = eventually(30, "all values in history", || async {
        let p = c.history(&item, from, till).await.unwrap();
        (p.len() == values.len()).then_some(p)
    })
    .await;
    for (p, (t, v)) in points.iter().zip(&values) {
        assert_eq!(p.clock.timestamp(), *t);
        assert_eq!(p.value, HistoryValue::Number(v.parse().unwrap()));
    }
    let n = c.api_calls();
    let series = c.series(&item, from, till).await.unwrap();
    assert_eq!(series.len(), values.len());
    assert_eq!(c.api_calls() - n, 4, "20 h in 6 h windows");
    let trends = c
        .trends(&item, till - TimeDelta::days(40), till)
        .await
        .unwrap();
    assert!(trends.iter().all(|t| t.num > 0), "{trends:?}");
}

#[tokio::test]
async fn snapshot_reads_everything_and_counts_calls() {
    let z = Zabbix::shared();
    let (gid, hid, host, _) = host_with_items("snap", &[("icmpping", 3)]).await;
    z.send_until_processed(&host, "icmpping", "0").await;
    let c = admin_client();
    let s = eventually(30, "the host's ICMP state", || async {
        let s = fetch_snapshot(&c).await.unwrap();
        s.icmp.contains_key(&hid).then_some(s)
    })
    .await;
    assert!(!s.icmp[&hid].up);
    assert!(s.groups.iter().any(|g| g.id == gid));
    assert!(s.hosts.iter().any(|h| h.id == hid));
    // a warm client: hostgroup.get, host.get, problem.get, two item.get (icmpping and the
    // net.if.* prefix) per 500 hosts, then trigger.get when there are problems and
    // user.get when they have updates (other tests' problems may be open)
    let calls = c.api_calls();
    let s = fetch_snapshot(&c).await.unwrap();
    assert_eq!(s.api_calls, c.api_calls() - calls);
    let expected = 3
        + 2 * s.hosts.len().div_ceil(500) as u64
        + u64::from(!s.problems.is_empty())
        + u64::from(s.problems.iter().any(|p| !p.acks.is_empty()));
    assert_eq!(s.api_calls, expected);
}

/// A tiny HTTP server that replays a scripted exchange and checks each request's shape.
/// Used only for Zabbix versions no server here can run (Debian 12 ships 6.0 only); the
/// answers are written from Zabbix's documented request and answer shapes for that version.
mod replay {
    use serde_json::Value;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A check of one request: its lower-cased head (request line and headers) and body.
    pub type Check = Box<dyn Fn(&str, &Value) + Send + Sync>;

    /// One expected request: the method, a check of it, and the answer.
    pub struct Step {
        pub method: &'static str,
        pub check: Check,
        pub answer: Value,
    }

    /// Serves `steps` in order on 127.0.0.1; returns the URL. A request out of order or of
    /// the wrong shape makes the server answer HTTP 500, which the client reports.
    pub async fn serve(steps: Vec<Step>) -> (String, tokio::task::JoinHandle<Result<(), String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/zabbix", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            for step in steps {
                let (mut s, _) = listener.accept().await.map_err(|e| e.to_string())?;
                let mut buf = Vec::new();
                let (head, body) = loop {
                    let mut chunk = [0u8; 4096];
                    let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
                    if n == 0 {
                        return Err("connection closed".into());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let head = text[..end].to_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map(|v| v.trim().parse().unwrap())
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break (head, text[end + 4..end + 4 + len].to_string());
                        }
                    }
                };
                let body: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
                let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    assert_eq!(body["method"], step.method, "{body}");
                    (step.check)(&head, &body)
                }));
                let answer =
                    serde_json::json!({"jsonrpc": "2.0", "result": step.answer, "id": body["id"]});
                let answer = match step.answer.get("error") {
                    Some(e) => serde_json::json!({"jsonrpc": "2.0", "error": e, "id": body["id"]}),
                    None => answer,
                };
                let (status, text) = match ok {
                    Ok(()) => ("200 OK", answer.to_string()),
                    Err(_) => ("500 Bad Shape", "wrong request shape".to_string()),
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                s.write_all(resp.as_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
                if ok.is_err() {
                    return Err(format!(
                        "bad request shape for {}: {head} {body}",
                        step.method
                    ));
                }
            }
            Ok(())
        });
        (url, task)
    }

    pub fn no_auth(head: &str, body: &Value) {
        assert!(!head.contains("authorization:"), "{head}");
        assert!(body.get("auth").is_none(), "{body}");
    }
}

/// Zabbix 5.0 (not installable here): `user` login field, token in the body's `auth` field,
/// `selectGroups`, and 5.0's own "Account is blocked" wording.
#[tokio::test]
async fn replay_5_0_user_login_and_auth_field() {
    use replay::{Step, no_auth};
    let steps = vec![
        Step {
            method: "apiinfo.version",
            check: Box::new(no_auth),
            answer: json!("5.0.42"),
        },
        Step {
            method: "user.login",
            check: Box::new(|h, b| {
                no_auth(h, b);
                assert_eq!(b["params"]["user"], "Admin");
                assert!(b["params"].get("username").is_none());
            }),
            answer: json!("0424bd59b807674191e7d77572075f33"),
        },
        Step {
            method: "host.get",
            check: Box::new(|h, b| {
                assert!(!h.contains("authorization:"), "{h}");
                assert_eq!(b["auth"], "0424bd59b807674191e7d77572075f33");
                assert!(b["params"].get("selectGroups").is_some(), "{b}");
                assert!(b["params"]["limit"].is_u64());
            }),
            answer: json!([{"hostid": "10084", "host": "Zabbix server", "name": "Zabbix server",
                            "status": "0", "maintenance_status": "0",
                            "groups": [{"groupid": "4", "name": "Zabbix servers"}],
                            "interfaces": [{"interfaceid": "1", "type": "2", "main": "1",
                                "useip": "1", "ip": "127.0.0.1", "dns": "", "port": "161",
                                "details": {"version": "2", "bulk": "1", "community": "{$SNMP_COMMUNITY}"}}]}]),
        },
    ];
    let (url, server) = replay::serve(steps).await;
    let c = client_as(&url, password("Admin", "zabbix"));
    let hosts = c.hosts(None).await.unwrap();
    assert_eq!(hosts[0].groups[0].name, "Zabbix servers");
    let snmp = hosts[0].interfaces[0].snmp.as_ref().unwrap();
    assert_eq!(
        (snmp.version, snmp.community.expose()),
        (2, "{$SNMP_COMMUNITY}")
    );
    server.await.unwrap().unwrap();

    let steps = vec![
        Step {
            method: "apiinfo.version",
            check: Box::new(no_auth),
            answer: json!("5.0.42"),
        },
        Step {
            method: "user.login",
            check: Box::new(no_auth),
            answer: json!({"error": {"code": -32602, "message": "Invalid params.",
                                     "data": "Account is blocked for 29 seconds."}}),
        },
    ];
    let (url, server) = replay::serve(steps).await;
    let e = client_as(&url, password("Admin", "zabbix"))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "blocked", "{e}");
    server.await.unwrap().unwrap();
}

/// Zabbix 7.2 (not installable here): `username` login, then `Authorization: Bearer` and no
/// `auth` field (7.2 refuses it); `apiinfo.version` without either; `selectHostGroups`.
#[tokio::test]
async fn replay_7_2_bearer_without_auth_field() {
    use replay::{Step, no_auth};
    let bearer = |h: &str, b: &Value| {
        assert!(
            h.contains("authorization: bearer 5fce1b3e34b520afeffb37ce08c7cd66"),
            "{h}"
        );
        assert!(b.get("auth").is_none(), "{b}");
    };
    let steps = vec![
        Step {
            method: "apiinfo.version",
            check: Box::new(no_auth),
            answer: json!("7.2.3"),
        },
        Step {
            method: "user.login",
            check: Box::new(|h, b| {
                no_auth(h, b);
                assert_eq!(b["params"]["username"], "Admin");
            }),
            answer: json!("5fce1b3e34b520afeffb37ce08c7cd66"),
        },
        Step {
            method: "hostgroup.get",
            check: Box::new(bearer),
            answer: json!([{"groupid": "2", "name": "Linux servers"}]),
        },
        Step {
            method: "host.get",
            check: Box::new(move |h, b| {
                bearer(h, b);
                assert!(b["params"].get("selectHostGroups").is_some(), "{b}");
                assert!(b["params"].get("selectGroups").is_none(), "{b}");
            }),
            answer: json!([{"hostid": "10084", "host": "zbx", "name": "zbx", "status": "1",
                            "maintenance_status": "0",
                            "hostgroups": [{"groupid": "2", "name": "Linux servers"}],
                            "interfaces": []}]),
        },
    ];
    let (url, server) = replay::serve(steps).await;
    let c = client_as(&url, password("Admin", "zabbix"));
    assert_eq!(c.check().await.unwrap().raw, "7.2.3");
    let hosts = c.hosts(None).await.unwrap();
    assert!(!hosts[0].enabled);
    assert_eq!(hosts[0].groups[0].id, 2);
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn hosts_for_import_resolve_macros_and_name_templates() {
    let z = Zabbix::shared();
    let group = unique("imp");
    let gid = z.create_group(&group).await;
    let tpl = z
        .rpc(
            "template.get",
            json!({"output": ["templateid", "name"], "filter": {"name": ["ICMP Ping"]}}),
        )
        .await;
    let tpl_id = tpl[0]["templateid"].clone();
    let snmp_host = unique("imp-snmp");
    z.rpc(
        "host.create",
        json!({
            "host": snmp_host, "groups": [{"groupid": gid}],
            "templates": [{"templateid": tpl_id}],
            "macros": [{"macro": "{$SNMP_PORT_X}", "value": "1161"}],
            "interfaces": [{"type": 2, "main": 1, "useip": 1, "ip": "127.1.0.1", "dns": "",
                            "port": "{$SNMP_PORT_X}",
                            "details": {"version": 2, "bulk": 1, "community": "{$SNMP_COMMUNITY}"}}]
        }),
    )
    .await;
    let agent_host = unique("imp-agent");
    z.rpc(
        "host.create",
        json!({
            "host": agent_host, "groups": [{"groupid": gid}],
            "interfaces": [{"type": 1, "main": 1, "useip": 1, "ip": "127.0.0.1", "dns": "", "port": "10050"}]
        }),
    )
    .await;

    let c = admin_client();
    let hosts = c
        .hosts_for_import(std::slice::from_ref(&group))
        .await
        .unwrap();
    assert_eq!(hosts.len(), 1, "only the SNMP host: {hosts:?}");
    let h = &hosts[0];
    assert_eq!(h.host.host, snmp_host);
    assert_eq!(h.templates, vec!["ICMP Ping".to_string()]);
    let i = &h.host.interfaces[0];
    let snmp = i.snmp.as_ref().unwrap();
    // {$SNMP_COMMUNITY} is a global macro of a stock Zabbix ("public"); the port a host macro
    assert_eq!(h.resolve(snmp.community.expose()), "public");
    assert_eq!(h.resolve(&i.port), "1161");

    let e = c
        .hosts_for_import(&[unique("no-such-group")])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), "not_found", "{e}");
}
