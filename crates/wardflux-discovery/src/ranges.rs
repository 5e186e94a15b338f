//! What a scan may probe: the rule's ranges (CIDR prefixes, single addresses,
//! `first-last` ranges) minus its exclusions, and never an address that is not a host:
//! the network and broadcast address of each listed IPv4 prefix, multicast, limited
//! broadcast, `0.0.0.0/8`, the reserved `240.0.0.0/4`, unspecified addresses. Sizes are
//! counted before anything is expanded, so a `/8` is refused without allocating it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use wardflux_model::discovery::LARGE_SCAN;
use wardflux_model::inventory::FieldError;

/// Most addresses one scan holds even with `allow_large` (a /12).
pub const HARD_LIMIT: u128 = 1 << 20;

/// The addresses of a scan, in ascending order, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    pub addrs: Vec<IpAddr>,
    /// Addresses inside the ranges that were dropped as non-hosts (network, broadcast,
    /// multicast, reserved) or excluded.
    pub skipped: u64,
}

/// One parsed entry: an inclusive interval of one family, plus, for an IPv4 prefix
/// shorter than /31, its network and broadcast address dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    v6: bool,
    first: u128,
    last: u128,
}

impl Span {
    fn len(&self) -> u128 {
        self.last - self.first + 1
    }
    fn contains(&self, v6: bool, x: u128) -> bool {
        self.v6 == v6 && self.first <= x && x <= self.last
    }
}

fn to_u128(ip: IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a))),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

fn from_u128(v6: bool, x: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(x))
    } else {
        IpAddr::V4(Ipv4Addr::from(x as u32))
    }
}

/// Parses one entry. With `hosts_only` (a range to probe, not an exclusion) an IPv4
/// prefix up to /30 loses its network and broadcast address.
fn parse(entry: &str, field: &str, hosts_only: bool) -> Result<Span, FieldError> {
    let s = entry.trim();
    let bad = |why: &str| FieldError::new(field, format!("{s:?}: {why}"));
    if s.contains('/') {
        let net: ipnet::IpNet = s
            .parse()
            .map_err(|_| bad("not a CIDR prefix (expected e.g. 10.0.0.0/24)"))?;
        let net = net.trunc();
        let (v6, first) = to_u128(net.network());
        let (_, last) = to_u128(net.broadcast());
        if hosts_only && !v6 && net.prefix_len() <= 30 {
            return Ok(Span {
                v6,
                first: first + 1,
                last: last - 1,
            });
        }
        return Ok(Span { v6, first, last });
    }
    if let Some((a, b)) = s.split_once('-') {
        let a: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| bad("first address is not an IP address"))?;
        let b: IpAddr = b
            .trim()
            .parse()
            .map_err(|_| bad("last address is not an IP address"))?;
        let (v6a, fa) = to_u128(a);
        let (v6b, lb) = to_u128(b);
        if v6a != v6b {
            return Err(bad("both ends must be of one family"));
        }
        if lb < fa {
            return Err(bad("the last address is before the first"));
        }
        return Ok(Span {
            v6: v6a,
            first: fa,
            last: lb,
        });
    }
    let ip: IpAddr = s
        .parse()
        .map_err(|_| bad("not an address, a CIDR prefix or a first-last range"))?;
    let (v6, x) = to_u128(ip);
    Ok(Span {
        v6,
        first: x,
        last: x,
    })
}

/// Addresses never probed whatever the ranges say.
fn reserved(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_multicast() || a.is_broadcast() || a.is_unspecified() || o[0] == 0 || o[0] >= 240
        }
        IpAddr::V6(a) => a.is_multicast() || a.is_unspecified(),
    }
}

