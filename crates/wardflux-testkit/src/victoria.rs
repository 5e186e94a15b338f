//! Test peers: a real VictoriaMetrics (Debian package `victoria-metrics`) started by the test
//! on a free 127.0.0.1 port with its data in a tempdir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The VictoriaMetrics binary: `$WARDFLUX_VM_BIN` or `victoria-metrics` on `PATH`.
/// A missing binary is a test failure (with or without CI=true), never a skip.
pub fn vm_binary() -> PathBuf {
    if let Ok(p) = std::env::var("WARDFLUX_VM_BIN") {
        return PathBuf::from(p);
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join("victoria-metrics");
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "victoria-metrics binary not found: install the Debian package `victoria-metrics` \
         (scripts/test.sh does) or set WARDFLUX_VM_BIN"
    );
}

pub use crate::free_port;

/// A running VictoriaMetrics single node.
pub struct Vm {
    child: Option<Child>,
    pub port: u16,
    pub url: String,
    pub data: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Vm {
    /// Starts VictoriaMetrics in a fresh tempdir on a free port and waits until it is healthy.
    pub async fn start() -> Vm {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("vm");
        for _ in 0..5 {
            let port = free_port();
            let mut vm = Vm {
                child: None,
                port,
                url: format!("http://127.0.0.1:{port}"),
                data: data.clone(),
                _dir: None,
            };
            if vm.spawn().await {
                vm._dir = Some(dir);
                return vm;
            }
        }
        panic!("VictoriaMetrics did not start (5 attempts)");
    }

    /// Starts VictoriaMetrics on a given port (for "it comes back later" tests).
    pub async fn start_at(port: u16) -> Vm {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut vm = Vm {
            child: None,
            port,
            url: format!("http://127.0.0.1:{port}"),
            data: dir.path().join("vm"),
            _dir: Some(dir),
        };
        assert!(
            vm.spawn().await,
            "VictoriaMetrics did not start on port {port}"
        );
        vm
    }

    /// (Re)starts the process on the same port and data dir; false if it did not come up.
    pub async fn spawn(&mut self) -> bool {
        let child = Command::new(vm_binary())
            .arg(format!("-httpListenAddr=127.0.0.1:{}", self.port))
            .arg(format!("-storageDataPath={}", self.data.display()))
            .arg("-retentionPeriod=100y")
            .arg("-search.latencyOffset=0s")
            .arg("-search.disableCache")
            .arg("-loggerLevel=ERROR")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn victoria-metrics");
        self.child = Some(child);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(_)) = c.try_wait()
            {
                self.child = None;
                return false;
            }
            if let Ok(r) = client.get(format!("{}/health", self.url)).send().await
                && r.status().is_success()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stop();
        false
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends a signal (`-STOP`, `-CONT`, `-TERM`) with kill(1).
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(sig)
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(st.success(), "kill {sig} failed");
    }

    /// Graceful stop (SIGTERM, VictoriaMetrics flushes its buffers) and wait.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Makes everything ingested so far searchable.
    pub async fn force_flush(&self) {
        let r = reqwest::get(format!("{}/internal/force_flush", self.url))
            .await
            .expect("force_flush");
        assert!(r.status().is_success(), "force_flush: {}", r.status());
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(c.id().to_string())
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
