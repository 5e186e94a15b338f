//! The shipped templates' OIDs against real data: the snmpsim recordings shipped with
//! snmpsim (Cisco Catalyst 3750, HP ProCurve 2810, Linux, Windows XP; parsed as files, no
//! agent needed), walks of real FortiGate, Juniper, MikroTik and ProCurve devices cut from
//! LibreNMS' test data (tests/fixtures, sources in its README.md), and a real net-snmp snmpd
//! (Linux template). A scalar OID must be present;
//! each discovery column and each prototype column must have rows.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use uuid::Uuid;
use wardflux_model::PollPlan;
use wardflux_template::{Template, builtin, expand};

const DATA: &str = "/usr/share/doc/snmpsim/examples/data";

/// The OIDs of an snmprec file (plain or gzip), in a set.
fn oids_of(path: &Path) -> BTreeSet<String> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (CI={}): install the Debian package snmpsim",
            path.display(),
            std::env::var("CI").unwrap_or_default()
        )
    });
    let mut text = String::new();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap();
    } else {
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    text.lines()
        .filter_map(|l| l.split('|').next())
        .filter(|o| o.starts_with("1."))
        .map(str::to_string)
        .collect()
}

/// The OIDs of a recording shipped with snmpsim (path under its data directory).
fn recording(rel: &str) -> BTreeSet<String> {
    oids_of(&Path::new(DATA).join(rel))
}

/// A committed fixture (tests/fixtures, see its README.md for sources).
fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn template(name: &str) -> (Template, PollPlan) {
    let t = builtin::all()
        .unwrap()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no shipped template {name}"));
    let (plan, _) = expand(&t, Uuid::nil(), Uuid::nil(), &BTreeMap::new()).unwrap();
    (t, plan)
}

/// Everything the plan reads that `has_scalar`/`has_rows` cannot find, as messages.
fn missing(
    plan: &PollPlan,
    has_scalar: &dyn Fn(&str) -> bool,
    has_rows: &dyn Fn(&str) -> bool,
    exempt: &[&str],
) -> Vec<String> {
    let mut out = Vec::new();
    for i in &plan.items {
        if !exempt.contains(&i.oid.as_str()) && !has_scalar(&i.oid) {
            out.push(format!("item {} ({}) absent", i.key, i.oid));
        }
    }
    for d in &plan.discoveries {
        for (label, oid) in &d.columns {
            if !exempt.contains(&oid.as_str()) && !has_rows(oid) {
                out.push(format!("{}: column {label} ({oid}) has no rows", d.name));
            }
        }
        for p in &d.prototypes {
            if !exempt.contains(&p.oid.as_str()) && !has_rows(&p.oid) {
                out.push(format!(
                    "{}: prototype {} ({}) has no rows",
                    d.name, p.key, p.oid
                ));
            }
        }
    }
    out
}

/// Fails naming every OID of the template `name` that `oids` lacks (`exempt` aside).
fn check_oids(name: &str, what: &str, oids: &BTreeSet<String>, exempt: &[&str]) {
    let (_, plan) = template(name);
    let read: BTreeSet<&str> = plan
        .items
        .iter()
        .map(|i| i.oid.as_str())
        .chain(plan.discoveries.iter().flat_map(|d| {
            d.columns
                .values()
                .chain(d.prototypes.iter().map(|p| &p.oid))
                .map(String::as_str)
        }))
        .collect();
    for e in exempt {
        assert!(
            read.contains(e),
            "{name}: exempt OID {e} is not read by the template"
        );
    }
    let m = missing(
        &plan,
        &|o| oids.contains(o),
        &|o| {
            let p = format!("{o}.");
            oids.range(p.clone()..)
                .next()
                .is_some_and(|x| x.starts_with(&p))
        },
        exempt,
    );
    assert!(m.is_empty(), "{name} vs {what}: {m:#?}");
}

fn check_recording(name: &str, rel: &str, exempt: &[&str]) {
    check_oids(name, rel, &recording(rel), exempt);
}

/// Checks the template against the union of fixtures (walks of real devices of one vendor).
fn check_fixtures(name: &str, files: &[&str], exempt: &[&str]) {
    let mut oids = BTreeSet::new();
    for f in files {
        oids.extend(oids_of(&fixture_path(f)));
    }
    check_oids(name, &files.join(" + "), &oids, exempt);
}

#[test]
fn generic_snmp_matches_the_catalyst_recording() {
    check_recording("Generic SNMP", "cisco_16_switch.snmprec.gz", &[]);
}

