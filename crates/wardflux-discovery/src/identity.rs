//! How one device is recognised across addresses and runs: by its SNMP engine ID, else
//! sysName + serial number, else sysName + sysObjectID + its set of interface MAC
//! addresses, else (no SNMP, or an agent that gives none of these) by its address.

use wardflux_model::discovery::Finding;

/// 64-bit FNV-1a: a short, stable digest of a MAC set (not a security boundary).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The identity key of a finding: `engine:<hex>`, `serial:<sysName>|<serial>`,
/// `mac:<sysName>|<sysObjectID>|<digest>` or `ip:<address>`.
pub fn of(f: &Finding) -> String {
    if let Some(e) = &f.engine_id {
        return format!("engine:{e}");
    }
    let name = f.sys_name.as_deref().unwrap_or("");
    if let Some(s) = &f.serial {
        return format!("serial:{name}|{s}");
    }
    if !name.is_empty() && !f.mac_addresses.is_empty() {
        let oid = f.sys_object_id.as_deref().unwrap_or("");
        return format!(
            "mac:{name}|{oid}|{:016x}",
            fnv1a(&f.mac_addresses.join(","))
        );
    }
    match f.ip {
        Some(ip) => format!("ip:{ip}"),
        None => "ip:".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(ip: &str) -> Finding {
        Finding {
            ip: Some(ip.parse().unwrap()),
            ..Finding::default()
        }
    }

    #[test]
    fn engine_id_wins_then_serial_then_macs_then_address() {
        let mut a = f("127.0.0.1");
        assert_eq!(of(&a), "ip:127.0.0.1");
        a.sys_name = Some("core1".into());
        assert_eq!(of(&a), "ip:127.0.0.1", "a name alone identifies nothing");
        a.mac_addresses = vec!["00:1b:2c:00:00:01".into(), "00:1b:2c:00:00:02".into()];
        a.sys_object_id = Some("1.3.6.1.4.1.9.1.516".into());
        let by_mac = of(&a);
        assert!(
            by_mac.starts_with("mac:core1|1.3.6.1.4.1.9.1.516|"),
            "{by_mac}"
        );
        let mut b = f("127.0.0.2");
        b.sys_name = a.sys_name.clone();
        b.sys_object_id = a.sys_object_id.clone();
        b.mac_addresses = a.mac_addresses.clone();
        assert_eq!(of(&b), by_mac, "same device on another address");
        b.mac_addresses.pop();
        assert_ne!(of(&b), by_mac);
        a.serial = Some("FOC1234X0AB".into());
        assert_eq!(of(&a), "serial:core1|FOC1234X0AB");
        a.engine_id = Some("80001f8880".into());
        assert_eq!(of(&a), "engine:80001f8880");
    }
}
