//! The data directory: owner-only permissions and one process at a time.
//!
//! The data directory holds the configuration database (password and token hashes), the
//! encryption key file and the metric store. It is created 0700 and everything in it is
//! owner-only: the binary sets its umask to 077 at start ([`restrict_umask`]), so files that
//! SQLite or the metric store create are 0600, and [`lock`] tightens an existing
//! directory written by an older version.
//!
//! Two servers on one directory would replay each other's write-ahead logs and probe every
//! device twice, so whoever uses the directory (the server, and the CLI commands that open
//! the store) holds an exclusive lock on its `LOCK` file, which records the holder's pid.
//! The lock is an advisory `flock` released by the kernel when the process ends, even on
//! `kill -9`, so a stale file never blocks a start.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Name of the lock file inside the data directory.
pub const LOCK_FILE: &str = "LOCK";

/// Makes every file and directory this process creates owner-only (umask 077).
pub fn restrict_umask() {
    #[cfg(unix)]
    {
        use nix::sys::stat::{Mode, umask};
        umask(Mode::from_bits_truncate(0o077));
    }
}

/// The held lock on a data directory; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Creates `dir` (0700) if needed, makes it and its content owner-only, and takes its
/// exclusive lock; refuses, naming the holder's pid, when another process has it.
pub fn lock(dir: &Path) -> anyhow::Result<DataDirLock> {
    create_private_dir(dir)?;
    let path = dir.join(LOCK_FILE);
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut file = opts
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            let who = if holder.is_empty() {
                "another wardflux process".to_string()
            } else {
                format!("another wardflux process (pid {holder})")
            };
            bail!(
                "the data directory {} is in use by {who}; stop it first, or give this one \
                 its own directory with --data-dir",
                dir.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .and_then(|()| file.flush())
        .with_context(|| format!("writing {}", path.display()))?;
    tighten(dir);
    Ok(DataDirLock { _file: file })
}

/// `create_dir_all` with mode 0700 for what it creates.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
        .with_context(|| format!("creating data dir {}", dir.display()))
}

/// Removes group and other permissions from `dir` and everything under it (directories
/// 0700, files 0600 at most), for data directories made by versions before this rule.
/// A file it cannot change is logged, not fatal.
fn tighten(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut todo = vec![dir.to_path_buf()];
        while let Some(p) = todo.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.file_type().is_symlink() {
                continue;
            }
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o077 != 0 {
                let new = mode & 0o700;
                if let Err(e) = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(new)) {
                    tracing::warn!(path = %p.display(), error = %e, "cannot make owner-only");
                }
            }
            if meta.is_dir()
                && let Ok(rd) = std::fs::read_dir(&p)
            {
                todo.extend(rd.flatten().map(|e| e.path()));
            }
        }
    }
}

/// The file of a `sqlite:` database URL (`None` for other backends and in-memory ones).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_file_of_urls() {
        assert_eq!(
            sqlite_file("sqlite:./data/wardflux.db?mode=rwc"),
            Some(PathBuf::from("./data/wardflux.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///var/lib/w.db"),
            Some(PathBuf::from("/var/lib/w.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }

    #[test]
    fn a_second_lock_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("data");
        let held = lock(&d).unwrap();
        let err = lock(&d).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(held);
        lock(&d).expect("free again once the holder is gone");
    }
}
