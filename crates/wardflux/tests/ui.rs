//! The web UI through the real binary, as a browser without JavaScript sees it: sessions,
//! CSRF refusals, role refusals, every page's status, embedded assets, the event stream.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::json;

mod common;
use common::*;

const PW: &str = "ui-admin-pw-1";

/// A cookie jar that shows what it holds (the session and login-CSRF cookies).
struct Browser {
    base: String,
    http: Client,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: u16,
    location: String,
    body: String,
    content_type: String,
    headers: reqwest::header::HeaderMap,
}

impl Browser {
    fn new(s: &Server) -> Self {
        Self {
            base: format!("http://{}", s.addr),
            http: Client::builder().redirect(Policy::none()).build().unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    fn take(&mut self, r: Response) -> Page {
        for c in r.headers().get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let kv = c.split(';').next().unwrap();
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
        let headers = r.headers().clone();
        Page {
            status: r.status().as_u16(),
            location: header(&headers, LOCATION),
            content_type: header(&headers, CONTENT_TYPE),
            body: r.text().unwrap(),
            headers,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn get(&mut self, path: &str) -> Page {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .unwrap();
        self.take(r)
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .unwrap();
        self.take(r)
    }

    /// Logs in through the form; returns the response to the form post.
    fn login(&mut self, user: &str, pw: &str, next: &str) -> Page {
        let form = self.get("/login");
        assert_eq!(form.status, 200);
        let token = csrf_of(&form.body);
        self.post(
            "/login",
            &[
                ("csrf", &token),
                ("username", user),
                ("password", pw),
                ("next", next),
            ],
        )
    }
}

fn header(h: &reqwest::header::HeaderMap, name: reqwest::header::HeaderName) -> String {
    h.get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_of(body: &str) -> String {
    let at = body
        .find("name=\"csrf\" value=\"")
        .expect("the page has a csrf field");
    let rest = &body[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn server() -> (Server, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), Some(PW));
    wait_healthy(&s);
    let tok = login(&s, PW);
    (s, dir, tok)
}

/// A device added through the API; its JSON.
fn add_device(s: &Server, tok: &str, name: &str, ip: &str) -> serde_json::Value {
    let (st, d) = post(s, tok, "/api/v1/devices", json!({"name": name, "ip": ip}));
    assert_eq!(st, 201, "{d}");
    d
}

fn add_user(s: &Server, tok: &str, name: &str, role: &str) {
    let (st, body) = post(
        s,
        tok,
        "/api/v1/users",
        json!({"username": name, "password": PW, "role": role}),
    );
    assert_eq!(st, 201, "{body}");
}

#[test]
fn pages_need_a_session_and_assets_are_embedded_and_cached() {
    let (s, _dir, _) = server();
    let mut b = Browser::new(&s);
    let r = b.get("/");
    assert_eq!((r.status, r.location.as_str()), (303, "/login"));
    let r = b.get("/monitor?state=down");
    assert_eq!(r.status, 303);
    assert_eq!(r.location, "/login?next=/monitor%3Fstate%3Ddown");
    // htmx asks for fragments: it is told to go to the login page, not given it inline.
    let r = b
        .http
        .get(format!("{}/ui/monitor", b.base))
        .header("HX-Request", "true")
        .send()
        .unwrap();
    assert_eq!(
        header(r.headers(), "hx-redirect".parse().unwrap()),
        "/login"
    );
    let login = b.get("/login");
    assert_eq!(login.status, 200);
    assert!(login.content_type.starts_with("text/html"));
    assert!(b.cookies.contains_key("wardflux_login_csrf"));
    let csp = header(&login.headers, "content-security-policy".parse().unwrap());
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // Assets: every URL the pages use is served from the binary, cached as immutable.
    let css = login
        .body
        .split("href=\"")
        .nth(2)
        .and_then(|x| x.split('"').next())
        .unwrap()
        .to_string();
    assert!(css.starts_with("/static/app.css?v="), "{css}");
    for path in [
        css.as_str(),
        "/static/htmx.min.js",
        "/static/htmx-sse.min.js",
        "/static/uPlot.min.js",
        "/static/app.js",
    ] {
        let r = b.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert!(
            header(&r.headers, "cache-control".parse().unwrap()).contains("immutable"),
            "{path}"
        );
        assert!(r.body.len() > 1000, "{path}: {} bytes", r.body.len());
    }
    assert!(b.get("/static/htmx.min.js").body.contains("htmx"));
    assert_eq!(b.get("/static/nothing.js").status, 404);
    // The API's JSON 404 is untouched by the UI.
    let r = b.get("/api/v1/nothing");
    assert_eq!(r.status, 404);
    assert!(r.content_type.starts_with("application/json"));
}

#[test]
fn login_needs_the_form_token_and_the_password_and_logout_ends_the_session() {
    let (s, _dir, _) = server();
    let mut b = Browser::new(&s);
    b.get("/login");
    // No token, or a token that is not the cookie's: refused before the password is checked.
    let r = b.post("/login", &[("username", "admin"), ("password", PW)]);
    assert_eq!(r.status, 403);
    let r = b.post(
        "/login",
        &[("csrf", "0000"), ("username", "admin"), ("password", PW)],
    );
    assert_eq!(r.status, 403);
    assert!(!b.cookies.contains_key("wardflux_session"));
    // Wrong password: the form again, with a message, no session.
    let r = b.login("admin", "wrong-password", "/");
    assert_eq!(r.status, 401);
    assert!(r.body.contains("Wrong username or password"), "{}", r.body);
    assert!(r.body.contains("value=\"admin\""));
    assert!(!b.cookies.contains_key("wardflux_session"));
    // Right password: the session cookie, and on to `next` (a local path only).
    let r = b.login("admin", PW, "//evil.example/");
    assert_eq!((r.status, r.location.as_str()), (303, "/"));
    assert!(b.cookies.contains_key("wardflux_session"));
    let dash = b.get("/");
    assert_eq!(dash.status, 200);
    assert!(dash.body.contains("<h1>Dashboard</h1>"));
    assert!(dash.body.contains("admin"));
    // Already logged in: the login page sends the user on.
    let r = b.get("/login?next=/alerts");
    assert_eq!((r.status, r.location.as_str()), (303, "/alerts"));
    let r = Browser::new(&s).login("admin", PW, "/devices?q=x");
    assert_eq!(r.location, "/devices?q=x");
    // Logout needs the page's token too, then the session is gone for good.
    let token = csrf_of(&b.get("/").body);
    let session = b.cookies["wardflux_session"].clone();
    assert_eq!(b.post("/logout", &[("csrf", "nope")]).status, 403);
    let r = b.post("/logout", &[("csrf", &token)]);
    assert_eq!((r.status, r.location.as_str()), (303, "/login"));
    assert!(!b.cookies.contains_key("wardflux_session"));
    b.cookies.insert("wardflux_session".into(), session.clone());
    assert_eq!(
        b.get("/").status,
        303,
        "the revoked session still opens pages"
    );
    // The revoked session is refused by the API too.
    let r = b
        .http
        .get(format!("{}/api/v1/auth/me", b.base))
        .bearer_auth(&session)
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn every_page_renders_and_roles_are_checked_on_the_server() {
    let (s, _dir, tok) = server();
    add_user(&s, &tok, "olga", "operator");
    add_user(&s, &tok, "vic", "viewer");
    let mut admin = Browser::new(&s);
    admin.login("admin", PW, "/");
    let mut oper = Browser::new(&s);
    oper.login("olga", PW, "/");
    let mut viewer = Browser::new(&s);
    viewer.login("vic", PW, "/");

    // The operator adds a device through the form.
    let devices = oper.get("/devices");
    assert!(devices.body.contains("Add device"));
    let token = csrf_of(&devices.body);
    assert_eq!(
        oper.post("/devices", &[("name", "x"), ("ip", "127.0.0.9")])
            .status,
        403,
        "a form without its token"
    );
    let bad = oper.post(
        "/devices",
        &[("csrf", &token), ("name", "bad"), ("ip", "not-an-ip")],
    );
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("ip"), "{}", bad.body);
    let r = oper.post(
        "/devices",
        &[
            ("csrf", &token),
            ("name", "core-sw <b>1</b>"),
            ("ip", "127.0.0.9"),
            ("region", "north"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let device_path = r.location.split('?').next().unwrap().to_string();
    assert!(device_path.starts_with("/devices/"));
    let page = oper.get(&device_path);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("core-sw &#60;b&#62;1&#60;/b&#62;")
            || page.body.contains("core-sw &lt;b&gt;1&lt;/b&gt;"),
        "names are escaped"
    );
    assert!(page.body.contains("Ping now"));
    assert!(page.body.contains("data-query="));

    // The viewer sees the pages but no buttons, and forged posts are refused.
    for path in [
        "/",
        "/monitor",
        "/devices",
        device_path.as_str(),
        "/alerts",
        "/alerts/rules",
        "/templates",
        "/settings",
        "/ui/dashboard",
        "/ui/monitor?state=up",
    ] {
        let r = viewer.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
    let vdev = viewer.get(&device_path);
    assert!(!vdev.body.contains("Ping now"));
    assert!(!viewer.get("/devices").body.contains("Add device"));
    let vtoken = csrf_of(&vdev.body);
    assert_eq!(
        viewer
            .post(
                "/devices",
                &[("csrf", &vtoken), ("name", "v"), ("ip", "127.0.0.10")]
            )
            .status,
        403
    );
    assert_eq!(
        viewer
            .post(&format!("{device_path}/check"), &[("csrf", &vtoken)])
            .status,
        403
    );
    // Another session's token is not this session's.
    assert_eq!(
        oper.post(&format!("{device_path}/check"), &[("csrf", &vtoken)])
            .status,
        403
    );
    // The operator's "ping now" runs a real check of 127.0.0.9 and comes back.
    let r = oper.post(&format!("{device_path}/check"), &[("csrf", &token)]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.location.contains("done="), "{}", r.location);
    assert!(oper.get(&r.location).body.contains("Checked now: up."));

    // Monitor and dashboard show it (up after the check), region filter and counts.
    let m = viewer.get("/monitor?region=north");
    assert!(
        m.body.contains("core-sw &#60;b&#62;1&#60;/b&#62;")
            || m.body.contains("core-sw &lt;b&gt;1")
    );
    assert!(m.body.contains("1 up"), "{}", m.body);
    let other = viewer.get("/ui/monitor?region=south");
    assert!(other.body.contains("No device matches."));
    // A device added meanwhile (the pages cache the inventory) shows at once in its region.
    let (st, _) = post(
        &s,
        &tok,
        "/api/v1/devices",
        json!({"name": "south-gw", "ip": "127.0.0.11", "region": "south"}),
    );
    assert_eq!(st, 201);
    eventually("south-gw on Monitor", Duration::from_secs(20), || {
        viewer
            .get("/ui/monitor?region=south")
            .body
            .contains("south-gw")
            .then_some(())
    });
    let dash = viewer.get("/");
    assert!(dash.body.contains("north"));
    // Settings: users and the audit log for admins only.
    assert!(!viewer.get("/settings").body.contains("Audit log"));
    let settings = admin.get("/settings");
    assert!(settings.body.contains("Audit log"));
    assert!(settings.body.contains("olga"));
    assert!(settings.body.contains("device"));
    // Templates page lists the shipped templates.
    assert!(viewer.get("/templates").body.contains("Generic SNMP"));
    // Not found is a page, not a crash.
    assert_eq!(viewer.get("/devices/not-a-uuid").status, 404);
    assert_eq!(
        viewer
            .get("/devices/00000000-0000-0000-0000-000000000000")
            .status,
        404
    );
}

#[test]
fn the_event_stream_needs_a_session_and_streams_events() {
    let (s, _dir, _) = server();
    let mut b = Browser::new(&s);
    assert_eq!(b.get("/ui/events").status, 303);
    b.login("admin", PW, "/");
    let r = b
        .http
        .get(format!("{}/ui/events", b.base))
        .header(COOKIE, b.cookie_header())
        .timeout(Duration::from_secs(5))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(r.headers(), CONTENT_TYPE),
        "text/event-stream",
        "an SSE stream"
    );
}

#[test]
fn editing_a_device_keeps_what_the_form_does_not_show_and_delete_asks_the_role() {
    let (s, _dir, tok) = server();
    add_user(&s, &tok, "vic", "viewer");
    let (st, dev) = post(
        &s,
        &tok,
        "/api/v1/devices",
        json!({"name": "edge-1", "ip": "127.0.0.21", "tags": ["pos", "atm"],
               "location": "Main St 1", "snmp_port": 1161, "icmp_interval_s": 30}),
    );
    assert_eq!(st, 201, "{dev}");
    let id = dev["id"].as_str().unwrap().to_string();
    let mut admin = Browser::new(&s);
    admin.login("admin", PW, "/");
    let page = admin.get(&format!("/devices/{id}"));
    assert!(page.body.contains("value=\"edge-1\""));
    let token = csrf_of(&page.body);
    let r = admin.post(
        &format!("/devices/{id}/edit"),
        &[
            ("csrf", &token),
            ("name", "edge-1b"),
            ("ip", "127.0.0.22"),
            ("region", "south"),
            ("vendor", ""),
            ("device_type", "router"),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let (_, after) = get(&s, &tok, &format!("/api/v1/devices/{id}"));
    assert_eq!(after["name"], "edge-1b");
    assert_eq!(after["ip"], "127.0.0.22");
    assert_eq!(after["region"], "south");
    assert_eq!(after["device_type"], "router");
    assert_eq!(after["enabled"], false, "an unchecked box is off");
    assert_eq!(
        after["tags"].as_array().unwrap().len(),
        2,
        "tags kept: {after}"
    );
    assert_eq!(after["location"], "Main St 1");
    assert_eq!(after["snmp_port"], 1161);
    assert_eq!(after["icmp_interval_s"], 30);
    // A bad address is refused with the reason; nothing changes.
    let bad = admin.post(
        &format!("/devices/{id}/edit"),
        &[("csrf", &token), ("name", "edge-1b"), ("ip", "300.1.1.1")],
    );
    assert_eq!(bad.status, 422);
    assert_eq!(
        get(&s, &tok, &format!("/api/v1/devices/{id}")).1["ip"],
        "127.0.0.22"
    );
    // A viewer cannot delete, even with its own valid token; the admin can.
    let mut viewer = Browser::new(&s);
    viewer.login("vic", PW, "/");
    let vtoken = csrf_of(&viewer.get("/devices").body);
    assert_eq!(
        viewer
            .post(&format!("/devices/{id}/delete"), &[("csrf", &vtoken)])
            .status,
        403
    );
    assert_eq!(get(&s, &tok, &format!("/api/v1/devices/{id}")).0, 200);
    let r = admin.post(&format!("/devices/{id}/delete"), &[("csrf", &token)]);
    assert_eq!((r.status, r.location.as_str()), (303, "/devices"));
    assert_eq!(get(&s, &tok, &format!("/api/v1/devices/{id}")).0, 404);
}

/// A one-shot webhook receiver: answers the first request with 200 and hands over its body.
fn webhook_receiver() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut c, _) = l.accept().unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        // Read the head, then Content-Length bytes of body.
        loop {
            let n = c.read(&mut chunk).unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(head_end) = text.find("\r\n\r\n") {
                let len = text[..head_end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if buf.len() >= head_end + 4 + len || n == 0 {
                    break;
                }
            }
        }
        c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .unwrap();
        tx.send(String::from_utf8_lossy(&buf).to_string()).unwrap();
    });
    (url, rx)
}

fn flash_of(b: &mut Browser, location: &str) -> String {
    let page = b.get(location);
    assert_eq!(page.status, 200, "{location}");
    let at = page.body.find("class=\"flash").expect("a flash message");
    let rest = &page.body[at..];
    rest[rest.find('>').unwrap() + 1..rest.find("</p>").unwrap()].to_string()
}

#[test]
fn alert_rules_are_edited_checked_as_you_type_and_kept_from_other_roles() {
    let (s, _dir, tok) = server();
    add_user(&s, &tok, "olga", "operator");
    let mut admin = Browser::new(&s);
    admin.login("admin", PW, "/");
    let mut oper = Browser::new(&s);
    oper.login("olga", PW, "/");

    // The live check: an error with its column and a caret, a valid one with what it
    // evaluates, and the preview of what would fire now.
    let bad = admin.get("/ui/rules/check?expression=ping_packet_loss%20%3D%3D%20");
    assert_eq!(bad.status, 200);
    assert!(bad.body.contains("Column"), "{}", bad.body);
    assert!(bad.body.contains("class=\"mono caret\""), "{}", bad.body);
    let good = admin.get("/ui/rules/check?expression=ping_packet_loss%20%3D%3D%20100%20for%202m");
    assert!(good.body.contains("Valid"), "{}", good.body);
    assert!(good.body.contains("firing after 120 s"), "{}", good.body);
    assert!(good.body.contains("No series match now"), "{}", good.body);
    assert!(oper.get("/ui/rules/check?expression=up").status == 200);

    // The editor: admins only; a refused rule comes back with the reason and what was typed.
    let new = admin.get("/alerts/rules/new");
    assert_eq!(new.status, 200);
    assert!(new.body.contains("hx-get=\"/ui/rules/check\""));
    assert_eq!(oper.get("/alerts/rules/new").status, 403);
    let token = csrf_of(&new.body);
    let otoken = csrf_of(&oper.get("/alerts/rules").body);
    let rule = [
        ("name", "branch down"),
        ("expression", "ping_packet_loss == 100 for 2m"),
        ("severity", "critical"),
        ("enabled", "on"),
        ("description", "a branch router stopped answering"),
    ];
    let with = |t: &str| {
        let mut f = vec![("csrf", t.to_string())];
        f.extend(rule.iter().map(|(k, v)| (*k, v.to_string())));
        f
    };
    let forged: Vec<(&str, String)> = with(&otoken);
    let forged: Vec<(&str, &str)> = forged.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(oper.post("/alerts/rules/save", &forged).status, 403);
    assert_eq!(
        admin.post("/alerts/rules/save", &forged[1..]).status,
        403,
        "no token"
    );
    let refused = admin.post(
        "/alerts/rules/save",
        &[
            ("csrf", &token),
            ("name", "half typed"),
            ("expression", "rate(wardflux_if_in_octets[5m] >"),
            ("severity", "high"),
        ],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("Expression, column"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"half typed\""),
        "what was typed is kept"
    );
    let ok: Vec<(&str, String)> = with(&token);
    let ok: Vec<(&str, &str)> = ok.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let saved = admin.post("/alerts/rules/save", &ok);
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert!(flash_of(&mut admin, &saved.location).contains("Rule branch down saved."));
    let (_, rules) = get(&s, &tok, "/api/v1/monitoring/alerts/rules?search=branch");
    let r = &rules[0];
    assert_eq!(r["severity"], "critical");
    assert_eq!(r["enabled"], true);
    let id = r["id"].as_str().unwrap().to_string();

    // Edit: severity changed, disabled (unchecked box); labels set through the API survive.
    let (st, _) = common::put(
        &s,
        &tok,
        &format!("/api/v1/monitoring/alerts/rules/{id}"),
        json!({"name": "branch down", "expression": "ping_packet_loss == 100 for 2m",
               "severity": "critical", "labels": {"team": "noc"}}),
    );
    assert_eq!(st, 200);
    let edit = admin.get(&format!("/alerts/rules/{id}"));
    assert!(edit.body.contains("branch down"));
    let saved = admin.post(
        "/alerts/rules/save",
        &[
            ("csrf", &token),
            ("id", &id),
            ("name", "branch down"),
            ("expression", "ping_packet_loss == 100 for 3m"),
            ("severity", "medium"),
        ],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (_, r) = get(&s, &tok, &format!("/api/v1/monitoring/alerts/rules/{id}"));
    assert_eq!(r["severity"], "medium");
    assert_eq!(r["enabled"], false);
    assert_eq!(r["expression"], "ping_packet_loss == 100 for 3m");
    assert_eq!(
        r["labels"]["team"], "noc",
        "fields the editor does not show are kept"
    );

    // Delete: not for operators; admins may.
    assert_eq!(
        oper.post(&format!("/alerts/rules/{id}/delete"), &[("csrf", &otoken)])
            .status,
        403
    );
    let del = admin.post(&format!("/alerts/rules/{id}/delete"), &[("csrf", &token)]);
    assert_eq!(del.status, 303);
    let (st, _) = get(&s, &tok, &format!("/api/v1/monitoring/alerts/rules/{id}"));
    assert_eq!(st, 404);
}

#[test]
fn channels_are_tested_and_maintenance_windows_kept_from_the_page() {
    let (s, _dir, tok) = server();
    add_user(&s, &tok, "olga", "operator");
    add_user(&s, &tok, "vic", "viewer");
    let (url, got) = webhook_receiver();
    let (st, ch) = post(
        &s,
        &tok,
        "/api/v1/monitoring/alerts/channels",
        json!({"name": "noc-hook", "type": "webhook", "config": {"url": url}}),
    );
    assert_eq!(st, 201, "{ch}");
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/hook", dead.local_addr().unwrap());
    drop(dead);
    let (st, dch) = post(
        &s,
        &tok,
        "/api/v1/monitoring/alerts/channels",
        json!({"name": "dead-hook", "type": "webhook", "config": {"url": dead_url}}),
    );
    assert_eq!(st, 201);
    let (st, g) = post(
        &s,
        &tok,
        "/api/v1/device-groups",
        json!({"name": "branch-7"}),
    );
    assert_eq!(st, 201, "{g}");

    let mut admin = Browser::new(&s);
    admin.login("admin", PW, "/");
    let mut oper = Browser::new(&s);
    oper.login("olga", PW, "/");
    let mut viewer = Browser::new(&s);
    viewer.login("vic", PW, "/");
    let page = admin.get("/alerts/rules");
    assert!(page.body.contains("Send test"));
    assert!(!page.body.contains(&url), "a webhook URL is a secret");
    assert!(!oper.get("/alerts/rules").body.contains("Send test"));
    let token = csrf_of(&page.body);
    let otoken = csrf_of(&oper.get("/alerts/rules").body);
    let vtoken = csrf_of(&viewer.get("/alerts/rules").body);

    // Send test: delivered to the receiver; the dead one says why; operators are refused.
    let test = format!("/alerts/channels/{}/test", ch["id"].as_str().unwrap());
    assert_eq!(oper.post(&test, &[("csrf", &otoken)]).status, 403);
    let r = admin.post(&test, &[("csrf", &token)]);
    assert_eq!(r.status, 303);
    assert!(flash_of(&mut admin, &r.location).contains("delivered"));
    let request = got.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(request.starts_with("POST /hook"), "{request}");
    let r = admin.post(
        &format!("/alerts/channels/{}/test", dch["id"].as_str().unwrap()),
        &[("csrf", &token)],
    );
    let msg = flash_of(&mut admin, &r.location);
    assert!(msg.contains("not delivered"), "{msg}");
    assert!(!msg.contains(&dead_url), "{msg}");

    // Maintenance: operators add and delete; viewers cannot; bad input names the field.
    let gid = g["id"].as_str().unwrap();
    let window = |t: &str, cron: &str| {
        vec![
            ("csrf", t.to_string()),
            ("name", "sunday patching".to_string()),
            ("group", gid.to_string()),
            ("timezone", "Europe/Berlin".to_string()),
            ("cron", cron.to_string()),
            ("duration_minutes", "90".to_string()),
        ]
    };
    let as_refs = |v: &Vec<(&'static str, String)>| -> Vec<(&'static str, String)> { v.clone() };
    let post_form = |b: &mut Browser, v: Vec<(&'static str, String)>| {
        let refs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.post("/alerts/maintenance", &refs)
    };
    assert_eq!(
        post_form(&mut viewer, as_refs(&window(&vtoken, "0 2 * * 0"))).status,
        403
    );
    let r = post_form(&mut oper, window(&otoken, "every sunday"));
    assert_eq!(r.status, 303);
    let msg = flash_of(&mut oper, &r.location);
    assert!(msg.to_lowercase().contains("cron"), "{msg}");
    let mut no_tz = window(&otoken, "0 2 * * 0");
    no_tz[3].1 = "Mars/Olympus".into();
    let r = post_form(&mut oper, no_tz);
    let msg = flash_of(&mut oper, &r.location);
    assert!(msg.contains("Time zone"), "{msg}");
    let r = post_form(&mut oper, window(&otoken, "0 2 * * 0"));
    assert!(flash_of(&mut oper, &r.location).contains("saved"));
    let (_, ws) = get(&s, &tok, "/api/v1/monitoring/alerts/maintenance");
    assert_eq!(ws[0]["timezone"], "Europe/Berlin");
    assert_eq!(ws[0]["duration_minutes"], 90);
    assert_eq!(ws[0]["group_ids"][0], gid);
    let listed = viewer.get("/alerts/rules");
    assert!(listed.body.contains("sunday patching"));
    assert!(listed.body.contains("branch-7"));
    // A one-off window entered in local time is stored in UTC.
    let r = oper.post(
        "/alerts/maintenance",
        &[
            ("csrf", &otoken),
            ("name", "fibre works"),
            ("group", gid),
            ("timezone", "Asia/Tbilisi"),
            ("starts_at", "2030-01-10T02:00"),
            ("ends_at", "2030-01-10T05:30"),
        ],
    );
    assert!(flash_of(&mut oper, &r.location).contains("saved"));
    let (_, ws) = get(&s, &tok, "/api/v1/monitoring/alerts/maintenance");
    let fibre = ws
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "fibre works")
        .unwrap();
    assert_eq!(
        fibre["starts_at"], "2030-01-09T22:00:00Z",
        "Tbilisi is UTC+4"
    );
    let wid = ws[0]["id"].as_str().unwrap();
    assert_eq!(
        viewer
            .post(
                &format!("/alerts/maintenance/{wid}/delete"),
                &[("csrf", &vtoken)]
            )
            .status,
        403
    );
    let r = oper.post(
        &format!("/alerts/maintenance/{wid}/delete"),
        &[("csrf", &otoken)],
    );
    assert_eq!(r.status, 303);
    let (_, ws) = get(&s, &tok, "/api/v1/monitoring/alerts/maintenance");
    assert_eq!(ws.as_array().unwrap().len(), 1);
}

#[test]
fn admins_manage_users_from_settings_and_everyone_changes_their_own_password() {
    let (s, _dir, tok) = server();
    add_user(&s, &tok, "vic", "viewer");
    let mut admin = Browser::new(&s);
    admin.login("admin", PW, "/");
    let mut viewer = Browser::new(&s);
    viewer.login("vic", PW, "/");
    let page = admin.get("/settings");
    let token = csrf_of(&page.body);
    let vtoken = csrf_of(&viewer.get("/settings").body);

    // Viewers cannot add users, even with a valid token of their own.
    let nina = [
        ("username", "nina"),
        ("role", "viewer"),
        ("password", "nina-pw-123456"),
    ];
    let mut f = vec![("csrf", vtoken.as_str())];
    f.extend(nina);
    assert_eq!(viewer.post("/settings/users", &f).status, 403);
    f[0].1 = &token;
    let r = admin.post("/settings/users", &f);
    assert_eq!(r.status, 303);
    assert!(flash_of(&mut admin, &r.location).contains("User nina created."));
    let again = admin.post("/settings/users", &f);
    let msg = flash_of(&mut admin, &again.location);
    assert!(msg.contains("nina") || msg.contains("exists"), "{msg}");
    let mut n = Browser::new(&s);
    assert_eq!(n.login("nina", "nina-pw-123456", "/").status, 303);

    // Role up to operator, password reset by the admin: the old one stops working.
    let (_, users) = get(&s, &tok, "/api/v1/users");
    let nid = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "nina")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = admin.post(
        &format!("/settings/users/{nid}"),
        &[("csrf", &token), ("role", "operator"), ("enabled", "on")],
    );
    assert!(flash_of(&mut admin, &r.location).contains("saved"));
    let r = admin.post(
        &format!("/settings/users/{nid}/password"),
        &[("csrf", &token), ("password", "nina-new-pw-7890")],
    );
    assert!(flash_of(&mut admin, &r.location).contains("Password set."));
    assert_eq!(
        Browser::new(&s).login("nina", "nina-pw-123456", "/").status,
        401
    );
    let mut n = Browser::new(&s);
    assert_eq!(n.login("nina", "nina-new-pw-7890", "/").status, 303);
    assert!(n.get("/settings").body.contains("(operator)"));

    // Nina changes her own password (the two entries must match).
    let ntoken = csrf_of(&n.get("/settings").body);
    let r = n.post(
        "/settings/password",
        &[
            ("csrf", &ntoken),
            ("password", "a-b-c-d-e-f-1"),
            ("confirm", "a-b-c-d-e-f-2"),
        ],
    );
    assert!(flash_of(&mut n, &r.location).contains("differ"));
    let r = n.post(
        "/settings/password",
        &[
            ("csrf", &ntoken),
            ("password", "nina-own-pw-2468"),
            ("confirm", "nina-own-pw-2468"),
        ],
    );
    assert!(flash_of(&mut n, &r.location).contains("changed"));
    assert_eq!(
        Browser::new(&s)
            .login("nina", "nina-own-pw-2468", "/")
            .status,
        303
    );
    // She cannot manage others.
    let (_, users) = get(&s, &tok, "/api/v1/users");
    let vid = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "vic")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        n.post(
            &format!("/settings/users/{vid}/delete"),
            &[("csrf", &ntoken)]
        )
        .status,
        403
    );

    // The admin cannot lock themselves out, even with a forged form.
    let (_, me) = get(&s, &tok, "/api/v1/auth/me");
    let me_id = me["id"].as_str().unwrap();
    let r = admin.post(
        &format!("/settings/users/{me_id}"),
        &[("csrf", &token), ("role", "viewer")],
    );
    assert!(flash_of(&mut admin, &r.location).contains("yourself"));
    let r = admin.post(
        &format!("/settings/users/{me_id}/delete"),
        &[("csrf", &token)],
    );
    assert!(flash_of(&mut admin, &r.location).contains("yourself"));
    // Disable, then delete Nina: her session ends with her.
    let r = admin.post(
        &format!("/settings/users/{nid}"),
        &[("csrf", &token), ("role", "operator")],
    );
    assert!(flash_of(&mut admin, &r.location).contains("saved"));
    assert_eq!(
        Browser::new(&s)
            .login("nina", "nina-own-pw-2468", "/")
            .status,
        401
    );
    let r = admin.post(
        &format!("/settings/users/{nid}/delete"),
        &[("csrf", &token)],
    );
    assert!(flash_of(&mut admin, &r.location).contains("deleted"));
    assert_eq!(
        n.get("/settings").status,
        303,
        "a deleted user's session is gone"
    );
}

#[test]
fn templates_are_imported_edited_applied_and_exported_from_their_pages() {
    let (s, _dir, tok) = server();
    add_user(&s, &tok, "olga", "operator");
    add_user(&s, &tok, "vic", "viewer");
    let _ = add_device(&s, &tok, "edge-1", "127.0.0.21");
    let d2 = add_device(&s, &tok, "edge-2", "127.0.0.22");
    let (st, g) = post(
        &s,
        &tok,
        "/api/v1/device-groups",
        json!({"name": "edges", "device_ids": [d2["id"]]}),
    );
    assert_eq!(st, 201, "{g}");
    let mut oper = Browser::new(&s);
    oper.login("olga", PW, "/");
    let mut viewer = Browser::new(&s);
    viewer.login("vic", PW, "/");
    let token = csrf_of(&oper.get("/templates").body);
    let vtoken = csrf_of(&viewer.get("/templates").body);
    assert!(oper.get("/templates").body.contains("Import a template"));
    assert!(!viewer.get("/templates").body.contains("Import a template"));

    let good = json!({
        "name": "Branch UPS",
        "device_types": ["ups"],
        "macros": {"{$LOAD_HIGH}": "80"},
        "items": [{"name": "Output load", "key": "ups_load", "oid": "1.3.6.1.2.1.33.1.4.4.1.5.1",
                   "units": "%", "value_type": "gauge"}],
        "triggers": [{"name": "UPS overloaded", "expression": "ups_load > {$LOAD_HIGH}", "severity": "high"}]
    })
    .to_string();
    assert_eq!(
        viewer
            .post("/templates/import", &[("csrf", &vtoken), ("json", &good)])
            .status,
        403
    );
    // Broken JSON: the line; a bad template: every problem with its path; both keep the text.
    let r = oper.post(
        "/templates/import",
        &[("csrf", &token), ("json", "{\n\"name\": ")],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("line 2"), "{}", r.body);
    let bad = good
        .replace("1.3.6.1.2.1.33.1.4.4.1.5.1", "not.an.oid")
        .replace("ups_load > ", "ups_load >> ");
    let r = oper.post("/templates/import", &[("csrf", &token), ("json", &bad)]);
    assert_eq!(r.status, 422);
    assert!(r.body.contains("items[0].oid"), "{}", r.body);
    assert!(
        r.body.contains("triggers[0]"),
        "every problem is listed: {}",
        r.body
    );
    assert!(r.body.contains("not.an.oid"), "the pasted text is kept");

    let r = oper.post("/templates/import", &[("csrf", &token), ("json", &good)]);
    assert_eq!(r.status, 303, "{}", r.body);
    let path = r.location.split('?').next().unwrap().to_string();
    let page = viewer.get(&path);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("ups_load") && page.body.contains("UPS overloaded"));
    assert!(
        !page.body.contains("Save template"),
        "viewers get no editor"
    );
    let id = path.trim_start_matches("/templates/").to_string();

    // Apply by IP and by group, with a macro override; a name that matches nothing is named.
    let r = oper.post(
        &format!("{path}/apply"),
        &[("csrf", &token), ("devices", "nosuch-router")],
    );
    assert!(flash_of(&mut oper, &r.location).contains("nosuch-router"));
    let r = oper.post(
        &format!("{path}/apply"),
        &[
            ("csrf", &token),
            ("devices", "127.0.0.21"),
            ("group", g["id"].as_str().unwrap()),
            ("macros", "{$LOAD_HIGH}=70"),
        ],
    );
    let msg = flash_of(&mut oper, &r.location);
    assert!(msg.contains("Applied to 2 devices."), "{msg}");
    let (_, t) = get(&s, &tok, &format!("/api/v1/monitoring/templates/{id}"));
    assert_eq!(t["devices"].as_array().unwrap().len(), 2);
    assert_eq!(t["devices"][0]["macros"]["{$LOAD_HIGH}"], "70");
    assert!(oper.get(&path).body.contains("edge-2"));
    let (_, items) = get(
        &s,
        &tok,
        &format!(
            "/api/v1/monitoring/items?device_id={}",
            d2["id"].as_str().unwrap()
        ),
    );
    assert!(items.to_string().contains("ups_load"), "{items}");

    // Edit the JSON: a second item; the devices get it. A broken edit stays in the editor.
    let mut edited: serde_json::Value = serde_json::from_str(&good).unwrap();
    edited["items"].as_array_mut().unwrap().push(json!({
        "name": "Battery minutes", "key": "ups_battery_minutes",
        "oid": "1.3.6.1.2.1.33.1.2.3.0", "value_type": "gauge"}));
    let r = oper.post(
        &format!("{path}/save"),
        &[
            ("csrf", &token),
            (
                "json",
                &edited
                    .to_string()
                    .replace("ups_battery_minutes", "ups load!"),
            ),
        ],
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("items[1].key"), "{}", r.body);
    let r = oper.post(
        &format!("{path}/save"),
        &[("csrf", &token), ("json", &edited.to_string())],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let (_, items) = get(
        &s,
        &tok,
        &format!(
            "/api/v1/monitoring/items?device_id={}",
            d2["id"].as_str().unwrap()
        ),
    );
    assert!(items.to_string().contains("ups_battery_minutes"), "{items}");

    // Export gives back what import takes; clone makes a copy without devices.
    let r = viewer.get(&format!("{path}/export"));
    assert_eq!(r.status, 200);
    assert!(header(&r.headers, reqwest::header::CONTENT_DISPOSITION).contains("Branch_UPS.json"));
    let exported: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(exported["items"][1]["key"], "ups_battery_minutes");
    let r = oper.post(
        &format!("{path}/clone"),
        &[("csrf", &token), ("name", "Branch UPS v2")],
    );
    assert_eq!(r.status, 303);
    let copy = oper.get(&r.location);
    assert!(copy.body.contains("Copied as Branch UPS v2."));
    assert!(copy.body.contains("Not applied to any device."));

    // Remove from one device, then delete: its items go.
    let d2id = d2["id"].as_str().unwrap();
    let r = oper.post(
        &format!("{path}/devices/{d2id}/remove"),
        &[("csrf", &token)],
    );
    assert!(flash_of(&mut oper, &r.location).contains("Removed"));
    let (_, t) = get(&s, &tok, &format!("/api/v1/monitoring/templates/{id}"));
    assert_eq!(t["devices"].as_array().unwrap().len(), 1);
    assert_eq!(
        viewer
            .post(&format!("{path}/delete"), &[("csrf", &vtoken)])
            .status,
        403
    );
    let r = oper.post(&format!("{path}/delete"), &[("csrf", &token)]);
    assert_eq!(r.status, 303);
    let (st, _) = get(&s, &tok, &format!("/api/v1/monitoring/templates/{id}"));
    assert_eq!(st, 404);
}

#[test]
fn csv_import_shows_every_row_and_its_problems_before_anything_is_written() {
    let (s, _dir, tok) = server();
    add_user(&s, &tok, "olga", "operator");
    let _ = add_device(&s, &tok, "old-gw", "127.0.0.31");
    let mut admin = Browser::new(&s);
    admin.login("admin", PW, "/");
    let mut oper = Browser::new(&s);
    oper.login("olga", PW, "/");
    assert_eq!(
        oper.get("/devices/import").status,
        403,
        "the API's import is admin-only too"
    );
    let form = admin.get("/devices/import");
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains("name,ip,hostname"),
        "the columns are listed"
    );
    let token = csrf_of(&form.body);
    let otoken = csrf_of(&oper.get("/devices").body);
    let bad = "name,ip,device_type,region\nbr-1,127.0.0.41,router,west\nbr-2,not-an-ip,switch,west\nbr-3,127.0.0.31,router,east\nbr-4,127.0.0.41,router,east\n";
    assert_eq!(
        oper.post(
            "/devices/import",
            &[("csrf", &otoken), ("csv", bad), ("action", "import")]
        )
        .status,
        403
    );
    // Check: each problem on its row; nothing written; no import button.
    let r = admin.post(
        "/devices/import",
        &[("csrf", &token), ("csv", bad), ("action", "check")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("3 rows have problems"), "{}", r.body);
    assert!(r.body.contains("ip: "), "{}", r.body);
    assert!(r.body.contains("more than once"), "{}", r.body);
    assert!(
        !r.body.contains("value=\"import\""),
        "no import while a row is wrong"
    );
    let (_, list) = get(&s, &tok, "/api/v1/devices");
    assert_eq!(list["total"], 1, "nothing written: {list}");
    // Forcing the import anyway writes nothing either.
    let r = admin.post(
        "/devices/import",
        &[("csrf", &token), ("csv", bad), ("action", "import")],
    );
    assert_ne!(r.status, 303);
    let (_, list) = get(&s, &tok, "/api/v1/devices");
    assert_eq!(list["total"], 1);
    // An unknown column is named (and clipped when long).
    let r = admin.post(
        "/devices/import",
        &[
            ("csrf", &token),
            ("csv", "name,ip,colour\nx,127.0.0.50,red\n"),
            ("action", "check"),
        ],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("colour"), "{}", r.body);
    let r = admin.post(
        "/devices/import",
        &[("csrf", &token), ("csv", "  "), ("action", "check")],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("empty"));

    // Fixed: the check offers the import, which writes every row.
    let good = "name,ip,device_type,region\nbr-1,127.0.0.41,router,west\nbr-2,127.0.0.42,switch,west\nbr-3,127.0.0.43,router,east\n";
    let r = admin.post(
        "/devices/import",
        &[("csrf", &token), ("csv", good), ("action", "check")],
    );
    assert!(r.body.contains("3 devices would be created"), "{}", r.body);
    assert!(r.body.contains("value=\"import\""));
    let (_, list) = get(&s, &tok, "/api/v1/devices");
    assert_eq!(list["total"], 1, "a check writes nothing");
    let r = admin.post(
        "/devices/import",
        &[("csrf", &token), ("csv", good), ("action", "import")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(flash_of(&mut admin, &r.location).contains("Imported 3 devices."));
    let (_, list) = get(&s, &tok, "/api/v1/devices?region=west");
    assert_eq!(list["total"], 2);
    // The list filters by region and type (the choices come from the inventory).
    let west = admin.get("/devices?region=west");
    assert!(west.body.contains("br-1") && west.body.contains("br-2"));
    assert!(!west.body.contains(">br-3<"), "br-3 is in the east");
    assert!(west.body.contains("<option selected>west</option>"));
    let routers = admin.get("/devices?type=router&region=west");
    assert!(routers.body.contains(">br-1<") && !routers.body.contains(">br-2<"));
    // The API's dry run says the same without writing.
    let r = client()
        .post(format!(
            "http://{}/api/v1/devices/import?dry_run=true",
            s.addr
        ))
        .bearer_auth(&tok)
        .header("content-type", "text/csv")
        .body("name,ip\nbr-9,127.0.0.49\nbr-1,127.0.0.41\n")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().unwrap();
    assert_eq!(v["created"], 1, "{v}");
    assert_eq!(v["committed"], false);
    assert_eq!(v["errors"][0]["row"], 2);
    let (_, list) = get(&s, &tok, "/api/v1/devices");
    assert_eq!(list["total"], 4);
}

#[test]
fn snmp_credentials_are_set_per_device_and_shared_and_never_shown() {
    let (s, _dir, tok) = server();
    add_user(&s, &tok, "olga", "operator");
    let d = add_device(&s, &tok, "core-1", "127.0.0.61");
    let dpath = format!("/devices/{}", d["id"].as_str().unwrap());
    let mut admin = Browser::new(&s);
    admin.login("admin", PW, "/");
    let mut oper = Browser::new(&s);
    oper.login("olga", PW, "/");
    let page = admin.get(&dpath);
    assert!(page.body.contains("SNMP credential of this device"));
    assert!(
        !oper
            .get(&dpath)
            .body
            .contains("SNMP credential of this device")
    );
    let token = csrf_of(&page.body);
    let otoken = csrf_of(&oper.get(&dpath).body);
    assert_eq!(
        oper.post(
            &format!("{dpath}/snmp"),
            &[("csrf", &otoken), ("version", "v2c"), ("community", "x")]
        )
        .status,
        403
    );
    // A shared credential on Settings, then the device's own one.
    let r = admin.post(
        "/settings/snmp",
        &[
            ("csrf", &token),
            ("name", "branches"),
            ("version", "2c"),
            ("community", "shared-s3cret"),
        ],
    );
    assert!(flash_of(&mut admin, &r.location).contains("branches"));
    assert!(admin.get(&dpath).body.contains("(shared)"));
    let r = admin.post(
        &format!("{dpath}/snmp"),
        &[
            ("csrf", &token),
            ("version", "v3"),
            ("username", "noc"),
            ("security_level", "authPriv"),
            ("auth_protocol", "SHA-256"),
            ("auth_key", "auth-s3cret-key"),
            ("priv_protocol", "AES"),
            ("priv_key", "priv-s3cret-key"),
        ],
    );
    let msg = flash_of(&mut admin, &r.location);
    assert!(msg.contains("v3, user noc, authPriv"), "{msg}");
    let shown = admin.get(&dpath).body + &admin.get("/settings").body;
    assert!(shown.contains("(this device's own)"));
    for secret in ["shared-s3cret", "auth-s3cret-key", "priv-s3cret-key"] {
        assert!(!shown.contains(secret), "{secret} shown");
    }
    // A refused replacement keeps the stored one.
    let r = admin.post(
        &format!("{dpath}/snmp"),
        &[
            ("csrf", &token),
            ("version", "v3"),
            ("security_level", "authPriv"),
        ],
    );
    let page = admin.get(&r.location);
    assert!(page.body.contains("flash bad"), "{}", r.location);
    assert!(
        page.body.contains("v3, user noc"),
        "the stored credential is kept"
    );
    let (_, creds) = get(&s, &tok, "/api/v1/monitoring/snmp/credentials");
    let own: Vec<_> = creds
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["device_id"] == d["id"])
        .collect();
    assert_eq!(own.len(), 1, "{creds}");
    assert_eq!(own[0]["has_priv_key"], true);
    // Replace with v2c: one credential of its own remains; remove it: back to the shared one.
    let r = admin.post(
        &format!("{dpath}/snmp"),
        &[
            ("csrf", &token),
            ("version", "v2c"),
            ("community", "own-s3cret"),
        ],
    );
    assert!(flash_of(&mut admin, &r.location).contains("v2c, community set"));
    let (_, creds) = get(&s, &tok, "/api/v1/monitoring/snmp/credentials");
    assert_eq!(creds.as_array().unwrap().len(), 2, "{creds}");
    let r = admin.post(&format!("{dpath}/snmp/delete"), &[("csrf", &token)]);
    assert!(flash_of(&mut admin, &r.location).contains("uses the shared one"));
    assert!(admin.get(&dpath).body.contains("(shared)"));
    let shared = creds
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "branches")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = admin.post(
        &format!("/settings/snmp/{shared}/delete"),
        &[("csrf", &token)],
    );
    assert!(flash_of(&mut admin, &r.location).contains("deleted"));
    assert!(admin.get(&dpath).body.contains("none: add one"));
}

#[test]
fn alert_history_filters_by_range_and_rule_and_refuses_unknown_values() {
    let (s, _dir, tok) = server();
    let mut b = Browser::new(&s);
    b.login("admin", PW, "/");
    let (_, rules) = get(&s, &tok, "/api/v1/monitoring/alerts/rules");
    let rule = rules[0]["id"].as_str().unwrap();
    let page = b.get(&format!("/alerts?range=7d&rule={rule}"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("value=\"{rule}\" selected")),
        "the chosen rule stays chosen"
    );
    assert!(page.body.contains("value=\"7d\" selected"));
    assert!(
        page.body
            .contains("Nothing in the history for these filters.")
    );
    assert_eq!(b.get("/alerts?range=1y").status, 400);
    assert_eq!(b.get("/alerts?rule=nope").status, 400);
}

#[test]
fn channels_are_added_and_deleted_by_admins_and_their_secrets_never_shown() {
    let (s, _dir, tok) = server();
    add_user(&s, &tok, "olga", "operator");
    let mut admin = Browser::new(&s);
    admin.login("admin", PW, "/");
    let mut oper = Browser::new(&s);
    oper.login("olga", PW, "/");
    let token = csrf_of(&admin.get("/alerts/rules").body);
    let otoken = csrf_of(&oper.get("/alerts/rules").body);
    assert!(!oper.get("/alerts/rules").body.contains("Add a channel"));
    let hook =
        r#"{"url": "http://127.0.0.1:9/hook/T0KEN-s3cret", "bearer_token": "b3arer-s3cret"}"#;
    assert_eq!(
        oper.post(
            "/alerts/channels",
            &[
                ("csrf", &otoken),
                ("name", "ops"),
                ("type", "webhook"),
                ("config", hook)
            ]
        )
        .status,
        403
    );
    let r = admin.post(
        "/alerts/channels",
        &[
            ("csrf", &token),
            ("name", "ops"),
            ("type", "webhook"),
            ("config", "{url:"),
        ],
    );
    assert!(flash_of(&mut admin, &r.location).contains("config"));
    let r = admin.post(
        "/alerts/channels",
        &[
            ("csrf", &token),
            ("name", "ops"),
            ("type", "webhook"),
            ("config", r#"{"url": "ftp://x"}"#),
        ],
    );
    let msg = flash_of(&mut admin, &r.location);
    assert!(msg.contains("url"), "the type's own check: {msg}");
    let r = admin.post(
        "/alerts/channels",
        &[
            ("csrf", &token),
            ("name", "ops"),
            ("type", "webhook"),
            ("config", hook),
        ],
    );
    assert!(flash_of(&mut admin, &r.location).contains("Channel ops saved."));
    let page = admin.get("/alerts/rules");
    assert!(page.body.contains(">ops<"));
    assert!(!page.body.contains("T0KEN-s3cret") && !page.body.contains("b3arer-s3cret"));
    let (_, chans) = get(&s, &tok, "/api/v1/monitoring/alerts/channels");
    let id = chans[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        oper.post(
            &format!("/alerts/channels/{id}/delete"),
            &[("csrf", &otoken)]
        )
        .status,
        403
    );
    let r = admin.post(
        &format!("/alerts/channels/{id}/delete"),
        &[("csrf", &token)],
    );
    assert!(flash_of(&mut admin, &r.location).contains("deleted"));
    let (_, chans) = get(&s, &tok, "/api/v1/monitoring/alerts/channels");
    assert_eq!(chans.as_array().unwrap().len(), 0);
}

#[test]
fn discovery_rules_take_communities_and_a_v3_user_and_refuse_bad_ranges() {
    let (s, _dir, tok) = server();
    add_user(&s, &tok, "olga", "operator");
    let mut admin = Browser::new(&s);
    admin.login("admin", PW, "/");
    let page = admin.get("/discovery");
    assert!(page.body.contains("Add a rule") && page.body.contains("SNMPv3 user"));
    let token = csrf_of(&page.body);
    // More than a /16: refused with the field and nothing stored.
    let r = admin.post(
        "/discovery/rules",
        &[
            ("csrf", &token),
            ("name", "too big"),
            ("ranges", "10.0.0.0/15"),
        ],
    );
    let msg = flash_of(&mut admin, &r.location);
    assert!(
        msg.contains("ranges") && msg.contains("allow_large"),
        "{msg}"
    );
    let (_, rules) = get(&s, &tok, "/api/v1/monitoring/discovery/rules");
    assert_eq!(rules, serde_json::json!([]));
    // Two communities and a v3 user, tried in that order.
    let r = admin.post(
        "/discovery/rules",
        &[
            ("csrf", &token),
            ("name", "branches"),
            ("ranges", "127.46.0.0/29\n127.46.1.1-127.46.1.9"),
            ("exclusions", "127.46.0.1"),
            ("communities", "first-s3cret\nsecond-s3cret"),
            ("v3_user", "noc"),
            ("v3_auth_protocol", "SHA-256"),
            ("v3_auth_key", "auth-s3cret-key"),
            ("v3_priv_protocol", "AES"),
            ("v3_priv_key", "priv-s3cret-key"),
            ("schedule", "0 2 * * *"),
            ("action", "add"),
        ],
    );
    let msg = flash_of(&mut admin, &r.location);
    assert!(msg.contains("Rule branches saved"), "{msg}");
    let (_, rules) = get(&s, &tok, "/api/v1/monitoring/discovery/rules");
    let rule = &rules[0];
    assert_eq!(
        rule["ranges"],
        serde_json::json!(["127.46.0.0/29", "127.46.1.1-127.46.1.9"])
    );
    assert_eq!(rule["action"], "add");
    let creds = rule["credentials"].as_array().unwrap();
    let names: Vec<&str> = creds.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["community #1", "community #2", "v3 noc"]);
    assert_eq!(creds[2]["security_level"], "authPriv");
    assert_eq!(creds[2]["has_priv_key"], true);
    let shown = admin.get("/discovery").body + &rules.to_string();
    for secret in [
        "first-s3cret",
        "second-s3cret",
        "auth-s3cret-key",
        "priv-s3cret-key",
    ] {
        assert!(!shown.contains(secret), "{secret} shown");
    }
    // A schedule saved from the page counts at once (the page wakes the schedule loop, as
    // the API does): a rule due every second has a run within seconds, not a minute.
    let r = admin.post(
        "/discovery/rules",
        &[
            ("csrf", &token),
            ("name", "every second"),
            ("ranges", "127.46.2.1"),
            ("schedule", "* * * * * *"),
        ],
    );
    assert!(flash_of(&mut admin, &r.location).contains("saved"));
    eventually(
        "a scheduled run of the rule saved from the page",
        Duration::from_secs(10),
        || {
            let (_, jobs) = get(&s, &tok, "/api/v1/monitoring/discovery/jobs");
            jobs.as_array().filter(|j| !j.is_empty()).map(|_| ())
        },
    );
    let (_, rules) = get(&s, &tok, "/api/v1/monitoring/discovery/rules");
    let rule = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "branches")
        .unwrap()
        .clone();
    // Operators run rules, but neither add nor delete them.
    let mut oper = Browser::new(&s);
    oper.login("olga", PW, "/");
    let opage = oper.get("/discovery");
    assert!(opage.body.contains("Run now") && !opage.body.contains("Add a rule"));
    let otoken = csrf_of(&opage.body);
    let r = oper.post(
        "/discovery/rules",
        &[("csrf", &otoken), ("name", "x"), ("ranges", "127.0.0.1")],
    );
    assert_eq!(r.status, 403);
    let id = rule["id"].as_str().unwrap();
    let r = oper.post(
        &format!("/discovery/rules/{id}/delete"),
        &[("csrf", &otoken)],
    );
    assert_eq!(r.status, 403);
}

/// Whether `body` shows the page chrome's stale-Zabbix-data note.
fn stale_note(body: &str) -> Option<String> {
    let at = body.find("<p class=\"stale-note\"")?;
    let rest = &body[at..];
    Some(rest[..rest.find("</p>").unwrap()].to_string())
}

/// The monitoring mode and the Zabbix connection from `/settings`: only admins change them
/// (operators get 403 whatever the page showed); "Test connection" tries the form's values
/// without saving them (here against a closed loopback port and against this server, which
/// is not Zabbix; the real Zabbix is in tests/zabbix.rs); refused input is shown with the
/// field's name and the form kept, never a secret; a saved connection keeps its password
/// when the field is left empty; in hybrid mode with Zabbix unreachable every page says the
/// Zabbix data is stale and why, and devices show their source.
#[test]
fn the_mode_and_the_zabbix_connection_are_set_and_tested_from_settings() {
    let (s, _dir, tok) = server();
    add_user(&s, &tok, "ozzy", "operator");
    add_device(&s, &tok, "core-1", "127.0.0.1");
    let mut admin = Browser::new(&s);
    admin.login("admin", PW, "/");
    let mut op = Browser::new(&s);
    op.login("ozzy", PW, "/");
    let page = admin.get("/settings");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Monitoring mode and Zabbix"),
        "{}",
        page.body
    );
    assert!(page.body.contains("No Zabbix connection is configured."));
    assert!(
        page.body
            .contains("<option value=\"standalone\" selected>standalone</option>")
    );
    let token = csrf_of(&page.body);

    // Operators see the mode, not the form, and cannot change either with a token of theirs.
    let opage = op.get("/settings");
    assert!(
        opage
            .body
            .contains("Monitoring mode: <strong id=\"z-mode-text\">standalone</strong>"),
        "{}",
        opage.body
    );
    assert!(!opage.body.contains("action=\"/settings/zabbix"));
    let otoken = csrf_of(&opage.body);
    assert_eq!(
        op.post("/settings/mode", &[("csrf", &otoken), ("mode", "hybrid")])
            .status,
        403
    );
    let conn = [
        ("url", "http://127.0.0.1:1/zabbix"),
        ("auth", "password"),
        ("username", "Admin"),
        ("password", "zbx-secret-pw-1"),
        ("api_token", ""),
        ("sync_interval_s", "5"),
        ("timeout_s", "2"),
    ];
    for path in ["/settings/zabbix", "/settings/zabbix/test"] {
        let mut f = vec![("csrf", otoken.as_str())];
        f.extend(conn);
        assert_eq!(op.post(path, &f).status, 403, "{path}");
    }
    // No token, no change.
    assert_eq!(
        admin.post("/settings/mode", &[("mode", "hybrid")]).status,
        403
    );

    // A Zabbix mode needs a connection first; an unknown mode names the field.
    let r = admin.post("/settings/mode", &[("csrf", &token), ("mode", "hybrid")]);
    assert_eq!(r.status, 303);
    let msg = flash_of(&mut admin, &r.location);
    assert!(
        msg.contains("configure the Zabbix connection first"),
        "{msg}"
    );
    let r = admin.post("/settings/mode", &[("csrf", &token), ("mode", "both")]);
    assert!(flash_of(&mut admin, &r.location).contains("mode"));

    let form = |over: &[(&'static str, &'static str)]| {
        let mut f: Vec<(&str, &str)> = conn.to_vec();
        for (k, v) in over {
            f.iter_mut().find(|(n, _)| n == k).unwrap().1 = v;
        }
        f
    };
    let post = |b: &mut Browser, path: &str, f: Vec<(&str, &str)>| {
        let mut all = vec![("csrf", token.as_str())];
        all.extend(f);
        b.post(path, &all)
    };

    // Test: refused input names the field, keeps the form, never echoes the secret.
    let r = post(
        &mut admin,
        "/settings/zabbix/test",
        form(&[("url", "ftp://z")]),
    );
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains("url: must start with http:// or https://"),
        "{}",
        r.body
    );
    assert!(r.body.contains("value=\"ftp://z\""));
    assert!(!r.body.contains("zbx-secret-pw-1"));
    let r = post(
        &mut admin,
        "/settings/zabbix/test",
        form(&[("password", "")]),
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("password"), "{}", r.body);
    let r = post(
        &mut admin,
        "/settings/zabbix/test",
        form(&[("sync_interval_s", "often")]),
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("sync_interval_s"), "{}", r.body);
    // A closed port: unreachable, with the error's message.
    let r = post(&mut admin, "/settings/zabbix/test", form(&[]));
    assert_eq!(r.status, 200, "{}", r.body);
    let result = r
        .body
        .split("id=\"z-test-result\">")
        .nth(1)
        .expect("a test result");
    assert!(result.starts_with("unreachable: "), "{result}");
    assert!(!r.body.contains("zbx-secret-pw-1"));
    assert!(r.body.contains("value=\"http://127.0.0.1:1/zabbix\""));
    // This server answers, but it is not Zabbix.
    let here = format!("http://{}/", s.addr);
    let mut f = form(&[]);
    f[0].1 = &here;
    let r = post(&mut admin, "/settings/zabbix/test", f);
    let result = r
        .body
        .split("id=\"z-test-result\">")
        .nth(1)
        .expect("a test result");
    assert!(result.starts_with("not_zabbix: "), "{result}");
    // Testing saved nothing.
    assert_eq!(get(&s, &tok, "/api/v1/settings/zabbix").0, 404);

