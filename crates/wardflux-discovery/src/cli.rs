//! `wardflux discover CIDR... [-c COMMUNITY]... [--v3-user USER ...] [--json]`: one scan
//! from the command line, without a server or a store. A progress bar on a terminal
//! (stderr), then a table of the live hosts, or with `--json` one array of findings with
//! the API's field names. Exit status 0 when the scan ran (whatever it found), 2 on bad
//! arguments, 1 when it could not run (no ICMP socket).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Parser;
use wardflux_icmp::{Pinger, PingerOptions};
use wardflux_model::discovery::{CandidateInput, DEFAULT_CONCURRENCY, DEFAULT_RATE, Finding};
use wardflux_model::inventory::Secret;
use wardflux_model::snmp::{AuthProtocol, PrivProtocol, SecurityLevel, SnmpVersion};
use wardflux_snmp::{ClientConfig, SnmpClient};

use crate::classify::Classifier;
use crate::scan::{ScanProgress, ScanSpec, scan};

/// Find the devices of a network: ICMP sweep, SNMP probe of the live hosts with the
/// given credentials in order, classification (vendor, OS, type).
#[derive(Debug, Clone, Parser)]
#[command(name = "wardflux discover")]
pub struct DiscoverArgs {
    /// CIDR prefixes, addresses or first-last ranges (at most a /16 in all without --allow-large).
    #[arg(required = true, value_name = "CIDR")]
    pub ranges: Vec<String>,
    /// v2c community to try (repeat for several, tried in order) [default: public when no
    /// credential is given].
    #[arg(short = 'c', long = "community", value_name = "COMMUNITY")]
    pub communities: Vec<String>,
    /// SNMPv3 user to try after the communities.
    #[arg(long, value_name = "USER")]
    pub v3_user: Option<String>,
    /// v3 authentication protocol: md5, sha, sha224, sha256, sha384, sha512.
    #[arg(long, value_name = "PROTO", requires = "v3_user")]
    pub v3_auth_proto: Option<String>,
    /// v3 authentication passphrase.
    #[arg(
        long,
        value_name = "KEY",
        env = "WARDFLUX_V3_AUTH_KEY",
        hide_env_values = true,
        requires = "v3_user"
    )]
    pub v3_auth_key: Option<String>,
    /// v3 privacy protocol: des, aes, aes192, aes256, aes192c, aes256c.
    #[arg(long, value_name = "PROTO", requires = "v3_user")]
    pub v3_priv_proto: Option<String>,
    /// v3 privacy passphrase.
    #[arg(
        long,
        value_name = "KEY",
        env = "WARDFLUX_V3_PRIV_KEY",
        hide_env_values = true,
        requires = "v3_user"
    )]
    pub v3_priv_key: Option<String>,
    /// Prefixes, addresses or ranges never probed.
    #[arg(short = 'x', long = "exclude", value_name = "CIDR")]
    pub exclusions: Vec<String>,
    /// SNMP port.
    #[arg(long, default_value_t = 161)]
    pub port: u16,
    /// Probes per second (ICMP, then SNMP).
    #[arg(long, default_value_t = DEFAULT_RATE)]
    pub rate: u32,
    /// Hosts probed by SNMP at once.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: u32,
    /// SNMP timeout per attempt, milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub timeout_ms: u64,
    /// SNMP retransmissions per credential.
    #[arg(long, default_value_t = 1)]
    pub retries: u32,
    /// Allow more than a /16 in all.
    #[arg(long)]
    pub allow_large: bool,
    /// Print one JSON array of findings instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_proto<T: std::str::FromStr>(v: &Option<String>, what: &str) -> Result<Option<T>, String>
where
    T::Err: std::fmt::Display,
{
    v.as_deref()
        .map(|s| s.parse::<T>().map_err(|e| format!("--{what}: {e}")))
        .transpose()
}

impl DiscoverArgs {
    /// The credential candidates, in order, validated.
    pub fn candidates(&self) -> Result<Vec<CandidateInput>, String> {
        let mut out = CandidateInput::communities(&self.communities);
        if let Some(user) = &self.v3_user {
            let auth: Option<AuthProtocol> = parse_proto(&self.v3_auth_proto, "v3-auth-proto")?;
            let privacy: Option<PrivProtocol> = parse_proto(&self.v3_priv_proto, "v3-priv-proto")?;
            let level = match (&self.v3_auth_key, &self.v3_priv_key) {
                (Some(_), Some(_)) => SecurityLevel::AuthPriv,
                (Some(_), None) => SecurityLevel::AuthNoPriv,
                (None, None) => SecurityLevel::NoAuthNoPriv,
                (None, Some(_)) => return Err("--v3-priv-key needs --v3-auth-key".into()),
            };
            out.push(CandidateInput {
                name: format!("v3 {user}"),
                version: Some(SnmpVersion::V3),
                username: Some(user.clone()),
                security_level: Some(level),
                auth_protocol: auth,
                auth_key: self.v3_auth_key.as_deref().map(Secret::new),
                priv_protocol: privacy,
                priv_key: self.v3_priv_key.as_deref().map(Secret::new),
                ..CandidateInput::default()
            });
        }
        if out.is_empty() {
            out.push(CandidateInput {
                name: "public".into(),
                ..CandidateInput::community("public")
            });
        }
        for (i, c) in out.iter_mut().enumerate() {
            c.validate(i)
                .map_err(|e| format!("{}: {}", e.field, e.message))?;
        }
        Ok(out)
    }
}

