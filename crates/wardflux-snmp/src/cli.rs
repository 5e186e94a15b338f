//! `wardflux snmp get|getnext|walk|bulkwalk`: net-snmp's arguments and output.
//!
//! Output is byte-identical to `snmpget/snmpgetnext/snmpwalk/snmpbulkwalk -On -M /dev/null
//! -m ""`: numeric OIDs (`-On` is the default and accepted), the same value rendering
//! ([`crate::render`]), the same walk loop (subtree check, exceptions end a walk, a GET of the
//! root when a walk printed nothing, "End of MIB" for v1), and the same error lines and exit
//! codes (1 for timeouts and session errors, 2 for an error-status in the response; `snmpget`
//! writes `Timeout: No Response from HOST.` with a full stop, the walks without). `--json`
//! prints one JSON document instead.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use wardflux_model::inventory::Secret;

use crate::api::VarBindView;
use crate::client::{OidCheck, SnmpClient, WalkEnd, WalkItem, WalkMethod, WalkOptions};
use crate::error::{SnmpError, error_status_text};
use crate::target::{
    AuthProtocol, Credentials, PrivProtocol, SecurityLevel, Target, UsmUser, Version,
};
use crate::types::{Oid, VarBind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Get,
    GetNext,
    Walk,
    BulkWalk,
}

impl Cmd {
    fn prog(self) -> &'static str {
        match self {
            Cmd::Get => "snmpget",
            Cmd::GetNext => "snmpgetnext",
            Cmd::Walk => "snmpwalk",
            Cmd::BulkWalk => "snmpbulkwalk",
        }
    }
}

struct Args {
    cmd: Cmd,
    target: Target,
    oid_check: OidCheck,
    peer: String,
    oids: Vec<Oid>,
    json: bool,
}

const USAGE: &str = "USAGE: wardflux snmp get|getnext|walk|bulkwalk [OPTIONS] AGENT OID [OID]...\n\
  -v 1|2c|3        SNMP version (default 3)\n\
  -c COMMUNITY     community (v1, v2c)\n\
  -l LEVEL         noAuthNoPriv|authNoPriv|authPriv\n\
  -u USER          v3 user name\n\
  -a PROTOCOL      MD5|SHA|SHA-224|SHA-256|SHA-384|SHA-512\n\
  -A PASSPHRASE    authentication passphrase\n\
  -x PROTOCOL      DES|AES|AES-192|AES-256|AES-192-C|AES-256-C\n\
  -X PASSPHRASE    privacy passphrase\n\
  -n CONTEXT       v3 context name\n\
  -t TIMEOUT       seconds per attempt (default 1)\n\
  -r RETRIES       retries (default 5)\n\
  -Cr<N>           bulkwalk max-repetitions (default 10)\n\
  -Cc              walks: do not check that OIDs increase (loops are still caught)\n\
  -On              numeric OIDs (always on)\n\
  --json           machine-readable output\n";

/// Marks a parse error that net-snmp prints alone, without the usage text.
const NO_USAGE: &str = "\u{0}";

/// The part of an OID string from its first non-numeric arc on (net-snmp shows it in
/// parentheses).
fn bad_part(o: &str) -> &str {
    let t = o.strip_prefix('.').unwrap_or(o);
    let mut pos = 0;
    for arc in t.split('.') {
        if arc.is_empty() || !arc.bytes().all(|b| b.is_ascii_digit()) || arc.parse::<u32>().is_err()
        {
            return &t[pos..];
        }
        pos += arc.len() + 1;
    }
    t
}

