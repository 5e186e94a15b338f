//! The async pinger: one shared ICMP socket per address family, one receive task per
//! socket, replies matched to waiting probes by (address, sequence) and identifier.
//!
//! # Why not surge-ping
//! surge-ping 0.9.1 (one socket and one receive task per `Client`) would do for a few
//! hosts, but this pinger is the hot path of monitoring 10,000 devices, and we need
//! things it does not have: send pacing (it lost 38-60% of replies on 3000 simultaneous
//! targets with the default receive buffer), raising the buffer past `rmem_max` with
//! SO_RCVBUFFORCE, opening the sockets inside a given network namespace, replies matched
//! without a per-target `Pinger` object, a clear error when no socket kind is permitted,
//! and it has an open bug (#73) where two pingers to one host collide on datagram
//! sockets. What remains is small: packet codec (see [`crate::packet`]), a map of
//! outstanding probes and a GCRA pacer, so we keep it here behind our own API.
//!
//! # Cost model
//! A probe is one `sendto`, one map insert/remove under a short std mutex, one oneshot
//! channel and one timer; there is no socket and no task per target. The receive task
//! wakes per reply datagram.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use crate::packet::{self, Decoded, EchoRequest, Family};
use crate::sys::{self, SocketKind, SocketMode};

/// Errors of the pinger.
#[derive(Debug, thiserror::Error)]
pub enum IcmpError {
    /// Neither raw nor datagram ICMP sockets could be opened for any family.
    #[error(
        "cannot open an ICMP socket (raw: {raw}; datagram: {datagram}). Fix: run as root or \
         grant CAP_NET_RAW (`setcap cap_net_raw+ep $(which wardflux)`, or \
         `AmbientCapabilities=CAP_NET_RAW` in the systemd unit), or allow unprivileged ICMP \
         sockets for the service's group: `sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"`"
    )]
    NoSocket { raw: String, datagram: String },
    /// This address family has no socket (e.g. IPv6 disabled on the host).
    #[error("no ICMP socket for {0:?} (the host refused to open one: {1})")]
    FamilyUnavailable(Family, String),
    #[error("cannot enter network namespace: {0}")]
    Netns(#[source] io::Error),
    #[error(
        "cannot register ICMP socket with the runtime (call Pinger::new inside a tokio runtime): {0}"
    )]
    Runtime(#[source] io::Error),
}

/// How the pinger is set up.
#[derive(Debug, Clone)]
pub struct PingerOptions {
    /// Raw, datagram, or raw-then-datagram (default).
    pub mode: SocketMode,
    /// Open the sockets inside this network namespace (a name under /run/netns or a path).
    pub netns: Option<PathBuf>,
    /// Echo payload length in bytes (fping and ping use 56: 64-byte ICMP messages).
    pub payload_size: usize,
    /// Upper bound on packets sent per second over all targets (0: unpaced).
    pub max_pps: u32,
    /// Packets that may leave back to back before pacing applies. 0 derives it from the
    /// receive buffer the kernel granted, so one burst of replies always fits.
    pub burst: u32,
    /// Receive buffer asked for (bytes); see [`PingerOptions::burst`].
    pub recv_buffer: usize,
}

impl Default for PingerOptions {
    fn default() -> Self {
        Self {
            mode: SocketMode::Auto,
            netns: None,
            payload_size: 56,
            max_pps: 50_000,
            burst: 0,
            recv_buffer: 8 << 20,
        }
    }
}

/// What one `ping` returned.
#[derive(Debug, Clone, PartialEq)]
pub struct PingResult {
    pub ip: IpAddr,
    pub sent: u32,
    pub received: u32,
    /// Round-trip times of the replies received, in send order.
    pub rtts: Vec<Duration>,
    /// Fraction of probes lost, 0.0..=1.0 (1.0 if nothing was sent).
    pub loss: f64,
}

impl PingResult {
    pub fn is_alive(&self) -> bool {
        self.received > 0
    }
    pub fn avg_rtt(&self) -> Option<Duration> {
        let n = u32::try_from(self.rtts.len()).ok().filter(|n| *n > 0)?;
        Some(self.rtts.iter().sum::<Duration>() / n)
    }
}

type Key = (IpAddr, u16);

/// (deadline, waiter token, address, sequence)
type Deadline = (tokio::time::Instant, u64, IpAddr, u16);

/// A probe waiting for its reply. Dropping `tx` (expiry) tells the probe it timed out;
/// `token` tells this probe from a later one that reused the sequence number.
struct Waiter {
    tx: oneshot::Sender<Instant>,
    token: u64,
}

/// The reaper wakes at most this often under load, so timeouts may fire this much late.
/// 10 ms made a 1022-host sweep end 28 ms after its 1 s floor; 2 ms brings it to 18 ms at
/// no measurable cost in monitoring, whose checks start on a 10 ms grid anyway
/// (docs/perf/icmp.md).
const REAPER_MIN_GAP: Duration = Duration::from_millis(2);

/// State shared by all clones and the receive tasks: the sockets and the probes waiting
/// for a reply. The map sits under a std mutex: it is held for one insert or remove, never
/// across an await.
struct Shared {
    v4: Option<FamilySocket>,
    v6: Option<FamilySocket>,
    v4_error: String,
    v6_error: String,
    identifier: u16,
    next_seq: AtomicU16,
    pending: Mutex<HashMap<Key, Waiter>>,
    /// Probe deadlines, earliest first. One reaper task expires them, so a probe costs no
    /// timer of its own (a tokio timer per probe also costs an eventfd write to unpark the
    /// driver: measured, 2-3 per check).
    deadlines: Mutex<BinaryHeap<Reverse<Deadline>>>,
    next_token: std::sync::atomic::AtomicU64,
    reaper_wake: tokio::sync::Notify,
    payload: Vec<u8>,
    pacer: Pacer,
    stats: Counters,
}

/// Counters of one pinger (all clones), for metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PingerStats {
    /// Echo requests handed to the kernel.
    pub sent: u64,
    /// Datagrams the receive loops read (after the kernel filter of raw sockets).
    pub datagrams: u64,
    /// Replies matched to a waiting probe.
    pub matched: u64,
}

#[derive(Default)]
struct Counters {
    sent: std::sync::atomic::AtomicU64,
    datagrams: std::sync::atomic::AtomicU64,
    matched: std::sync::atomic::AtomicU64,
}

struct FamilySocket {
    socket: UdpSocket,
    kind: SocketKind,
}

/// Aborts the receive tasks when the last clone of the pinger goes away.
struct TaskGuard(Vec<tokio::task::JoinHandle<()>>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// A shared ICMP pinger. Cheap to clone; all clones use the same sockets.
#[derive(Clone)]
pub struct Pinger {
    shared: Arc<Shared>,
    _tasks: Arc<TaskGuard>,
}

impl std::fmt::Debug for Pinger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pinger")
            .field("v4", &self.shared.v4.as_ref().map(|s| s.kind))
            .field("v6", &self.shared.v6.as_ref().map(|s| s.kind))
            .field("identifier", &self.shared.identifier)
            .finish()
    }
}

fn describe(e: &Option<io::Error>) -> String {
    e.as_ref()
        .map_or_else(|| "not tried".to_owned(), ToString::to_string)
}

impl Pinger {
    /// Opens the sockets and starts the receive tasks. Must be called inside a tokio
    /// runtime. Succeeds if at least one address family has a socket.
    pub fn new(opts: PingerOptions) -> Result<Pinger, IcmpError> {
        let (mode, buf) = (opts.mode, opts.recv_buffer);
        let identifier = random_u16();
        let open_both = move || {
            (
                sys::open(Family::V4, mode, buf, identifier),
                sys::open(Family::V6, mode, buf, identifier),
            )
        };
        let (r4, r6) = match &opts.netns {
            Some(ns) => sys::in_netns(ns, open_both).map_err(IcmpError::Netns)?,
            None => open_both(),
        };
        let (v4, v4_error) = split(r4);
        let (v6, v6_error) = split(r6);
        if v4.is_none() && v6.is_none() {
            let (raw, datagram) = v4_error.unwrap_or_default();
            return Err(IcmpError::NoSocket { raw, datagram });
        }
        let min_buffer = [&v4, &v6]
            .iter()
            .filter_map(|o| o.as_ref().map(|o| o.recv_buffer))
            .min()
            .unwrap_or(0);
        let burst = if opts.burst > 0 {
            opts.burst
        } else {
            // A 64-byte reply costs about 1-2 KiB of buffer (skb truesize). One burst may
            // fill half the buffer; the other half holds replies that arrive while the
            // receive task waits for a CPU. (With /2048 and at least 16, a 32 KiB buffer
            // lost 5 of 2046 replies in a paced sweep; see the pacing test.)
            u32::try_from(min_buffer / 4096)
                .unwrap_or(u32::MAX)
                .clamp(4, 4096)
        };
        let register = |o: Option<sys::Opened>| -> Result<Option<FamilySocket>, IcmpError> {
            o.map(|o| {
                UdpSocket::from_std(o.socket)
                    .map(|socket| FamilySocket {
                        socket,
                        kind: o.kind,
                    })
                    .map_err(IcmpError::Runtime)
            })
            .transpose()
        };
        let shared = Arc::new(Shared {
            v4: register(v4)?,
            v6: register(v6)?,
            v4_error: v4_error
                .map(|(r, d)| format!("raw: {r}; datagram: {d}"))
                .unwrap_or_default(),
            v6_error: v6_error
                .map(|(r, d)| format!("raw: {r}; datagram: {d}"))
                .unwrap_or_default(),
            identifier,
            next_seq: AtomicU16::new(random_u16()),
            pending: Mutex::new(HashMap::new()),
            deadlines: Mutex::new(BinaryHeap::new()),
            next_token: std::sync::atomic::AtomicU64::new(0),
            reaper_wake: tokio::sync::Notify::new(),
            payload: (0..opts.payload_size).map(|i| (i & 0xff) as u8).collect(),
            pacer: Pacer::new(opts.max_pps, burst),
            stats: Counters::default(),
        });
        let mut tasks = Vec::new();
        for family in [Family::V4, Family::V6] {
            if shared.socket(family).is_some() {
                let s = Arc::clone(&shared);
                tasks.push(tokio::spawn(async move { receive_loop(s, family).await }));
            }
        }
        let s = Arc::clone(&shared);
        tasks.push(tokio::spawn(async move { reaper(s).await }));
        Ok(Pinger {
            shared,
            _tasks: Arc::new(TaskGuard(tasks)),
        })
    }

    /// Counters since the pinger was created.
    pub fn stats(&self) -> PingerStats {
        let c = &self.shared.stats;
        PingerStats {
            sent: c.sent.load(Ordering::Relaxed),
            datagrams: c.datagrams.load(Ordering::Relaxed),
            matched: c.matched.load(Ordering::Relaxed),
        }
    }

    /// The kind of socket in use for a family, if any.
    pub fn socket_kind(&self, family: Family) -> Option<SocketKind> {
        self.shared.socket(family).map(|s| s.kind)
    }

    /// Sends one echo request and waits up to `timeout` for its reply.
    /// `Ok(None)` means no reply in time (or the kernel refused to send it).
    pub async fn probe(
        &self,
        ip: IpAddr,
        timeout: Duration,
    ) -> Result<Option<Duration>, IcmpError> {
        let family = family_of(ip);
        let sock = self.shared.socket(family).ok_or_else(|| {
            let why = match family {
                Family::V4 => &self.shared.v4_error,
                Family::V6 => &self.shared.v6_error,
            };
            IcmpError::FamilyUnavailable(family, why.clone())
        })?;
        self.shared.pacer.wait().await;
        let (tx, rx) = oneshot::channel();
        let seq = self
            .shared
            .register(ip, tx, tokio::time::Instant::now() + timeout);
        let mut buf = Vec::with_capacity(packet::ECHO_HEADER_LEN + self.shared.payload.len());
        EchoRequest {
            identifier: self.shared.identifier,
            sequence: seq,
            payload: &self.shared.payload,
        }
        .encode(family, &mut buf);
        let sent_at = Instant::now();
        if let Err(e) = sock.socket.send_to(&buf, SocketAddr::new(ip, 0)).await {
            tracing::debug!(%ip, error = %e, "ICMP send failed");
            self.shared.unregister(ip, seq);
            return Ok(None);
        }
        self.shared.stats.sent.fetch_add(1, Ordering::Relaxed);
        // Err: the reaper dropped the sender at the deadline.
        Ok(rx
            .await
            .ok()
            .map(|at| at.saturating_duration_since(sent_at)))
    }

    /// Sends `count` echo requests back to back (paced) and waits for their replies,
    /// each for at most `timeout`.
    pub async fn ping(
        &self,
        ip: IpAddr,
        count: u32,
        timeout: Duration,
    ) -> Result<PingResult, IcmpError> {
        self.ping_spaced(ip, count, timeout, Duration::ZERO).await
    }

    /// Like [`Pinger::ping`], with `spacing` between the requests to this address.
    pub async fn ping_spaced(
        &self,
        ip: IpAddr,
        count: u32,
        timeout: Duration,
        spacing: Duration,
    ) -> Result<PingResult, IcmpError> {
        let start = tokio::time::Instant::now();
        let probes = (0..count).map(|i| async move {
            if i > 0 && !spacing.is_zero() {
                tokio::time::sleep_until(start + spacing * i).await;
            }
            self.probe(ip, timeout).await
        });
        let outcomes = futures::future::join_all(probes).await;
        let mut rtts = Vec::with_capacity(outcomes.len());
        for o in outcomes {
            if let Some(rtt) = o? {
                rtts.push(rtt);
            }
        }
        let received = u32::try_from(rtts.len()).unwrap_or(u32::MAX);
        let loss = if count == 0 {
            1.0
        } else {
            f64::from(count - received) / f64::from(count)
        };
        Ok(PingResult {
            ip,
            sent: count,
            received,
            rtts,
            loss,
        })
    }
}

fn split(
    r: Result<sys::Opened, sys::OpenFailure>,
) -> (Option<sys::Opened>, Option<(String, String)>) {
    match r {
        Ok(o) => (Some(o), None),
        Err(f) => (None, Some((describe(&f.raw), describe(&f.datagram)))),
    }
}

pub(crate) fn family_of(ip: IpAddr) -> Family {
    match ip {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

impl Shared {
    fn socket(&self, family: Family) -> Option<&FamilySocket> {
        match family {
            Family::V4 => self.v4.as_ref(),
            Family::V6 => self.v6.as_ref(),
        }
    }

    /// Picks a sequence number not outstanding for `ip` and registers the waiter.
    fn register(
        &self,
        ip: IpAddr,
        tx: oneshot::Sender<Instant>,
        deadline: tokio::time::Instant,
    ) -> u16 {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let seq = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
                if let std::collections::hash_map::Entry::Vacant(v) = pending.entry((ip, seq)) {
                    v.insert(Waiter { tx, token });
                    break seq;
                }
            }
        };
        let earliest = {
            let mut d = self.deadlines.lock().unwrap_or_else(|p| p.into_inner());
            let earliest = d
                .peek()
                .is_none_or(|Reverse((first, ..))| deadline < *first);
            d.push(Reverse((deadline, token, ip, seq)));
            earliest
        };
        if earliest {
            self.reaper_wake.notify_one();
        }
        seq
    }

    fn unregister(&self, ip: IpAddr, seq: u16) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(ip, seq));
    }

    fn complete(&self, ip: IpAddr, seq: u16, at: Instant) {
        let waiter = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(ip, seq));
        if let Some(w) = waiter {
            self.stats.matched.fetch_add(1, Ordering::Relaxed);
            let _ = w.tx.send(at);
        }
    }

    /// Drops the waiters whose deadline passed; returns the next deadline.
    ///
    /// Answered probes leave their deadline in the heap (removing it would cost a heap
    /// search per reply). When no probe is waiting at all, every entry left is stale: the
    /// heap is emptied, so the reaper sleeps until the next probe instead of waking at
    /// each old deadline (half the runtime's wakeups when monitoring live devices).
    /// Lock order: `deadlines`, then `pending`; `register` never holds both, and it
    /// inserts into `pending` before pushing its deadline, so a probe registered
    /// concurrently is either seen as pending here or pushes after the heap is emptied.
    fn expire(&self, now: tokio::time::Instant) -> Option<tokio::time::Instant> {
        let mut d = self.deadlines.lock().unwrap_or_else(|p| p.into_inner());
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(Reverse((at, ..))) = d.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, token, ip, seq))) = d.pop()
                && pending.get(&(ip, seq)).is_some_and(|w| w.token == token)
            {
                pending.remove(&(ip, seq));
            }
        }
        if pending.is_empty() {
            d.clear();
        }
        d.peek().map(|Reverse((at, ..))| *at)
    }
}

/// Expires probes at their deadlines (coalesced to one wakeup per [`REAPER_MIN_GAP`]).
async fn reaper(shared: Arc<Shared>) {
    let mut last = tokio::time::Instant::now();
    loop {
        let next = shared.expire(tokio::time::Instant::now());
        match next {
            None => shared.reaper_wake.notified().await,
            Some(at) => {
                let at = at.max(last + REAPER_MIN_GAP);
                tokio::select! {
                    () = tokio::time::sleep_until(at) => last = tokio::time::Instant::now(),
                    () = shared.reaper_wake.notified() => {}
                }
            }
        }
    }
}

async fn receive_loop(shared: Arc<Shared>, family: Family) {
    let Some(sock) = shared.socket(family) else {
        return;
    };
    let with_ip_header = family == Family::V4 && sock.kind == SocketKind::Raw;
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, from) = match sock.socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // Datagram sockets may report ICMP errors here; the probe just times out.
                tracing::trace!(error = %e, "ICMP receive error");
                continue;
            }
        };
        let at = Instant::now();
        shared.stats.datagrams.fetch_add(1, Ordering::Relaxed);
        let Ok(Decoded::EchoReply {
            identifier,
            sequence,
            ..
        }) = packet::decode(family, with_ip_header, &buf[..n])
        else {
            continue;
        };
        // Raw sockets see every echo reply on the host; datagram sockets only their own,
        // with the identifier rewritten by the kernel.
        if sock.kind == SocketKind::Raw && identifier != shared.identifier {
            continue;
        }
        shared.complete(from.ip(), sequence, at);
    }
}

/// A GCRA pacer: at most `rate` sends per second, with bursts of up to `burst`.
/// Shared by all probes; the lock only guards one timestamp.
struct Pacer {
    interval: Duration,
    tolerance: Duration,
    tat: Mutex<Option<tokio::time::Instant>>,
}

impl Pacer {
    fn new(rate: u32, burst: u32) -> Self {
        let interval = if rate == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs(1) / rate
        };
        Self {
            interval,
            tolerance: interval * burst.saturating_sub(1),
            tat: Mutex::new(None),
        }
    }

    async fn wait(&self) {
        if self.interval.is_zero() {
            return;
        }
        let now = tokio::time::Instant::now();
        let send_at = {
            let mut tat = self.tat.lock().unwrap_or_else(|p| p.into_inner());
            let t = tat.map_or(now, |t| t.max(now));
            *tat = Some(t + self.interval);
            t.checked_sub(self.tolerance).unwrap_or(now)
        };
        if send_at > now {
            tokio::time::sleep_until(send_at).await;
        }
    }
}

/// 16 random bits without a dependency: the std hasher is randomly keyed per process.
fn random_u16() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU16 = AtomicU16::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u16(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    (h.finish() & 0xffff) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pacer_allows_burst_then_spaces_sends() {
        let p = Pacer::new(1000, 4); // 1 ms apart, 4 back to back
        let t0 = tokio::time::Instant::now();
        for _ in 0..4 {
            p.wait().await;
        }
        assert_eq!(t0.elapsed(), Duration::ZERO);
        for _ in 0..10 {
            p.wait().await;
        }
        assert_eq!(t0.elapsed(), Duration::from_millis(10));
    }

    #[test]
    fn random_identifiers_differ() {
        let ids: std::collections::HashSet<u16> = (0..16).map(|_| random_u16()).collect();
        assert!(ids.len() > 8);
    }
}
