//! Test peers and helpers shared by the WARD FLUX test trees (a dev-dependency only, never
//! part of the product): each test tree used to carry its own copy or include another
//! tree's file with `#[path]`.
//!
//! - [`netns`]: network namespaces with loopback up, unprivileged ICMP allowed and nft
//!   input-hook drops (real timeouts), deleted on drop;
//! - [`victoria`]: a real VictoriaMetrics started on a free loopback port;
//! - [`snmp`]: real SNMP agents (net-snmp snmpd, snmpsim) and net-snmp's tools;
//! - [`free_port`]: a TCP port on 127.0.0.1 that was free a moment ago.
//!
//! A missing peer binary panics naming its Debian package: tests fail, never skip.

pub mod netns;
pub mod snmp;
pub mod victoria;

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}
