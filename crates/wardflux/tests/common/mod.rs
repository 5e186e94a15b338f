//! The real binary as a test peer: start `wardflux serve` on port 0 with a fresh data
//! directory, wait for it, log in, and call its API (shared by the test files of this crate).
#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_wardflux");

pub struct Server {
    pub child: Child,
    pub addr: String,
    pub stdout_head: String,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(data: &Path, admin_pw: Option<&str>) -> Server {
    start_in(None, data, admin_pw)
}

/// Like [`start`], with the server inside network namespace `netns` (given as
/// `(name, address of the namespace the test reaches it by)`, e.g. from
/// `Netns::link_to_host`): it listens on all its addresses and `addr` uses the given one.
pub fn start_in(netns: Option<(&str, &str)>, data: &Path, admin_pw: Option<&str>) -> Server {
    let mut cmd = match netns {
        Some((ns, _)) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, BIN]);
            c
        }
        None => Command::new(BIN),
    };
    let listen = if netns.is_some() {
        "0.0.0.0:0"
    } else {
        "127.0.0.1:0"
    };
    cmd.args(["serve", "--listen", listen, "--data-dir"])
        .arg(data)
        .env_remove("WARDFLUX_CONFIG")
        .env_remove("WARDFLUX_DATABASE_URL")
        .env_remove("WARDFLUX_ENCRYPTION_KEY")
        .env("WARDFLUX_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match admin_pw {
        Some(p) => cmd.env("WARDFLUX_ADMIN_PASSWORD", p),
        None => cmd.env_remove("WARDFLUX_ADMIN_PASSWORD"),
    };
    let mut child = cmd.spawn().expect("spawn wardflux");
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut err_pipe = child.stderr.take().unwrap();
    let sink = stderr.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = err_pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut head = String::new();
    let addr = loop {
        let mut line = String::new();
        let n = out.read_line(&mut line).unwrap();
        assert!(
            n > 0,
            "server exited early; stderr: {}",
            stderr.lock().unwrap()
        );
        head.push_str(&line);
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let bound = rest.split('/').next().unwrap().trim().to_string();
            break match netns {
                Some((_, reach)) => {
                    format!("{reach}:{}", bound.rsplit(':').next().unwrap())
                }
                None => bound,
            };
        }
    };
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = out.read_to_string(&mut sink);
    });
    Server {
        child,
        addr,
        stdout_head: head,
        stderr,
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

pub fn wait_healthy(s: &Server) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(r) = client().get(format!("http://{}/healthz", s.addr)).send()
            && r.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "healthz never answered 200");
        std::thread::yield_now();
    }
}

pub fn login(s: &Server, pw: &str) -> String {
    let r = client()
        .post(format!("http://{}/api/v1/auth/login", s.addr))
        .json(&json!({"username": "admin", "password": pw}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn post(s: &Server, tok: &str, path: &str, body: Value) -> (u16, Value) {
    let r = client()
        .post(format!("http://{}{}", s.addr, path))
        .bearer_auth(tok)
        .json(&body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

pub fn put(s: &Server, tok: &str, path: &str, body: Value) -> (u16, Value) {
    let r = client()
        .put(format!("http://{}{}", s.addr, path))
        .bearer_auth(tok)
        .json(&body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

pub fn get(s: &Server, tok: &str, path: &str) -> (u16, Value) {
    let r = client()
        .get(format!("http://{}{}", s.addr, path))
        .bearer_auth(tok)
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

/// Polls `cond` until it gives a value or `within` passes (a deadline, not a sleep-as-sync).
pub fn eventually<T>(what: &str, within: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asks the server to poll device `id` now (`POST /api/v1/monitoring/snmp/poll`) until it
/// can (the poller takes a new plan from the store's event), within `within`; the answer.
pub fn poll_now(s: &Server, tok: &str, id: &str, within: Duration) -> Value {
    eventually("the device's items polled", within, || {
        let (st, v) = post(
            s,
            tok,
            "/api/v1/monitoring/snmp/poll",
            serde_json::json!({"device_id": id}),
        );
        (st == 200).then_some(v)
    })
}

/// The item with `key` in a poll answer; panics naming the answer when there is none.
pub fn polled_item<'a>(polled: &'a Value, key: &str) -> &'a Value {
    polled["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == key)
        .unwrap_or_else(|| panic!("no {key} item: {polled}"))
}