/// Runs the command; returns the exit status.
pub fn run(args: Vec<String>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let args = match DiscoverArgs::try_parse_from(
        std::iter::once("wardflux discover".to_string()).chain(args),
    ) {
        Ok(a) => a,
        Err(e) => {
            if e.use_stderr() {
                let _ = write!(err, "{e}");
                return 2;
            }
            let _ = write!(out, "{e}");
            return 0;
        }
    };
    let targets = match crate::ranges::targets(&args.ranges, &args.exclusions, args.allow_large) {
        Ok(t) => t,
        Err(e) => {
            let msg = e.message.replace("set allow_large", "pass --allow-large");
            let _ = writeln!(err, "wardflux discover: {}: {msg}", e.field);
            return 2;
        }
    };
    let candidates = match args.candidates() {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(err, "wardflux discover: {e}");
            return 2;
        }
    };
    if !(1..=100_000).contains(&args.rate) || !(1..=4096).contains(&args.concurrency) {
        let _ = writeln!(
            err,
            "wardflux discover: --rate must be 1-100000 and --concurrency 1-4096"
        );
        return 2;
    }
    let mut spec = ScanSpec::new(targets.addrs, candidates);
    spec.rate = args.rate;
    spec.concurrency = args.concurrency;
    spec.snmp_port = args.port;
    spec.snmp_timeout = Duration::from_millis(args.timeout_ms.max(1));
    spec.snmp_retries = args.retries.min(5);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "wardflux discover: cannot start the runtime: {e}");
            return 1;
        }
    };
    let found = rt.block_on(async move {
        let pinger = Pinger::new(PingerOptions {
            max_pps: spec.rate.max(1),
            ..PingerOptions::default()
        })
        .map_err(|e| format!("cannot open an ICMP socket: {e}"))?;
        let client = SnmpClient::new(ClientConfig::default());
        let progress = Arc::new(ScanProgress::default());
        let bar = progress_bar(spec.targets.len() as u64);
        let ticker = bar.clone().map(|bar| {
            let p = progress.clone();
            tokio::spawn(async move {
                loop {
                    let done = p.done.load(Ordering::Relaxed);
                    let total = p.total.load(Ordering::Relaxed);
                    let alive = p.alive.load(Ordering::Relaxed);
                    let probed = p.probed.load(Ordering::Relaxed);
                    if done < total {
                        bar.set_position(done);
                        bar.set_message(format!("ping: {alive} alive"));
                    } else {
                        bar.set_length(alive.max(1));
                        bar.set_position(probed);
                        bar.set_message(format!(
                            "snmp: {} answered",
                            p.snmp.load(Ordering::Relaxed)
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        });
        let found = scan(&pinger, &client, &Classifier::shipped(), &spec, &progress).await;
        if let Some(t) = ticker {
            t.abort();
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        Ok::<_, String>(found)
    });
    let found = match found {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(err, "wardflux discover: {e}");
            return 1;
        }
    };
    if args.json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&found).unwrap_or_else(|_| "[]".into())
        );
    } else {
        let _ = write!(out, "{}", table(&found));
    }
    0
}

fn progress_bar(total: u64) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} {elapsed}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

/// The results table: one line per device (several addresses: the first, then `+N`).
pub fn table(found: &[Finding]) -> String {
    let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    let rows: Vec<[String; 6]> = found
        .iter()
        .map(|f| {
            let mut addr = f.ip.map(|i| i.to_string()).unwrap_or_default();
            if f.addresses.len() > 1 {
                addr.push_str(&format!(" +{}", f.addresses.len() - 1));
            }
            [
                addr,
                dash(&f.sys_name),
                dash(&f.class.vendor),
                dash(&f.class.os),
                dash(&f.class.device_type),
                if f.snmp {
                    dash(&f.credential)
                } else {
                    "(ping only)".into()
                },
            ]
        })
        .collect();
    let head = ["ADDRESS", "SYSNAME", "VENDOR", "OS", "TYPE", "CREDENTIAL"];
    let mut width = head.map(str::len);
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = width[i]));
            }
        }
        s.push('\n');
        s
    };
    let mut out = line(&head.map(str::to_string));
    for r in &rows {
        out.push_str(&line(r));
    }
    let snmp = found.iter().filter(|f| f.snmp).count();
    out.push_str(&format!(
        "{} hosts found, {} answered SNMP, {} ping only\n",
        found.len(),
        snmp,
        found.len() - snmp
    ));
    out
}