#[test]
fn generic_snmp_matches_the_linux_and_windows_recordings() {
    check_recording("Generic SNMP", "recorded/linux-full-walk.snmprec.gz", &[]);
    // Windows XP's agent predates IF-MIB's ifXTable: no ifName/ifAlias, no 64-bit counters.
    // Rows are then keyed by ifDescr (the rule's second key label); the HC counters answer
    // noSuchObject, which the poller reports as not_supported.
    check_recording(
        "Generic SNMP",
        "recorded/winxp-full-walk.snmprec.gz",
        &[
            "1.3.6.1.2.1.31.1.1.1.1",
            "1.3.6.1.2.1.31.1.1.1.18",
            "1.3.6.1.2.1.31.1.1.1.6",
            "1.3.6.1.2.1.31.1.1.1.10",
        ],
    );
}

#[test]
fn cisco_ios_matches_the_catalyst_recording() {
    check_recording("Cisco IOS/IOS-XE", "cisco_16_switch.snmprec.gz", &[]);
}

#[test]
fn windows_snmp_matches_the_windows_recording() {
    check_recording("Windows SNMP", "recorded/winxp-full-walk.snmprec.gz", &[]);
}

#[test]
fn linux_netsnmp_matches_the_linux_recording() {
    // The recorded agent had no `disk` lines: dskTable is empty there (the real snmpd below,
    // configured with includeAllDisks, checks it).
    check_recording(
        "Linux Net-SNMP",
        "recorded/linux-full-walk.snmprec.gz",
        &[
            "1.3.6.1.4.1.2021.9.1.2",
            "1.3.6.1.4.1.2021.9.1.3",
            "1.3.6.1.4.1.2021.9.1.6",
            "1.3.6.1.4.1.2021.9.1.7",
            "1.3.6.1.4.1.2021.9.1.8",
            "1.3.6.1.4.1.2021.9.1.9",
        ],
    );
}

/// The ProCurve 2810 recording shipped with snmpsim holds SNMPv2-MIB, IF-MIB ifXTable, the
/// bridge and ARP tables but none of HP's enterprise tree (1.3.6.1.4.1.11): the HP template's
/// CPU and memory OIDs are checked against a LibreNMS walk instead
/// (`hp_procurve_matches_the_procurve_walk`). What this recording does hold, the switch's
/// system and ifXTable, is checked here.
#[test]
fn hp_procurve_recording_is_a_procurve_and_holds_what_a_procurve_answers() {
    let oids = recording("hp_perf.snmprec.gz");
    assert!(!oids.iter().any(|o| o.starts_with("1.3.6.1.4.1.11.")));
    for o in [
        "1.3.6.1.2.1.1.3.0",
        "1.3.6.1.2.1.1.5.0",
        "1.3.6.1.2.1.1.1.0",
    ] {
        assert!(oids.contains(o), "{o}");
    }
    let (_, generic) = template("Generic SNMP");
    let ifx: Vec<_> = generic.discoveries[0]
        .columns
        .values()
        .chain(generic.discoveries[0].prototypes.iter().map(|p| &p.oid))
        .filter(|o| o.starts_with("1.3.6.1.2.1.31."))
        .collect();
    // The recording keeps only ifName of ifXTable (the rule's first key label).
    let ifx: Vec<_> = ifx
        .into_iter()
        .filter(|o| *o == "1.3.6.1.2.1.31.1.1.1.1")
        .collect();
    assert!(!ifx.is_empty());
    for o in ifx {
        let p = format!("{o}.");
        assert!(
            oids.iter().any(|x| x.starts_with(&p)),
            "ifXTable column {o}"
        );
    }
    // The HP template itself validates and reads only HP's enterprise tree.
    let (_, hp) = template("HP/Aruba ProCurve");
    assert!(
        hp.items
            .iter()
            .all(|i| i.oid.starts_with("1.3.6.1.4.1.11."))
    );
}

// --- vendor templates against walks of real devices (tests/fixtures, from LibreNMS) -------

/// `oid -> (type, value)` of a fixture.
fn fixture_values(name: &str) -> BTreeMap<String, (String, String)> {
    std::fs::read_to_string(fixture_path(name))
        .unwrap()
        .lines()
        .map(|l| {
            let mut f = l.splitn(3, '|');
            let oid = f.next().unwrap().to_owned();
            let ty = f.next().unwrap().to_owned();
            (oid, (ty, f.next().unwrap_or("").to_owned()))
        })
        .collect()
}

