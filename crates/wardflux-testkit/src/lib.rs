//! Test peers and helpers shared by the WARD FLUX test trees (a dev-dependency only, never
//! part of the product): each test tree used to carry its own copy or include another
//! tree's file with `#[path]`.
//!
//! - [`netns`]: network namespaces with loopback up, unprivileged ICMP allowed and nft
//!   input-hook drops (real timeouts), deleted on drop;
//! - [`victoria`]: a real VictoriaMetrics started on a free loopback port;
//! - [`snmp`]: real SNMP agents (net-snmp snmpd, snmpsim) and net-snmp's tools;
//! - [`pg`]: a fresh PostgreSQL database per test, dropped afterwards;
//! - [`zabbix`]: the real Zabbix 6.0 the Zabbix tests share (`scripts/zabbix-rig.sh`);
//! - [`free_port`]: a TCP port on 127.0.0.1 that was free a moment ago;
//! - [`send_json`]: one HTTP request whose answer is read as JSON;
//! - [`Rng`]: a seeded xorshift generator, for test and bench data that is the same every run.
//!
//! A missing peer binary panics naming its Debian package: tests fail, never skip.

pub mod netns;
pub mod pg;
pub mod snmp;
pub mod victoria;
pub mod zabbix;

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Sends `req` and reads the answer's body as JSON, whatever the status. Panics when the
/// request fails or the body is not JSON: the tests that use it compare JSON answers.
pub async fn send_json(req: reqwest::RequestBuilder) -> serde_json::Value {
    req.send()
        .await
        .expect("send the request")
        .json()
        .await
        .expect("a JSON body")
}

/// Marsaglia's xorshift64: cheap, seeded, the same sequence every run (test and bench data,
/// never anything secret). The seed must not be 0.
pub struct Rng(pub u64);

impl Rng {
    /// The next value of the sequence.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