/// Builds the scan's address list. Errors name the field (`ranges[1]`, `exclusions[0]`).
pub fn targets(
    ranges: &[String],
    exclusions: &[String],
    allow_large: bool,
) -> Result<Targets, FieldError> {
    if ranges.is_empty() {
        return Err(FieldError::new(
            "ranges",
            "give at least one CIDR prefix, address or first-last range",
        ));
    }
    let spans = ranges
        .iter()
        .enumerate()
        .map(|(i, r)| parse(r, &format!("ranges[{i}]"), true))
        .collect::<Result<Vec<_>, _>>()?;
    let excluded = exclusions
        .iter()
        .enumerate()
        .map(|(i, r)| parse(r, &format!("exclusions[{i}]"), false))
        .collect::<Result<Vec<_>, _>>()?;
    let total: u128 = spans.iter().map(Span::len).sum();
    if total > HARD_LIMIT {
        return Err(FieldError::new(
            "ranges",
            format!("{total} addresses in all: at most {HARD_LIMIT} per scan; split the rule"),
        ));
    }
    if total > LARGE_SCAN as u128 && !allow_large {
        return Err(FieldError::new(
            "ranges",
            format!(
                "{total} addresses in all, more than a /16; set allow_large to scan them anyway"
            ),
        ));
    }
    // Network and broadcast addresses of the listed IPv4 prefixes: dropped even when
    // another entry (a wider range) covers them.
    let mut edges: Vec<u128> = Vec::new();
    for r in ranges {
        if let Ok(net) = r.trim().parse::<ipnet::Ipv4Net>()
            && net.prefix_len() <= 30
        {
            let net = net.trunc();
            edges.push(u128::from(u32::from(net.network())));
            edges.push(u128::from(u32::from(net.broadcast())));
        }
    }
    let mut addrs = Vec::with_capacity(total as usize);
    for s in &spans {
        let mut x = s.first;
        loop {
            addrs.push((s.v6, x));
            if x == s.last {
                break;
            }
            x += 1;
        }
    }
    addrs.sort_unstable();
    addrs.dedup();
    let before = addrs.len() as u64;
    addrs.retain(|&(v6, x)| {
        !(excluded.iter().any(|e| e.contains(v6, x))
            || (!v6 && edges.contains(&x))
            || reserved(from_u128(v6, x)))
    });
    let skipped = before - addrs.len() as u64 + (total as u64 - before);
    Ok(Targets {
        addrs: addrs.into_iter().map(|(v6, x)| from_u128(v6, x)).collect(),
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(r: &[&str], e: &[&str]) -> Result<Targets, FieldError> {
        let r: Vec<String> = r.iter().map(|s| s.to_string()).collect();
        let e: Vec<String> = e.iter().map(|s| s.to_string()).collect();
        targets(&r, &e, false)
    }

    fn ips(t: &Targets) -> Vec<String> {
        t.addrs.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn a_prefix_loses_its_network_and_broadcast_address() {
        let got = t(&["127.9.0.0/29"], &[]).unwrap();
        assert_eq!(got.addrs.len(), 6);
        assert_eq!(ips(&got)[0], "127.9.0.1");
        assert_eq!(ips(&got)[5], "127.9.0.6");
        // A /31 and /32 keep theirs (RFC 3021 point-to-point links).
        assert_eq!(t(&["127.9.0.0/31"], &[]).unwrap().addrs.len(), 2);
        assert_eq!(t(&["127.9.0.7/32"], &[]).unwrap().addrs.len(), 1);
    }

    #[test]
    fn edges_of_a_prefix_stay_out_even_when_a_range_covers_them() {
        let got = t(&["127.9.0.0/30", "127.9.0.0-127.9.0.5"], &[]).unwrap();
        assert_eq!(
            ips(&got),
            ["127.9.0.1", "127.9.0.2", "127.9.0.4", "127.9.0.5"]
        );
    }

    #[test]
    fn exclusions_and_duplicates() {
        let got = t(
            &["127.9.0.0/28", "127.9.0.3", "127.9.0.1-127.9.0.4"],
            &["127.9.0.4/30", "127.9.0.2"],
        )
        .unwrap();
        assert_eq!(
            ips(&got),
            [
                "127.9.0.1",
                "127.9.0.3",
                "127.9.0.8",
                "127.9.0.9",
                "127.9.0.10",
                "127.9.0.11",
                "127.9.0.12",
                "127.9.0.13",
                "127.9.0.14"
            ]
        );
    }

    #[test]
    fn multicast_broadcast_and_reserved_are_never_probed() {
        let got = t(
            &[
                "224.0.0.1",
                "239.255.255.250",
                "255.255.255.255",
                "0.0.0.0",
                "240.0.0.1",
                "ff02::1",
                "::",
                "127.0.0.1",
                "::1",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(ips(&got), ["127.0.0.1", "::1"]);
        assert_eq!(got.skipped, 7);
    }

    #[test]
    fn more_than_a_slash_16_needs_allow_large() {
        let e = t(&["10.0.0.0/15"], &[]).unwrap_err();
        assert_eq!(e.field, "ranges");
        assert!(e.message.contains("allow_large"), "{}", e.message);
        // Two /17s count together.
        assert!(t(&["10.0.0.0/17", "10.1.0.0/16"], &[]).is_err());
        assert_eq!(t(&["10.0.0.0/16"], &[]).unwrap().addrs.len(), 65_534);
        let big = targets(&["10.0.0.0/15".into()], &[], true).unwrap();
        assert_eq!(big.addrs.len(), 131_070);
        // A /8 is refused outright, without expanding it.
        let e = targets(&["10.0.0.0/8".into()], &[], true).unwrap_err();
        assert!(e.message.contains("split"), "{}", e.message);
        assert!(targets(&["2001:db8::/64".into()], &[], true).is_err());
    }

    #[test]
    fn errors_name_the_entry() {
        let e = t(&["127.0.0.1", "10.0.0.0/33"], &[]).unwrap_err();
        assert_eq!(e.field, "ranges[1]");
        let e = t(&["127.0.0.1"], &["nonsense"]).unwrap_err();
        assert_eq!(e.field, "exclusions[0]");
        let e = t(&["127.0.0.9-127.0.0.1"], &[]).unwrap_err();
        assert!(e.message.contains("before"), "{}", e.message);
        let e = t(&["127.0.0.1-::1"], &[]).unwrap_err();
        assert!(e.message.contains("family"), "{}", e.message);
        assert_eq!(t(&[], &[]).unwrap_err().field, "ranges");
    }
}
