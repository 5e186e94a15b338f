//! `wardflux ping`: an fping-compatible command line over the shared pinger.
//!
//! Flags, output lines and exit codes follow fping 5.1 (checked side by side with it):
//! `ADDR is alive` / `ADDR is unreachable`; with `-c`, one line per probe on stdout and
//! the `xmt/rcv/%loss` summary on stderr; exit 0 when every target answered, 1 when some
//! did not (fping 5.1 also exits 1 on a usage error, although its man page says 3),
//! 2 when a name did not resolve, 4 when no ICMP socket could be opened.
//!
//! Deliberate differences: `-i` defaults to 0 (the pinger paces sends itself instead of
//! fping's fixed 10 ms gap) and `-B` defaults to 1.0 (constant timeout per retry; pass
//! `-B 1.5` for fping's timing). `--sweep CIDR` is `-g CIDR` and also takes IPv6 ranges
//! (up to 2^20 addresses; fping -g refuses IPv6); `--netns NAME` opens the sockets inside a
//! network namespace. A name that does not resolve is reported with the resolver's own
//! message, as fping does.
//!
//! The probing runs on a thread of its own with its own runtime, so `run` can be called
//! from anywhere (also from inside a tokio runtime); output is written on the caller's
//! thread.

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use clap::Parser;
use futures::StreamExt;

use crate::pinger::{Pinger, PingerOptions};
use crate::sweep::{SweepEvent, SweepSpec, expand_cidr};

#[derive(Debug, Parser)]
#[command(
    name = "wardflux ping",
    about = "Ping hosts or a CIDR range (fping-compatible flags and output)",
    disable_version_flag = true
)]
struct Args {
    /// Count mode: send N pings to each target.
    #[arg(short = 'c', long = "count", value_parser = clap::value_parser!(u32).range(1..))]
    count: Option<u32>,
    /// Initial timeout per target in ms (default 500; with -c, the period up to 2000).
    #[arg(short = 't', long = "timeout")]
    timeout: Option<u64>,
    /// Retries after a timeout (alive mode).
    #[arg(short = 'r', long = "retry", default_value_t = 3)]
    retries: u32,
    /// Gap between sending to successive targets, in ms.
    #[arg(short = 'i', long = "interval", default_value_t = 0)]
    interval: u64,
    /// Gap between pings to one target in count mode, in ms.
    #[arg(short = 'p', long = "period", default_value_t = 1000)]
    period: u64,
    /// Timeout multiplier per retry.
    #[arg(short = 'B', long = "backoff", default_value_t = 1.0)]
    backoff: f64,
    /// Quiet: no per-target / per-probe lines.
    #[arg(short = 'q', long = "quiet")]
    quiet: bool,
    /// Show only targets that are alive.
    #[arg(short = 'a', long = "alive")]
    alive_only: bool,
    /// Show only targets that are unreachable.
    #[arg(short = 'u', long = "unreach")]
    unreach_only: bool,
    /// Ping data size in bytes.
    #[arg(short = 'b', long = "size", default_value_t = 56)]
    size: usize,
    /// Sweep every host address of a CIDR range (like fping -g).
    #[arg(short = 'g', long = "sweep", value_name = "CIDR")]
    sweep: Option<String>,
    /// Open the ICMP sockets inside this network namespace (name or path).
    #[arg(long = "netns")]
    netns: Option<PathBuf>,
    /// Hosts to ping.
    hosts: Vec<String>,
}

/// Exit codes, as fping's.
const EXIT_OK: i32 = 0;
const EXIT_UNREACHABLE: i32 = 1;
const EXIT_USAGE: i32 = 1;
const EXIT_NOADDRESS: i32 = 2;
const EXIT_SYSCALL: i32 = 4;

enum Msg {
    Ready,
    Failed(String),
    Event(SweepEvent),
}

