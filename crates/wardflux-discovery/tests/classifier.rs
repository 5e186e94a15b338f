//! The shipped classifier against real sysObjectID/sysDescr pairs
//! (`tests/fixtures/classifier-pairs.tsv`, each with its source), the rules file's error
//! paths, and user overrides.

use std::collections::{BTreeMap, BTreeSet};

use wardflux_discovery::classify::{
    CONFIDENCE_BOTH, CONFIDENCE_DESCR, CONFIDENCE_ENTERPRISE, CONFIDENCE_OBJECT_ID, DEVICE_TYPES,
    shipped_json,
};
use wardflux_discovery::{Classifier, ClassifierError};

const PAIRS: &str = include_str!("fixtures/classifier-pairs.tsv");

/// Whether a pair belongs to a vendor/OS family.
type Family = fn(&Pair) -> bool;

struct Pair {
    line: usize,
    source: String,
    object_id: Option<String>,
    descr: Option<String>,
    vendor: Option<String>,
    os: Option<String>,
    device_type: Option<String>,
    rule: Option<String>,
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            other => panic!("bad escape \\{other:?} in {s:?}"),
        }
    }
    out
}

fn pairs() -> Vec<Pair> {
    PAIRS
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .map(|(i, l)| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 7, "line {}: 7 columns expected: {l}", i + 1);
            assert!(
                !cols[0].is_empty(),
                "line {}: every pair names its source",
                i + 1
            );
            Pair {
                line: i + 1,
                source: cols[0].to_owned(),
                object_id: opt(cols[1]),
                descr: opt(&unescape(cols[2])),
                vendor: opt(cols[3]),
                os: opt(cols[4]),
                device_type: opt(cols[5]),
                rule: opt(cols[6]),
            }
        })
        .collect()
}

