//! Differential tests: `wardflux snmp …` (through `cli::run`) against net-snmp's tools, on a
//! real snmpd and a real snmpsim started by the tests.

mod common;

use common::*;

#[test]
fn bulkwalk_of_snmpd_v2c_matches_net_snmp() {
    let d = snmpd();
    let host = d.addr.to_string();
    for (community, reps) in [("stable", "-Cr50"), ("stable", "-Cr7"), ("public", "-Cr25")] {
        let args = command("bulkwalk", &["-v2c", "-c", community, reps], &host, ".1");
        let ours = wardflux(&args);
        let theirs = netsnmp(&args);
        assert_eq!(ours.code, 0, "{}", ours.err);
        assert_eq!(theirs.code, 0, "{}", theirs.err);
        assert!(ours.out.lines().count() > 1000, "snmpd walk too short");
        if community == "stable" {
            assert_same_lines(
                &format!("bulkwalk {community} {reps}"),
                &oid_and_type(&ours.out),
                &oid_and_type(&theirs.out),
            );
        } else {
            // The full view includes process and socket tables that change between two
            // walks; compare the part before them exactly by OID and type.
            let cut = |s: &str| {
                oid_and_type(s)
                    .lines()
                    .take_while(|l| !l.starts_with(".1.3.6.1.2.1.4"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_same_lines("bulkwalk public", &cut(&ours.out), &cut(&theirs.out));
        }
        assert_eq!(ours.err, theirs.err);
    }
}

#[test]
fn system_group_text_matches_exactly() {
    let d = snmpd();
    let host = d.addr.to_string();
    for cmd in ["walk", "bulkwalk"] {
        for v in ["-v1", "-v2c"] {
            if cmd == "bulkwalk" && v == "-v1" {
                continue;
            }
            let args = [cmd, v, "-c", "public", host.as_str(), ".1.3.6.1.2.1.1"];
            let ours = wardflux(&args);
            let theirs = netsnmp(&args);
            assert_same_lines(
                &format!("{cmd} {v}"),
                &mask_volatile(&ours.out),
                &mask_volatile(&theirs.out),
            );
            assert!(ours.out.contains("STRING: \"wardflux-test\""));
            assert_eq!((ours.code, &ours.err), (theirs.code, &theirs.err));
        }
    }
    // get / getnext with several OIDs, a missing one and one past the end
    for args in [
        vec![
            "get",
            "-v2c",
            "-c",
            "public",
            &host,
            ".1.3.6.1.2.1.1.5.0",
            ".1.3.6.1.2.1.1.99.0",
            ".1.3.6.1.2.1.1.2.0",
            "1.3.6.1.2.1.1.9.1.2.1",
        ],
        vec!["get", "-v2c", "-c", "public", &host, ".1.3.6.1.2.1.1.1"],
        vec![
            "getnext",
            "-v2c",
            "-c",
            "public",
            &host,
            ".1.3.6.1.2.1.1.4.0",
            ".1.3.6.1.9.9",
        ],
        vec![
            "get",
            "-v1",
            "-c",
            "public",
            &host,
            ".1.3.6.1.2.1.1.99.0",
            ".1.3.6.1.2.1.1.5.0",
        ],
        vec!["walk", "-v2c", "-c", "public", &host, ".1.3.6.1.2.1.1.5.0"],
        vec!["walk", "-v2c", "-c", "public", &host, ".1.3.6.1.2.1.1.99"],
        vec![
            "bulkwalk",
            "-v2c",
            "-c",
            "public",
            &host,
            ".1.3.6.1.6.3.16.1.5.2.1.6",
        ],
        vec![
            "walk",
            "-v1",
            "-c",
            "public",
            &host,
            ".1.3.6.1.6.3.16.1.5.2.1.6",
        ],
    ] {
        let ours = wardflux(&args);
        let theirs = netsnmp(&args);
        assert_eq!(ours, theirs, "{args:?}");
    }
}

#[test]
fn every_v3_auth_priv_pair_matches_net_snmp() {
    let d = snmpd();
    let host = d.addr.to_string();
    for a in AUTHS {
        for x in PRIVS {
            let user = user_for(a, x);
            let mut args = vec!["bulkwalk"];
            args.extend(v3_args(&user, a, x));
            args.extend(["-Cr20", host.as_str(), ".1.3.6.1.2.1.1"]);
            let ours = wardflux(&args);
            let theirs = netsnmp(&args);
            assert_eq!(ours.code, 0, "{a}/{x}: {}", ours.err);
            assert_same_lines(
                &format!("{a}/{x}"),
                &mask_volatile(&ours.out),
                &mask_volatile(&theirs.out),
            );
            assert!(ours.out.lines().count() >= 8, "{a}/{x}: {}", ours.out);
        }
    }
    // authNoPriv and noAuthNoPriv users
    for args in [
        vec![
            "get",
            "-v3",
            "-l",
            "authNoPriv",
            "-u",
            "authonly",
            "-a",
            "SHA-256",
            "-A",
            AUTH_PASS,
            &host,
            ".1.3.6.1.2.1.1.5.0",
        ],
        vec![
            "get",
            "-v3",
            "-l",
            "noAuthNoPriv",
            "-u",
            "noauth",
            &host,
            ".1.3.6.1.2.1.1.5.0",
        ],
    ] {
        let ours = wardflux(&args);
        assert_eq!(ours, netsnmp(&args), "{args:?}");
        assert_eq!(ours.out, ".1.3.6.1.2.1.1.5.0 = STRING: \"wardflux-test\"\n");
    }
    // a full v3 bulk walk of the stable view
    let mut args = vec!["bulkwalk"];
    args.extend(v3_args("u_SHA512_AES256C", "SHA-512", "AES-256-C"));
    args.extend(["-Cr50", host.as_str(), ".1"]);
    let ours = wardflux(&args);
    let theirs = netsnmp(&args);
    assert!(ours.out.lines().count() > 1000);
    assert_same_lines(
        "v3 full walk",
        &oid_and_type(&ours.out),
        &oid_and_type(&theirs.out),
    );
}

#[test]
fn snmpsim_recordings_match_byte_for_byte() {
    let d = snmpsim(&[]);
    let host = d.addr.to_string();
    for (community, _) in RECORDINGS {
        for reps in ["-Cr10", "-Cr50"] {
            let args = command("bulkwalk", &["-v2c", "-c", community, reps], &host, ".1");
            let ours = wardflux(&args);
            let theirs = netsnmp(&args);
            assert!(ours.out.lines().count() > 50, "{community}: {}", ours.err);
            assert_same_lines(&format!("{community} {reps}"), &ours.out, &theirs.out);
            assert_eq!((ours.code, &ours.err), (theirs.code, &theirs.err));
        }
    }
    // GETNEXT walk of one recording
    let args = [
        "walk",
        "-v2c",
        "-c",
        "procurve",
        host.as_str(),
        ".1.3.6.1.2.1.2",
    ];
    let ours = wardflux(&args);
    assert_same_lines("walk procurve", &ours.out, &netsnmp(&args).out);
    // v3 against a second USM implementation (pysnmp): authNoPriv, context = recording
    let args = [
        "bulkwalk",
        "-v3",
        "-l",
        "authNoPriv",
        "-u",
        "simauth",
        "-a",
        "SHA-512",
        "-A",
        AUTH_PASS,
        "-n",
        "cisco3750",
        host.as_str(),
        ".1.3.6.1.2.1.2.2.1",
    ];
    let ours = wardflux(&args);
    assert_eq!(ours.code, 0, "{}", ours.err);
    assert!(ours.out.lines().count() > 100);
    assert_same_lines("v3 snmpsim", &ours.out, &netsnmp(&args).out);
}
