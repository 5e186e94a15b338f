//! `wardflux keys rotate`: re-encrypt every stored secret under a new key.
//!
//! With a key file the sequence is crash-safe: the new key is written to
//! `encryption.key.next` (0600) before the database is touched; the database re-encrypts
//! in one transaction; then the file is renamed over `encryption.key`. If the process
//! dies between the commit and the rename, `encryption.key.next` holds the key that now
//! decrypts the database, and the server refuses to start until the operator moves it.

use anyhow::{Context, bail};
use wardflux_model::inventory::Actor;
use wardflux_store::Cipher;

use crate::config::Config;

pub async fn rotate(cfg: &Config, new_key: Option<String>) -> anyhow::Result<()> {
    let (_lock, store) = crate::server::open_store(cfg, crate::server::Create::Refused).await?;
    let key = new_key.unwrap_or_else(Cipher::generate_key);
    let new = Cipher::from_key(&key).context("--new-key is not a Fernet key")?;
    let actor = Actor {
        user_id: None,
        name: "cli".into(),
    };
    if cfg.encryption_key.is_some() {
        let n = store.rotate_key(&actor, new).await?;
        println!("re-encrypted {n} secret(s).");
        println!("Set WARDFLUX_ENCRYPTION_KEY to the new key on every node, then restart:");
        println!("{key}");
        return Ok(());
    }
    let current = cfg.data_dir.join("encryption.key");
    let next = cfg.data_dir.join("encryption.key.next");
    if next.exists() {
        bail!(
            "{} exists: a previous rotation was interrupted; inspect it before rotating again",
            next.display()
        );
    }
    write_key_file(&next, &key)?;
    let n = store.rotate_key(&actor, new).await?;
    std::fs::rename(&next, &current)
        .with_context(|| format!("renaming {} to {}", next.display(), current.display()))?;
    println!(
        "re-encrypted {n} secret(s); new key written to {}",
        current.display()
    );
    Ok(())
}

fn write_key_file(path: &std::path::Path, key: &str) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(key.as_bytes())?;
    f.sync_all()?;
    Ok(())
}