fn parse(args: &[String]) -> Result<Args, String> {
    let cmd = match args.first().map(String::as_str) {
        Some("get") => Cmd::Get,
        Some("getnext") => Cmd::GetNext,
        Some("walk") => Cmd::Walk,
        Some("bulkwalk") => Cmd::BulkWalk,
        Some(other) => return Err(format!("unknown subcommand: {other}")),
        None => return Err("missing subcommand".into()),
    };
    let mut version = Version::V3;
    let mut community: Option<String> = None;
    let mut level: Option<SecurityLevel> = None;
    let mut user: Option<String> = None;
    let mut auth_p: Option<AuthProtocol> = None;
    let mut auth_pass: Option<String> = None;
    let mut priv_p: Option<PrivProtocol> = None;
    let mut priv_pass: Option<String> = None;
    let mut context = String::new();
    let mut timeout = Duration::from_secs(1);
    let mut retries = 5u32;
    let mut reps = 10u32;
    let mut oid_check = OidCheck::Increasing;
    let mut json = false;
    let mut positional = Vec::new();

    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--json" {
            json = true;
            continue;
        }
        if a == "--" {
            positional.extend(args[i..].iter().cloned());
            break;
        }
        if !a.starts_with('-') || a.len() < 2 {
            positional.push(a.clone());
            continue;
        }
        let flag = a.as_bytes()[1] as char;
        let takes_value = matches!(
            flag,
            'v' | 'c'
                | 'l'
                | 'u'
                | 'a'
                | 'A'
                | 'x'
                | 'X'
                | 't'
                | 'r'
                | 'n'
                | 'C'
                | 'O'
                | 'm'
                | 'M'
                | 'e'
                | 'E'
                | 'Z'
        );
        if !takes_value {
            return Err(format!("invalid option: {a}"));
        }
        let val = if a.len() > 2 {
            a[2..].to_string()
        } else {
            let v = args
                .get(i)
                .ok_or_else(|| format!("option {a} needs a value"))?
                .clone();
            i += 1;
            v
        };
        match flag {
            'v' => {
                version = match val.as_str() {
                    "1" => Version::V1,
                    "2c" | "2" => Version::V2c,
                    "3" => Version::V3,
                    _ => return Err(format!("Invalid version specified after -v flag: {val}")),
                }
            }
            'c' => community = Some(val),
            'l' => {
                level = Some(val.parse::<SecurityLevel>().map_err(|_| {
                    format!("Invalid security level specified after -l flag: {val}")
                })?)
            }
            'u' => user = Some(val),
            'a' => {
                auth_p = Some(val.parse::<AuthProtocol>().map_err(|_| {
                    format!("Invalid authentication protocol specified after -a flag: {val}")
                })?)
            }
            'A' => auth_pass = Some(val),
            'x' => {
                priv_p = Some(val.parse::<PrivProtocol>().map_err(|_| {
                    format!("Invalid privacy protocol specified after -x flag: {val}")
                })?)
            }
            'X' => priv_pass = Some(val),
            'n' => context = val,
            't' => {
                let s: f64 = val
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| format!("Invalid timeout: {val}"))?;
                timeout = Duration::from_secs_f64(s);
            }
            'r' => retries = val.parse().map_err(|_| format!("Invalid retries: {val}"))?,
            // Several letters may share one -C, as in net-snmp (`-Ccr50`).
            'C' => {
                let mut rest = val.as_str();
                while let Some(c) = rest.chars().next() {
                    rest = &rest[1..];
                    match c {
                        'r' | 'n' => {
                            let digits = rest.len()
                                - rest.trim_start_matches(|d: char| d.is_ascii_digit()).len();
                            let n: u32 = rest[..digits]
                                .parse()
                                .map_err(|_| format!("Invalid -C{c} value: {val}"))?;
                            rest = &rest[digits..];
                            match c {
                                'r' => reps = n,
                                _ if n == 0 => {}
                                _ => return Err(format!("Unsupported -C option: {val}")),
                            }
                        }
                        // net-snmp toggles the check with each `c`.
                        'c' => {
                            oid_check = match oid_check {
                                OidCheck::Increasing => OidCheck::Unchecked,
                                OidCheck::Unchecked => OidCheck::Increasing,
                            }
                        }
                        'i' | 'p' | 'I' => {}
                        _ => return Err(format!("Unsupported -C option: {val}")),
                    }
                }
            }
            'O' if !val.chars().all(|c| c == 'n') => {
                return Err(format!("Unsupported -O option: {val} (only -On)"));
            }
            // MIB options: no MIBs are ever loaded; engine ID options are discovered instead.
            _ => {}
        }
    }
    let mut pos = positional.into_iter();
    let host = pos.next().ok_or("No hostname specified.")?;
    let (peer, addr) = resolve(&host)?;
    let mut oids = Vec::new();
    for o in pos {
        oids.push(o.parse::<Oid>().map_err(|_| {
            format!(
                "{NO_USAGE}{o}: Unknown Object Identifier ({})",
                bad_part(&o)
            )
        })?);
    }
    if oids.is_empty() {
        match cmd {
            Cmd::Walk | Cmd::BulkWalk => oids.push(Oid::from_arcs(&[1, 3, 6, 1, 2, 1])),
            _ => return Err("Missing object name".into()),
        }
    }
    if cmd == Cmd::BulkWalk && version == Version::V1 {
        return Err(format!(
            "{NO_USAGE}snmpbulkwalk: Cannot send V2 PDU on V1 session"
        ));
    }
    if matches!(cmd, Cmd::Walk | Cmd::BulkWalk) && oids.len() > 1 {
        return Err("walks take one OID".into());
    }
    let mut target = match version {
        Version::V1 | Version::V2c => {
            let c = community.ok_or("No community name specified.")?;
            let mut t = Target::v2c(addr, &c);
            t.version = version;
            t
        }
        Version::V3 => {
            let user =
                user.ok_or_else(|| format!("{NO_USAGE}{}: No securityName specified", cmd.prog()))?;
            let level = level.unwrap_or(SecurityLevel::NoAuthNoPriv);
            let auth = if level != SecurityLevel::NoAuthNoPriv {
                let pass = auth_pass.ok_or("No authentication passphrase specified (-A).")?;
                Some((auth_p.unwrap_or(AuthProtocol::Md5), Secret::new(pass)))
            } else {
                None
            };
            let privacy = if level == SecurityLevel::AuthPriv {
                let pass = priv_pass.ok_or("No privacy passphrase specified (-X).")?;
                Some((priv_p.unwrap_or(PrivProtocol::Des), Secret::new(pass)))
            } else {
                None
            };
            Target::v3(
                addr,
                UsmUser {
                    user,
                    level,
                    auth,
                    privacy,
                    context,
                },
            )
        }
    };
    target.timeout = timeout;
    target.retries = retries;
    target.max_repetitions = reps.max(1);
    if matches!(target.credentials, Credentials::Community(_)) && version == Version::V3 {
        return Err("v3 needs -u".into());
    }
    Ok(Args {
        cmd,
        target,
        oid_check,
        peer,
        oids,
        json,
    })
}

