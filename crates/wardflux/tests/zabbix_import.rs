//! `wardflux zabbix import` as a user runs it, against the real Zabbix 6.0
//! (`scripts/zabbix-rig.sh`, shared through `wardflux_testkit::zabbix`): a dry run prints
//! the plan and writes nothing, the import creates the device, a rerun changes nothing,
//! a wrong password says so.

use std::process::Command;

use serde_json::json;
use wardflux_testkit::zabbix::{Zabbix, unique};

const BIN: &str = env!("CARGO_BIN_EXE_wardflux");

/// Runs `wardflux ARGS --data-dir DATA` with the Zabbix password in `ZBX_PW`; (success,
/// stdout + stderr).
fn run(data: &std::path::Path, args: &[&str], password: &str) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("WARDFLUX_CONFIG")
        .env_remove("WARDFLUX_DATABASE_URL")
        .env("ZBX_PW", password)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn import_dry_run_then_import_then_nothing_new() {
    let z = Zabbix::shared();
    let group = unique("cli");
    let gid = z.create_group(&group).await;
    let host = unique("cli-sw");
    z.rpc(
        "host.create",
        json!({"host": host, "groups": [{"groupid": gid}],
               "interfaces": [{"type": 2, "main": 1, "useip": 1, "ip": "127.1.0.9", "dns": "",
                               "port": "161", "details": {"version": 2, "bulk": 1,
                               "community": "{$SNMP_COMMUNITY}"}}]}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (ok, out) = run(&data, &["migrate"], "");
    assert!(ok, "{out}");
    let url = z.frontend_url();
    let import = |extra: &[&str]| {
        let mut a = vec![
            "zabbix",
            "import",
            "--url",
            &url,
            "--user",
            &z.user,
            "--password-env",
            "ZBX_PW",
            "--group",
            &group,
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let args = import(&["--dry-run"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = run(&data, &args, &z.password);
    assert!(ok, "{out}");
    assert!(out.contains("dry run: nothing written"), "{out}");
    assert!(
        out.contains(&format!(
            "would create  {host}  127.1.0.9:161  snmp v2c  groups: {group}"
        )),
        "{out}"
    );
    assert!(
        out.contains("1 would create, 0 unchanged, 0 skipped"),
        "{out}"
    );

    let args = import(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out) = run(&data, &args, &z.password);
    assert!(ok && out.contains("1 created, 0 unchanged"), "{out}");
    let (ok, out) = run(&data, &args, &z.password);
    assert!(ok && out.contains("0 created, 1 unchanged"), "{out}");

    // a throwaway user: five failed logins would block the admin for every other test
    let user = unique("cli-user");
    z.create_user(&user, "Right-pass-123").await;
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == z.user { user.as_str() } else { a })
        .collect();
    let (ok, out) = run(&data, &args, "not-the-password");
    assert!(!ok && out.contains("(wrong_credentials)"), "{out}");
}
