//! The real binary, end to end: first start, restart, kill -9, secrets, CLI commands.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::*;

const PW: &str = "first-admin-pw";
const COMMUNITY: &str = "Zq7-community-never-logged";
const V3_AUTH: &str = "Zq7-authkey-never-logged";

fn file_contains(path: &Path, needle: &str) -> bool {
    std::fs::read(path)
        .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .unwrap_or(false)
}

#[test]
fn device_survives_restart_and_kill9_and_secrets_stay_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start(&data, Some(PW));
    wait_healthy(&s);
    assert!(data.join("wardflux.db").exists());
    let key_file = data.join("encryption.key");
    let key_before = std::fs::read(&key_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "key file mode");
    }
    let tok = login(&s, PW);
    let (st, dev) = post(
        &s,
        &tok,
        "/api/v1/devices",
        json!({"name": "atm-17", "ip": "127.20.0.17"}),
    );
    assert_eq!(st, 201, "{dev}");
    let (st, _) = post(
        &s,
        &tok,
        "/api/v1/monitoring/snmp/credentials",
        json!({"name": "c", "version": "v2c", "community": COMMUNITY}),
    );
    assert_eq!(st, 201);
    let (st, _) = post(
        &s,
        &tok,
        "/api/v1/monitoring/snmp/credentials",
        json!({"name": "v3", "version": "v3", "username": "noc", "auth_protocol": "SHA-512", "auth_key": V3_AUTH}),
    );
    assert_eq!(st, 201);
    let (st, dup) = post(
        &s,
        &tok,
        "/api/v1/devices",
        json!({"name": "atm-18", "ip": "127.20.0.17"}),
    );
    assert_eq!(st, 409, "{dup}");

    // The server's own metrics include the ICMP scheduler, which picked the device up.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = client()
            .get(format!("http://{}/metrics", s.addr))
            .bearer_auth(&tok)
            .send()
            .unwrap()
            .text()
            .unwrap();
        if text.contains("wardflux_scheduler_jobs{scheduler=\"monitoring\"} 1") {
            assert!(text.contains("wardflux_http_requests_total"), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "scheduler metrics missing from /metrics:\n{text}"
        );
        std::thread::yield_now();
    }

    // kill -9: no graceful shutdown.
    let mut s = s;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let logs1 = s.stderr.lock().unwrap().clone() + &s.stdout_head;
    drop(s);

    let s = start(&data, None);
    wait_healthy(&s);
    assert!(
        !s.stdout_head.contains("password:"),
        "admin bootstrapped twice"
    );
    let tok = login(&s, PW);
    let (st, got) = get(
        &s,
        &tok,
        &format!("/api/v1/devices/{}", dev["id"].as_str().unwrap()),
    );
    assert_eq!(st, 200);
    assert_eq!(got["name"], "atm-17");
    assert_eq!(
        std::fs::read(&key_file).unwrap(),
        key_before,
        "key must persist"
    );
    let (_, creds) = get(&s, &tok, "/api/v1/monitoring/snmp/credentials");
    assert_eq!(creds.as_array().unwrap().len(), 2);
    let logs2 = s.stderr.lock().unwrap().clone() + &s.stdout_head;
    drop(s);

    for secret in [COMMUNITY, V3_AUTH, PW] {
        assert!(
            !logs1.contains(secret) && !logs2.contains(secret),
            "{secret} in logs"
        );
        for f in ["wardflux.db", "wardflux.db-wal"] {
            assert!(!file_contains(&data.join(f), secret), "{secret} in {f}");
        }
    }
}

#[test]
fn first_start_prints_a_generated_admin_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let s = start(&data, None);
    let pw = s
        .stdout_head
        .lines()
        .find_map(|l| l.split("password: ").nth(1))
        .expect("generated password printed")
        .trim()
        .to_string();
    assert!(pw.len() >= 16);
    wait_healthy(&s);
    login(&s, &pw);
    assert!(
        !s.stderr.lock().unwrap().contains(&pw),
        "password in the log"
    );
}

