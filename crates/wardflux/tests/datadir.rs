//! The real binary and its data directory: one process at a time, owner-only files, no
//! store created by accident, the port bound before anything is written.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::*;

const PW: &str = "datadir-admin-pw";

/// Runs `wardflux ARGS --data-dir DATA` to completion; a process still running after 30 s
/// is killed (and the test fails on its status), so a command that should refuse cannot
/// hang the suite.
fn run(data: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("WARDFLUX_CONFIG")
        .env_remove("WARDFLUX_DATABASE_URL")
        .env_remove("WARDFLUX_ENCRYPTION_KEY")
        .env_remove("WARDFLUX_ADMIN_PASSWORD")
        .env_remove("WARDFLUX_USER_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.code(), text)
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_second_process_on_the_data_dir_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start(&data, Some(PW));
    wait_healthy(&s);
    let pid = format!("pid {}", s.child.id());

    let (code, out) = run(&data, &["serve", "--listen", "127.0.0.1:0"], &[]);
    assert_eq!(code, Some(1), "second serve must exit with an error: {out}");
    assert!(out.contains("in use") && out.contains(&pid), "{out}");

    // The CLI commands that open the store respect the lock too.
    for args in [
        &["user", "list"][..],
        &["user", "add", "noc"],
        &["user", "passwd", "admin"],
        &["migrate"],
        &["keys", "rotate"],
    ] {
        let (code, out) = run(&data, args, &[("WARDFLUX_USER_PASSWORD", "pw-123456")]);
        assert_eq!(code, Some(1), "{args:?}: {out}");
        assert!(out.contains(&pid), "{args:?}: {out}");
    }

    // The lock dies with its holder, even on kill -9.
    drop(s);
    let (code, out) = run(&data, &["user", "list"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("admin"), "{out}");
}

#[cfg(unix)]
#[test]
fn the_data_dir_and_everything_in_it_is_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = start(&data, Some(PW));
    wait_healthy(&s);
    let tok = login(&s, PW);
    // A sample, so the metric store has written files of its own.
    let r = client()
        .post(format!("http://{}/api/v1/import/prometheus", s.addr))
        .bearer_auth(&tok)
        .body("perm_probe 1\n")
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(mode(&data), 0o700, "data dir");
    for f in [
        "wardflux.db",
        "wardflux.db-wal",
        "wardflux.db-shm",
        "encryption.key",
        "LOCK",
    ] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    let mut todo = vec![data.join("tsdb")];
    let mut files = 0;
    while let Some(p) = todo.pop() {
        if p.is_dir() {
            assert_eq!(mode(&p), 0o700, "{}", p.display());
            todo.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
            files += 1;
        }
    }
    assert!(files > 0, "the metric store wrote no file");
    drop(s);

    // A directory left group/world-readable by an older version is tightened on start.
    use std::os::unix::fs::PermissionsExt;
    for (p, m) in [(data.clone(), 0o755), (data.join("wardflux.db"), 0o644)] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
    }
    let (code, out) = run(&data, &["user", "list"], &[]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("wardflux.db")), 0o600);
}

#[test]
fn a_serve_whose_port_is_taken_fails_before_creating_anything() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (code, out) = run(&data, &["serve", "--listen", &addr], &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("binding {addr}")), "{out}");
    assert!(!out.contains("password"), "admin created anyway: {out}");
    assert!(!data.exists(), "data directory created: {out}");
}

#[test]
fn cli_commands_do_not_create_a_store_and_serve_warns_without_an_admin() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = data.join("wardflux.db");
    for args in [
        &["user", "list"][..],
        &["user", "add", "noc", "--role", "admin"],
        &["user", "passwd", "admin"],
        &["keys", "rotate"],
    ] {
        let (code, out) = run(&data, args, &[("WARDFLUX_USER_PASSWORD", "pw-123456")]);
        assert_eq!(code, Some(1), "{args:?}: {out}");
        assert!(
            out.contains(&db.display().to_string()) && out.contains("wardflux migrate"),
            "{args:?} must say where it looked and what to do: {out}"
        );
        assert!(!data.exists(), "{args:?} created {}", data.display());
    }

    // `migrate` creates the store; a viewer added then leaves the server without an admin.
    let (code, out) = run(&data, &["migrate"], &[]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(
        &data,
        &["user", "add", "watcher"],
        &[("WARDFLUX_USER_PASSWORD", "watcher-pw-1")],
    );
    assert_eq!(code, Some(0), "{out}");
    let s = start(&data, Some(PW));
    assert!(
        !s.stdout_head.contains("password"),
        "users exist: no admin bootstrap"
    );
    eventually("the no-admin warning", Duration::from_secs(10), || {
        let err = s.stderr.lock().unwrap();
        (err.contains("no enabled user has the admin role")
            && err.contains("wardflux user add NAME --role admin"))
        .then_some(())
    });
}
