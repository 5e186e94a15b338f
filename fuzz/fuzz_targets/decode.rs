//! Any bytes into the SNMP message decoder (v1, v2c, v3 with USM header): no panic, and
//! every decoded value renders as net-snmp would without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = wardflux_snmp::codec::decode_message(data) {
        for vb in &msg.varbinds {
            let _ = vb.to_string();
            let _ = wardflux_snmp::VarBindView::from(vb);
        }
    }
});