/// fgSysDiskUsage/fgSysDiskCapacity (FORTINET-FORTIGATE-MIB fgSystemInfo 6 and 7, MB):
/// LibreNMS does not record them, so no walk here holds them; the 100F has no disk at all.
const FORTIGATE_DISK: &[&str] = &[
    "1.3.6.1.4.1.12356.101.4.1.6.0",
    "1.3.6.1.4.1.12356.101.4.1.7.0",
];

#[test]
fn fortinet_fortigate_matches_the_fortigate_1500d_and_100f_walks() {
    for f in [
        "fortinet-fortigate-1500d.snmprec",
        "fortinet-fortigate-100f.snmprec",
    ] {
        check_fixtures("Fortinet FortiGate", &[f], FORTIGATE_DISK);
        let v = fixture_values(f);
        assert!(
            v["1.3.6.1.2.1.1.2.0"]
                .1
                .starts_with("1.3.6.1.4.1.12356.101.1.")
        );
        // fgSysVersion is text, the others Gauge32 (memory capacity in KB: multiplier 1024)
        assert_eq!(v["1.3.6.1.4.1.12356.101.4.1.1.0"].0, "4");
        for o in ["3", "4", "5", "8"] {
            assert_eq!(v[&format!("1.3.6.1.4.1.12356.101.4.1.{o}.0")].0, "66");
        }
    }
}

#[test]
fn juniper_junos_matches_the_ex4200_and_mx80_walks() {
    // jnxBoxDescr (JUNIPER-MIB jnxBoxAnatomy 2) is in no LibreNMS walk (LibreNMS reads the
    // model from sysObjectID); jnxBoxSerialNo is in the MX80's, jnxOperatingTable in the EX's.
    check_fixtures(
        "Juniper JunOS",
        &["juniper-ex4200.snmprec", "juniper-mx80.snmprec"],
        &["1.3.6.1.4.1.2636.3.1.2.0"],
    );
    // The rule's filter keeps the rows that carry CPU, buffer and temperature: the routing
    // engines and FPCs (power supplies, fans and PICs answer 0).
    let (t, _) = template("Juniper JunOS");
    let re = t.macros["{$COMPONENT_MATCHES}"].clone();
    let re = regex::Regex::new(&re).unwrap();
    let v = fixture_values("juniper-ex4200.snmprec");
    let descr = "1.3.6.1.4.1.2636.3.1.13.1.5.";
    let kept: Vec<&str> = v
        .iter()
        .filter_map(|(o, (_, d))| o.strip_prefix(descr).filter(|_| re.is_match(d)))
        .collect();
    assert_eq!(kept, ["7.1.0.0", "7.2.0.0", "9.1.0.0", "9.2.0.0"]);
    for row in kept {
        let cpu = &v[&format!("1.3.6.1.4.1.2636.3.1.13.1.8.{row}")].1;
        let temp = &v[&format!("1.3.6.1.4.1.2636.3.1.13.1.7.{row}")].1;
        assert!(
            cpu != "0" && temp != "0",
            "row {row}: cpu {cpu} temp {temp}"
        );
    }
}

#[test]
fn mikrotik_routeros_matches_the_rb952_walk() {
    check_fixtures("MikroTik RouterOS", &["mikrotik-rb952.snmprec"], &[]);
    // The template reads hrStorage index 65536 as main memory in 1 KiB units.
    let v = fixture_values("mikrotik-rb952.snmprec");
    assert_eq!(v["1.3.6.1.2.1.25.2.3.1.3.65536"].1, "main memory");
    assert_eq!(v["1.3.6.1.2.1.25.2.3.1.2.65536"].1, "1.3.6.1.2.1.25.2.1.2");
    assert_eq!(v["1.3.6.1.2.1.25.2.3.1.4.65536"].1, "1024");
    let (_, plan) = template("MikroTik RouterOS");
    let total = plan.items.iter().find(|i| i.key == "memory_total_bytes");
    assert_eq!(total.and_then(|i| i.multiplier), Some(1024.0));
}

#[test]
fn hp_procurve_matches_the_procurve_walk() {
    check_fixtures("HP/Aruba ProCurve", &["hp-procurve-ka15.snmprec"], &[]);
    // hpLocalMemTable: total (5) = free (6) + allocated (7) within a few segments
    let v = fixture_values("hp-procurve-ka15.snmprec");
    let col = |c: u32| -> i64 {
        v[&format!("1.3.6.1.4.1.11.2.14.11.5.1.1.2.1.1.1.{c}.1")]
            .1
            .parse()
            .unwrap()
    };
    assert!(
        (col(5) - col(6) - col(7)).abs() < 1024,
        "{} {} {}",
        col(5),
        col(6),
        col(7)
    );
}