fn cli(data: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    use std::io::Write;
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("WARDFLUX_CONFIG")
        .env_remove("WARDFLUX_DATABASE_URL")
        .env_remove("WARDFLUX_ENCRYPTION_KEY")
        .env_remove("WARDFLUX_USER_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn cli_users_config_check_and_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let (c, out, err) = cli(&data, &["migrate"], "", &[]);
    assert_eq!(c, 0, "{out}{err}");
    let (c, out, err) = cli(
        &data,
        &["user", "add", "noc", "--role", "operator"],
        "noc-password-1\n",
        &[],
    );
    assert_eq!(c, 0, "{out}{err}");
    let (c, out, _) = cli(&data, &["user", "list"], "", &[]);
    assert_eq!(c, 0);
    assert!(out.contains("noc") && out.contains("operator"), "{out}");
    let (c, _, err) = cli(
        &data,
        &["user", "add", "noc", "--role", "viewer"],
        "noc-password-2\n",
        &[],
    );
    assert_ne!(c, 0, "duplicate user must fail");
    assert!(err.contains("username"), "{err}");
    let (c, _, err) = cli(
        &data,
        &["user", "add", "x", "--role", "root"],
        "password-123\n",
        &[],
    );
    assert_ne!(c, 0);
    assert!(err.contains("role"), "{err}");
    let (c, _, _) = cli(&data, &["user", "passwd", "noc"], "new-noc-password\n", &[]);
    assert_eq!(c, 0);

    let (c, out, _) = cli(
        &data,
        &["config", "check"],
        "",
        &[("WARDFLUX_ADMIN_PASSWORD", "shh-very-secret")],
    );
    assert_eq!(c, 0);
    assert!(
        out.contains("configuration OK") && !out.contains("shh-very-secret"),
        "{out}"
    );
    for (k, v, key) in [
        ("WARDFLUX_LISTEN", "not-an-address", "listen"),
        ("WARDFLUX_DATABASE_URL", "mysql://x", "database_url"),
        ("WARDFLUX_ENCRYPTION_KEY", "abc", "encryption_key"),
    ] {
        let (c, _, err) = cli(&data, &["config", "check"], "", &[(k, v)]);
        assert_ne!(c, 0);
        assert!(err.contains(&format!("`{key}`")), "{err}");
    }

    // Store a secret, rotate, and read it back with the new key only.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = format!("sqlite:{}?mode=rwc", data.join("wardflux.db").display());
    let cred_id = rt.block_on(async {
        let (cipher, created) = wardflux_store::Cipher::load_or_create(&data).unwrap();
        assert!(!created);
        let store = wardflux_store::Store::connect(&url, cipher).await.unwrap();
        let mut input = wardflux_model::inventory::SnmpCredentialInput {
            name: "c".into(),
            version: Some(wardflux_model::inventory::SnmpVersion::V2c),
            community: Some(wardflux_model::inventory::Secret::new(COMMUNITY)),
            ..Default::default()
        };
        input.validate().unwrap();
        store
            .create_snmp_credential(&wardflux_model::inventory::Actor::system(), input)
            .await
            .unwrap()
            .id
    });
    let old_key = std::fs::read_to_string(data.join("encryption.key")).unwrap();
    let (c, out, err) = cli(&data, &["keys", "rotate"], "", &[]);
    assert_eq!(c, 0, "{out}{err}");
    let new_key = std::fs::read_to_string(data.join("encryption.key")).unwrap();
    assert_ne!(old_key, new_key);
    assert!(!data.join("encryption.key.next").exists());
    rt.block_on(async {
        let new = wardflux_store::Cipher::from_key(new_key.trim()).unwrap();
        let store = wardflux_store::Store::connect(&url, new).await.unwrap();
        let s = store.snmp_secrets(cred_id).await.unwrap();
        assert_eq!(s.community.unwrap().expose(), COMMUNITY);
        let old = wardflux_store::Cipher::from_key(old_key.trim()).unwrap();
        let store = wardflux_store::Store::connect(&url, old).await.unwrap();
        assert!(
            store.snmp_secrets(cred_id).await.is_err(),
            "old key must no longer decrypt"
        );
    });
}

/// A minimal HTTP receiver (std only): answers 200 and hands each JSON body to the test.
fn webhook_receiver() -> (String, std::sync::mpsc::Receiver<(Instant, Value)>) {
    use std::io::Write;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            let at = Instant::now();
            let _ =
                c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = tx.send((at, serde_json::from_slice(&body).unwrap_or(Value::Null)));
        }
    });
    (url, rx)
}

