//! Sweep benchmark: 1022 loopback hosts (127.2.0.0/22), the upper half silent (nft drop at
//! the input hook inside a namespace this program creates), timeout 500 ms, 1 retry.
//! `wardflux ping` (in process) against `fping -r 1 -t 500 -i 0` in the same run.
//!
//! Run as root: `cargo run --release -p wardflux-icmp --example sweep_bench [ROUNDS]`

use std::process::Command;
use std::time::{Duration, Instant};

fn sh(args: &[&str]) -> anyhow::Result<std::process::Output> {
    let out = Command::new(args[0]).args(&args[1..]).output()?;
    anyhow::ensure!(
        out.status.success() || args.contains(&"fping"),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out)
}

struct Ns(String);
impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let ns = Ns(format!("wfx-bench-{}", std::process::id()));
    sh(&["ip", "netns", "add", &ns.0])?;
    sh(&["ip", "-n", &ns.0, "link", "set", "lo", "up"])?;
    let nft = |rest: &[&str]| {
        let mut v = vec!["ip", "netns", "exec", &ns.0, "nft"];
        v.extend_from_slice(rest);
        sh(&v).map(|_| ())
    };
    nft(&["add", "table", "inet", "b"])?;
    nft(&[
        "add",
        "chain",
        "inet",
        "b",
        "input",
        "{ type filter hook input priority 0; policy accept; }",
    ])?;
    nft(&[
        "add",
        "rule",
        "inet",
        "b",
        "input",
        "ip",
        "daddr",
        "127.2.2.0/23",
        "drop",
    ])?;
    let args = [
        "-q",
        "-r",
        "1",
        "-t",
        "500",
        "-i",
        "0",
        "-g",
        "127.2.0.0/22",
    ];

    let t = Instant::now();
    sh(&["ip", "netns", "exec", &ns.0, "true"])?;
    let exec_overhead = t.elapsed();

    let (mut ours, mut theirs, mut theirs_b1) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let t = Instant::now();
        let mut full = vec!["ip", "netns", "exec", &ns.0, "fping"];
        full.extend_from_slice(&args);
        let f = sh(&full)?;
        theirs.push(t.elapsed());
        assert_eq!(f.status.code(), Some(1), "fping: half the hosts are dead");
        // fping backs off 1.5x per retry by default; wardflux keeps the timeout. Same
        // policy for both: fping -B 1.
        let t = Instant::now();
        let mut full = vec!["ip", "netns", "exec", &ns.0, "fping", "-B", "1"];
        full.extend_from_slice(&args);
        sh(&full)?;
        theirs_b1.push(t.elapsed());

        let mut cli_args = vec!["--netns".to_owned(), ns.0.clone()];
        cli_args.extend(args.iter().map(|s| s.to_string()));
        let (mut o, mut e) = (Vec::new(), Vec::new());
        let t = Instant::now();
        let code = wardflux_icmp::cli::run(cli_args, &mut o, &mut e);
        ours.push(t.elapsed());
        assert_eq!(code, 1, "{}", String::from_utf8_lossy(&e));

        // Same verdicts as fping: compare the alive sets once (without -q).
        if round == 0 {
            let mut full = vec!["ip", "netns", "exec", &ns.0, "fping", "-a"];
            full.extend_from_slice(&args[1..]);
            let f = sh(&full)?;
            let mut cli_args = vec!["--netns".to_owned(), ns.0.clone(), "-a".to_owned()];
            cli_args.extend(args[1..].iter().map(|s| s.to_string()));
            let (mut o, mut e) = (Vec::new(), Vec::new());
            wardflux_icmp::cli::run(cli_args, &mut o, &mut e);
            let mut a: Vec<String> = String::from_utf8(o)?.lines().map(str::to_owned).collect();
            let mut b: Vec<String> = String::from_utf8(f.stdout)?
                .lines()
                .map(str::to_owned)
                .collect();
            a.sort();
            b.sort();
            assert_eq!(a.len(), 511, "wardflux alive count");
            assert!(
                a == b,
                "alive sets differ: wardflux {} vs fping {}",
                a.len(),
                b.len()
            );
            println!("alive sets agree: 511 alive, 511 unreachable");
        }
        println!(
            "round {round}: wardflux {:?}  fping {:?}  fping -B 1 {:?}",
            ours[round], theirs[round], theirs_b1[round]
        );
    }
    let (o, f, f1) = (
        median(&mut ours),
        median(&mut theirs),
        median(&mut theirs_b1),
    );
    println!("`ip netns exec` overhead included in fping's time: {exec_overhead:?}");
    println!(
        "median over {rounds} rounds: wardflux {:.3} s, fping {:.3} s, ratio wardflux/fping = {:.3}; floor 2 x timeout = 1.000 s, wardflux/floor = {:.3}",
        o.as_secs_f64(),
        f.as_secs_f64(),
        o.as_secs_f64() / f.as_secs_f64(),
        o.as_secs_f64() / 1.0
    );
    println!(
        "with the same backoff: fping -B 1 {:.3} s, ratio wardflux/fping-B1 = {:.3}",
        f1.as_secs_f64(),
        o.as_secs_f64() / f1.as_secs_f64()
    );
    Ok(())
}