/// Values the vendor templates must write for the walks, from the MIBs' units:
/// fgSysMemCapacity in KB, hpLocalMem* in bytes, hrStorage 65536 in 1024-byte units,
/// mtxrHlTemperature/Voltage in tenths.
const PINNED: &[(&str, &str, f64)] = &[
    ("fortinet-fortigate-1500d", "cpu_usage", 6.0),
    ("fortinet-fortigate-1500d", "memory_used_percent", 32.0),
    (
        "fortinet-fortigate-1500d",
        "memory_total_bytes",
        16_843_571_200.0,
    ),
    ("fortinet-fortigate-1500d", "firewall_sessions", 26_190.0),
    ("mikrotik-rb952", "memory_total_bytes", 67_108_864.0),
    ("mikrotik-rb952", "memory_used_bytes", 27_848_704.0),
    ("mikrotik-rb952", "memory_free_bytes", 39_260_160.0),
    ("mikrotik-rb952", "temperature_celsius", 33.0),
    ("mikrotik-rb952", "power_supply_volts", 15.4),
    ("mikrotik-rb952", "cpu_usage", 21.0),
    ("hp-procurve-ka15", "cpu_usage", 42.0),
    ("hp-procurve-ka15", "memory_used_bytes", 1_668_732.0),
    ("hp-procurve-ka15", "memory_free_bytes", 9_669_100.0),
];

/// Serves the vendor fixtures with snmpsim (community = file name without `.snmprec`),
/// polls each template's plan once with the real poller, and compares every item with the
/// walk: an OID the walk holds is `ok` with the recorded value (times the multiplier, after
/// the preprocess step), an OID it lacks is `not_supported`; discovered rows are the walk's.
#[tokio::test]
async fn vendor_templates_polled_from_the_walks_give_the_recorded_values() {
    use wardflux_collect::{PollDevice, Scheduler, SnmpPoller, SnmpPollerConfig};
    use wardflux_model::FanoutSink;
    use wardflux_model::items::{ItemStatus, Preprocess};

    let cases: &[(&str, &str, usize)] = &[
        ("Fortinet FortiGate", "fortinet-fortigate-1500d", 0),
        ("Fortinet FortiGate", "fortinet-fortigate-100f", 0),
        ("Juniper JunOS", "juniper-ex4200", 4),
        ("Juniper JunOS", "juniper-mx80", 0),
        ("MikroTik RouterOS", "mikrotik-rb952", 1),
        ("HP/Aruba ProCurve", "hp-procurve-ka15", 1),
    ];
    let files: Vec<(String, String)> = cases
        .iter()
        .map(|(_, f, _)| {
            let text = std::fs::read_to_string(fixture_path(&format!("{f}.snmprec"))).unwrap();
            ((*f).to_owned(), text)
        })
        .collect();
    let extra: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let sim = wardflux_testkit::snmp::snmpsim(&extra);
    let scheduler = Scheduler::new("vendor-templates");
    let poller = SnmpPoller::on(
        &scheduler,
        wardflux_snmp::SnmpClient::default(),
        std::sync::Arc::new(FanoutSink::new()),
        std::sync::Arc::new(|_| true),
        SnmpPollerConfig::default(),
    );
    let mut devices = Vec::new();
    for (name, file, _) in cases {
        let (_, plan) = template(name);
        let mut target = wardflux_snmp::Target::v2c(sim.addr, file);
        target.timeout = Duration::from_millis(1000);
        target.retries = 1;
        devices.push(PollDevice {
            device_id: Uuid::new_v4(),
            name: (*file).to_owned(),
            ip: sim.addr.ip(),
            port: sim.addr.port(),
            target,
            plan: std::sync::Arc::new(plan.into()),
            limits: None,
        });
    }
    poller.apply_devices(devices.clone());
    for ((name, file, rows), dev) in cases.iter().zip(&devices) {
        let walk = fixture_values(&format!("{file}.snmprec"));
        let states = poller.poll_now(dev.device_id).await.unwrap();
        let specs: Vec<_> = dev
            .plan
            .plan
            .items
            .iter()
            .chain(dev.plan.plan.discoveries.iter().flat_map(|d| &d.prototypes))
            .collect();
        let raw = |oid: &str| -> Option<f64> { walk.get(oid).map(|(_, v)| v.parse().unwrap()) };
        let mut ok = 0;
        let mut discovered = BTreeSet::new();
        for s in &states {
            let what = format!("{name} vs {file}: {} ({})", s.key, s.oid);
            if !s.labels.is_empty() {
                discovered.insert(s.labels.clone());
            }
            let Some((ty, text)) = walk.get(&s.oid) else {
                assert_eq!(s.status, ItemStatus::NotSupported, "{what}: {s:?}");
                continue;
            };
            assert_eq!(s.status, ItemStatus::Ok, "{what}: {s:?}");
            ok += 1;
            let spec = specs
                .iter()
                .find(|i| i.key == s.key && s.oid.starts_with(&i.oid))
                .unwrap();
            let got = s
                .last_value
                .as_ref()
                .unwrap_or_else(|| panic!("{what}: no value"));
            if ty == "4" {
                assert_eq!(got.as_str(), Some(text.as_str()), "{what}");
                continue;
            }
            let m = spec.multiplier.unwrap_or(1.0);
            let this = raw(&s.oid).unwrap() * m;
            let want = match &spec.preprocess {
                None => this,
                Some(Preprocess::Difference { other }) => {
                    let o = specs.iter().find(|i| &i.key == other).unwrap();
                    raw(&o.oid).unwrap() * o.multiplier.unwrap_or(1.0) - this
                }
                Some(p) => panic!("{what}: no expectation for {p:?}"),
            };
            let got = got.as_f64().unwrap_or_else(|| panic!("{what}: {got}"));
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{what}: {got} != {want}"
            );
        }
        assert!(ok > 0, "{name} vs {file}: nothing polled");
        // Units, worked out by hand from the walk and the MIBs (not from the template).
        for (f, key, want) in PINNED {
            if f == file {
                let got = states
                    .iter()
                    .find(|s| s.key == *key)
                    .and_then(|s| s.last_value.as_ref())
                    .and_then(|v| v.as_f64());
                let got = got.unwrap_or_else(|| panic!("{file}: no {key}"));
                assert!(
                    (got - want).abs() < 1e-9 * want.abs(),
                    "{file}: {key} {got} != {want}"
                );
            }
        }
        assert_eq!(
            discovered.len(),
            *rows,
            "{name} vs {file}: rows {discovered:?}"
        );
    }
}