/// `[udp:|udp6:]HOST[:PORT]` → (the name net-snmp prints, the address).
fn resolve(host: &str) -> Result<(String, SocketAddr), String> {
    let peer = host.to_string();
    let h = host
        .strip_prefix("udp:")
        .or_else(|| host.strip_prefix("udp6:"))
        .or_else(|| host.strip_prefix("udpv6:"))
        .unwrap_or(host);
    let (name, port) = if let Some(rest) = h.strip_prefix('[') {
        let (n, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("bad host {host}"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("bad port in {host}"))?,
            None => 161,
        };
        (n.to_string(), port)
    } else if h.matches(':').count() == 1 {
        let (n, p) = h.split_once(':').unwrap_or((h, "161"));
        (
            n.to_string(),
            p.parse().map_err(|_| format!("bad port in {host}"))?,
        )
    } else {
        (h.to_string(), 161u16)
    };
    let addr = (name.as_str(), port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("Unknown host ({host})"))?;
    Ok((peer, addr))
}

/// Runs one CLI invocation; `args[0]` is the subcommand. Returns the exit code.
pub fn run(args: Vec<String>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        let _ = out.write_all(USAGE.as_bytes());
        return 0;
    }
    let parsed = match parse(&args) {
        Ok(p) => p,
        Err(msg) => {
            match msg.strip_prefix(NO_USAGE) {
                Some(plain) => {
                    let _ = writeln!(err, "{plain}");
                }
                None => {
                    let _ = writeln!(err, "{msg}");
                    let _ = err.write_all(USAGE.as_bytes());
                }
            }
            return 1;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "cannot start runtime: {e}");
            return 1;
        }
    };
    rt.block_on(run_async(parsed, out, err))
}

