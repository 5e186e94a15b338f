//! Test network namespaces: loopback up, unprivileged ICMP allowed, and an nft table
//! whose input-hook rules make chosen addresses silent (real timeouts, not send errors).
//! Besides 127.0.0.0/8 and ::1, the whole of fd77::/64 is local (a `local` route on lo), so
//! IPv6 tests have many live addresses too. Each namespace has a unique name and is
//! deleted on drop.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// An IPv6 prefix whose every address answers on the namespace's loopback.
pub const V6_NET: &str = "fd77::/64";

fn set_of(range: &str) -> &'static str {
    if range.contains(':') {
        "dead6"
    } else {
        "dead4"
    }
}

pub struct Netns {
    pub name: String,
}

fn have(bin: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
        .unwrap_or(false)
}

/// Panics naming the Debian package when a peer binary is missing: a test that cannot
/// reach its peer fails, with or without CI=true, never skips.
pub fn require(bins: &[(&str, &str)]) {
    for (bin, pkg) in bins {
        assert!(
            have(bin),
            "{bin} not found: install the Debian package {pkg} (scripts/test.sh does)"
        );
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Default for Netns {
    fn default() -> Self {
        Self::new()
    }
}

impl Netns {
    pub fn new() -> Self {
        require(&[("ip", "iproute2"), ("nft", "nftables")]);
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "wfx-t{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        run(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]));
        run(Command::new("ip").args([
            "-n", &ns.name, "-6", "route", "add", "local", V6_NET, "dev", "lo",
        ]));
        ns.exec(&[
            "sysctl",
            "-q",
            "-w",
            "net.ipv4.ping_group_range=0 2147483647",
        ]);
        ns.nft(
            "table inet wfx {
               set dead4 { type ipv4_addr; flags interval; }
               set dead6 { type ipv6_addr; flags interval; }
               chain input {
                 type filter hook input priority 0; policy accept;
                 ip daddr @dead4 drop
                 ip6 daddr @dead6 drop
               }
             }",
        );
        ns
    }

    pub fn exec(&self, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .output()
            .expect("spawn ip netns exec")
    }

    pub fn nft(&self, script: &str) {
        use std::io::Write;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn nft");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nft failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Makes addresses (e.g. "127.0.0.9", "127.3.0.32-127.3.0.63" or "fd77::9") silent.
    pub fn kill(&self, range: &str) {
        self.nft(&format!(
            "add element inet wfx {} {{ {range} }}",
            set_of(range)
        ));
    }

    pub fn revive(&self, range: &str) {
        self.nft(&format!(
            "delete element inet wfx {} {{ {range} }}",
            set_of(range)
        ));
    }

    /// Connects the namespace to the test's own (host) namespace with a veth pair: the
    /// namespace gets `10.213.N.2/30`, the host side `10.213.N.1/30`, so a process outside
    /// (a server under test, a browser) reaches an address inside the namespace that
    /// [`Netns::kill`] can then make silent. Returns the namespace's address. The pair (and
    /// the host's route to it) goes when the namespace is deleted.
    pub fn link_to_host(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(1);
        let n = (std::process::id() + N.fetch_add(1, Ordering::Relaxed)) % 250 + 1;
        let (host_if, ns_if) = (format!("wfxh{n}"), format!("wfxn{n}"));
        let (host_ip, ns_ip) = (format!("10.213.{n}.1"), format!("10.213.{n}.2"));
        run(Command::new("ip").args([
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if, "netns", &self.name,
        ]));
        run(Command::new("ip").args(["addr", "add", &format!("{host_ip}/30"), "dev", &host_if]));
        run(Command::new("ip").args(["link", "set", &host_if, "up"]));
        run(Command::new("ip").args([
            "-n",
            &self.name,
            "addr",
            "add",
            &format!("{ns_ip}/30"),
            "dev",
            &ns_if,
        ]));
        run(Command::new("ip").args(["-n", &self.name, "link", "set", &ns_if, "up"]));
        ns_ip
    }

    /// Drops exactly the next `n` echo requests of 84 bytes (56-byte payload) to `addr`.
    pub fn drop_next(&self, addr: &str, n: u32) {
        self.nft(&format!(
            "insert rule inet wfx input ip daddr {addr} icmp type echo-request quota until {} bytes drop",
            n * 84
        ));
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
