//! The device recordings in `tests/fixtures/recordings/` (for the discovery integration
//! test and benchmark): well formed, distinct devices, classified as documented, and served
//! by a real snmpsim.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use wardflux_discovery::Classifier;
use wardflux_testkit::snmp::{netsnmp, snmpsim};

const SYS_DESCR: &str = "1.3.6.1.2.1.1.1.0";
const SYS_OBJECT_ID: &str = "1.3.6.1.2.1.1.2.0";
const SYS_NAME: &str = "1.3.6.1.2.1.1.5.0";
const SERIAL: &str = "1.3.6.1.2.1.47.1.1.1.1.11.1";
const IF_ENTRY: &str = "1.3.6.1.2.1.2.2.1";

/// Recording → the classifier rule that must decide it (also in the README's table).
const EXPECTED: &[(&str, &str)] = &[
    ("apc-pdu", "apc-pdu"),
    ("aruba-cx", "aruba-aos-cx"),
    ("brother-printer", "printer"),
    ("cisco-c9300", "cisco-ios-xe-catalyst"),
    ("cisco-nxos", "cisco-nx-os"),
    ("fortigate", "fortinet-fortigate"),
    ("huawei-ce6810", "huawei-vrp-switch"),
    ("juniper-mx", "juniper-junos"),
    ("linux-netsnmp", "linux-netsnmp"),
    ("mikrotik", "mikrotik-routeros"),
    ("paloalto", "paloalto-panos"),
    ("ubiquiti-edgeos", "ubiquiti-edgeos"),
    ("windows-xp", "windows"),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recordings")
}

struct Recording {
    name: String,
    text: String,
    /// OID → (type, value as text: hex decoded for `4x`).
    values: BTreeMap<String, (String, String)>,
}

fn arcs(oid: &str) -> Vec<u32> {
    oid.split('.')
        .map(|a| a.parse().unwrap_or_else(|_| panic!("bad OID {oid}")))
        .collect()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn recordings() -> Vec<Recording> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir()).expect("recordings dir") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("snmprec") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut values = BTreeMap::new();
        let mut last: Option<Vec<u32>> = None;
        for (i, line) in text.lines().enumerate() {
            let mut parts = line.splitn(3, '|');
            let (oid, ty, value) = (
                parts.next().unwrap(),
                parts
                    .next()
                    .unwrap_or_else(|| panic!("{name}:{}: no type", i + 1)),
                parts
                    .next()
                    .unwrap_or_else(|| panic!("{name}:{}: no value", i + 1)),
            );
            let a = arcs(oid);
            if let Some(prev) = &last {
                assert!(
                    a > *prev,
                    "{name}:{}: {oid} is not after the previous OID",
                    i + 1
                );
            }
            last = Some(a);
            let value = if ty == "4x" {
                String::from_utf8_lossy(&unhex(value)).into_owned()
            } else {
                value.to_owned()
            };
            values.insert(oid.to_owned(), (ty.to_owned(), value));
        }
        out.push(Recording { name, text, values });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[test]
