//! Benchmark (a): full bulk walk of a real snmpd, wardflux vs `snmpbulkwalk -Cr50`, same run.
//!
//! `cargo run --release -p wardflux-snmp --example bench_walk [-- ROUNDS]`
//!
//! Starts the test suite's snmpd (`wardflux_testkit::snmp::snmpd`: 127.0.0.1, free port,
//! v2c `public` with the full view, a v3 SHA-256/AES-256 user with the view that leaves out
//! the volatile process and socket tables), then for each round and each of v2c / v3 walks
//! `.1` with max-repetitions 50: wardflux in-process (library `bulk_walk`), wardflux's CLI as a process
//! (`--example cli`, output to /dev/null, like net-snmp), and `snmpbulkwalk -Cr50 -On` to
//! /dev/null. Prints medians and the ratios.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Result;
use wardflux_model::inventory::Secret;
use wardflux_snmp::{AuthProtocol, PrivProtocol, SecurityLevel, SnmpClient, Target, UsmUser};
use wardflux_testkit::snmp::{AUTH_PASS, PRIV_PASS, snmpd, user_for, v3_args};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(7);
    // The test suite's snmpd (waits until it answers); killed on drop.
    let snmpd = snmpd();
    let addr = snmpd.addr;
    let user = user_for("SHA-256", "AES-256");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let v2 = Target {
        max_repetitions: 50,
        ..Target::v2c(addr, "public")
    };
    let v3 = Target {
        max_repetitions: 50,
        ..Target::v3(
            addr,
            UsmUser {
                user: user.clone(),
                level: SecurityLevel::AuthPriv,
                auth: Some((AuthProtocol::Sha256, Secret::new(AUTH_PASS))),
                privacy: Some((PrivProtocol::Aes256, Secret::new(PRIV_PASS))),
                context: String::new(),
            },
        )
    };
    let root = "1".parse()?;
    let cli = std::env::current_exe()?.with_file_name("cli");
    let have_cli = cli.exists();
    for (name, t, netsnmp_args) in [
        ("v2c", &v2, vec!["-v2c", "-c", "public"]),
        (
            "v3 SHA-256/AES-256",
            &v3,
            v3_args(&user, "SHA-256", "AES-256"),
        ),
    ] {
        let (mut lib, mut proc_, mut net) = (Vec::new(), Vec::new(), Vec::new());
        let mut count = 0;
        for _ in 0..rounds {
            // a fresh engine per round: includes v3 discovery and key localisation, as a
            // fresh snmpbulkwalk process does
            let client = SnmpClient::default();
            let s = Instant::now();
            let vbs = rt.block_on(client.bulk_walk(t, &root))?;
            lib.push(s.elapsed().as_secs_f64());
            count = vbs.len();
            let host = addr.to_string();
            let mut args: Vec<&str> = vec!["bulkwalk"];
            args.extend(&netsnmp_args);
            args.extend(["-Cr50", host.as_str(), ".1"]);
            if have_cli {
                let s = Instant::now();
                let st = Command::new(&cli)
                    .args(&args)
                    .stdout(Stdio::null())
                    .status()?;
                proc_.push(s.elapsed().as_secs_f64());
                assert!(st.success());
            }
            let s = Instant::now();
            let st = Command::new("snmpbulkwalk")
                .args(["-On", "-M", "/dev/null", "-m", ""])
                .args(&args[1..])
                .stdout(Stdio::null())
                .status()?;
            net.push(s.elapsed().as_secs_f64());
            assert!(st.success());
        }
        let (l, n) = (median(lib), median(net));
        println!("{name}: {count} varbinds, {rounds} rounds (medians)");
        println!(
            "  wardflux library bulk_walk   {:.3} s   ratio {:.2}",
            l,
            l / n
        );
        if have_cli {
            let p = median(proc_);
            println!(
                "  wardflux CLI process         {:.3} s   ratio {:.2}",
                p,
                p / n
            );
        }
        println!("  snmpbulkwalk -Cr50           {:.3} s", n);
    }
    drop(snmpd);
    Ok(())
}
