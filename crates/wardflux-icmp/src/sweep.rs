//! Sweeps: ping a list of addresses (or a CIDR expanded like `fping -g`) and stream the
//! results as they come. Used by the CLI and, later, by discovery.
//!
//! One driver task holds every probe of the sweep in a `FuturesUnordered`: no task per
//! target. Two modes, as in fping: *alive* (`count == 0`: one probe, retried on timeout up
//! to `retries` times) and *count* (`count` probes per target, `period` apart).

use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use futures::stream::{FuturesUnordered, Stream, StreamExt};
use tokio::sync::mpsc;

use crate::pinger::{IcmpError, Pinger};

/// What a sweep does per target.
#[derive(Debug, Clone)]
pub struct SweepSpec {
    /// 0: alive mode (stop at the first reply); N: send exactly N probes per target.
    pub count: u32,
    /// Timeout of the first probe.
    pub timeout: Duration,
    /// Alive mode: extra probes after a timeout.
    pub retries: u32,
    /// Timeout multiplier per retry (fping's -B; fping defaults to 1.5, we to 1.0).
    pub backoff: f64,
    /// Gap between first probes to successive targets (fping's -i); the pinger's own
    /// pacing applies on top.
    pub interval: Duration,
    /// Count mode: gap between probes to one target (fping's -p).
    pub period: Duration,
}

impl Default for SweepSpec {
    fn default() -> Self {
        Self {
            count: 0,
            timeout: Duration::from_millis(500),
            retries: 1,
            backoff: 1.0,
            interval: Duration::ZERO,
            period: Duration::from_secs(1),
        }
    }
}

/// The final word on one target.
#[derive(Debug, Clone, PartialEq)]
pub struct HostResult {
    /// Position of the target in the input list.
    pub index: usize,
    pub ip: IpAddr,
    pub sent: u32,
    pub received: u32,
    /// RTT per probe in send order (`None`: no reply).
    pub rtts: Vec<Option<Duration>>,
}

impl HostResult {
    pub fn alive(&self) -> bool {
        self.received > 0
    }
}

/// What a sweep streams.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepEvent {
    /// Count mode only: probe number `seq` of a target got a reply or timed out.
    Probe {
        index: usize,
        ip: IpAddr,
        seq: u32,
        rtt: Option<Duration>,
    },
    /// A target is finished.
    Done(HostResult),
    /// A target could not be probed at all (no socket for its family).
    Failed {
        index: usize,
        ip: IpAddr,
        error: String,
    },
}

/// Expands a CIDR like `fping -g`: every host address, without the network and
/// broadcast addresses (a /31 and /32 keep theirs). An IPv6 prefix (which fping -g
/// refuses) gives every address, IPv6 having no broadcast. At most 2^20 addresses.
pub fn expand_cidr(cidr: &str) -> Result<Vec<IpAddr>, CidrError> {
    let net: ipnet::IpNet = cidr
        .parse()
        .map_err(|_| CidrError::Invalid(cidr.to_owned()))?;
    let host_bits = u32::from(net.max_prefix_len() - net.prefix_len());
    if host_bits > 20 {
        return Err(CidrError::TooLarge(cidr.to_owned()));
    }
    Ok(net.hosts().collect())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("invalid CIDR: {0}")]
    Invalid(String),
    #[error("CIDR {0} is too large (at most 2^20 addresses)")]
    TooLarge(String),
}

type ProbeFuture = Pin<
    Box<dyn std::future::Future<Output = (usize, u32, Result<Option<Duration>, IcmpError>)> + Send>,
>;

struct Host {
    ip: IpAddr,
    rtts: Vec<Option<Duration>>,
    outstanding: u32,
    done: bool,
}

impl Pinger {
    /// Sweeps `targets`, streaming events as probes complete. Dropping the stream stops it.
    pub fn sweep(
        &self,
        targets: Vec<IpAddr>,
        spec: SweepSpec,
    ) -> impl Stream<Item = SweepEvent> + Send + 'static {
        let (tx, rx) = mpsc::unbounded_channel();
        let pinger = self.clone();
        tokio::spawn(drive(pinger, targets, spec, tx));
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) })
    }
}

