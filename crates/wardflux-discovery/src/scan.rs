//! One scan: an ICMP sweep of the targets, then an SNMP probe of each live host with the
//! credential candidates in order, then classification and duplicate folding.
//!
//! The two stages are pipelined: a host that answers ping is probed by SNMP at once, while
//! the sweep goes on and waits out the timeouts of the dead addresses.
//!
//! Caps (a rule's `rate_limit` and `concurrency`), one [`Pacer`] for the whole scan:
//! - ICMP: each address gets an echo request and, after a timeout, one more; each takes a
//!   slot of the pacer.
//! - SNMP: at most `concurrency` hosts are probed at once, and every request takes
//!   `1 + retries` slots of the pacer before it is sent (a retransmission is paid for in
//!   advance), so echo requests and SNMP requests together never exceed `rate` per second.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;
use wardflux_icmp::Pinger;
use wardflux_model::discovery::{CandidateInput, Finding};
use wardflux_model::snmp::{SecurityLevel, SnmpVersion};
use wardflux_snmp::target::{Credentials, UsmUser};
use wardflux_snmp::{Oid, SnmpClient, Target, Value, VarBind};

use crate::classify::Classifier;
use crate::identity;

/// What to scan and how hard.
#[derive(Debug, Clone)]
pub struct ScanSpec {
    pub targets: Vec<IpAddr>,
    /// Validated candidates ([`CandidateInput::validate`]), tried in order.
    pub candidates: Vec<CandidateInput>,
    /// Probes per second (ICMP echoes, then SNMP requests).
    pub rate: u32,
    /// Hosts probed by SNMP at once.
    pub concurrency: u32,
    pub snmp_port: u16,
    /// Wait for an echo reply (each of the two passes).
    pub icmp_timeout: Duration,
    /// Per SNMP attempt.
    pub snmp_timeout: Duration,
    /// SNMP retransmissions per candidate.
    pub snmp_retries: u32,
}

impl ScanSpec {
    pub fn new(targets: Vec<IpAddr>, candidates: Vec<CandidateInput>) -> Self {
        Self {
            targets,
            candidates,
            rate: wardflux_model::discovery::DEFAULT_RATE,
            concurrency: wardflux_model::discovery::DEFAULT_CONCURRENCY,
            snmp_port: 161,
            icmp_timeout: Duration::from_millis(1000),
            snmp_timeout: Duration::from_millis(1000),
            snmp_retries: 1,
        }
    }
}

/// Live counters of a scan, read by the API's job view and the CLI's progress bar.
#[derive(Debug, Default)]
pub struct ScanProgress {
    /// Addresses whose ICMP stage is over.
    pub done: AtomicU64,
    pub total: AtomicU64,
    pub alive: AtomicU64,
    /// Live hosts whose SNMP probe is over (whatever its outcome).
    pub probed: AtomicU64,
    /// Hosts where a credential worked.
    pub snmp: AtomicU64,
}

