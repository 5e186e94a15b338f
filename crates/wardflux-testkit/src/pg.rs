//! A fresh PostgreSQL database on the test server (127.0.0.1:5432, user `postgres`, trust
//! authentication), created through `psql` and dropped (with its connections) on drop, so
//! test binaries running at the same time never share tables.

use std::process::{Command, Stdio};

/// A database made for one test; dropped with `DROP DATABASE … WITH (FORCE)` on drop.
pub struct TempDatabase {
    /// The database's name: `prefix` and a random suffix.
    pub name: String,
    /// `postgres://postgres@127.0.0.1:5432/<name>`.
    pub url: String,
}

impl TempDatabase {
    /// Creates `<prefix>_<random>`. Panics when PostgreSQL is not there: tests that ask for it
    /// fail, never skip.
    pub fn create(prefix: &str) -> Self {
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        assert!(
            psql(&format!("CREATE DATABASE {name}")),
            "PostgreSQL at 127.0.0.1:5432 (user postgres) is required: run scripts/test.sh"
        );
        Self {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        }
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// Runs one SQL command as `postgres` on 127.0.0.1; whether it succeeded.
fn psql(sql: &str) -> bool {
    Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-qc", sql])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