fn probe_at(
    pinger: &Pinger,
    index: usize,
    seq: u32,
    ip: IpAddr,
    start: tokio::time::Instant,
    timeout: Duration,
) -> ProbeFuture {
    let pinger = pinger.clone();
    Box::pin(async move {
        tokio::time::sleep_until(start).await;
        (index, seq, pinger.probe(ip, timeout).await)
    })
}

async fn drive(
    pinger: Pinger,
    targets: Vec<IpAddr>,
    spec: SweepSpec,
    tx: mpsc::UnboundedSender<SweepEvent>,
) {
    let t0 = tokio::time::Instant::now();
    let mut hosts: Vec<Host> = targets
        .iter()
        .map(|&ip| Host {
            ip,
            rtts: Vec::new(),
            outstanding: 0,
            done: false,
        })
        .collect();
    let mut probes: FuturesUnordered<ProbeFuture> = FuturesUnordered::new();
    let per_host = spec.count.max(1);
    for (i, &ip) in targets.iter().enumerate() {
        let first = t0 + spec.interval * u32::try_from(i).unwrap_or(u32::MAX);
        let n = if spec.count == 0 { 1 } else { per_host };
        for seq in 0..n {
            probes.push(probe_at(
                &pinger,
                i,
                seq,
                ip,
                first + spec.period * seq,
                spec.timeout,
            ));
        }
        hosts[i].outstanding = n;
    }
    while let Some((index, seq, outcome)) = probes.next().await {
        if tx.is_closed() {
            return;
        }
        let host = &mut hosts[index];
        if host.done {
            continue;
        }
        host.outstanding -= 1;
        let rtt = match outcome {
            Ok(rtt) => rtt,
            Err(e) => {
                host.done = true;
                let _ = tx.send(SweepEvent::Failed {
                    index,
                    ip: host.ip,
                    error: e.to_string(),
                });
                continue;
            }
        };
        let slot = usize::try_from(seq).unwrap_or(usize::MAX);
        if host.rtts.len() <= slot {
            host.rtts.resize(slot + 1, None);
        }
        host.rtts[slot] = rtt;
        if spec.count > 0 {
            let _ = tx.send(SweepEvent::Probe {
                index,
                ip: host.ip,
                seq,
                rtt,
            });
        } else if rtt.is_none() && seq < spec.retries {
            let next = seq + 1;
            let timeout = spec.timeout.mul_f64(
                spec.backoff
                    .max(1.0)
                    .powi(i32::try_from(next).unwrap_or(i32::MAX)),
            );
            probes.push(probe_at(
                &pinger,
                index,
                next,
                host.ip,
                tokio::time::Instant::now(),
                timeout,
            ));
            host.outstanding += 1;
            continue;
        }
        if host.outstanding == 0 || (spec.count == 0 && rtt.is_some()) {
            host.done = true;
            let received =
                u32::try_from(host.rtts.iter().filter(|r| r.is_some()).count()).unwrap_or(u32::MAX);
            let _ = tx.send(SweepEvent::Done(HostResult {
                index,
                ip: host.ip,
                sent: u32::try_from(host.rtts.len()).unwrap_or(u32::MAX),
                received,
                rtts: std::mem::take(&mut host.rtts),
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_expands_like_fping_g() {
        let v = expand_cidr("127.2.0.0/22").unwrap();
        assert_eq!(v.len(), 1022);
        assert_eq!(v[0], "127.2.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(v[1021], "127.2.3.254".parse::<IpAddr>().unwrap());
        assert_eq!(expand_cidr("127.0.0.0/30").unwrap().len(), 2);
        assert_eq!(
            expand_cidr("127.0.0.5/32").unwrap(),
            vec!["127.0.0.5".parse::<IpAddr>().unwrap()]
        );
        assert!(matches!(
            expand_cidr("10.0.0.0/33"),
            Err(CidrError::Invalid(_))
        ));
        assert!(matches!(
            expand_cidr("nonsense"),
            Err(CidrError::Invalid(_))
        ));
        assert_eq!(
            expand_cidr("fd77::8/126").unwrap(),
            ["fd77::8", "fd77::9", "fd77::a", "fd77::b"]
                .map(|s| s.parse::<IpAddr>().unwrap())
                .to_vec()
        );
        assert!(matches!(
            expand_cidr("fd77::/100"),
            Err(CidrError::TooLarge(_))
        ));
        assert!(matches!(
            expand_cidr("10.0.0.0/8"),
            Err(CidrError::TooLarge(_))
        ));
    }
}
