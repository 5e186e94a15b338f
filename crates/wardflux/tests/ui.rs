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