#[test]
fn every_real_pair_is_classified_as_expected() {
    let c = Classifier::shipped();
    let mut failures = Vec::new();
    for p in pairs() {
        let got = c.classify(p.object_id.as_deref(), p.descr.as_deref());
        let expected = (&p.vendor, &p.os, &p.device_type, &p.rule);
        let actual = (&got.vendor, &got.os, &got.device_type, &got.rule);
        if expected != actual {
            failures.push(format!(
                "line {} ({}): expected {expected:?}, got {actual:?}",
                p.line, p.source
            ));
            continue;
        }
        // The confidence says which signals agreed.
        let rule = got.rule.as_deref().unwrap_or("");
        let ok = if rule.is_empty() {
            got.confidence == 0.0
        } else if rule.starts_with("enterprise:") {
            got.confidence == CONFIDENCE_ENTERPRISE
        } else {
            match (p.object_id.is_some(), p.descr.is_some()) {
                (true, true) => [CONFIDENCE_BOTH, CONFIDENCE_OBJECT_ID, CONFIDENCE_DESCR]
                    .contains(&got.confidence),
                (true, false) => got.confidence == CONFIDENCE_OBJECT_ID,
                (false, true) => got.confidence == CONFIDENCE_DESCR,
                (false, false) => false,
            }
        };
        if !ok {
            failures.push(format!(
                "line {} ({}): confidence {} does not fit the signals",
                p.line, p.source, got.confidence
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_pairs_cover_every_family_twice_and_every_rule() {
    let pairs = pairs();
    let with_both = pairs
        .iter()
        .filter(|p| p.object_id.is_some() && p.descr.is_some())
        .count();
    assert!(pairs.len() >= 40, "{} pairs", pairs.len());
    assert!(with_both >= 40, "{with_both} pairs with both signals");

    // At least two pairs for every vendor/OS family the issue names.
    let families: &[(&str, Family)] = &[
        ("cisco ios", |p| p.os.as_deref() == Some("ios")),
        ("cisco ios-xe", |p| p.os.as_deref() == Some("ios-xe")),
        ("cisco nx-os", |p| p.os.as_deref() == Some("nx-os")),
        ("cisco asa", |p| p.os.as_deref() == Some("asa")),
        ("juniper junos", |p| p.os.as_deref() == Some("junos")),
        ("mikrotik routeros", |p| p.os.as_deref() == Some("routeros")),
        ("fortinet fortios", |p| p.os.as_deref() == Some("fortios")),
        ("hp procurve", |p| p.os.as_deref() == Some("procurve")),
        ("aruba aos-cx", |p| p.os.as_deref() == Some("arubaos-cx")),
        ("huawei vrp", |p| p.os.as_deref() == Some("vrp")),
        ("ubiquiti", |p| p.vendor.as_deref() == Some("ubiquiti")),
        ("palo alto pan-os", |p| p.os.as_deref() == Some("pan-os")),
        ("linux net-snmp", |p| p.os.as_deref() == Some("linux")),
        ("windows", |p| p.os.as_deref() == Some("windows")),
        ("printers", |p| p.device_type.as_deref() == Some("printer")),
        ("apc upses", |p| {
            p.vendor.as_deref() == Some("apc") && p.device_type.as_deref() == Some("ups")
        }),
    ];
    for (name, is) in families {
        let n = pairs.iter().filter(|p| is(p)).count();
        assert!(n >= 2, "{name}: {n} pair(s), at least 2 wanted");
    }

    // Every shipped rule decides at least one real pair.
    let decided: BTreeSet<&str> = pairs.iter().filter_map(|p| p.rule.as_deref()).collect();
    let shipped = Classifier::shipped();
    let unexercised: Vec<&str> = shipped
        .rule_ids()
        .filter(|id| !decided.contains(id))
        .collect();
    assert!(
        unexercised.is_empty(),
        "rules no real pair exercises: {unexercised:?}"
    );
}

#[test]
fn the_shipped_file_is_what_shipped_parses() {
    assert_eq!(Classifier::shipped_json(), shipped_json());
    let c = Classifier::from_json(shipped_json()).expect("shipped json parses");
    let shipped = Classifier::shipped();
    assert_eq!(
        c.rule_ids().collect::<Vec<_>>(),
        shipped.rule_ids().collect::<Vec<_>>()
    );
    assert!(shipped.rule_ids().count() >= 20);
    assert_eq!(shipped.enterprise_vendor(9), Some("cisco"));
    assert_eq!(shipped.enterprise_vendor(2636), Some("juniper"));
    assert_eq!(shipped.enterprise_vendor(14988), Some("mikrotik"));
    assert_eq!(shipped.enterprise_vendor(12356), Some("fortinet"));
}

#[test]
fn confidence_follows_the_signals() {
    let c = Classifier::shipped();
    let descr = "Cisco NX-OS(tm) n5000, Software (n5000-uk9), Version 7.0(8)N1(1)";
    let oid = "1.3.6.1.4.1.9.12.3.1.3.1008";

    let both = c.classify(Some(oid), Some(descr));
    assert_eq!(both.rule.as_deref(), Some("cisco-nx-os"));
    assert_eq!(both.confidence, CONFIDENCE_BOTH);

    let oid_only = c.classify(Some(oid), None);
    assert_eq!(oid_only.rule.as_deref(), Some("cisco-nx-os"));
    assert_eq!(oid_only.confidence, CONFIDENCE_OBJECT_ID);

    let descr_only = c.classify(None, Some(descr));
    assert_eq!(descr_only.rule.as_deref(), Some("cisco-nx-os"));
    assert_eq!(descr_only.vendor.as_deref(), Some("cisco"));
    assert_eq!(descr_only.confidence, CONFIDENCE_DESCR);

    // A blank sysDescr counts as none.
    assert_eq!(
        c.classify(Some(oid), Some("  ")).confidence,
        CONFIDENCE_OBJECT_ID
    );

    let vendor_only = c.classify(Some("1.3.6.1.4.1.2636.3.1.13"), Some("something else"));
    assert_eq!(vendor_only.vendor.as_deref(), Some("juniper"));
    assert_eq!(vendor_only.rule.as_deref(), Some("enterprise:2636"));
    assert_eq!(vendor_only.os, None);
    assert_eq!(vendor_only.device_type, None);
    assert_eq!(vendor_only.confidence, CONFIDENCE_ENTERPRISE);

    let nothing = c.classify(None, None);
    assert_eq!(nothing, Default::default());
    let unknown = c.classify(Some("1.3.6.1.4.1.4294967295.1"), Some("mystery box"));
    assert_eq!(unknown.rule, None);
    assert_eq!(unknown.vendor, None);
}

#[test]
fn object_ids_match_on_whole_arcs_with_or_without_a_leading_dot() {
    let c = Classifier::shipped();
    let dotted = c.classify(Some(".1.3.6.1.4.1.9.12.3.1.3.1008"), None);
    let plain = c.classify(Some("1.3.6.1.4.1.9.12.3.1.3.1008"), None);
    assert_eq!(dotted, plain);
    assert_eq!(plain.rule.as_deref(), Some("cisco-nx-os"));

    // 1.3.6.1.4.1.99 is not under 1.3.6.1.4.1.9, nor .9.12.3.1.30 under .9.12.3.1.3.
    assert_eq!(
        c.classify(Some("1.3.6.1.4.1.99.12.3.1.3.1"), None).rule,
        None
    );
    let nexus_like = c.classify(Some("1.3.6.1.4.1.9.12.3.1.30.1"), None);
    assert_eq!(nexus_like.rule.as_deref(), Some("enterprise:9"));
    // An ASA prefix (9.1.745) does not take 9.1.7450.
    let not_asa = c.classify(Some("1.3.6.1.4.1.9.1.7450"), None);
    assert_ne!(not_asa.rule.as_deref(), Some("cisco-asa"));
    // Something that is not an OID is ignored, not an error.
    assert_eq!(
        c.classify(Some("SNMPv2-SMI::enterprises.9"), None).rule,
        None
    );
}

#[test]
fn the_traps_of_shared_enterprise_numbers() {
    let c = Classifier::shipped();
    // ASA, Catalyst and ISR are all enterprise 9, under 9.1.
    let asa_unlisted = c.classify(
        Some("1.3.6.1.4.1.9.1.2114"),
        Some("Cisco Adaptive Security Appliance Version 9.12(4)35"),
    );
    assert_eq!(asa_unlisted.rule.as_deref(), Some("cisco-asa"));
    assert_eq!(asa_unlisted.device_type.as_deref(), Some("firewall"));
    // A bare Cisco prefix with no sysDescr is not claimed by a refinement.
    let bare = c.classify(Some("1.3.6.1.4.1.9.1.1"), None);
    assert_eq!(bare.rule.as_deref(), Some("cisco-ios"));
    // HP 11: switches under 11.2.3.7.11, printers under 11.2.3.9.
    let switch = c.classify(Some("1.3.6.1.4.1.11.2.3.7.11.63"), None);
    assert_eq!(switch.device_type.as_deref(), Some("switch"));
    let printer = c.classify(Some("1.3.6.1.4.1.11.2.3.9.1"), None);
    assert_eq!(printer.device_type.as_deref(), Some("printer"));
    assert_eq!(printer.vendor.as_deref(), Some("hp"));
    // Linux descr on a non-net-snmp sysObjectID: the prefix wins.
    let ap = c.classify(Some("1.3.6.1.4.1.10002.1"), Some("Linux 3.3.8 #1 mips"));
    assert_eq!(ap.rule.as_deref(), Some("ubiquiti-wireless"));
    // A user-set sysDescr does not lose the device its prefix match.
    let fgt = c.classify(Some("1.3.6.1.4.1.12356.101.1.625"), Some("branch office"));
    assert_eq!(fgt.rule.as_deref(), Some("fortinet-fortigate"));
    assert_eq!(fgt.confidence, CONFIDENCE_OBJECT_ID);
}

fn error(json: &str) -> ClassifierError {
    Classifier::from_json(json).expect_err("must be rejected")
}

fn rule_json(extra: &str) -> String {
    format!(
        r#"{{"rules": [{{"id": "ok", "device_type": "router", "descr": "x"}}, {}]}}"#,
        extra
    )
}

#[test]
fn errors_name_the_entry() {
    let e = error(&rule_json(
        r#"{"id": "bad", "device_type": "router", "descr": "(unclosed"}"#,
    ));
    assert_eq!(e.path, "rules[1].descr");
    assert!(e.message.contains("regular expression"), "{e}");
    assert!(!e.message.contains('\n'), "one line: {e}");

    let e = error(&rule_json(
        r#"{"id": "bad", "device_type": "toaster", "descr": "x"}"#,
    ));
    assert_eq!(e.path, "rules[1].device_type");
    assert!(e.message.contains("toaster"), "{e}");
    for t in DEVICE_TYPES {
        assert!(e.message.contains(t), "lists the valid types: {e}");
    }

    let e = error(&rule_json(r#"{"device_type": "router", "descr": "x"}"#));
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        ("rules[1].id", "missing")
    );

    let e = error(&rule_json(r#"{"id": "bad", "descr": "x"}"#));
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        ("rules[1].device_type", "missing")
    );

    let e = error(&rule_json(
        r#"{"id": "ok", "device_type": "switch", "descr": "y"}"#,
    ));
    assert_eq!(e.path, "rules[1].id");
    assert!(
        e.message.contains("duplicate") && e.message.contains("rules[0]"),
        "{e}"
    );

    let e = error(&rule_json(
        r#"{"id": "bad", "device_type": "router", "object_id": ["1.3.6.1.4.1.9", "1.3.x"]}"#,
    ));
    assert_eq!(e.path, "rules[1].object_id[1]");

    let e = error(&rule_json(r#"{"id": "bad", "device_type": "router"}"#));
    assert_eq!(e.path, "rules[1]");
    assert!(
        e.message.contains("object_id") && e.message.contains("descr"),
        "{e}"
    );

    let e = error(&rule_json(
        r#"{"id": "bad", "device_type": "router", "objectid": ["1.3.6.1.4.1.9"]}"#,
    ));
    assert_eq!(e.path, "rules[1].objectid");
    assert!(e.message.contains("unknown key"), "{e}");

    let e = error(&rule_json(
        r#"{"id": "Bad Id", "device_type": "router", "descr": "x"}"#,
    ));
    assert_eq!(e.path, "rules[1].id");

    let e = error(&rule_json(
        r#"{"id": "bad", "vendor": "Cisco", "device_type": "router", "descr": "x"}"#,
    ));
    assert_eq!(e.path, "rules[1].vendor");

    let e = error(&rule_json(
        r#"{"id": "bad", "device_type": "router", "descr": "x", "priority": "high"}"#,
    ));
    assert_eq!(e.path, "rules[1].priority");

    let e = error(r#"{"enterprises": {"nine": "cisco"}}"#);
    assert_eq!(e.path, "enterprises.nine");
    let e = error(r#"{"enterprises": {"9": 9}}"#);
    assert_eq!(e.path, "enterprises.9");
    let e = error(r#"{"rules": {}}"#);
    assert_eq!(e.path, "rules");
    let e = error(r#"{"rules": [], "extra": 1}"#);
    assert_eq!(e.path, "extra");
    let e = error("{ not json");
    assert_eq!(e.path, "$");
    assert_eq!(e.to_string(), format!("$: {}", e.message));

    // Empty and partial documents are fine: an override file may carry only enterprises.
    assert_eq!(Classifier::from_json("{}").unwrap().rule_ids().count(), 0);
    let only = Classifier::from_json(r#"{"enterprises": {"99999": "acme"}}"#).unwrap();
    assert_eq!(only.enterprise_vendor(99999), Some("acme"));
}

#[test]
fn user_rules_replace_extend_and_win_ties() {
    let shipped = Classifier::shipped();
    let user = Classifier::from_json(
        r#"{
          "enterprises": {"99999": "acme", "9": "cisco-systems"},
          "rules": [
            {"id": "mikrotik-routeros", "vendor": "mikrotik", "os": "routeros",
             "device_type": "wireless", "object_id": ["1.3.6.1.4.1.14988.1"],
             "descr": "^RouterOS\\b"},
            {"id": "acme-box", "device_type": "other", "object_id": ["1.3.6.1.4.1.99999.1"]},
            {"id": "my-appliance", "os": "appliance-os", "device_type": "other",
             "object_id": ["1.3.6.1.4.1.8072.3.2.10"], "descr": "^Linux\\b"}
          ]
        }"#,
    )
    .unwrap();
    let merged = shipped.with_overrides(&user);

    // Same id: replaced, not duplicated.
    let ids: Vec<&str> = merged.rule_ids().collect();
    assert_eq!(
        ids.iter().filter(|id| **id == "mikrotik-routeros").count(),
        1
    );
    assert_eq!(ids.len(), shipped.rule_ids().count() + 2);
    let rb = merged.classify(Some("1.3.6.1.4.1.14988.1"), Some("RouterOS RB951G-2HnD"));
    assert_eq!(rb.device_type.as_deref(), Some("wireless"));
    assert_eq!(rb.rule.as_deref(), Some("mikrotik-routeros"));
    // The original is untouched.
    let rb = shipped.classify(Some("1.3.6.1.4.1.14988.1"), Some("RouterOS RB951G-2HnD"));
    assert_eq!(rb.device_type.as_deref(), Some("router"));

    // New id, new enterprise.
    let acme = merged.classify(Some(".1.3.6.1.4.1.99999.1.7"), None);
    assert_eq!(acme.vendor.as_deref(), Some("acme"));
    assert_eq!(acme.rule.as_deref(), Some("acme-box"));

    // A user rule as specific as a shipped one wins the tie.
    let linux = merged.classify(
        Some("1.3.6.1.4.1.8072.3.2.10"),
        Some("Linux zeus 4.8.6.5-smp #2 SMP Sun Nov 13 14:58:11 CDT 2016 i686"),
    );
    assert_eq!(linux.rule.as_deref(), Some("my-appliance"));
    assert_eq!(linux.os.as_deref(), Some("appliance-os"));
    assert_eq!(linux.vendor.as_deref(), Some("net-snmp"));

    // Enterprise overrides apply to rules without their own vendor and to the fallback.
    assert_eq!(merged.enterprise_vendor(9), Some("cisco-systems"));
    let cisco = merged.classify(Some("1.3.6.1.4.1.9.9.9"), None);
    assert_eq!(cisco.rule.as_deref(), Some("enterprise:9"));
    assert_eq!(cisco.vendor.as_deref(), Some("cisco-systems"));

    // Overriding twice keeps the latest on top.
    let again = Classifier::from_json(
        r#"{"rules": [{"id": "mikrotik-routeros", "device_type": "switch", "object_id": ["1.3.6.1.4.1.14988.1"]}]}"#,
    )
    .unwrap();
    let twice = merged.with_overrides(&again);
    let rb = twice.classify(Some("1.3.6.1.4.1.14988.1"), None);
    assert_eq!(rb.device_type.as_deref(), Some("switch"));
    assert_eq!(rb.vendor.as_deref(), Some("mikrotik"));
    assert_eq!(twice.rule_ids().count(), merged.rule_ids().count());
}

#[test]
fn vendors_and_oses_in_the_shipped_file_are_slugs() {
    // from_json already rejects non-slugs; this pins the vendor names the UI filters on.
    let c = Classifier::shipped();
    let mut by_vendor: BTreeMap<String, usize> = BTreeMap::new();
    for p in pairs() {
        let got = c.classify(p.object_id.as_deref(), p.descr.as_deref());
        if let Some(v) = got.vendor {
            assert_eq!(v, v.to_lowercase());
            *by_vendor.entry(v).or_default() += 1;
        }
    }
    for v in [
        "cisco",
        "juniper",
        "mikrotik",
        "fortinet",
        "hp",
        "aruba",
        "huawei",
        "ubiquiti",
        "paloalto",
        "net-snmp",
        "microsoft",
        "apc",
    ] {
        assert!(by_vendor.contains_key(v), "no pair for vendor {v}");
    }
}
