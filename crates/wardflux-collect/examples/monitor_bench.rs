//! Monitoring benchmark: N devices (default 10,000) on a 10 s interval for S seconds
//! (default 300), all answering on loopback inside a namespace this program creates.
//! Reports CPU (user+sys of this process, % of one core), schedule lag p50/p99/max,
//! false downs, RSS, and samples written.
//!
//! Run as root: `nice cargo run --release -p wardflux-collect --example monitor_bench [N] [S]`

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;
use wardflux_collect::{
    DeviceState, IcmpMonitor, IcmpMonitorConfig, IcmpTarget, StateChange, StateRecorder,
};
use wardflux_icmp::{Pinger, PingerOptions};
use wardflux_model::{MetricSink, Sample, SinkError};

#[derive(Default)]
struct CountingSink(AtomicU64);
#[async_trait::async_trait]
impl MetricSink for CountingSink {
    async fn append(&self, batch: Vec<Sample>) -> Result<(), SinkError> {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

#[derive(Default)]
struct CountingRecorder {
    up: AtomicU64,
    down: AtomicU64,
    other: AtomicU64,
}
#[async_trait::async_trait]
impl StateRecorder for CountingRecorder {
    async fn record(&self, c: StateChange) {
        match c.to {
            DeviceState::Down => self.down.fetch_add(1, Ordering::Relaxed),
            DeviceState::Up if c.from == DeviceState::Unknown => {
                self.up.fetch_add(1, Ordering::Relaxed)
            }
            _ => self.other.fetch_add(1, Ordering::Relaxed),
        };
    }
}

struct Ns(String);
impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn cpu() -> Duration {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .expect("getrusage");
    let tv =
        |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1000);
    tv(u.user_time()) + tv(u.system_time())
}

fn cpu_split() -> (Duration, Duration) {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .expect("getrusage");
    let tv =
        |t: nix::sys::time::TimeVal| Duration::new(t.tv_sec() as u64, t.tv_usec() as u32 * 1000);
    (tv(u.user_time()), tv(u.system_time()))
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(300);
    let ns = Ns(format!("wfx-mbench-{}", std::process::id()));
    anyhow::ensure!(
        Command::new("ip")
            .args(["netns", "add", &ns.0])
            .status()?
            .success()
    );
    anyhow::ensure!(
        Command::new("ip")
            .args(["-n", &ns.0, "link", "set", "lo", "up"])
            .status()?
            .success()
    );

    let pinger = Pinger::new(PingerOptions {
        netns: Some(ns.0.clone().into()),
        ..PingerOptions::default()
    })?;
    let sink = Arc::new(CountingSink::default());
    let rec = Arc::new(CountingRecorder::default());
    let mon = IcmpMonitor::new(
        pinger,
        sink.clone(),
        rec.clone(),
        IcmpMonitorConfig::default(),
    );
    let base = u32::from(Ipv4Addr::new(127, 10, 0, 1));
    let targets: Vec<IcmpTarget> = (0..n)
        .map(|i| {
            IcmpTarget::new(
                Uuid::new_v4(),
                format!("dev{i}"),
                IpAddr::V4(Ipv4Addr::from(base + i)),
            )
        })
        .collect();
    println!(
        "{n} devices, interval 10 s, 2 packets per check, {secs} s; runtime: tokio current_thread"
    );
    let rss0 = status_kb("VmRSS:");
    mon.apply_targets(targets);

    // Warm-up: one full interval so every device is up; then measure.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let st0 = mon.scheduler_stats();
    let (u0, s0) = cpu_split();
    let c0 = cpu();
    let t0 = Instant::now();
    let samples0 = sink.0.load(Ordering::Relaxed);
    let mut ticks = 0;
    while t0.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(30)).await;
        ticks += 1;
        let c = cpu() - c0;
        println!(
            "t+{:>3}s cpu {:.2}% rss {} MB downs {}",
            ticks * 30,
            100.0 * c.as_secs_f64() / t0.elapsed().as_secs_f64(),
            status_kb("VmRSS:") / 1024,
            rec.down.load(Ordering::Relaxed)
        );
    }
    let wall = t0.elapsed();
    let (u1, s1) = cpu_split();
    let st = mon.scheduler_stats();
    let runs = st.runs - st0.runs;
    let up = mon
        .snapshot()
        .iter()
        .filter(|s| s.state == DeviceState::Up)
        .count();
    println!(
        "--- results ({:.0} s measured after 11 s warm-up) ---",
        wall.as_secs_f64()
    );
    println!(
        "CPU: {:.2}% of one core (user {:.2}%, sys {:.2}%)",
        100.0 * ((u1 - u0) + (s1 - s0)).as_secs_f64() / wall.as_secs_f64(),
        100.0 * (u1 - u0).as_secs_f64() / wall.as_secs_f64(),
        100.0 * (s1 - s0).as_secs_f64() / wall.as_secs_f64()
    );
    println!(
        "checks run: {runs} ({:.0}/s), skipped: {}, samples written: {}",
        runs as f64 / wall.as_secs_f64(),
        st.skipped - st0.skipped,
        sink.0.load(Ordering::Relaxed) - samples0
    );
    println!(
        "schedule lag (whole run, bucket upper bounds): p50 <= {:?}, p99 <= {:?}, max {:?}, mean {:?}",
        st.lag_quantile(0.5),
        st.lag_quantile(0.99),
        st.lag_max,
        st.lag_mean
    );
    println!(
        "false downs: {} (other changes {}); devices up at end: {up}/{n}",
        rec.down.load(Ordering::Relaxed),
        rec.other.load(Ordering::Relaxed)
    );
    println!(
        "RSS: {} MB at start, {} MB now, peak {} MB",
        rss0 / 1024,
        status_kb("VmRSS:") / 1024,
        status_kb("VmHWM:") / 1024
    );
    Ok(())
}