/// Paces requests to `rate` per second, shared by every probe of a scan.
#[derive(Debug)]
pub struct Pacer {
    gap: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    pub fn new(rate: u32) -> Self {
        Self {
            gap: Duration::from_secs(1) / rate.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for `n` consecutive slots.
    pub async fn acquire(&self, n: u32) {
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            // An idle pacer does not bank slots: a burst after a pause is still paced.
            let at = (*next).max(now);
            *next = at + self.gap * n;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

const SYS: [&str; 6] = [
    "1.3.6.1.2.1.1.1.0", // sysDescr
    "1.3.6.1.2.1.1.2.0", // sysObjectID
    "1.3.6.1.2.1.1.3.0", // sysUpTime
    "1.3.6.1.2.1.1.4.0", // sysContact
    "1.3.6.1.2.1.1.5.0", // sysName
    "1.3.6.1.2.1.1.6.0", // sysLocation
];
const ENGINE_ID: &str = "1.3.6.1.6.3.10.2.1.1.0";
const ENT_PHYSICAL_SERIAL: &str = "1.3.6.1.2.1.47.1.1.1.1.11";
const IF_PHYS_ADDRESS: &str = "1.3.6.1.2.1.2.2.1.6";

fn oid(s: &str) -> Oid {
    s.parse().expect("constant OID")
}

/// The engine's target for a candidate.
pub fn target_for(addr: SocketAddr, c: &CandidateInput, timeout: Duration, retries: u32) -> Target {
    let mut t = match c.version.unwrap_or(SnmpVersion::V2c) {
        SnmpVersion::V1 | SnmpVersion::V2c => {
            let mut t = Target::v2c(addr, "");
            t.credentials = Credentials::Community(
                c.community
                    .clone()
                    .unwrap_or_else(|| wardflux_model::inventory::Secret::new("public")),
            );
            if c.version == Some(SnmpVersion::V1) {
                t.version = SnmpVersion::V1;
            }
            t
        }
        SnmpVersion::V3 => {
            let level = c.security_level.unwrap_or(SecurityLevel::NoAuthNoPriv);
            Target::v3(
                addr,
                UsmUser {
                    user: c.username.clone().unwrap_or_default(),
                    level,
                    auth: level
                        .has_auth()
                        .then(|| c.auth_protocol.zip(c.auth_key.clone()))
                        .flatten(),
                    privacy: level
                        .has_priv()
                        .then(|| c.priv_protocol.zip(c.priv_key.clone()))
                        .flatten(),
                    context: c.context.clone().unwrap_or_default(),
                },
            )
        }
    };
    t.timeout = timeout;
    t.retries = retries;
    t
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::OctetString(b) => {
            let s = String::from_utf8_lossy(b).trim().to_string();
            (!s.is_empty()).then_some(s)
        }
        _ => None,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Most targets in flight at once (their ICMP stage waits on the pacer anyway).
const IN_FLIGHT: usize = 8192;

/// The ICMP stage of one address: an echo request, and one more after a timeout. Both
/// take a slot of the scan's pacer.
async fn alive(pinger: &Pinger, pacer: &Pacer, spec: &ScanSpec, ip: IpAddr) -> bool {
    for _ in 0..2 {
        pacer.acquire(1).await;
        match pinger.probe(ip, spec.icmp_timeout).await {
            Ok(Some(_)) => return true,
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(%ip, error = %e, "discovery: cannot ping this address");
                return false;
            }
        }
    }
    false
}

/// One candidate's answer: the system group, snmpEngineID and the first rows of the
/// entPhysicalSerialNum column, as varbinds.
///
/// v2c and v3 ask in one GETBULK: the system objects and snmpEngineID as non-repeaters
/// (GETNEXT of `sysDescr` is `sysDescr.0`; an object the agent lacks yields the next one,
/// which the exact lookups below ignore) and the serial column as the repeater, so one
/// round trip per host. An agent that refuses the GETBULK (an error other than a timeout
/// or a security failure) is asked with a GET instead. v1 has no GETBULK and answers a
/// GET naming an object it lacks with noSuchName for the whole PDU, so v1 asks only for
/// the system group.
async fn ask(
    client: &SnmpClient,
    pacer: &Pacer,
    t: &Target,
    slots: u32,
) -> Result<Vec<VarBind>, wardflux_snmp::SnmpError> {
    if t.version != SnmpVersion::V1 {
        let mut oids: Vec<Oid> = SYS
            .iter()
            .chain([&ENGINE_ID])
            .map(|s| oid(s.trim_end_matches(".0")))
            .collect();
        let non_repeaters = oids.len() as u32;
        oids.push(oid(ENT_PHYSICAL_SERIAL));
        pacer.acquire(slots).await;
        match client.get_bulk(t, &oids, non_repeaters, 16).await {
            Ok(v) => return Ok(v),
            Err(e)
                if matches!(
                    e.kind(),
                    "timeout"
                        | "auth_failure"
                        | "unknown_user"
                        | "unknown_engine_id"
                        | "not_in_time_window"
                        | "decryption_error"
                        | "unsupported_security_level"
                ) =>
            {
                return Err(e);
            }
            Err(e) => {
                tracing::debug!(addr = %t.addr, error = %e, "discovery: GETBULK refused; asking with GET")
            }
        }
        let mut oids: Vec<Oid> = SYS.iter().map(|s| oid(s)).collect();
        oids.push(oid(ENGINE_ID));
        pacer.acquire(slots).await;
        return client.get(t, &oids).await;
    }
    let oids: Vec<Oid> = SYS.iter().map(|s| oid(s)).collect();
    pacer.acquire(slots).await;
    client.get(t, &oids).await
}

/// SNMP stage for one live host: the first candidate that answers.
async fn probe_host(client: &SnmpClient, pacer: &Pacer, spec: &ScanSpec, ip: IpAddr) -> Finding {
    let mut f = Finding {
        ip: Some(ip),
        addresses: vec![ip],
        alive: true,
        ..Finding::default()
    };
    let addr = SocketAddr::new(ip, spec.snmp_port);
    let slots = 1 + spec.snmp_retries;
    for (i, c) in spec.candidates.iter().enumerate() {
        let t = target_for(addr, c, spec.snmp_timeout, spec.snmp_retries);
        let vbs = match ask(client, pacer, &t, slots).await {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(%ip, candidate = %c.name, error = %e, "discovery: candidate failed");
                client.forget(&t);
                continue;
            }
        };
        let find = |o: &str| wardflux_snmp::client::find(&vbs, &oid(o));
        f.snmp = true;
        f.credential = Some(c.name.clone());
        f.credential_index = Some(i);
        f.sys_descr = text(find(SYS[0]));
        f.sys_object_id = match find(SYS[1]) {
            // Dotted without net-snmp's leading dot, as the API and classifier spell OIDs.
            Some(Value::ObjectIdentifier(o)) => {
                Some(o.to_string().trim_start_matches('.').to_string())
            }
            _ => None,
        };
        f.sys_uptime_ticks = match find(SYS[2]) {
            Some(Value::TimeTicks(t)) => Some(*t),
            _ => None,
        };
        f.sys_contact = text(find(SYS[3]));
        f.sys_name = text(find(SYS[4]));
        f.sys_location = text(find(SYS[5]));
        f.engine_id = match find(ENGINE_ID) {
            Some(Value::OctetString(b)) if b.iter().any(|&x| x != 0) => Some(hex(b)),
            _ => None,
        };
        let col = oid(ENT_PHYSICAL_SERIAL);
        f.serial = vbs
            .iter()
            .filter(|vb| vb.oid.starts_with(&col) && vb.oid != col)
            .find_map(|vb| text(Some(&vb.value)));
        if f.engine_id.is_none() && f.serial.is_none() {
            f.mac_addresses = macs(client, pacer, &t, slots).await;
        }
        client.forget(&t);
        break;
    }
    f
}

/// ifPhysAddress of every interface (without zero addresses), sorted.
async fn macs(client: &SnmpClient, pacer: &Pacer, t: &Target, slots: u32) -> Vec<String> {
    let col = oid(IF_PHYS_ADDRESS);
    let mut out = Vec::new();
    let mut from = col.clone();
    // Paced GETBULK pages (GETNEXT for v1), at most 16 pages of 32 rows.
    for _ in 0..16 {
        pacer.acquire(slots).await;
        let page: Result<Vec<VarBind>, _> = if t.version == SnmpVersion::V1 {
            client.get_next(t, std::slice::from_ref(&from)).await
        } else {
            client.get_bulk(t, std::slice::from_ref(&from), 0, 32).await
        };
        let Ok(page) = page else { break };
        let mut more = false;
        for vb in page {
            if !vb.oid.starts_with(&col) || vb.value.is_exception() {
                more = false;
                break;
            }
            if let Value::OctetString(b) = &vb.value
                && b.len() == 6
                && b.iter().any(|&x| x != 0)
            {
                out.push(
                    b.iter()
                        .map(|x| format!("{x:02x}"))
                        .collect::<Vec<_>>()
                        .join(":"),
                );
            }
            from = vb.oid.clone();
            more = true;
        }
        if !more {
            break;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Runs a whole scan. Dropping the future stops it.
pub async fn scan(
    pinger: &Pinger,
    client: &SnmpClient,
    classifier: &Classifier,
    spec: &ScanSpec,
    progress: &ScanProgress,
) -> Vec<Finding> {
    progress
        .total
        .store(spec.targets.len() as u64, Ordering::Relaxed);
    let pacer = Pacer::new(spec.rate);
    let snmp_hosts = Semaphore::new(spec.concurrency.max(1) as usize);
    // Pipelined: a host that answers ping is probed by SNMP at once, while the sweep goes
    // on (and waits out the timeouts of the dead), under the one pacer.
    let findings: Vec<Finding> = futures::stream::iter(spec.targets.iter().copied())
        .map(|ip| {
            let (pacer, snmp_hosts) = (&pacer, &snmp_hosts);
            async move {
                let up = alive(pinger, pacer, spec, ip).await;
                progress.done.fetch_add(1, Ordering::Relaxed);
                if !up {
                    return None;
                }
                progress.alive.fetch_add(1, Ordering::Relaxed);
                let f = if spec.candidates.is_empty() {
                    Finding {
                        ip: Some(ip),
                        addresses: vec![ip],
                        alive: true,
                        ..Finding::default()
                    }
                } else {
                    let _slot = snmp_hosts.acquire().await.expect("never closed");
                    probe_host(client, pacer, spec, ip).await
                };
                progress.probed.fetch_add(1, Ordering::Relaxed);
                if f.snmp {
                    progress.snmp.fetch_add(1, Ordering::Relaxed);
                }
                Some(f)
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .filter_map(|f| async move { f })
        .collect()
        .await;
    fold(findings, classifier)
}

/// Classifies each finding, gives it its identity and folds the findings of one device
/// (several addresses) into one, keeping the lowest address first.
pub fn fold(findings: Vec<Finding>, classifier: &Classifier) -> Vec<Finding> {
    let mut by_id: BTreeMap<String, Finding> = BTreeMap::new();
    for mut f in findings {
        f.class = classifier.classify(f.sys_object_id.as_deref(), f.sys_descr.as_deref());
        f.identity = identity::of(&f);
        match by_id.get_mut(&f.identity) {
            Some(seen) => {
                seen.addresses.extend(f.addresses);
                seen.addresses.sort_unstable();
                seen.addresses.dedup();
                seen.ip = seen.addresses.first().copied();
            }
            None => {
                by_id.insert(f.identity.clone(), f);
            }
        }
    }
    let mut out: Vec<Finding> = by_id.into_values().collect();
    out.sort_by_key(|f| f.ip);
    out
}