fn import(s: &Server, tok: &str, text: &str) -> Instant {
    let t = Instant::now();
    let r = client()
        .post(format!("http://{}/api/v1/import/prometheus", s.addr))
        .bearer_auth(tok)
        .body(text.to_string())
        .send()
        .unwrap();
    assert_eq!(r.status(), 204, "import");
    t
}

#[test]
fn an_imported_sample_alerts_within_a_second_and_kill9_fires_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (url, hooks) = webhook_receiver();
    let s = start(&data, Some(PW));
    wait_healthy(&s);
    let tok = login(&s, PW);
    let (st, v) = post(
        &s,
        &tok,
        "/api/v1/monitoring/alerts/channels",
        json!({"name": "webhook", "type": "webhook", "config": {"url": url}}),
    );
    assert_eq!(st, 201, "{v}");
    let (st, v) = post(
        &s,
        &tok,
        "/api/v1/monitoring/alerts/rules",
        json!({"name": "High CPU", "expression": "cpu_usage > 90", "severity": "critical",
               "notifications": ["webhook"], "message": "CPU on {{ $labels.device }} is {{ $value }}%"}),
    );
    assert_eq!(st, 201, "{v}");
    let (_, rules) = get(&s, &tok, "/api/v1/monitoring/alerts/rules");
    let names: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Device flapping", "Device unreachable", "High CPU"]);

    let sent = import(&s, &tok, "cpu_usage{device=\"core-1\"} 95\n");
    let (at, body) = hooks
        .recv_timeout(Duration::from_secs(5))
        .expect("no webhook");
    eprintln!("import -> webhook: {:?}", at - sent);
    assert!(at - sent < Duration::from_secs(1), "took {:?}", at - sent);
    assert_eq!(body["alerts"][0]["message"], "CPU on core-1 is 95%");

    // kill -9, restart: the alert is still active and does not fire again.
    let mut s = s;
    s.child.kill().unwrap();
    let _ = s.child.wait();
    drop(s);
    let s = start(&data, None);
    wait_healthy(&s);
    let tok = login(&s, PW);
    let (_, active) = get(&s, &tok, "/api/v1/monitoring/alerts/active");
    assert_eq!(active.as_array().unwrap().len(), 1, "{active}");
    assert_eq!(active[0]["state"], "firing");
    import(
        &s,
        &tok,
        "cpu_usage{device=\"core-1\"} 96\ncpu_usage{device=\"core-2\"} 99\n",
    );
    let (_, body) = hooks
        .recv_timeout(Duration::from_secs(5))
        .expect("no webhook");
    let alerts = body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "only core-2 is new: {body}");
    assert_eq!(alerts[0]["labels"]["device"], "core-2");
}