struct Sink<'a> {
    out: &'a mut dyn Write,
    json: bool,
    views: Vec<VarBindView>,
    count: usize,
}

impl Sink<'_> {
    fn emit(&mut self, vb: &VarBind) {
        self.count += 1;
        if self.json {
            self.views.push(VarBindView::from(vb));
        } else {
            let _ = writeln!(self.out, "{vb}");
        }
    }
}

async fn run_async(a: Args, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let client = SnmpClient::default();
    let json = a.json;
    let mut sink = Sink {
        out,
        json,
        views: Vec::new(),
        count: 0,
    };
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut exit = 0;
    let mut text_err = String::new();

    match a.cmd {
        Cmd::Get | Cmd::GetNext => {
            let mut oids = a.oids.clone();
            loop {
                let res = if a.cmd == Cmd::Get {
                    client.get(&a.target, &oids).await
                } else {
                    client.get_next(&a.target, &oids).await
                };
                match res {
                    Ok(vbs) => {
                        for vb in &vbs {
                            sink.emit(vb);
                        }
                        break;
                    }
                    Err(SnmpError::TooBig { .. }) => {
                        exit = 2;
                        text_err.push_str("Error in packet\n");
                        text_err.push_str(&format!("Reason: {}\n", error_status_text(1)));
                        errors.push(("too_big".into(), error_status_text(1).to_string()));
                        break;
                    }
                    Err(SnmpError::ErrorStatus {
                        status, index, oid, ..
                    }) => {
                        exit = 2;
                        text_err.push_str("Error in packet\n");
                        text_err.push_str(&format!("Reason: {}\n", error_status_text(status)));
                        let idx = index as usize;
                        if idx > 0 {
                            let failed = oids.get(idx - 1).cloned().or(oid.map(|o| *o));
                            if let Some(f) = failed {
                                text_err.push_str(&format!("Failed object: {f}\n\n"));
                            }
                        }
                        errors.push(("error_status".into(), error_status_text(status).to_string()));
                        // net-snmp "fixes" the PDU: drops the failed varbind and retries.
                        if idx == 0 || idx > oids.len() {
                            break;
                        }
                        oids.remove(idx - 1);
                        if oids.is_empty() {
                            break;
                        }
                    }
                    Err(e) => {
                        exit = 1;
                        text_err.push_str(&session_error(a.cmd, &a.peer, &e));
                        errors.push((e.kind().into(), e.to_string()));
                        break;
                    }
                }
            }
        }
        Cmd::Walk | Cmd::BulkWalk => {
            let root = a.oids[0].clone();
            let method = if a.cmd == Cmd::Walk {
                WalkMethod::GetNext
            } else {
                WalkMethod::GetBulk
            };
            let opts = WalkOptions {
                method,
                oid_check: a.oid_check,
            };
            let res = client
                .walk_each(
                    &a.target,
                    &root,
                    opts,
                    a.target.max_repetitions,
                    |item| match item {
                        WalkItem::VarBind(vb) => sink.emit(&vb),
                        // net-snmp prints each violation when it meets it; fprint_objid
                        // ends both OIDs with a newline, then one more follows.
                        WalkItem::NotIncreasing { previous, next } => {
                            text_err.push_str(&format!(
                                "Error: OID not increasing: {previous}\n >= {next}\n\n"
                            ));
                            errors.push((
                                "oid_not_increasing".into(),
                                format!("{previous} >= {next}"),
                            ));
                        }
                    },
                )
                .await;
            let success = match res {
                Ok(WalkEnd::Done) => true,
                Ok(WalkEnd::EndOfMib) => {
                    if !json {
                        let _ = writeln!(sink.out, "End of MIB");
                    }
                    true
                }
                Err(SnmpError::ErrorStatus {
                    status, index, oid, ..
                }) => {
                    exit = 2;
                    text_err.push_str("Error in packet.\n");
                    text_err.push_str(&format!("Reason: {}\n", error_status_text(status)));
                    if index != 0
                        && let Some(o) = oid
                    {
                        text_err.push_str(&format!("Failed object: {o}\n\n"));
                    }
                    errors.push(("error_status".into(), error_status_text(status).to_string()));
                    false
                }
                Err(SnmpError::TooBig { .. }) => {
                    exit = 2;
                    text_err.push_str("Error in packet.\n");
                    text_err.push_str(&format!("Reason: {}\n", error_status_text(1)));
                    errors.push(("too_big".into(), error_status_text(1).to_string()));
                    false
                }
                // Already printed where it was met (with any further ones of that response).
                Err(SnmpError::NotIncreasing { .. }) => {
                    exit = 1;
                    true
                }
                Err(SnmpError::WalkLoop { oid, .. }) => {
                    exit = 1;
                    text_err.push_str(&format!(
                        "Error: OID loop: {oid} was already requested in this walk\n\n"
                    ));
                    errors.push(("oid_loop".into(), format!("{oid} requested twice")));
                    false
                }
                Err(e) => {
                    exit = 1;
                    text_err.push_str(&session_error(a.cmd, &a.peer, &e));
                    errors.push((e.kind().into(), e.to_string()));
                    false
                }
            };
            if success
                && sink.count == 0
                && let Ok(vbs) = client.get(&a.target, std::slice::from_ref(&root)).await
            {
                for vb in &vbs {
                    sink.emit(vb);
                }
            }
        }
    }
    if json {
        let doc = serde_json::json!({
            "varbinds": sink.views,
            "errors": errors.iter().map(|(k, m)| serde_json::json!({"kind": k, "message": m})).collect::<Vec<_>>(),
        });
        let _ = writeln!(sink.out, "{doc}");
    } else {
        let _ = err.write_all(text_err.as_bytes());
    }
    let _ = sink.out.flush();
    exit
}

