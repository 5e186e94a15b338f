//! The web UI end to end in real headless Chromium (Debian `chromium` + `chromium-driver`,
//! driven over WebDriver with fantoccini): log in, add a device that lives in a network
//! namespace this test creates, watch it come up, make it silent with nft and see it reach
//! the top of Monitor as down without a reload, acknowledge its alert with a comment, and
//! open its page with its charts drawn. Every page is saved as a screenshot under
//! `target/tmp/ui-screenshots/`; the browser's console must show no error and no request
//! may leave 127.0.0.1.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use wardflux_testkit::netns::{Netns, require};

mod common;
use common::*;

const PW: &str = "browser-admin-pw";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver() -> (Driver, String) {
    require(&[
        ("chromedriver", "chromium-driver"),
        ("chromium", "chromium"),
    ]);
    let port = wardflux_testkit::free_port();
    let log = format!("{}/chromedriver-{port}.log", env!("CARGO_TARGET_TMPDIR"));
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .arg(format!("--log-path={log}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn chromedriver");
    let url = format!("http://127.0.0.1:{port}");
    let driver = Driver(child);
    eventually("chromedriver answers", Duration::from_secs(20), || {
        reqwest::blocking::get(format!("{url}/status"))
            .ok()
            .filter(|r| r.status().is_success())
    });
    (driver, url)
}

/// `POST /session/{id}/se/log`: Chromium's console and network logs (no fantoccini API).
#[derive(Debug)]
struct GetLog(&'static str);

impl WebDriverCompatibleCommand for GetLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": self.0 }).to_string()),
        )
    }
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.expect("script runs")
}

/// Re-evaluates `script` (a JS expression) until it is truthy or `within` passes.
async fn until(c: &Client, what: &str, within: Duration, script: &str) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let v = js(c, &format!("return ({script});")).await;
        if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// WCAG 2 A and AA violations found by axe-core on the pages screenshotted so far.
static A11Y: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Saves a screenshot of the page and runs axe-core (tests/fixtures/axe) over it.
async fn shot(c: &Client, name: &str) {
    let dir = format!("{}/ui-screenshots", env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.expect("screenshot");
    let path = format!("{dir}/{name}.png");
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {path}");
    c.execute(include_str!("fixtures/axe/axe.min.js"), vec![])
        .await
        .expect("axe-core loads");
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
               .then(r => done(r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at '
                   + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))))
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    for v in found.as_array().unwrap() {
        A11Y.lock()
            .unwrap()
            .push(format!("{name}: {}", v.as_str().unwrap()));
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    let e = c.find(Locator::Css(css)).await.expect(css);
    e.clear().await.ok();
    e.send_keys(text).await.expect(css);
}

async fn submit(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .expect(css)
        .click()
        .await
        .expect(css);
}

#[test]
fn a_device_goes_down_live_on_monitor_and_its_alert_is_acknowledged() {
    // The peers start from plain threads (blocking clients); the browser session runs on a
    // runtime of its own.
    let ns = Netns::new();
    let ip = ns.link_to_host();
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), Some(PW));
    wait_healthy(&server);
    let base = format!("http://{}", server.addr);
    let (_driver, driver_url) = chromedriver();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario(&ns, &ip, &base, &driver_url));
    drop(server);
}