    // Save: stored (the password encrypted, never shown), the sync woken.
    let r = post(
        &mut admin,
        "/settings/zabbix",
        form(&[("timeout_s", "500")]),
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("timeout_s: must be 1 to 120"), "{}", r.body);
    let r = post(&mut admin, "/settings/zabbix", form(&[]));
    assert_eq!(r.status, 303, "{}", r.body);
    let msg = flash_of(&mut admin, &r.location);
    assert!(
        msg.contains("Zabbix connection to http://127.0.0.1:1/zabbix saved."),
        "{msg}"
    );
    let (st, z) = get(&s, &tok, "/api/v1/settings/zabbix");
    assert_eq!(st, 200, "{z}");
    assert_eq!(
        (
            z["username"].as_str(),
            z["has_password"].as_bool(),
            z["sync_interval_s"].as_u64()
        ),
        (Some("Admin"), Some(true), Some(5))
    );
    let page = admin.get("/settings");
    assert!(!page.body.contains("zbx-secret-pw-1"));
    assert!(page.body.contains("stored; leave empty to keep it"));
    assert!(page.body.contains("value=\"Admin\""));
    // An empty password keeps the stored one (same user); a new user needs one.
    let r = post(
        &mut admin,
        "/settings/zabbix",
        form(&[("password", ""), ("timeout_s", "3")]),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(get(&s, &tok, "/api/v1/settings/zabbix").1["timeout_s"], 3);
    let r = post(
        &mut admin,
        "/settings/zabbix",
        form(&[("password", ""), ("username", "other")]),
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("password: required"), "{}", r.body);

    // Hybrid: Zabbix is unreachable, so every page says its data is stale, and why.
    assert!(stale_note(&admin.get("/devices").body).is_none());
    let r = admin.post("/settings/mode", &[("csrf", &token), ("mode", "hybrid")]);
    assert!(flash_of(&mut admin, &r.location).contains("Monitoring mode: hybrid."));
    assert_eq!(get(&s, &tok, "/api/v1/settings/mode").1["mode"], "hybrid");
    let note = eventually("the stale note", Duration::from_secs(20), || {
        stale_note(&op.get("/devices").body)
    });
    assert!(note.contains("No Zabbix data yet: unreachable"), "{note}");
    for path in ["/", "/alerts", "/monitor", "/settings"] {
        let body = op.get(path).body;
        assert!(stale_note(&body).is_some(), "{path}");
    }
    let opage = op.get("/settings");
    assert!(
        opage
            .body
            .contains("Monitoring mode: <strong id=\"z-mode-text\">hybrid</strong>")
    );
    assert!(
        opage
            .body
            .contains("<dt>Last error</dt><dd class=\"bad\">unreachable: "),
        "{}",
        opage.body
    );
    assert!(opage.body.contains("<dt>Last success</dt><dd>never</dd>"));
    // Devices name their source.
    let list = op.get("/devices").body;
    assert!(
        list.contains("<span class=\"badge src-standalone\""),
        "{list}"
    );

    // Back to standalone: the note goes.
    let r = admin.post(
        "/settings/mode",
        &[("csrf", &token), ("mode", "standalone")],
    );
    assert!(flash_of(&mut admin, &r.location).contains("Monitoring mode: standalone."));
    eventually("the stale note gone", Duration::from_secs(20), || {
        stale_note(&op.get("/devices").body).is_none().then_some(())
    });
}

/// The value of the `attr` attribute of the first element after `needle` in `body`.
fn attr_after(body: &str, needle: &str, attr: &str) -> Option<String> {
    let rest = &body[body.find(needle)?..];
    let key = format!("{attr}=\"");
    let rest = &rest[rest.find(&key)? + key.len()..];
    Some(rest[..rest.find('"')?].to_string())
}

/// The settings section and the source badges against the real Zabbix 6.0 of
/// `scripts/zabbix-rig.sh` (`wardflux_testkit::zabbix`): "Test connection" says
/// `wrong_credentials`, then "Connected: Zabbix 6.0..."; once saved and in hybrid mode, a
/// Zabbix-only host is listed with a `zabbix` badge, a host matched to our device by IP with
/// `both`, its problem on the alerts page with a "Zabbix" badge (acknowledged from the page,
/// which lands in Zabbix), and its `icmpping` on Monitor as a Zabbix state.
#[test]
fn a_real_zabbix_is_tested_from_settings_and_its_hosts_and_problems_show_their_source() {
    use wardflux_testkit::zabbix::{Zabbix, id, unique};
    let z = Zabbix::shared();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rpc = |m: &str, p: serde_json::Value| rt.block_on(z.rpc(m, p));
    let tag = unique("ui");
    let n = (uuid::Uuid::new_v4().as_u128() % 250) as u8 + 1;
    let ip = |last: u8| format!("127.65.{n}.{last}");
    let gid = rpc("hostgroup.create", json!({"name": format!("wf-{tag}")}))["groupids"][0].clone();
    let iface = |addr: String| json!([{"type": 1, "main": 1, "useip": 1, "ip": addr, "dns": "", "port": "10050"}]);
    let atm = format!("atm-{tag}");
    let atm_id = id(&rpc(
        "host.create",
        json!({"host": atm, "groups": [{"groupid": gid}], "interfaces": iface(ip(1))}),
    )["hostids"][0]);
    let core = format!("core-{tag}");
    rpc(
        "host.create",
        json!({"host": core, "groups": [{"groupid": gid}], "interfaces": iface(ip(2))}),
    );
    for key in ["cpu.trap", "icmpping"] {
        rpc(
            "item.create",
            json!({"hostid": atm_id.to_string(), "name": key, "key_": key, "type": 2, "value_type": 3}),
        );
    }
    let trigger = format!("CPU too high on {atm}");
    rpc(
        "trigger.create",
        json!({"description": trigger, "expression": format!("last(/{atm}/cpu.trap)>90"), "priority": 5}),
    );

    let (s, _dir, tok) = server();
    add_device(&s, &tok, "our-core", &ip(2));
    let mut admin = Browser::new(&s);
    admin.login("admin", PW, "/");
    let token = csrf_of(&admin.get("/settings").body);
    let url = z.api_url.clone();
    let form = |pw: &str| {
        vec![
            ("csrf", token.clone()),
            ("url", url.clone()),
            ("auth", "password".to_string()),
            ("username", z.user.clone()),
            ("password", pw.to_string()),
            ("sync_interval_s", "5".to_string()),
            ("timeout_s", "5".to_string()),
        ]
    };
    let send = |b: &mut Browser, path: &str, f: Vec<(&str, String)>| {
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.post(path, &f)
    };
    let r = send(
        &mut admin,
        "/settings/zabbix/test",
        form("not-the-password"),
    );
    let result = r
        .body
        .split("id=\"z-test-result\">")
        .nth(1)
        .expect("a test result");
    assert!(result.starts_with("wrong_credentials: "), "{result}");
    let r = send(&mut admin, "/settings/zabbix/test", form(&z.password));
    let result = r
        .body
        .split("id=\"z-test-result\">")
        .nth(1)
        .expect("a test result");
    assert!(result.starts_with("Connected: Zabbix 6.0."), "{result}");
    let r = send(&mut admin, "/settings/zabbix", form(&z.password));
    assert_eq!(r.status, 303, "{}", r.body);
    let r = admin.post("/settings/mode", &[("csrf", &token), ("mode", "hybrid")]);
    assert!(flash_of(&mut admin, &r.location).contains("Monitoring mode: hybrid."));

    // Devices: the Zabbix-only host and the matched one, each with its source.
    let list = eventually("the Zabbix hosts listed", Duration::from_secs(60), || {
        let b = admin.get(&format!("/devices?q=127.65.{n}.")).body;
        b.contains(&atm).then_some(b)
    });
    let row = |name: &str| {
        let at = list.find(&format!(">{name}</a>")).unwrap();
        list[at..at + list[at..].find("</tr>").unwrap()].to_string()
    };
    assert!(row(&atm).contains("badge src-zabbix"), "{}", row(&atm));
    assert!(
        row("our-core").contains("badge src-both"),
        "{}",
        row("our-core")
    );
    assert!(
        !list.contains(&format!(">{core}</a>")),
        "matched, not listed twice: {list}"
    );
    let before = &list[..list.find(&format!(">{atm}</a>")).unwrap()];
    let link = &before[before.rfind("<a href=\"").unwrap() + 9..];
    let atm_path = link[..link.find('"').unwrap()].to_string();
    let page = admin.get(&atm_path);
    assert!(
        page.body.contains(&format!("(Zabbix host id {atm_id})")),
        "{}",
        page.body
    );
    assert!(stale_note(&page.body).is_none());

    // Its problem: a critical alert with a Zabbix badge, acknowledged from the page.
    rt.block_on(z.send_until_processed(&atm, "cpu.trap", "97"));
    rt.block_on(z.send_until_processed(&atm, "icmpping", "1"));
    let alerts = eventually(
        "the problem on the alerts page",
        Duration::from_secs(60),
        || {
            let b = admin.get("/alerts").body;
            b.contains(&trigger).then_some(b)
        },
    );
    let at = alerts.find(&trigger).unwrap();
    let row_start = alerts[..at].rfind("<tr").unwrap();
    let alert_row = &alerts[row_start..at + alerts[at..].find("</tr>").unwrap()];
    assert!(alert_row.contains("badge sev-critical"), "{alert_row}");
    assert!(
        alert_row.contains("<span class=\"badge origin-zabbix\""),
        "{alert_row}"
    );
    let action = attr_after(alert_row, "<form", "action").unwrap();
    assert!(action.ends_with("/ack"), "{action}");
    let r = admin.post(
        &action,
        &[("csrf", &token), ("comment", "on site, ticket 99")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let problems = rpc(
        "problem.get",
        json!({"hostids": [atm_id.to_string()], "selectAcknowledges": "extend", "output": "extend"}),
    );
    assert!(
        problems.to_string().contains("on site, ticket 99"),
        "the acknowledge reached Zabbix: {problems}"
    );
    // The page shows it acknowledged; Zabbix, not this page, closes its problems.
    let alerts = admin.get("/alerts").body;
    let at = alerts.find(&trigger).unwrap();
    let row = &alerts[alerts[..at].rfind("<tr").unwrap()..at + alerts[at..].find("</tr>").unwrap()];
    assert!(row.contains("on site, ticket 99"), "{row}");
    assert!(!row.contains("/resolve"), "{row}");
    assert!(row.contains("closed by Zabbix"), "{row}");
    // The device page: its state is Zabbix' icmpping.
    let page = eventually(
        "icmpping on the device page",
        Duration::from_secs(60),
        || {
            let b = admin.get(&atm_path).body;
            b.contains("ago (Zabbix icmpping)").then_some(b)
        },
    );
    assert!(page.contains("id=\"dev-state\">up</span>"), "{page}");

    // Zabbix becomes unreachable (the connection now points at a closed port; the stored
    // password is kept): what was synced stays, under a note with its age and why.
    let mut f = form("");
    f[1].1 = "http://127.0.0.1:1/zabbix".to_string();
    let r = send(&mut admin, "/settings/zabbix", f);
    assert_eq!(r.status, 303, "{}", r.body);
    let note = eventually(
        "the stale note with the age",
        Duration::from_secs(30),
        || stale_note(&admin.get("/alerts").body),
    );
    assert!(
        note.contains("Zabbix data ") && note.contains(" old: unreachable"),
        "{note}"
    );
    let list = admin.get(&format!("/devices?q=127.65.{n}.")).body;
    assert!(
        list.contains(&format!(">{atm}</a>")),
        "the cached host stays: {list}"
    );
    assert!(
        admin.get("/alerts").body.contains(&trigger),
        "the cached problem stays"
    );

    // Monitor: the Zabbix-only host's state is Zabbix' icmpping.
    let mon = eventually("icmpping on Monitor", Duration::from_secs(60), || {
        let b = admin.get(&format!("/monitor?q={atm}")).body;
        b.contains("title=\"the state is Zabbix' icmpping\">Zabbix</small>")
            .then_some(b)
    });
    assert!(mon.contains("<span class=\"badge up\">up</span>"), "{mon}");
}