fn recordings_are_well_formed_distinct_and_classified() {
    let recs = recordings();
    assert!(recs.len() >= 8, "{} recordings", recs.len());
    assert_eq!(
        recs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        EXPECTED.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        "every recording has an expected classification and the other way round"
    );
    let readme = std::fs::read_to_string(dir().join("README.md")).unwrap();
    let classifier = Classifier::shipped();
    let mut names = BTreeSet::new();
    let mut serials = BTreeSet::new();
    let mut macs = BTreeSet::new();
    let mut vendors = BTreeSet::new();
    let mut types = BTreeSet::new();
    let mut with_serial = 0;
    for (r, (_, rule)) in recs.iter().zip(EXPECTED) {
        assert!(
            readme.contains(&format!("`{}.snmprec`", r.name)),
            "README names the source of {}",
            r.name
        );
        for n in 1..=7 {
            let oid = format!("1.3.6.1.2.1.1.{n}.0");
            assert!(r.values.contains_key(&oid), "{}: no {oid}", r.name);
        }
        let (ty, object_id) = &r.values[SYS_OBJECT_ID];
        assert_eq!(ty, "6", "{}: sysObjectID type", r.name);
        let sys_name = &r.values[SYS_NAME].1;
        assert!(!sys_name.is_empty(), "{}: empty sysName", r.name);
        assert!(
            names.insert(sys_name.clone()),
            "{}: sysName {sys_name} reused",
            r.name
        );
        if let Some((_, serial)) = r.values.get(SERIAL) {
            assert!(serials.insert(serial.clone()), "{}: serial reused", r.name);
            with_serial += 1;
        }
        // 2-4 interfaces, each with index, description, type and physical address.
        let indexes: Vec<&str> = r
            .values
            .keys()
            .filter_map(|o| o.strip_prefix(&format!("{IF_ENTRY}.1.")))
            .collect();
        assert!(
            (2..=4).contains(&indexes.len()),
            "{}: {} interfaces",
            r.name,
            indexes.len()
        );
        for i in &indexes {
            assert_eq!(r.values[&format!("{IF_ENTRY}.1.{i}")].1, *i);
            for col in [2, 3, 6] {
                assert!(
                    r.values.contains_key(&format!("{IF_ENTRY}.{col}.{i}")),
                    "{}: no ifTable column {col} for {i}",
                    r.name
                );
            }
            let (ty, mac) = &r.values[&format!("{IF_ENTRY}.6.{i}")];
            if ty == "4x" {
                let hex = r
                    .text
                    .lines()
                    .find(|l| l.starts_with(&format!("{IF_ENTRY}.6.{i}|")))
                    .unwrap()
                    .rsplit('|')
                    .next()
                    .unwrap()
                    .to_owned();
                assert_eq!(hex.len(), 12, "{}: MAC of {i}", r.name);
                assert!(macs.insert(hex), "{}: MAC of {i} reused", r.name);
            } else {
                assert!(
                    mac.is_empty(),
                    "{}: MAC of {i} is neither hex nor empty",
                    r.name
                );
            }
        }
        let descr = &r.values[SYS_DESCR].1;
        let got = classifier.classify(Some(object_id), Some(descr));
        assert_eq!(got.rule.as_deref(), Some(*rule), "{}", r.name);
        vendors.insert(got.vendor.clone().unwrap_or_default());
        types.insert(got.device_type.clone().unwrap_or_default());
    }
    assert!(
        with_serial * 2 > recs.len(),
        "most recordings have a serial"
    );
    assert!(vendors.len() >= 8, "vendors: {vendors:?}");
    assert!(types.len() >= 6, "device types: {types:?}");
}

#[test]
fn snmpsim_serves_every_recording() {
    let recs = recordings();
    let extra: Vec<(&str, &str)> = recs
        .iter()
        .map(|r| (r.name.as_str(), r.text.as_str()))
        .collect();
    let sim = snmpsim(&extra);
    let addr = sim.addr.to_string();
    for r in &recs {
        let run = netsnmp(&[
            "walk",
            "-v2c",
            "-c",
            &r.name,
            "-t",
            "2",
            "-r",
            "1",
            &addr,
            "1.3.6.1.2.1.1",
        ]);
        assert_eq!(run.code, 0, "{}: {}", r.name, run.err);
        let object_id = &r.values[SYS_OBJECT_ID].1;
        let sys_name = &r.values[SYS_NAME].1;
        assert!(
            run.out
                .contains(&format!(".{SYS_OBJECT_ID} = OID: .{object_id}\n")),
            "{}: {}",
            r.name,
            run.out
        );
        assert!(
            run.out
                .contains(&format!(".{SYS_NAME} = STRING: \"{sys_name}\"\n")),
            "{}: {}",
            r.name,
            run.out
        );
        assert_eq!(
            run.out
                .lines()
                .filter(|l| l.starts_with(".1.3.6.1.2.1.1."))
                .count(),
            7,
            "{}: the whole system group: {}",
            r.name,
            run.out
        );
        // The whole file walks in order (snmpsim rejects nothing, net-snmp sees no loop).
        let all = netsnmp(&[
            "walk", "-v2c", "-c", &r.name, "-t", "2", "-r", "1", &addr, ".1",
        ]);
        assert_eq!(all.code, 0, "{}: {}", r.name, all.err);
        let oids = all
            .out
            .lines()
            .filter(|l| l.starts_with(".1.") && !l.contains("No more variables"))
            .count();
        assert_eq!(oids, r.values.len(), "{}: {}", r.name, all.out);
    }
}