async fn scenario(ns: &Netns, ip: &str, base: &str, driver_url: &str) {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": [
            "--headless=new", "--no-sandbox", "--window-size=1280,1000",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        ]}),
    );
    caps.insert(
        "goog:loggingPrefs".into(),
        json!({"browser": "ALL", "performance": "ALL"}),
    );
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver_url)
        .await
        .expect("a WebDriver session");

    // Log in.
    c.goto(&format!("{base}/monitor")).await.unwrap();
    until(
        &c,
        "the login form",
        Duration::from_secs(10),
        "document.querySelector('#password')",
    )
    .await;
    shot(&c, "01-login").await;
    fill(&c, "#username", "admin").await;
    fill(&c, "#password", PW).await;
    submit(&c, "form button[type=submit]").await;
    until(
        &c,
        "Monitor after login",
        Duration::from_secs(10),
        "location.pathname === '/monitor' && document.querySelector('h1')",
    )
    .await;

    // Add the device through the form.
    c.goto(&format!("{base}/devices")).await.unwrap();
    fill(&c, "#d-name", "branch-rtr-7").await;
    fill(&c, "#d-ip", ip).await;
    fill(&c, "#d-region", "north").await;
    shot(&c, "02-devices-add").await;
    submit(&c, "form.grid-form button[type=submit]").await;
    let device_path = until(&c, "the new device's page", Duration::from_secs(10),
        "location.pathname.startsWith('/devices/') && document.querySelector('h1').textContent.includes('branch-rtr-7') && location.pathname").await;
    let device_path = device_path.as_str().unwrap().to_string();
    let device_id = device_path.trim_start_matches("/devices/").to_string();

    // Monitor: the device comes up, then goes down on the same page, without a reload.
    c.goto(&format!("{base}/monitor")).await.unwrap();
    js(&c, "window.__sameDocument = 'yes'; return 1;").await;
    let badge = format!("document.querySelector('tr[data-device=\"{device_id}\"] .badge')");
    until(
        &c,
        "the device up on Monitor",
        Duration::from_secs(40),
        &format!("{badge} && {badge}.textContent === 'up'"),
    )
    .await;
    shot(&c, "03-monitor-up").await;
    ns.kill(ip);
    until(
        &c,
        "the device down at the top of Monitor, same document",
        Duration::from_secs(60),
        &format!("{badge} && {badge}.textContent === 'down' && document.querySelector('#rows tbody tr').dataset.device === '{device_id}' && window.__sameDocument === 'yes'"),
    )
    .await;
    let row = js(
        &c,
        &format!("return document.querySelector('tr[data-device=\"{device_id}\"]').textContent;"),
    )
    .await;
    assert!(
        row.as_str().unwrap().contains("down "),
        "downtime shown: {row}"
    );
    shot(&c, "04-monitor-down").await;

    // The dashboard counts it.
    c.goto(&format!("{base}/")).await.unwrap();
    until(
        &c,
        "1 down on the dashboard",
        Duration::from_secs(10),
        "document.querySelector('[data-count=down]').textContent === '1'",
    )
    .await;
    shot(&c, "05-dashboard").await;

    // Its alert: acknowledge with a comment.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        c.goto(&format!("{base}/alerts")).await.unwrap();
        let found = js(
            &c,
            "return !!document.querySelector('form.inline-form input[name=comment]');",
        )
        .await;
        if found == json!(true) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the Device unreachable alert never showed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        js(
            &c,
            "return document.body.textContent.includes('Device unreachable');"
        )
        .await
            == json!(true)
    );
    fill(
        &c,
        "form.inline-form input[name=comment]",
        "ISP ticket 4711",
    )
    .await;
    submit(&c, "form.inline-form button[type=submit]").await;
    until(
        &c,
        "the acknowledgement shown",
        Duration::from_secs(10),
        "document.body.textContent.includes('by admin: “ISP ticket 4711”')",
    )
    .await;
    shot(&c, "06-alerts-acknowledged").await;
    submit(&c, "form[action$='/resolve'] button[type=submit]").await;
    until(&c, "the alert resolved by hand", Duration::from_secs(10),
        "document.body.textContent.includes('Resolved.') && document.body.textContent.includes('No active alerts.')").await;

    // The device page with its charts drawn from the Prometheus API.
    c.goto(&format!("{base}{device_path}")).await.unwrap();
    until(
        &c,
        "the RTT chart drawn",
        Duration::from_secs(15),
        "document.querySelector('figure.chart .uplot canvas')",
    )
    .await;
    assert!(
        js(
            &c,
            "return document.querySelector('#dev-state').textContent;"
        )
        .await
            == json!("down")
    );
    let points = until(
        &c,
        "RTT points drawn",
        Duration::from_secs(10),
        "Number(document.querySelector('figure.chart').dataset.points)",
    )
    .await;
    assert!(
        points.as_f64().unwrap() >= 1.0,
        "RTT samples of the up period drawn: {points}"
    );
    shot(&c, "07-device").await;

    // The other pages render (screenshots for review).
    for (name, path) in [
        ("08-rules", "/alerts/rules"),
        ("09-templates", "/templates"),
        ("10-settings", "/settings"),
    ] {
        c.goto(&format!("{base}{path}")).await.unwrap();
        until(
            &c,
            path,
            Duration::from_secs(10),
            "document.querySelector('main h1')",
        )
        .await;
        shot(&c, name).await;
    }

    // A shipped template's page: items, triggers, apply form, editor.
    c.goto(&format!("{base}/templates")).await.unwrap();
    c.find(Locator::Css("table.grid a[href^='/templates/']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &c,
        "a template's page",
        Duration::from_secs(10),
        "document.querySelector('h2#devices')",
    )
    .await;
    shot(&c, "13-template").await;

    // The rule editor checks the expression as it is typed and previews what would fire.
    c.goto(&format!("{base}/alerts/rules/new")).await.unwrap();
    let expr = c.find(Locator::Css("#r-expr")).await.unwrap();
    expr.send_keys("ping_packet_loss >= ").await.unwrap();
    until(
        &c,
        "the live check shows the error's column",
        Duration::from_secs(10),
        "document.querySelector('#expr-check .flash.bad')",
    )
    .await;
    expr.send_keys("0").await.unwrap();
    until(
        &c,
        "the live check accepts it and previews the series",
        Duration::from_secs(10),
        "document.querySelector('#expr-check .flash.ok') && document.querySelector('#expr-check table')",
    )
    .await;
    shot(&c, "12-rule-editor").await;
    // Maintenance times are entered in the browser's zone, which the form starts with.
    c.goto(&format!("{base}/alerts/rules")).await.unwrap();
    until(
        &c,
        "the time-zone field holds the browser's zone",
        Duration::from_secs(10),
        "document.querySelector('#m-tz').value !== ''",
    )
    .await;

    // The dark theme (wall screens), chosen on the page and kept by the next page.
    c.goto(&format!("{base}/monitor")).await.unwrap();
    submit(&c, "#toggle-theme").await;
    c.goto(&format!("{base}/monitor")).await.unwrap();
    until(
        &c,
        "the dark theme kept",
        Duration::from_secs(10),
        "document.documentElement.classList.contains('dark')",
    )
    .await;
    shot(&c, "11-monitor-dark").await;

    // Discovery: a rule saved from the form, run now with live progress, its results
    // listed, one added to monitoring (loopback addresses only).
    c.goto(&format!("{base}/discovery")).await.unwrap();
    fill(&c, "#r-name", "loopback lab").await;
    fill(&c, "#r-ranges", "127.0.0.1-127.0.0.3").await;
    fill(&c, "#r-comm", "public").await;
    shot(&c, "14-discovery-new-rule").await;
    submit(&c, "form[action='/discovery/rules'] button[type=submit]").await;
    until(
        &c,
        "the rule saved",
        Duration::from_secs(10),
        "document.body.textContent.includes('Rule loopback lab saved.')",
    )
    .await;
    submit(&c, "form[action$='/run'] button[type=submit]").await;
    until(
        &c,
        "the scan started",
        Duration::from_secs(10),
        "document.body.textContent.includes('Scan started')",
    )
    .await;
    js(&c, "window.__scanDoc = 'yes'; return 1;").await;
    until(
        &c,
        "the scan done on the same page (live progress)",
        Duration::from_secs(30),
        "document.querySelector('#jobs tbody tr .state').textContent === 'done' && window.__scanDoc === 'yes'",
    )
    .await;
    c.goto(&format!("{base}/discovery")).await.unwrap();
    until(
        &c,
        "three results",
        Duration::from_secs(10),
        "document.querySelectorAll('#results tbody input[name=result]').length === 3",
    )
    .await;
    shot(&c, "15-discovery").await;
    c.find(Locator::Css("#results tbody input[name=result]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    submit(&c, "#results button[type=submit]").await;
    until(
        &c,
        "one result added and shown as monitored",
        Duration::from_secs(10),
        "document.body.textContent.includes('Added 1 device:') && document.querySelectorAll('#results a[href^=\"/devices/\"]').length === 1",
    )
    .await;
    shot(&c, "16-discovery-added").await;

    // Settings: the Zabbix connection tested (a closed loopback port: unreachable), saved,
    // and the mode switched to hybrid; Zabbix being unreachable, the pages say its data is
    // stale, and devices show their source. (The real Zabbix is tested in tests/zabbix.rs.)
    c.goto(&format!("{base}/settings")).await.unwrap();
    fill(&c, "#z-url", "http://127.0.0.1:1/zabbix").await;
    fill(&c, "#z-user", "Admin").await;
    fill(&c, "#z-pw", "zabbix-pw-in-browser").await;
    fill(&c, "#z-interval", "5").await;
    fill(&c, "#z-timeout", "2").await;
    submit(&c, "button[formaction^='/settings/zabbix/test']").await;
    let result = until(
        &c,
        "the connection test's result",
        Duration::from_secs(20),
        "document.querySelector('#z-test-result') && document.querySelector('#z-test-result').textContent",
    )
    .await;
    assert!(
        result.as_str().unwrap().starts_with("unreachable: "),
        "{result}"
    );
    // The form keeps what was typed, except the password.
    assert_eq!(
        js(&c, "return [document.querySelector('#z-url').value, document.querySelector('#z-pw').value];").await,
        json!(["http://127.0.0.1:1/zabbix", ""])
    );
    shot(&c, "17-settings-zabbix-test").await;
    fill(&c, "#z-pw", "zabbix-pw-in-browser").await;
    submit(&c, "form[action^='/settings/zabbix#'] button.primary").await;
    until(
        &c,
        "the connection saved",
        Duration::from_secs(10),
        "document.body.textContent.includes('Zabbix connection to http://127.0.0.1:1/zabbix saved.')",
    )
    .await;
    c.find(Locator::Css("#z-mode"))
        .await
        .unwrap()
        .select_by_value("hybrid")
        .await
        .unwrap();
    submit(&c, "form[action='/settings/mode'] button[type=submit]").await;
    until(
        &c,
        "the mode switched",
        Duration::from_secs(10),
        "document.body.textContent.includes('Monitoring mode: hybrid.')",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        c.goto(&format!("{base}/settings")).await.unwrap();
        let stale = js(&c, "return !!document.querySelector('main > .stale-note');").await;
        if stale == json!(true) {
            break;
        }
        assert!(Instant::now() < deadline, "the stale note never showed");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let note = js(
        &c,
        "return document.querySelector('main > .stale-note').textContent;",
    )
    .await;
    assert!(
        note.as_str()
            .unwrap()
            .contains("No Zabbix data yet: unreachable"),
        "{note}"
    );
    shot(&c, "18-settings-zabbix-stale").await;
    c.goto(&format!("{base}/devices")).await.unwrap();
    until(
        &c,
        "the devices list with its sources, under the stale note",
        Duration::from_secs(10),
        "document.querySelector('main > .stale-note') && document.querySelector('table.grid .badge.src-standalone')",
    )
    .await;
    shot(&c, "19-devices-hybrid-stale").await;
    c.goto(&format!("{base}/alerts")).await.unwrap();
    until(
        &c,
        "the alerts page under the stale note",
        Duration::from_secs(10),
        "document.querySelector('main > .stale-note')",
    )
    .await;
    shot(&c, "20-alerts-hybrid-stale").await;

    // Now the real Zabbix 6.0 (scripts/zabbix-rig.sh): the test button says connected;
    // once saved, the stale note goes, and its host and problem show their source.
    let z = wardflux_testkit::zabbix::Zabbix::shared();
    let tag = wardflux_testkit::zabbix::unique("br");
    let gid = z.create_group(&format!("wf-{tag}")).await;
    let host = format!("atm-{tag}");
    let n = (uuid::Uuid::new_v4().as_u128() % 250) as u8 + 1;
    let hostid = wardflux_testkit::zabbix::id(
        &z.rpc(
            "host.create",
            json!({"host": host, "groups": [{"groupid": gid.to_string()}],
                   "interfaces": [{"type": 1, "main": 1, "useip": 1, "ip": format!("127.66.{n}.1"), "dns": "", "port": "10050"}]}),
        )
        .await["hostids"][0],
    );
    for key in ["cpu.trap", "icmpping"] {
        z.rpc(
            "item.create",
            json!({"hostid": hostid.to_string(), "name": key, "key_": key, "type": 2, "value_type": 3}),
        )
        .await;
    }
    z.rpc(
        "trigger.create",
        json!({"description": format!("CPU too high on {host}"),
               "expression": format!("last(/{host}/cpu.trap)>90"), "priority": 4}),
    )
    .await;
    z.send_until_processed(&host, "cpu.trap", "97").await;
    z.send_until_processed(&host, "icmpping", "0").await;
    c.goto(&format!("{base}/settings")).await.unwrap();
    fill(&c, "#z-url", &z.api_url).await;
    fill(&c, "#z-user", &z.user).await;
    fill(&c, "#z-pw", &z.password).await;
    submit(&c, "button[formaction^='/settings/zabbix/test']").await;
    let result = until(
        &c,
        "the connection test's result",
        Duration::from_secs(20),
        "document.querySelector('#z-test-result') && document.querySelector('#z-test-result').textContent",
    )
    .await;
    assert!(
        result
            .as_str()
            .unwrap()
            .starts_with("Connected: Zabbix 6.0."),
        "{result}"
    );
    shot(&c, "21-settings-zabbix-connected").await;
    fill(&c, "#z-pw", &z.password).await;
    submit(&c, "form[action^='/settings/zabbix#'] button.primary").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        c.goto(&format!("{base}/devices?q=127.66.{n}."))
            .await
            .unwrap();
        let ok = js(
            &c,
            "return !document.querySelector('main > .stale-note') && !!document.querySelector('table.grid .badge.src-zabbix');",
        )
        .await;
        if ok == json!(true) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the Zabbix host never showed, fresh"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    shot(&c, "22-devices-zabbix").await;
    c.goto(&format!("{base}/alerts")).await.unwrap();
    until(
        &c,
        "the Zabbix problem with its badge",
        Duration::from_secs(30),
        "document.querySelector('table.grid .badge.origin-zabbix')",
    )
    .await;
    shot(&c, "23-alerts-zabbix").await;
    c.goto(&format!("{base}/monitor?q={host}")).await.unwrap();
    until(
        &c,
        "the Zabbix-only host down on Monitor, by Zabbix",
        Duration::from_secs(30),
        "document.querySelector('#rows tbody tr .badge.down') && document.querySelector('#rows tbody tr small.src')",
    )
    .await;
    shot(&c, "24-monitor-zabbix").await;
    c.goto(&format!("{base}/settings")).await.unwrap();
    shot(&c, "25-settings-zabbix-synced").await;

    // Accessibility: axe-core found no WCAG 2 A/AA violation on any page.
    let a11y = A11Y.lock().unwrap().clone();
    assert!(
        a11y.is_empty(),
        "accessibility violations:\n{}",
        a11y.join("\n")
    );

    // No console errors (CSP violations included), no request to anything but the server.
    let console = c.issue_cmd(GetLog("browser")).await.unwrap();
    let errors: Vec<&Value> = console
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let perf = c.issue_cmd(GetLog("performance")).await.unwrap();
    let mut urls = 0;
    for e in perf.as_array().unwrap() {
        let m: Value = serde_json::from_str(e["message"].as_str().unwrap()).unwrap();
        if m["message"]["method"] == "Network.requestWillBeSent" {
            let u = m["message"]["params"]["request"]["url"]
                .as_str()
                .unwrap_or("");
            urls += 1;
            assert!(
                u.starts_with(&format!("{base}/")) || u.starts_with("data:"),
                "a request left the server: {u}"
            );
        }
    }
    assert!(urls > 10, "the network log saw {urls} requests");
    c.close().await.unwrap();
}