// --- real snmpd -----------------------------------------------------------------------------

fn snmp(tool: &str, port: u16, args: &[&str]) -> String {
    let out = Command::new(wardflux_testkit::snmp::require(tool))
        .args(["-v2c", "-c", "public", "-On", "-t", "1", "-r", "1"])
        .args(["-M", "/dev/null", "-m", ""])
        .arg(format!("udp:127.0.0.1:{port}"))
        .args(args)
        .stderr(Stdio::null())
        .output()
        .expect("run net-snmp tool");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn linux_netsnmp_matches_a_real_snmpd() {
    // The shared test agent, with disks and load thresholds configured (dskTable, laErrorFlag).
    let d = wardflux_testkit::snmp::snmpd_with("includeAllDisks 10%\nload 12 10 5\n");
    let (_, plan) = template("Linux Net-SNMP");
    let port = d.addr.port();
    // net-snmp computes ssCpuIdle over its first minute of samples and answers
    // noSuchInstance until then (the poller shows not_supported meanwhile): wait for it.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !snmp("snmpget", port, &["1.3.6.1.4.1.2021.11.11.0"]).contains("INTEGER") {
        assert!(Instant::now() < deadline, "ssCpuIdle never appeared");
        std::thread::sleep(Duration::from_millis(500));
    }
    let m = missing(
        &plan,
        &|o| {
            let out = snmp("snmpget", port, &[o]);
            out.starts_with(&format!(".{o} = ")) && !out.contains("No Such")
        },
        &|o| snmp("snmpbulkwalk", port, &[o]).starts_with(&format!(".{o}.")),
        &[],
    );
    assert!(m.is_empty(), "Linux Net-SNMP vs snmpd: {m:#?}");
    // and the values have the types the items declare: load as text numbers, idle an integer
    let load = snmp("snmpget", port, &["1.3.6.1.4.1.2021.10.1.3.1"]);
    assert!(load.contains("STRING"), "{load}");
    let idle = snmp("snmpget", port, &["1.3.6.1.4.1.2021.11.11.0"]);
    assert!(idle.contains("INTEGER"), "{idle}");
}
