//! Benchmark (c): fleet poll of 1000 simulated devices, wardflux vs prometheus-snmp-exporter.
//!
//! `cargo run --release -p wardflux-snmp --example bench_fleet [-- DEVICES CYCLES INFLIGHT]`
//!
//! Starts one snmpsimd serving the Cisco 3750 recording on DEVICES endpoints 127.1.0.1.. port
//! 161 (as the rig does), then per cycle asks every device for sysUpTime + 10 ifHCInOctets +
//! 10 ifHCOutOctets (21 OIDs, one GET each):
//! - wardflux: one `SnmpClient` (one socket), all devices at once under its global in-flight
//!   limit INFLIGHT (default 200) and the per-device limit 1;
//!   CPU = this process's utime+stime during its cycles;
//! - prometheus-snmp-exporter 0.21 with a `get:` module for the same 21 OIDs, scraped over
//!   HTTP for every device (INFLIGHT scrapes in flight; the scraper is this process, not counted);
//!   CPU = the exporter process's utime+stime during its cycles.
//!
//! Both use timeout 5 s, 3 retries. Prints cycle times and CPU seconds, and the ratio.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wardflux_snmp::{Oid, SnmpClient, Target};

const IFINDEX: std::ops::RangeInclusive<u32> = 11001..=11010;

fn cpu_secs(pid: &str) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // fields 14 and 15 of stat are at 11 and 12 after the ")"
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn device(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 1, 0, 1)) + i)
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn oids() -> Vec<Oid> {
    let mut v = vec!["1.3.6.1.2.1.1.3.0".parse().unwrap()];
    for col in [6, 10] {
        for i in IFINDEX {
            v.push(Oid::from_arcs(&[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, col, i]));
        }
    }
    v
}

