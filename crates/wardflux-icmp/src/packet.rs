//! ICMP / ICMPv6 echo packets: encoding requests and decoding replies, with no I/O.
//!
//! Only echo request/reply are handled (RFC 792 for IPv4, RFC 4443 for IPv6). Everything
//! else a raw socket sees (our own requests on loopback, unreachables, other programs'
//! traffic) decodes to [`Decoded::Other`] and is ignored by the pinger.
//!
//! Written by hand: it is 8 bytes of header and a checksum, and the packet crates on
//! crates.io either pull in a whole packet framework (pnet) or are tied to one tool.

/// Which ICMP flavour a packet belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

const ICMP4_ECHO_REQUEST: u8 = 8;
const ICMP4_ECHO_REPLY: u8 = 0;
const ICMP6_ECHO_REQUEST: u8 = 128;
const ICMP6_ECHO_REPLY: u8 = 129;

/// Length of the ICMP echo header (type, code, checksum, identifier, sequence).
pub const ECHO_HEADER_LEN: usize = 8;

/// An echo request to put on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoRequest<'a> {
    pub identifier: u16,
    pub sequence: u16,
    pub payload: &'a [u8],
}

impl EchoRequest<'_> {
    /// Encodes the request into `buf` (cleared first).
    ///
    /// For IPv4 the checksum is computed here. For ICMPv6 it is left zero: it covers a
    /// pseudo-header with the source address, which only the kernel knows, and Linux
    /// always fills it in for ICMPv6 raw and datagram sockets.
    pub fn encode(&self, family: Family, buf: &mut Vec<u8>) {
        buf.clear();
        let ty = match family {
            Family::V4 => ICMP4_ECHO_REQUEST,
            Family::V6 => ICMP6_ECHO_REQUEST,
        };
        buf.extend_from_slice(&[ty, 0, 0, 0]);
        buf.extend_from_slice(&self.identifier.to_be_bytes());
        buf.extend_from_slice(&self.sequence.to_be_bytes());
        buf.extend_from_slice(self.payload);
        if family == Family::V4 {
            let sum = checksum(buf);
            buf[2..4].copy_from_slice(&sum.to_be_bytes());
        }
    }
}

/// What a received datagram turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// An echo reply: ours if identifier and sequence match an outstanding probe.
    EchoReply {
        identifier: u16,
        sequence: u16,
        payload: &'a [u8],
    },
    /// A well-formed ICMP message of another type (e.g. our own request seen on loopback).
    Other { icmp_type: u8 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("packet too short: {0} bytes")]
    Truncated(usize),
    #[error("not an IPv4 ICMP packet (version {version}, protocol {protocol})")]
    NotIcmp { version: u8, protocol: u8 },
    #[error("bad ICMP checksum")]
    BadChecksum,
}

/// Decodes what a socket returned.
///
/// `with_ip_header` is true for IPv4 raw sockets, which hand over the IP header too;
/// IPv6 raw sockets and all datagram ("ping") sockets return the ICMP message alone.
/// IPv4 checksums are verified; ICMPv6 ones were verified by the kernel.
pub fn decode(
    family: Family,
    with_ip_header: bool,
    data: &[u8],
) -> Result<Decoded<'_>, PacketError> {
    let icmp = if with_ip_header {
        strip_ipv4_header(data)?
    } else {
        data
    };
    if icmp.len() < ECHO_HEADER_LEN {
        return Err(PacketError::Truncated(icmp.len()));
    }
    if family == Family::V4 && checksum(icmp) != 0 {
        return Err(PacketError::BadChecksum);
    }
    let reply_type = match family {
        Family::V4 => ICMP4_ECHO_REPLY,
        Family::V6 => ICMP6_ECHO_REPLY,
    };
    if icmp[0] != reply_type || icmp[1] != 0 {
        return Ok(Decoded::Other { icmp_type: icmp[0] });
    }
    Ok(Decoded::EchoReply {
        identifier: u16::from_be_bytes([icmp[4], icmp[5]]),
        sequence: u16::from_be_bytes([icmp[6], icmp[7]]),
        payload: &icmp[ECHO_HEADER_LEN..],
    })
}

fn strip_ipv4_header(data: &[u8]) -> Result<&[u8], PacketError> {
    let first = *data.first().ok_or(PacketError::Truncated(0))?;
    let version = first >> 4;
    let ihl = usize::from(first & 0x0f) * 4;
    if data.len() < 20 || ihl < 20 || data.len() < ihl {
        return Err(PacketError::Truncated(data.len()));
    }
    let protocol = data[9];
    if version != 4 || protocol != 1 {
        return Err(PacketError::NotIcmp { version, protocol });
    }
    Ok(&data[ihl..])
}