/// Runs `wardflux ping ARGS...` (`args` start after "ping"). Returns the exit code.
pub fn run(args: Vec<String>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let args = match Args::try_parse_from(std::iter::once("wardflux ping".to_owned()).chain(args)) {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = if e.use_stderr() {
                write!(err, "{}", e.render())
            } else {
                write!(out, "{}", e.render())
            };
            return code;
        }
    };
    // Targets: hosts as given (fping prints them as typed), then the expanded range.
    let mut names: Vec<String> = Vec::new();
    let mut ips: Vec<IpAddr> = Vec::new();
    let mut noaddress = false;
    for h in &args.hosts {
        match resolve(h) {
            Ok(ip) => {
                names.push(h.clone());
                ips.push(ip);
            }
            Err(why) => {
                noaddress = true;
                let _ = writeln!(err, "{h}: {why}");
            }
        }
    }
    if let Some(cidr) = &args.sweep {
        match expand_cidr(cidr) {
            Ok(v) => {
                for ip in v {
                    names.push(ip.to_string());
                    ips.push(ip);
                }
            }
            Err(e) => {
                let _ = writeln!(err, "wardflux ping: {e}");
                return EXIT_USAGE;
            }
        }
    }
    if ips.is_empty() {
        if noaddress {
            return EXIT_NOADDRESS;
        }
        let _ = writeln!(
            err,
            "wardflux ping: no targets (give HOST... or --sweep CIDR)"
        );
        return EXIT_USAGE;
    }

    let count = args.count.unwrap_or(0);
    let period = Duration::from_millis(args.period);
    let timeout = match (args.timeout, count) {
        (Some(t), _) => Duration::from_millis(t),
        (None, 0) => Duration::from_millis(500),
        (None, _) => period.min(Duration::from_secs(2)),
    };
    let spec = SweepSpec {
        count,
        timeout,
        retries: args.retries,
        backoff: args.backoff,
        interval: Duration::from_millis(args.interval),
        period,
    };
    let opts = PingerOptions {
        netns: args.netns.clone(),
        payload_size: args.size,
        ..PingerOptions::default()
    };

    let (tx, rx) = mpsc::channel::<Msg>();
    let worker_ips = ips.clone();
    let worker = std::thread::spawn(move || probe_thread(opts, worker_ips, spec, tx));

    let width = names.iter().map(String::len).max().unwrap_or(0);
    let bar = progress_bar(ips.len());
    let mut results: Vec<Option<crate::sweep::HostResult>> = vec![None; ips.len()];
    let mut failed = false;
    let mut code = EXIT_OK;
    for msg in rx {
        match msg {
            Msg::Ready => {}
            Msg::Failed(e) => {
                let _ = writeln!(err, "wardflux ping: {e}");
                code = EXIT_SYSCALL;
                failed = true;
            }
            Msg::Event(SweepEvent::Probe {
                index, seq, rtt, ..
            }) => {
                if args.quiet {
                    continue;
                }
                // Running statistics over the probes of this target answered so far.
                let r = results[index].get_or_insert_with(|| crate::sweep::HostResult {
                    index,
                    ip: ips[index],
                    sent: 0,
                    received: 0,
                    rtts: Vec::new(),
                });
                r.sent += 1;
                if let Some(rtt) = rtt {
                    r.received += 1;
                    r.rtts.push(Some(rtt));
                }
                let avg = avg_ms(&r.rtts).map_or_else(|| "NaN".to_owned(), |a| format!("{a:.3}"));
                let loss = (r.sent - r.received) * 100 / r.sent;
                let name = &names[index];
                let line = match rtt {
                    Some(rtt) => format!(
                        "{name:<width$} : [{seq}], {} bytes, {:.3} ms ({avg} avg, {loss}% loss)",
                        args.size + 8,
                        ms(rtt)
                    ),
                    None => {
                        format!("{name:<width$} : [{seq}], timed out ({avg} avg, {loss}% loss)")
                    }
                };
                bar_println(&bar, out, &line);
            }
            Msg::Event(SweepEvent::Done(r)) => {
                if let Some(b) = &bar {
                    b.inc(1);
                }
                if count == 0 && !args.quiet {
                    let name = &names[r.index];
                    // With -a / -u fping prints the bare names of the selected targets.
                    let line = match (r.alive(), args.alive_only, args.unreach_only) {
                        (true, false, false) => Some(format!("{name} is alive")),
                        (false, false, false) => Some(format!("{name} is unreachable")),
                        (true, true, _) | (false, _, true) => Some(name.clone()),
                        _ => None,
                    };
                    if let Some(line) = line {
                        bar_println(&bar, out, &line);
                    }
                }
                let index = r.index;
                results[index] = Some(r);
            }
            Msg::Event(SweepEvent::Failed { index, error, .. }) => {
                let _ = writeln!(err, "{}: {error}", names[index]);
                if let Some(b) = &bar {
                    b.inc(1);
                }
            }
        }
    }
    let _ = worker.join();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if failed {
        return code;
    }
    if count > 0 {
        if !args.quiet {
            let _ = writeln!(err);
        }
        for (i, r) in results.iter().enumerate() {
            let name = &names[i];
            let Some(r) = r else {
                continue;
            };
            let rtts: Vec<f64> = r.rtts.iter().flatten().map(|d| ms(*d)).collect();
            let loss = ((r.sent - r.received) * 100)
                .checked_div(r.sent)
                .unwrap_or(100);
            let mut line = format!(
                "{name:<width$} : xmt/rcv/%loss = {}/{}/{loss}%",
                r.sent, r.received
            );
            if !rtts.is_empty() {
                let min = rtts.iter().copied().fold(f64::INFINITY, f64::min);
                let max = rtts.iter().copied().fold(0.0, f64::max);
                let avg = rtts.iter().sum::<f64>() / rtts.len() as f64;
                line.push_str(&format!(", min/avg/max = {min:.3}/{avg:.3}/{max:.3}"));
            }
            let _ = writeln!(err, "{line}");
        }
    }
    let all_alive = results
        .iter()
        .all(|r| r.as_ref().is_some_and(|r| r.received > 0));
    if noaddress {
        EXIT_NOADDRESS
    } else if all_alive {
        EXIT_OK
    } else {
        EXIT_UNREACHABLE
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn avg_ms(rtts: &[Option<Duration>]) -> Option<f64> {
    let v: Vec<f64> = rtts.iter().flatten().map(|d| ms(*d)).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Resolves a target; on failure, the resolver's message as fping prints it
/// (e.g. "Name or service not known", "Temporary failure in name resolution").
fn resolve(host: &str) -> Result<IpAddr, String> {
    if let Ok(ip) = host.parse() {
        return Ok(ip);
    }
    match (host, 0).to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .map(|a| a.ip())
            .ok_or_else(|| "No address associated with hostname".to_owned()),
        Err(e) => {
            let msg = e.to_string();
            Err(msg
                .strip_prefix("failed to lookup address information: ")
                .unwrap_or(&msg)
                .to_owned())
        }
    }
}

fn progress_bar(total: usize) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(u64::try_from(total).unwrap_or(u64::MAX)),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} targets {elapsed}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

fn bar_println(bar: &Option<indicatif::ProgressBar>, out: &mut dyn Write, line: &str) {
    match bar {
        // Suspend the bar so stdout lines on the same terminal do not tear it.
        Some(b) => b.suspend(|| writeln!(out, "{line}")),
        None => writeln!(out, "{line}"),
    }
    .ok();
}

fn probe_thread(opts: PingerOptions, ips: Vec<IpAddr>, spec: SweepSpec, tx: mpsc::Sender<Msg>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = tx.send(Msg::Failed(format!("cannot start runtime: {e}")));
            return;
        }
    };
    rt.block_on(async move {
        let pinger = match Pinger::new(opts) {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.send(Msg::Failed(e.to_string()));
                return;
            }
        };
        let _ = tx.send(Msg::Ready);
        let mut events = std::pin::pin!(pinger.sweep(ips, spec));
        while let Some(ev) = events.next().await {
            if tx.send(Msg::Event(ev)).is_err() {
                return;
            }
        }
    });
}