async fn scrape(port: u16, target: Ipv4Addr) -> Result<usize> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let req = format!("GET /snmp?target={target}&module=fleet HTTP/1.0\r\nHost: x\r\n\r\n");
    s.write_all(req.as_bytes()).await?;
    let mut body = String::new();
    s.read_to_string(&mut body).await?;
    if !body.starts_with("HTTP/1.0 200") && !body.starts_with("HTTP/1.1 200") {
        bail!("scrape {target}: {}", body.lines().next().unwrap_or(""));
    }
    Ok(body
        .lines()
        .filter(|l| l.starts_with("ifHC") || l.starts_with("sysUpTime"))
        .count())
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let devices: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let cycles: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);
    // requests in flight for wardflux (its global limit) and scrapes in flight for the exporter
    let inflight: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&data)?;
    std::fs::create_dir_all(&cache)?;
    let rec = Command::new("zcat")
        .arg("/usr/share/doc/snmpsim/examples/data/cisco_16_switch.snmprec.gz")
        .output()
        .context("snmpsim recordings (Debian package snmpsim)")?;
    std::fs::write(data.join("public.snmprec"), rec.stdout)?;
    for p in [dir.path(), data.as_path()] {
        Command::new("chmod").arg("755").arg(p).status()?;
    }
    Command::new("chown")
        .arg("nobody:nogroup")
        .arg(&cache)
        .status()?;
    let mut argfile = format!(
        "--data-dir={}\n--cache-dir={}\n",
        data.display(),
        cache.display()
    );
    for i in 0..devices {
        argfile.push_str(&format!("--agent-udpv4-endpoint={}:161\n", device(i)));
    }
    let argpath = dir.path().join("args");
    std::fs::write(&argpath, argfile)?;
    let _sim = Kill(
        Command::new("snmpsimd")
            .args([
                "--logging-method=null",
                "--process-user=nobody",
                "--process-group=nogroup",
            ])
            .arg(format!("--args-from-file={}", argpath.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("snmpsimd")?,
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let oids = oids();
    let targets: Vec<Target> = (0..devices)
        .map(|i| Target {
            timeout: Duration::from_secs(5),
            retries: 3,
            ..Target::v2c(SocketAddr::new(device(i).into(), 161), "public")
        })
        .collect();
    // wait for the first and the last endpoint
    let deadline = Instant::now() + Duration::from_secs(120);
    for t in [&targets[0], &targets[targets.len() - 1]] {
        loop {
            let mut q = t.clone();
            q.timeout = Duration::from_millis(300);
            q.retries = 0;
            if rt
                .block_on(SnmpClient::default().get(&q, &oids[..1]))
                .is_ok()
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("snmpsimd did not come up");
            }
        }
    }

    // --- wardflux
    // SOCKETS=N (environment): spread the devices over N engines (N sockets) to see whether
    // the simulator serves one source port differently; the default is the real setup, 1.
    let sockets: usize = std::env::var("SOCKETS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let clients: Vec<SnmpClient> = (0..sockets.max(1))
        .map(|_| {
            SnmpClient::new(wardflux_snmp::ClientConfig {
                global_in_flight: inflight.div_ceil(sockets.max(1)),
                ..Default::default()
            })
        })
        .collect();
    let me = std::process::id().to_string();
    let mut ours = Vec::new();
    for cycle in 0..=cycles {
        let cpu0 = cpu_secs(&me);
        let start = Instant::now();
        let ok = rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for (i, t) in targets.iter().enumerate() {
                let (c, t, o) = (clients[i % clients.len()].clone(), t.clone(), oids.clone());
                set.spawn(async move { c.get(&t, &o).await.map(|v| v.len()) });
            }
            let mut ok = 0;
            while let Some(r) = set.join_next().await {
                if r.map(|r| r.map(|n| n == 21).unwrap_or(false))
                    .unwrap_or(false)
                {
                    ok += 1;
                }
            }
            ok
        });
        let wall = start.elapsed().as_secs_f64();
        let cpu = cpu_secs(&me) - cpu0;
        println!(
            "wardflux cycle {cycle}: {ok}/{devices} devices, {wall:.2} s, {cpu:.2} CPU-s{}",
            if cycle == 0 {
                " (warm-up: includes per-device setup)"
            } else {
                ""
            }
        );
        if cycle > 0 {
            ours.push((wall, cpu));
        }
    }

    // --- prometheus-snmp-exporter
    let mut yml = String::from(
        "fleet:\n  version: 2\n  auth:\n    community: public\n  timeout: 5s\n  retries: 3\n  get:\n",
    );
    for o in &oids {
        yml.push_str(&format!("  - {}\n", o.to_string().trim_start_matches('.')));
    }
    yml.push_str("  metrics:\n  - name: sysUpTime\n    oid: 1.3.6.1.2.1.1.3\n    type: gauge\n");
    for (name, col) in [("ifHCInOctets", 6), ("ifHCOutOctets", 10)] {
        yml.push_str(&format!("  - name: {name}\n    oid: 1.3.6.1.2.1.31.1.1.1.{col}\n    type: counter\n    indexes:\n    - labelname: ifIndex\n      type: gauge\n"));
    }
    let cfg = dir.path().join("snmp.yml");
    std::fs::write(&cfg, yml)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let exporter = Kill(
        Command::new("prometheus-snmp-exporter")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("prometheus-snmp-exporter (Debian package)")?,
    );
    let pid = exporter.0.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while rt.block_on(scrape(port, device(0))).is_err() {
        if Instant::now() > deadline {
            bail!("exporter did not come up");
        }
    }
    let mut theirs = Vec::new();
    for cycle in 0..=cycles {
        let cpu0 = cpu_secs(&pid);
        let start = Instant::now();
        let ok = rt.block_on(async {
            let sem = Arc::new(tokio::sync::Semaphore::new(inflight));
            let mut set = tokio::task::JoinSet::new();
            for i in 0..devices {
                let sem = sem.clone();
                set.spawn(async move {
                    let _p = sem.acquire().await;
                    scrape(port, device(i)).await
                });
            }
            let mut ok = 0;
            while let Some(r) = set.join_next().await {
                if matches!(r, Ok(Ok(21))) {
                    ok += 1;
                }
            }
            ok
        });
        let wall = start.elapsed().as_secs_f64();
        let cpu = cpu_secs(&pid) - cpu0;
        println!(
            "exporter cycle {cycle}: {ok}/{devices} devices, {wall:.2} s, {cpu:.2} CPU-s{}",
            if cycle == 0 { " (warm-up)" } else { "" }
        );
        if cycle > 0 {
            theirs.push((wall, cpu));
        }
    }
    let avg = |v: &[(f64, f64)]| {
        let n = v.len() as f64;
        (
            v.iter().map(|x| x.0).sum::<f64>() / n,
            v.iter().map(|x| x.1).sum::<f64>() / n,
        )
    };
    let (ow, oc) = avg(&ours);
    let (tw, tc) = avg(&theirs);
    println!("mean of {cycles} cycles, {devices} devices x 21 OIDs:");
    println!("  wardflux  cycle {ow:.2} s  CPU {oc:.3} s");
    println!("  exporter  cycle {tw:.2} s  CPU {tc:.3} s");
    println!("  CPU ratio wardflux/exporter {:.3} (goal < 0.25)", oc / tc);
    Ok(())
}
