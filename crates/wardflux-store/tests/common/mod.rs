//! Shared by the store test binaries: a fresh store per backend (SQLite temp file, and a
//! fresh PostgreSQL database on 127.0.0.1:5432, dropped afterwards).
#![allow(dead_code)]

use wardflux_model::inventory::{Actor, Device, DeviceInput};
use wardflux_store::{Cipher, Store};

pub struct Db {
    pub store: Store,
    pub pg: Option<String>,
    /// The SQLite database's URL (`None` for PostgreSQL).
    pub url: Option<String>,
    pub _dir: tempfile::TempDir,
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(db) = self.pg.take() {
            let _ = std::process::Command::new("psql")
                .args(["-h", "127.0.0.1", "-U", "postgres", "-qc"])
                .arg(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .status();
        }
    }
}

pub async fn open(backend: &str, cipher: Cipher) -> Db {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = if backend == "postgres" {
        let name = format!("wardflux_store_{}", uuid::Uuid::new_v4().simple());
        let ok = std::process::Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-qc"])
            .arg(format!("CREATE DATABASE {name}"))
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "PostgreSQL on 127.0.0.1:5432 is required: run scripts/test.sh"
        );
        (
            format!("postgres://postgres@127.0.0.1:5432/{name}"),
            Some(name),
        )
    } else {
        (
            format!("sqlite:{}?mode=rwc", dir.path().join("t.db").display()),
            None,
        )
    };
    let store = Store::connect(&url, cipher).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrate twice is a no-op");
    Db {
        store,
        url: pg.is_none().then_some(url),
        pg,
        _dir: dir,
    }
}

pub fn key() -> Cipher {
    Cipher::from_key(&Cipher::generate_key()).unwrap()
}

/// Runs `f` once per backend.
macro_rules! both {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            use super::*;
            async fn run($db: Db) $body
            #[tokio::test]
            async fn sqlite() {
                run(open("sqlite", key()).await).await
            }
            #[tokio::test]
            async fn postgres() {
                run(open("postgres", key()).await).await
            }
        }
    };
}

/// Device `name` at `ip`, everything else default.
pub fn dev(name: &str, ip: &str) -> DeviceInput {
    DeviceInput {
        name: name.into(),
        ip: ip.into(),
        ..Default::default()
    }
}

/// Device `name` at `ip`, created by the system.
pub async fn add_device(s: &Store, name: &str, ip: &str) -> Device {
    s.create_device(&Actor::system(), dev(name, ip))
        .await
        .unwrap()
}