/// The Internet checksum (RFC 1071): one's complement of the one's complement sum.
/// Computing it over a message that already carries its checksum gives 0.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop above folded every carry, so `sum` fits 16 bits.
    !(u16::try_from(sum).unwrap_or(u16::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Checksums in these fixtures were computed independently (Python, RFC 1071).
    // identifier 0x1234, sequence 1, payload "abcdefgh".
    const REQ_V4: &str = "08 00 54 35 12 34 00 01 61 62 63 64 65 66 67 68";

    #[test]
    fn encodes_v4_request_with_checksum() {
        let mut buf = Vec::new();
        EchoRequest {
            identifier: 0x1234,
            sequence: 1,
            payload: b"abcdefgh",
        }
        .encode(Family::V4, &mut buf);
        assert_eq!(buf, hex(REQ_V4));
        assert_eq!(
            checksum(&buf),
            0,
            "a message with its checksum sums to zero"
        );
    }

    #[test]
    fn encodes_v6_request_leaving_checksum_to_kernel() {
        let mut buf = vec![0xff; 3];
        EchoRequest {
            identifier: 0xbeef,
            sequence: 0x0203,
            payload: &[],
        }
        .encode(Family::V6, &mut buf);
        assert_eq!(buf, hex("80 00 00 00 be ef 02 03"));
    }

    #[test]
    fn decodes_v4_reply_behind_ip_header() {
        // IPv4 header (20 bytes, proto 1, 127.0.0.1 -> 127.0.0.1) + echo reply id 0x1234 seq 1.
        let pkt = hex("45 00 00 24 5e 9c 00 00 40 01 1e 3b 7f 00 00 01 7f 00 00 01
             00 00 5c 35 12 34 00 01 61 62 63 64 65 66 67 68");
        let d = decode(Family::V4, true, &pkt).unwrap();
        assert_eq!(
            d,
            Decoded::EchoReply {
                identifier: 0x1234,
                sequence: 1,
                payload: b"abcdefgh"
            }
        );
    }

    #[test]
    fn decodes_v4_reply_from_datagram_socket() {
        let pkt = hex("00 00 5c 35 12 34 00 01 61 62 63 64 65 66 67 68");
        assert!(matches!(
            decode(Family::V4, false, &pkt),
            Ok(Decoded::EchoReply {
                identifier: 0x1234,
                sequence: 1,
                ..
            })
        ));
    }

    #[test]
    fn own_request_on_loopback_is_other() {
        assert_eq!(
            decode(Family::V4, false, &hex(REQ_V4)),
            Ok(Decoded::Other { icmp_type: 8 })
        );
    }

    #[test]
    fn decodes_v6_reply() {
        let pkt = hex("81 00 5d 9a be ef 02 03 00 01");
        assert_eq!(
            decode(Family::V6, false, &pkt),
            Ok(Decoded::EchoReply {
                identifier: 0xbeef,
                sequence: 0x0203,
                payload: &[0, 1]
            })
        );
        // A v6 request (type 128) is not a reply.
        assert_eq!(
            decode(Family::V6, false, &hex("80 00 00 00 be ef 02 03")),
            Ok(Decoded::Other { icmp_type: 128 })
        );
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        assert_eq!(
            decode(Family::V4, false, &[0, 0, 0]),
            Err(PacketError::Truncated(3))
        );
        assert_eq!(
            decode(Family::V4, true, &[]),
            Err(PacketError::Truncated(0))
        );
        assert_eq!(
            decode(Family::V4, true, &[0x45; 10]),
            Err(PacketError::Truncated(10))
        );
        // IHL says 60 bytes but only 24 are there.
        let mut short =
            hex("4f 00 00 18 00 00 00 00 40 01 00 00 7f 00 00 01 7f 00 00 01 00 00 00 00");
        assert_eq!(
            decode(Family::V4, true, &short),
            Err(PacketError::Truncated(24))
        );
        short[0] = 0x45;
        short[9] = 6; // TCP
        assert_eq!(
            decode(Family::V4, true, &short),
            Err(PacketError::NotIcmp {
                version: 4,
                protocol: 6
            })
        );
        // Flip one payload bit: the checksum no longer matches.
        let mut pkt = hex("00 00 5c 35 12 34 00 01 61 62 63 64 65 66 67 68");
        pkt[9] ^= 1;
        assert_eq!(
            decode(Family::V4, false, &pkt),
            Err(PacketError::BadChecksum)
        );
    }

    #[test]
    fn checksum_odd_length() {
        // RFC 1071 example bytes, padded with a trailing odd byte.
        assert_eq!(checksum(&hex("00 01 f2 03 f4 f5 f6 f7")), !0xddf2);
        assert_eq!(checksum(&hex("01")), !0x0100);
    }
}