/// A session-level failure the way net-snmp prints it.
fn session_error(cmd: Cmd, peer: &str, e: &SnmpError) -> String {
    let prog = cmd.prog();
    match e {
        // net-snmp drops a response with a malformed special Opaque, retries, and times out.
        SnmpError::Timeout { .. } | SnmpError::MalformedOpaque { .. } => {
            if cmd == Cmd::Get {
                format!("Timeout: No Response from {peer}.\n")
            } else {
                format!("Timeout: No Response from {peer}\n")
            }
        }
        SnmpError::AuthFailure { .. } => {
            format!("{prog}: Authentication failure (incorrect password, community or key)\n")
        }
        SnmpError::UnknownUserName { .. } => format!("{prog}: Unknown user name\n"),
        SnmpError::UnknownEngineId { .. } => format!("{prog}: Unknown engine ID\n"),
        SnmpError::NotInTimeWindow { .. } => format!("{prog}: Not in time window\n"),
        SnmpError::DecryptionError { .. } => format!("{prog}: Decryption error\n"),
        SnmpError::UnsupportedSecurityLevel { .. } => {
            format!("{prog}: Unsupported security level\n")
        }
        SnmpError::TooBig { .. } => format!("Error in packet.\nReason: {}\n", error_status_text(1)),
        other => format!("{prog}: {other}\n"),
    }
}