/// Issue 12 end to end: the shipped Cisco template applied to a simulated Catalyst 3750
/// (snmpsim, the recording Debian ships: avgBusy1 = 14 %) on a non-standard SNMP port, with
/// the CPU threshold macro overridden below it. Polling the device's items now writes
/// `cpu_usage`, and the template's trigger fires through the alert engine as the device's
/// scoped rule.
#[test]
fn a_template_applied_to_a_catalyst_polls_its_cpu_and_its_trigger_fires() {
    let sim = wardflux_testkit::snmp::snmpsim(&[]);
    let dir = tempfile::tempdir().unwrap();
    let s = start(&dir.path().join("data"), Some(PW));
    wait_healthy(&s);
    let tok = login(&s, PW);
    let (st, dev) = post(
        &s,
        &tok,
        "/api/v1/devices",
        json!({"name": "cat-1", "ip": "127.0.0.1", "snmp_port": sim.addr.port()}),
    );
    assert_eq!(st, 201, "{dev}");
    let id = dev["id"].as_str().unwrap().to_string();
    let (st, v) = post(
        &s,
        &tok,
        "/api/v1/monitoring/snmp/credentials",
        json!({"device_id": id, "version": "v2c", "community": "cisco3750"}),
    );
    assert_eq!(st, 201, "{v}");
    let (_, templates) = get(&s, &tok, "/api/v1/monitoring/templates");
    let cisco = templates
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Cisco IOS/IOS-XE")
        .unwrap_or_else(|| panic!("no shipped Cisco template: {templates}"));
    let tid = cisco["id"].as_str().unwrap();
    let (st, v) = post(
        &s,
        &tok,
        &format!("/api/v1/monitoring/templates/{tid}/apply"),
        json!({"device_ids": [id], "macros": {"{$CPU_HIGH}": "10"}}),
    );
    assert_eq!(st, 200, "{v}");

    // The poller picks the plan up from the store's event; then poll now.
    let items = poll_now(&s, &tok, &id, Duration::from_secs(10));
    let cpu = polled_item(&items, "cpu_usage");
    assert_eq!(cpu["status"], "ok", "{cpu}");
    assert_eq!(cpu["last_value"], json!(14.0), "avgBusy1 in the recording");
    let (_, listed) = get(
        &s,
        &tok,
        &format!("/api/v1/monitoring/items?device_id={id}"),
    );
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["key"] == "cpu_usage" && i["status"] == "ok"),
        "{listed}"
    );

    let alert = eventually(
        "the template's CPU trigger firing",
        Duration::from_secs(10),
        || {
            let (_, active) = get(&s, &tok, "/api/v1/monitoring/alerts/active");
            active
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["state"] == "firing" && a["labels"]["device_id"] == id.as_str())
                .cloned()
        },
    );
    assert_eq!(alert["labels"]["__name__"], Value::Null, "{alert}");
    assert_eq!(alert["severity"], "high", "{alert}");
    assert_eq!(alert["value"], json!(14.0), "{alert}");
    let (_, rules) = get(&s, &tok, "/api/v1/monitoring/alerts/rules");
    let rule = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == alert["rule_id"])
        .unwrap();
    assert!(
        rule["name"]
            .as_str()
            .unwrap()
            .starts_with("Cisco IOS/IOS-XE: High CPU usage")
            && rule["expression"].as_str().unwrap().contains("> 10"),
        "{rule}"
    );
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// A clean stop (SIGTERM) after real work logs no ERROR or WARN: the metric store's final
/// block cut is awaited, not cut off by the runtime's exit ("final block cut failed ... task
/// was cancelled", or the hour left in the WAL); a user's SNMP test that times out is an
/// answer, not an ERROR; each device state change is logged once; and a log written to a
/// pipe has no colour codes.
#[test]
fn a_clean_shutdown_logs_no_error_and_each_state_change_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    // The first start's key-file warning (a real one) belongs to `migrate` here.
    let (c, out, err) = cli(&data, &["migrate"], "", &[]);
    assert_eq!(c, 0, "{out}{err}");
    let mut s = start(&data, Some(PW));
    wait_healthy(&s);
    let tok = login(&s, PW);
    let (st, d) = post(
        &s,
        &tok,
        "/api/v1/devices",
        json!({"name": "loopback-dev", "ip": "127.0.0.1"}),
    );
    assert_eq!(st, 201, "{d}");
    let id = d["id"].as_str().unwrap().to_string();
    eventually("the device is up", Duration::from_secs(30), || {
        let (_, v) = get(&s, &tok, "/api/v1/monitoring/icmp/status");
        v.as_array()?
            .iter()
            .any(|x| x["device_id"] == id.as_str() && x["state"] == "up")
            .then_some(())
    });

    // An SNMP agent that never answers: a bound UDP socket nobody reads.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let (st, v) = post(
        &s,
        &tok,
        "/api/v1/monitoring/snmp/credentials",
        json!({"name": "c", "version": "2c", "community": COMMUNITY}),
    );
    assert_eq!(st, 201, "{v}");
    let (st, v) = post(
        &s,
        &tok,
        "/api/v1/monitoring/snmp/test",
        json!({"device_id": id, "port": port, "timeout_ms": 200, "retries": 0}),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["error"]["kind"], "timeout", "{v}");

    // An hour's worth of samples in the head, so the final cut has work to do.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut text = String::new();
    for series in 0..100 {
        for i in 0..600u64 {
            text.push_str(&format!(
                "shutdown_test{{series=\"{series}\"}} {i} {}\n",
                now_ms - i * 5_000
            ));
        }
    }
    import(&s, &tok, &text);
    let wal = data.join("tsdb/wal");
    let wal_before = dir_bytes(&wal);
    assert!(
        wal_before > 100_000,
        "WAL holds {wal_before} B after the import"
    );

    let pid = s.child.id().to_string();
    let k = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(k.success());
    let status = s.child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    let log = eventually("the log ends", Duration::from_secs(10), || {
        let l = s.stderr.lock().unwrap().clone();
        l.contains("stopped").then_some(l)
    });
    assert!(!log.contains('\u{1b}'), "colour codes in a piped log");
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| {
            // the level is the second field ("2026-...Z  WARN target: ...")
            let level = l.split_whitespace().nth(1).unwrap_or("");
            level.contains("ERROR") || level.contains("WARN")
        })
        .collect();
    assert!(bad.is_empty(), "ERROR/WARN lines:\n{}", bad.join("\n"));
    let changes = log
        .lines()
        .filter(|l| l.contains("loopback-dev") && l.contains("state"))
        .count();
    assert_eq!(changes, 1, "unknown->up logged {changes} times:\n{log}");
    // The final cut ran to its end: the imported hour is in a block, not left in the WAL.
    let wal_after = dir_bytes(&wal);
    assert!(
        wal_after < wal_before / 10,
        "WAL {wal_before} B before the stop, {wal_after} B after"
    );
}

