//! The templates shipped with WARD FLUX, as JSON data files under `templates/` at the
//! repository root, embedded at build time. The store loads them on first start and
//! re-imports them by name when their text changes (ids are kept, see the crate docs).

use crate::{Template, TemplateErrors};

/// `(file name, JSON text)` of every shipped template.
pub const FILES: &[(&str, &str)] = &[
    (
        "generic_snmp.json",
        include_str!("../../../templates/generic_snmp.json"),
    ),
    (
        "cisco_ios.json",
        include_str!("../../../templates/cisco_ios.json"),
    ),
    (
        "linux_netsnmp.json",
        include_str!("../../../templates/linux_netsnmp.json"),
    ),
    (
        "windows_snmp.json",
        include_str!("../../../templates/windows_snmp.json"),
    ),
    (
        "fortinet_fortigate.json",
        include_str!("../../../templates/fortinet_fortigate.json"),
    ),
    (
        "juniper_junos.json",
        include_str!("../../../templates/juniper_junos.json"),
    ),
    (
        "hp_procurve.json",
        include_str!("../../../templates/hp_procurve.json"),
    ),
    (
        "mikrotik_routeros.json",
        include_str!("../../../templates/mikrotik_routeros.json"),
    ),
];

/// Every shipped template, parsed and validated. A test keeps them valid, so an error here
/// is a build defect.
pub fn all() -> Result<Vec<Template>, (&'static str, TemplateErrors)> {
    FILES
        .iter()
        .map(|(f, json)| crate::parse(json).map_err(|e| (*f, e)))
        .collect()
}

/// A version number of a shipped template's text (FNV-1a of the JSON), so the store can tell
/// whether the shipped copy changed since it was loaded.
pub fn version(json: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in json.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h >> 1) as i64
}
