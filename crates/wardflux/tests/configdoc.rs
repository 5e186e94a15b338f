//! `wardflux config export|import` run as the real binary: a configuration written into one
//! data directory, exported with its secrets, imported into another data directory, imported
//! again (nothing changes), a wrong passphrase and a bad document refused with exit status 2.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};
use wardflux_model::alerts::{ChannelInput, ChannelKind};
use wardflux_model::inventory::{
    Actor, DeviceGroupInput, DeviceInput, Secret, SnmpCredentialInput, SnmpVersion,
};
use wardflux_store::{Cipher, Store};

fn wardflux(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wardflux"));
    c.arg("--data-dir").arg(data).args(args);
    c.env_remove("WARDFLUX_DATABASE_URL")
        .env_remove("WARDFLUX_CONFIG");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Writes a small configuration straight into the store of `data` (the binary has no
/// command to add devices; the server's API is tested elsewhere).
async fn populate(data: &Path) {
    let (cipher, _) = Cipher::load_or_create(data).unwrap();
    let url = format!("sqlite:{}?mode=rwc", data.join("wardflux.db").display());
    let s = Store::connect(&url, cipher).await.unwrap();
    let a = Actor::system();
    let core = s
        .create_device(
            &a,
            DeviceInput {
                name: "core".into(),
                ip: "127.41.0.1".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let edge = s
        .create_device(
            &a,
            DeviceInput {
                name: "edge".into(),
                ip: "127.41.0.2".into(),
                parent_id: Some(core.id),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    s.create_group(
        &a,
        DeviceGroupInput {
            name: "backbone".into(),
            description: None,
            device_ids: vec![core.id, edge.id],
        },
    )
    .await
    .unwrap();
    s.create_snmp_credential(
        &a,
        SnmpCredentialInput {
            name: "edge v2c".into(),
            device_id: Some(edge.id),
            version: Some(SnmpVersion::V2c),
            community: Some(Secret::new("community-4711")),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    s.create_channel(
        &a,
        ChannelInput {
            name: "hook".into(),
            kind: ChannelKind::Webhook,
            config: json!({"url": "http://127.0.0.1:9/hook-secret-path"}),
            enabled: Some(true),
        },
    )
    .await
    .unwrap();
}

fn without_time(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("exported_at");
    v.as_object_mut().unwrap().remove("secrets");
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn export_then_import_into_another_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    let o = wardflux(&a, &["migrate"], &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    populate(&a).await;

    let file = tmp.path().join("conf.json");
    let f = file.to_str().unwrap();
    let pass = [("WF_PASS", "correct horse battery")];
    let o = wardflux(
        &a,
        &[
            "config",
            "export",
            "--include-secrets",
            "--passphrase-env",
            "WF_PASS",
            "-o",
            f,
        ],
        &pass,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("exported 2 devices"),
        "{}",
        text(&o.stderr)
    );
    let doc_text = std::fs::read_to_string(&file).unwrap();
    assert!(!doc_text.contains("community-4711") && !doc_text.contains("hook-secret-path"));
    let doc: Value = serde_json::from_str(&doc_text).unwrap();

    // Dry run into a fresh data directory: reports, writes nothing.
    let o = wardflux(
        &b,
        &[
            "config",
            "import",
            f,
            "--dry-run",
            "--passphrase-env",
            "WF_PASS",
        ],
        &pass,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.starts_with("dry run: nothing written"), "{out}");
    assert!(
        out.contains("create        devices                127.41.0.2"),
        "{out}"
    );
    let o = wardflux(&b, &["config", "export"], &[]);
    let empty: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(empty["devices"], json!([]));

    let o = wardflux(
        &b,
        &["config", "import", f, "--passphrase-env", "WF_PASS"],
        &pass,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("done: 5 created, 0 updated, 0 unchanged"),
        "{}",
        text(&o.stdout)
    );
    let o = wardflux(&b, &["config", "export"], &[]);
    let again: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(without_time(again), without_time(doc.clone()));

    // Again: nothing changes.
    let o = wardflux(
        &b,
        &["config", "import", f, "--passphrase-env", "WF_PASS"],
        &pass,
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("done: 0 created, 0 updated, 5 unchanged"),
        "{}",
        text(&o.stdout)
    );

    // A wrong passphrase, a missing one, a bad document: status 2, the field named.
    let o = wardflux(
        &b,
        &["config", "import", f, "--passphrase-env", "WF_PASS"],
        &[("WF_PASS", "nope")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("wrong passphrase"),
        "{}",
        text(&o.stderr)
    );
    let o = wardflux(
        &b,
        &["config", "import", f, "--passphrase-env", "UNSET_VAR_X"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("UNSET_VAR_X"),
        "{}",
        text(&o.stderr)
    );
    let bad = tmp.path().join("bad.json");
    let mut d = without_time(doc);
    d["devices"][0]["ip"] = json!("999.1.1.1");
    d["devices"][1]["groups"] = json!(["nowhere"]);
    std::fs::write(&bad, d.to_string()).unwrap();
    let o = wardflux(&b, &["config", "import", bad.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("refused, nothing written (2 problem(s))"),
        "{err}"
    );
    assert!(
        err.contains("devices[0].ip: must be an IPv4 or IPv6 address"),
        "{err}"
    );
    assert!(
        err.contains("devices[1].groups[0]: no group named \"nowhere\""),
        "{err}"
    );
}