/// `--help` lists every command, the network tools included, and shows the flags'
/// environment variables and the role's possible values.
#[test]
fn help_lists_the_network_tools_roles_and_environment_variables() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "migrate", "user", "config", "keys", "snmp", "ping"] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{cmd} "))),
            "{cmd} not listed:\n{help}"
        );
    }
    for var in [
        "WARDFLUX_CONFIG",
        "WARDFLUX_DATA_DIR",
        "WARDFLUX_DATABASE_URL",
    ] {
        assert!(
            help.contains(&format!("env: {var}")),
            "{var} not shown:\n{help}"
        );
    }
    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("env: WARDFLUX_LISTEN"), "{help}");
    let out = Command::new(BIN)
        .args(["user", "add", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("possible values: viewer, operator, admin"),
        "{help}"
    );
    // The tools still get their own syntax, also after a global flag.
    let out = Command::new(BIN)
        .args([
            "--data-dir",
            "/nonexistent",
            "ping",
            "-c",
            "1",
            "-t",
            "500",
            "127.0.0.1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `config check` prints TOML that loads back (secrets left out), and `listen` takes a host
/// name.
#[test]
fn config_check_prints_toml_that_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let env = [
        ("WARDFLUX_LISTEN", "localhost:8099"),
        ("WARDFLUX_ADMIN_PASSWORD", "shh-very-secret"),
        ("WARDFLUX_METRICS_RAW_RETENTION_DAYS", "9"),
    ];
    let (c, out, err) = cli(&data, &["config", "check"], "", &env);
    assert_eq!(c, 0, "{out}{err}");
    assert!(!out.contains("shh-very-secret"), "{out}");
    assert!(out.contains("metrics_raw_retention_days = 9"), "{out}");
    let file = dir.path().join("pasted.toml");
    std::fs::write(&file, &out).unwrap();
    let (c, again, err) = cli(
        &data,
        &["config", "check", "--config", file.to_str().unwrap()],
        "",
        &[],
    );
    assert_eq!(c, 0, "{again}{err}\n--- pasted:\n{out}");
    let body = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(body(&out), body(&again));
    assert!(
        out.contains("listen = \"127.0.0.1:8099\"") || out.contains("listen = \"[::1]:8099\""),
        "{out}"
    );
}
