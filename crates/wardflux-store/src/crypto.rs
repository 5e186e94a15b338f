//! Secret encryption at rest: Fernet tokens, byte-compatible with Python's
//! `cryptography.fernet` (the seed product's format), so existing keys and tokens
//! interoperate. The `fernet` crate does the cryptography; this module only adds key
//! loading (env value or a key file created once with mode 0600) and redaction.

use std::io::Write;
use std::path::Path;

use wardflux_model::inventory::Secret;

use crate::StoreError;

/// Name of the key file inside the data directory.
pub const KEY_FILE: &str = "encryption.key";

/// A Fernet key. `Debug` never shows the key.
#[derive(Clone)]
pub struct Cipher {
    fernet: fernet::Fernet,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(***)")
    }
}

impl Cipher {
    /// A key as Python makes it: urlsafe base64 of 32 bytes (44 characters with padding).
    pub fn from_key(key: &str) -> Result<Cipher, StoreError> {
        let key = key.trim();
        fernet::Fernet::new(key)
            .map(|fernet| Cipher { fernet })
            .ok_or_else(|| {
                StoreError::Crypto("encryption key must be urlsafe base64 of 32 bytes".into())
            })
    }

    /// A new random key in the same text form as `Fernet.generate_key()`.
    pub fn generate_key() -> String {
        fernet::Fernet::generate_key()
    }

    /// Reads `<data_dir>/encryption.key`, or creates it once (mode 0600) with a fresh key.
    /// Returns whether the file was created. Creation uses `create_new`, so two processes
    /// starting at once cannot end up with different keys: the loser reads the winner's key.
    pub fn load_or_create(data_dir: &Path) -> Result<(Cipher, bool), StoreError> {
        let path = data_dir.join(KEY_FILE);
        let io = |what: &str, e: std::io::Error| {
            StoreError::Crypto(format!("{what} {}: {e}", path.display()))
        };
        match std::fs::read_to_string(&path) {
            Ok(s) => return Ok((Self::from_key(&s)?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("cannot read key file", e)),
        }
        std::fs::create_dir_all(data_dir).map_err(|e| io("cannot create directory for", e))?;
        let key = Self::generate_key();
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        match opts.open(&path) {
            Ok(mut f) => {
                f.write_all(key.as_bytes())
                    .and_then(|()| f.write_all(b"\n"))
                    .and_then(|()| f.sync_all())
                    .map_err(|e| io("cannot write key file", e))?;
                Ok((Self::from_key(&key)?, true))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let s =
                    std::fs::read_to_string(&path).map_err(|e| io("cannot read key file", e))?;
                Ok((Self::from_key(&s)?, false))
            }
            Err(e) => Err(io("cannot create key file", e)),
        }
    }

    /// Encrypts a UTF-8 string into a Fernet token.
    pub fn encrypt(&self, plain: &str) -> String {
        self.fernet.encrypt(plain.as_bytes())
    }

    /// Decrypts a Fernet token made with this key (no TTL check: stored secrets do not expire).
    pub fn decrypt(&self, token: &str) -> Result<Secret, StoreError> {
        let bytes = self.fernet.decrypt(token).map_err(|_| {
            StoreError::Crypto(
                "cannot decrypt a stored secret: wrong encryption key or corrupt token".into(),
            )
        })?;
        String::from_utf8(bytes)
            .map(Secret::new)
            .map_err(|_| StoreError::Crypto("decrypted secret is not UTF-8".into()))
    }
}
