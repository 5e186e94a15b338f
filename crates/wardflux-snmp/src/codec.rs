//! Message encode/decode without I/O, exposed for the fuzz target and the codec benchmark.
//! The codec itself is async-snmp's; these functions keep its types out of other crates.

use crate::error::SnmpError;
use crate::types::VarBind;

/// What a decoded message contained.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// 0 = v1, 1 = v2c, 3 = v3.
    pub version: u8,
    pub request_id: Option<i32>,
    pub error_status: Option<i32>,
    /// Empty for encrypted v3 messages (their PDU is not readable without keys).
    pub varbinds: Vec<VarBind>,
}

/// Decodes any SNMP message (v1, v2c, v3 incl. USM header; encrypted v3 PDUs stay opaque).
/// Never panics; bad input gives [`SnmpError::Decode`] (a malformed Opaque-wrapped number
/// included, as net-snmp rejects such a message).
pub fn decode_message(data: &[u8]) -> Result<Decoded, SnmpError> {
    let out =
        async_snmp::message::Message::decode(bytes_from(data), async_snmp::DecodeConfig::default())
            .map_err(|e| SnmpError::Decode(e.to_string()))?;
    let msg = out.value;
    let version = match msg.version() {
        async_snmp::Version::V1 => 0,
        async_snmp::Version::V2c => 1,
        async_snmp::Version::V3 => 3,
        _ => 255,
    };
    match msg.into_pdu() {
        Some(pdu) => {
            let status = pdu.error_status();
            let (request_id, _, varbinds) = pdu.into_raw_parts();
            Ok(Decoded {
                version,
                request_id: Some(request_id),
                error_status: Some(status),
                varbinds: VarBind::from_lib_all(varbinds, UNKNOWN_PEER)
                    .map_err(|e| SnmpError::Decode(e.to_string()))?,
            })
        }
        None => Ok(Decoded {
            version,
            request_id: None,
            error_status: None,
            varbinds: Vec::new(),
        }),
    }
}

/// Placeholder peer for errors of messages that came from no socket.
const UNKNOWN_PEER: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

fn bytes_from(data: &[u8]) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(data)
}

/// Encodes a v2c GetResponse carrying `varbinds` (what an agent would send).
pub fn encode_v2c_response(
    community: &str,
    request_id: i32,
    varbinds: &[VarBind],
) -> Result<Vec<u8>, SnmpError> {
    let lib: Vec<async_snmp::VarBind> = varbinds
        .iter()
        .map(|vb| async_snmp::VarBind::new(vb.oid.0.clone(), vb.value.to_lib()))
        .collect();
    let pdu = async_snmp::Pdu::from_raw_parts(
        request_id,
        async_snmp::PduBody::Standard {
            pdu_type: async_snmp::pdu::StandardPduType::Response,
            error_status: 0,
            error_index: 0,
        },
        lib,
    );
    let msg = async_snmp::message::CommunityMessage::v2c(community.as_bytes().to_vec(), pdu)
        .map_err(|e| SnmpError::Protocol(e.to_string()))?;
    msg.encode()
        .map(|b| b.to_vec())
        .map_err(|e| SnmpError::Protocol(e.to_string()))
}
