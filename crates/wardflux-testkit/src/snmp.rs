//! Real SNMP agents for the tests: net-snmp `snmpd` and `snmpsim` started on loopback
//! ports picked here, data in a tempdir, killed (and resumed first, if stopped) when the
//! guard drops; plus net-snmp's command-line tools as the reference reader. Readiness is
//! checked with `snmpget`, so this crate depends on no SNMP engine of ours (the engine's own
//! tests use it without a dependency cycle).

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Finds a peer binary or panics with how to install it (a missing peer is never a skip).
pub fn require(bin: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(bin);
        if p.exists() {
            return p;
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(bin);
            if p.exists() {
                return p;
            }
        }
    }
    panic!(
        "peer binary `{bin}` not found (CI={}): install the Debian packages snmpd, snmp and snmpsim (scripts/test.sh)",
        std::env::var("CI").unwrap_or_default()
    );
}

/// A UDP port on 127.0.0.1 that was free a moment ago and that no other test of this
/// process was given (the kernel may hand a just-released port out again).
pub fn free_udp_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = s.local_addr().expect("addr").port();
        let mut given = GIVEN.lock().unwrap();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// A token unique to this daemon, so that readiness checks talk to our own process and not to
/// another one that happens to own the port.
fn nonce(port: u16) -> String {
    format!("wf{}x{port}", std::process::id())
}

/// A spawned daemon, killed (SIGKILL) and reaped on drop.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
    /// SIGSTOP: the agent stays bound but answers nothing.
    pub fn stop(&self) {
        signal(self.pid(), "-STOP");
    }
    /// SIGCONT.
    pub fn cont(&self) {
        signal(self.pid(), "-CONT");
    }
    /// SIGKILL now.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill {sig} {pid} failed");
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-CONT")
            .arg(self.child.id().to_string())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asks `addr` for `oid` once with net-snmp's `snmpget` (v2c `community`, 200 ms, no
/// retry); the value as `-Oqv` prints it (strings without their quotes), or `None` on any
/// failure.
pub fn snmpget(addr: SocketAddr, community: &str, oid: &str) -> Option<String> {
    let out = Command::new(require("snmpget"))
        .args([
            "-v2c", "-c", community, "-t", "0.2", "-r", "0", "-Oqv", "-On",
        ])
        .args(["-M", "/dev/null", "-m", ""])
        .arg(format!("udp:{addr}"))
        .arg(oid)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if s.starts_with("No Such") {
        return None;
    }
    Some(s.trim_matches('"').to_string())
}

/// Waits until `addr` answers a v2c GET of `oid` with the string `expect` (poll with a
/// deadline, no fixed sleep), and checks that our child is still the one running. Uses
/// net-snmp's `snmpget`, so this crate needs no SNMP engine of ours.
pub fn wait_ready(
    addr: SocketAddr,
    community: &str,
    oid: &str,
    expect: &str,
    what: &str,
    child: &mut Child,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        if snmpget(addr, community, oid).as_deref() == Some(expect) {
            assert!(child.try_wait().unwrap().is_none(), "{what} exited");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not answer within 30 s"
        );
    }
}

pub const AUTHS: &[&str] = &["MD5", "SHA", "SHA-224", "SHA-256", "SHA-384", "SHA-512"];
pub const PRIVS: &[&str] = &["DES", "AES", "AES-192", "AES-256", "AES-192-C", "AES-256-C"];
pub const AUTH_PASS: &str = "authpass123";
pub const PRIV_PASS: &str = "privpass123";

/// net-snmp's arguments for an authPriv `user` with protocols `a`/`x` and the test passwords.
pub fn v3_args<'a>(user: &'a str, a: &'a str, x: &'a str) -> Vec<&'a str> {
    v3_args_with(user, (a, AUTH_PASS), (x, PRIV_PASS))
}

/// net-snmp's arguments for an authPriv `user` with (protocol, password) pairs for
/// authentication and privacy (wrong passwords for the failure tests).
pub fn v3_args_with<'a>(
    user: &'a str,
    (a, auth_pass): (&'a str, &'a str),
    (x, priv_pass): (&'a str, &'a str),
) -> Vec<&'a str> {
    vec![
        "-v3", "-l", "authPriv", "-u", user, "-a", a, "-A", auth_pass, "-x", x, "-X", priv_pass,
    ]
}

/// v3 user name for an auth/priv pair, e.g. `u_SHA256_AES256C`.
pub fn user_for(a: &str, x: &str) -> String {
    format!("u_{}_{}", a.replace('-', ""), x.replace('-', ""))
}

/// nsExtendOutputFull."name" of an `extend` entry.
pub fn extend_output_oid(name: &str) -> String {
    let mut s = format!(".1.3.6.1.4.1.8072.1.3.2.3.1.2.{}", name.len());
    for b in name.bytes() {
        s.push_str(&format!(".{b}"));
    }
    s
}

/// Volatile subtrees left out of snmpd's view so that two walks in a row see the same OIDs
/// while other tests start and stop processes and sockets.
const VOLATILE: &[&str] = &[
    ".1.3.6.1.2.1.25.4",   // hrSWRun
    ".1.3.6.1.2.1.25.5",   // hrSWRunPerf
    ".1.3.6.1.2.1.6.13",   // tcpConnTable
    ".1.3.6.1.2.1.6.19",   // tcpConnectionTable
    ".1.3.6.1.2.1.6.20",   // tcpListenerTable
    ".1.3.6.1.2.1.7.5",    // udpTable
    ".1.3.6.1.2.1.7.7",    // udpEndpointTable
    ".1.3.6.1.2.1.25.1.6", // hrSystemProcesses
    ".1.3.6.1.2.1.4.35",   // ipNetToPhysicalTable
    ".1.3.6.1.2.1.4.22",   // ipNetToMediaTable
];

/// net-snmp snmpd on 127.0.0.1:<free port>: v2c `public` (full view), v2c `stable` (volatile
/// subtrees excluded), v1 `public`, and a v3 authPriv user for every auth/priv pair.
pub fn snmpd() -> Daemon {
    snmpd_with("")
}

/// [`snmpd`] with `extra` appended to its configuration (e.g. a `pass` script).
pub fn snmpd_with(extra: &str) -> Daemon {
    let bin = require("snmpd");
    let dir = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let mut conf = String::new();
    conf.push_str("rocommunity public 127.0.0.1\nrocommunity6 public ::1\n");
    conf.push_str("view stable included .1\n");
    for v in VOLATILE {
        conf.push_str(&format!("view stable excluded {v}\n"));
    }
    conf.push_str("rocommunity stable 127.0.0.1 -V stable\n");
    conf.push_str(&format!(
        "sysName wardflux-test\nsysLocation {}\nsysContact tests@localhost\n",
        nonce(port)
    ));
    for a in AUTHS {
        for x in PRIVS {
            let u = user_for(a, x);
            conf.push_str(&format!("createUser {u} {a} {AUTH_PASS} {x} {PRIV_PASS}\n"));
            conf.push_str(&format!("rouser {u} priv -V stable\n"));
        }
    }
    // long values for tooBig tests: two of 1000 octets, one of 3000
    conf.push_str("extend big1 /bin/sh -c \"printf %01000d 1\"\n");
    conf.push_str("extend big2 /bin/sh -c \"printf %01000d 2\"\n");
    conf.push_str("extend huge /bin/sh -c \"printf %03000d 3\"\n");
    conf.push_str(&format!("exactEngineID {ENGINE_ID}\n"));
    conf.push_str("createUser authonly SHA-256 authpass123\nrouser authonly auth -V stable\n");
    conf.push_str("createUser noauth\nrouser noauth noauth -V stable\n");
    conf.push_str(extra);
    std::fs::write(dir.path().join("snmpd-test.conf"), conf).unwrap();
    std::fs::create_dir_all(dir.path().join("persist")).unwrap();
    let mut child = spawn_snmpd(&bin, dir.path(), port);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_ready(
        addr,
        "public",
        "1.3.6.1.2.1.1.6.0",
        &nonce(port),
        "snmpd",
        &mut child,
    );
    Daemon { child, addr, dir }
}

/// The engine ID every test snmpd starts with (`exactEngineID`).
pub const ENGINE_ID: &str = "0x80001f8804776172646675780001";

/// Gives a stopped-and-restarted snmpd another engine ID (a replaced device).
pub fn set_engine_id(d: &Daemon, id: &str) {
    let p = d.dir.path().join("snmpd-test.conf");
    let conf = std::fs::read_to_string(&p).unwrap();
    let conf = conf
        .lines()
        .map(|l| {
            if l.starts_with("exactEngineID ") {
                format!("exactEngineID {id}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&p, conf + "\n").unwrap();
}

fn spawn_snmpd(bin: &Path, dir: &Path, port: u16) -> Child {
    Command::new(bin)
        .args(["-f", "-Lo", "-C", "-c"])
        .arg(dir.join("snmpd-test.conf"))
        .args(["-M", "/dev/null", "-m", ""])
        .arg(format!("-p{}", dir.join("snmpd.pid").display()))
        .arg(format!("udp:127.0.0.1:{port},udp6:[::1]:{port}"))
        // snmpd rewrites $SNMP_PERSISTENT_DIR/snmpd.conf: keep it apart from our config
        .env("SNMP_PERSISTENT_DIR", dir.join("persist"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn snmpd")
}

/// Stops an snmpd from [`snmpd`] (SIGTERM, so it saves its state) and starts it again on the
/// same port and persistent directory: same engine ID, snmpEngineBoots one higher, engine
/// time from zero (a rebooted device).
pub fn restart_snmpd(d: &mut Daemon) {
    Command::new("kill")
        .arg("-TERM")
        .arg(d.child.id().to_string())
        .status()
        .unwrap();
    let _ = d.child.wait();
    let bin = require("snmpd");
    let port = d.addr.port();
    // the port is free again once the old process is gone; retry briefly if not yet
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut child = spawn_snmpd(&bin, d.dir.path(), port);
        let mut alive = false;
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if snmpget(d.addr, "public", "1.3.6.1.2.1.1.6.0").is_some() {
                alive = true;
                break;
            }
        }
        if alive {
            d.child = child;
            return;
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(Instant::now() < deadline, "snmpd did not restart");
    }
}

pub const SIM_DATA: &str = "/usr/share/doc/snmpsim/examples/data";

/// The shipped recordings by community name.
pub const RECORDINGS: &[(&str, &str)] = &[
    ("cisco3750", "cisco_16_switch.snmprec.gz"),
    ("procurve", "hp_perf.snmprec.gz"),
    ("linux", "recorded/linux-full-walk.snmprec.gz"),
    ("winxp", "recorded/winxp-full-walk.snmprec.gz"),
];

/// The text of a recording shipped with snmpsim, by its name in [`RECORDINGS`] (to derive
/// test recordings from, e.g. with moving counters or renumbered indexes).
pub fn shipped_recording(name: &str) -> String {
    let file = RECORDINGS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no shipped recording {name}"))
        .1;
    let src = Path::new(SIM_DATA).join(file);
    let out = Command::new("zcat").arg(&src).output().expect("zcat");
    assert!(
        out.status.success(),
        "snmpsim recording {} missing (package snmpsim)",
        src.display()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// snmpsim serving the shipped recordings (community = name in [`RECORDINGS`]) plus
/// `extra` files (name, contents) on 127.0.0.1:<free port>. v3 users (the context name
/// selects the recording): `simauth` (SHA-512, authNoPriv), and authPriv `simaes` (SHA/AES),
/// `simblmt` (SHA-256/AES-256 Blumenthal) and `simreeder` (SHA/AES-256 Reeder = Cisco).
/// snmpsim (pysnmp) pads the AES plaintext to 16 octets: the authPriv users need the patched
/// async-snmp (`patches/async-snmp`).
pub fn snmpsim(extra: &[(&str, &str)]) -> Daemon {
    let bin = require("snmpsimd");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    for (name, file) in RECORDINGS {
        let src = Path::new(SIM_DATA).join(file);
        assert!(
            src.exists(),
            "snmpsim recording {} missing (package snmpsim)",
            src.display()
        );
        let out = Command::new("zcat").arg(&src).output().expect("zcat");
        assert!(out.status.success(), "zcat {}", src.display());
        std::fs::write(data.join(format!("{name}.snmprec")), out.stdout).unwrap();
    }
    for (name, contents) in extra {
        std::fs::write(data.join(format!("{name}.snmprec")), contents).unwrap();
    }
    let port = free_udp_port();
    let token = nonce(port);
    std::fs::write(
        data.join(format!("{token}.snmprec")),
        format!("1.3.6.1.2.1.1.5.0|4|{token}\n"),
    )
    .unwrap();
    // snmpsimd binds, then drops to nobody: data readable, cache writable by nobody.
    for p in [dir.path(), data.as_path()] {
        Command::new("chmod").arg("755").arg(p).status().unwrap();
    }
    Command::new("chown")
        .args(["nobody:nogroup"])
        .arg(&cache)
        .status()
        .unwrap();
    let mut child = Command::new(bin)
        .arg(format!("--data-dir={}", data.display()))
        .arg(format!("--cache-dir={}", cache.display()))
        .args([
            "--logging-method=null",
            "--process-user=nobody",
            "--process-group=nogroup",
            "--v3-user=simaes",
            "--v3-auth-key=authpass123",
            "--v3-auth-proto=SHA",
            "--v3-priv-key=privpass123",
            "--v3-priv-proto=AES",
            "--v3-user=simblmt",
            "--v3-auth-key=authpass123",
            "--v3-auth-proto=SHA256",
            "--v3-priv-key=privpass123",
            "--v3-priv-proto=AES256BLMT",
            "--v3-user=simreeder",
            "--v3-auth-key=authpass123",
            "--v3-auth-proto=SHA",
            "--v3-priv-key=privpass123",
            "--v3-priv-proto=AES256",
            "--v3-user=simauth",
            "--v3-auth-key=authpass123",
            "--v3-auth-proto=SHA512",
        ])
        .arg(format!("--agent-udpv4-endpoint=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn snmpsimd");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_ready(
        addr,
        &token,
        "1.3.6.1.2.1.1.5.0",
        &token,
        "snmpsimd",
        &mut child,
    );
    Daemon { child, addr, dir }
}

impl Daemon {
    /// snmpsim's data directory (`<community>.snmprec` files).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

/// Output of one command: stdout, stderr, exit code.
#[derive(Debug, PartialEq, Eq)]
pub struct Run {
    pub out: String,
    pub err: String,
    pub code: i32,
}

/// Runs the matching net-snmp tool with `-On -M /dev/null -m ""`.
pub fn netsnmp(args: &[&str]) -> Run {
    let prog = match args[0] {
        "get" => "snmpget",
        "getnext" => "snmpgetnext",
        "walk" => "snmpwalk",
        "bulkwalk" => "snmpbulkwalk",
        other => panic!("no net-snmp tool for {other}"),
    };
    let bin = require(prog);
    let o = Command::new(bin)
        .args(["-On", "-M", "/dev/null", "-m", ""])
        .args(&args[1..])
        .output()
        .expect("run net-snmp tool");
    Run {
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code().unwrap_or(-1),
    }
}

/// Replaces values that move between two reads (TimeTicks, counters, gauges) by their type,
/// keeping OIDs and every other value exact.
pub fn mask_volatile(s: &str) -> String {
    s.lines()
        .map(|l| {
            for ty in ["Timeticks: ", "Counter32: ", "Counter64: ", "Gauge32: "] {
                if let Some(i) = l.find(&format!(" = {ty}")) {
                    return format!("{}= {}*", &l[..i + 1], ty);
                }
            }
            l.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts two outputs are equal line for line, printing the first differing line.
pub fn assert_same_lines(what: &str, ours: &str, theirs: &str) {
    let a: Vec<&str> = ours.lines().collect();
    let b: Vec<&str> = theirs.lines().collect();
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        assert_eq!(x, y, "{what}: first difference at line {}", i + 1);
    }
    assert_eq!(a.len(), b.len(), "{what}: line counts differ");
    assert_eq!(ours, theirs, "{what}: trailing bytes differ");
}

/// Keeps only `OID = TYPE` of each line (for agents whose values move, e.g. snmpd's load,
/// memory and counters); continuation lines of multi-line hex strings are dropped.
pub fn oid_and_type(s: &str) -> String {
    s.lines()
        .filter_map(|l| {
            let (oid, val) = l.split_once(" = ")?;
            let ty = match val.split_once(": ") {
                Some((t, _)) if !t.contains(' ') || t.starts_with("Opaque") => t,
                _ => val,
            };
            Some(format!("{oid} = {ty}"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// snmpsim in its v1/v2c architecture (`--v2c-arch`) inside network namespace `netns`,
/// one endpoint per device on port 161, each serving its own recording to community
/// `public`: distinct devices on distinct addresses, as discovery sees a network. (The
/// default v3 architecture serves every endpoint the same data for a community; the v2c
/// architecture selects `public/<transport id>.snmprec`, the transport id of the N-th
/// endpoint being 1.3.6.1.6.1.1.N.) `devices`: (IPv4 address, snmprec text). Up to a few
/// thousand endpoints per process. Ready when the last endpoint answers.
pub fn snmpsim_devices(netns: &str, devices: &[(String, String)]) -> Daemon {
    let bin = require("snmpsimd");
    assert!(!devices.is_empty(), "snmpsim_devices: no devices");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let public = data.join("public");
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&public).unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    let mut endpoints = Vec::new();
    for (i, (addr, rec)) in devices.iter().enumerate() {
        std::fs::write(public.join(format!("1.3.6.1.6.1.1.{i}.snmprec")), rec).unwrap();
        endpoints.push(format!("--agent-udpv4-endpoint={addr}:161"));
    }
    for p in [dir.path(), data.as_path(), public.as_path()] {
        Command::new("chmod").arg("755").arg(p).status().unwrap();
    }
    Command::new("chown")
        .args(["nobody:nogroup"])
        .arg(&cache)
        .status()
        .unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", netns])
        .arg(bin)
        .arg("--v2c-arch")
        .arg(format!("--data-dir={}", data.display()))
        .arg(format!("--cache-dir={}", cache.display()))
        .args([
            "--logging-method=null",
            "--process-user=nobody",
            "--process-group=nogroup",
        ])
        .args(&endpoints)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn snmpsimd");
    let (last, rec) = devices.last().unwrap();
    let name = rec
        .lines()
        .find_map(|l| l.strip_prefix("1.3.6.1.2.1.1.5.0|4|"))
        .expect("the last recording needs a sysName (1.3.6.1.2.1.1.5.0|4|...)")
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("snmpsimd exited early: {status}");
        }
        let out = Command::new("ip")
            .args(["netns", "exec", netns, "snmpget"])
            .args(["-v2c", "-c", "public", "-t", "0.3", "-r", "0", "-Oqv"])
            .args(["-M", "/dev/null", "-m", ""])
            .arg(format!("udp:{last}:161"))
            .arg("1.3.6.1.2.1.1.5.0")
            .stderr(Stdio::null())
            .output()
            .expect("snmpget");
        if String::from_utf8_lossy(&out.stdout)
            .trim()
            .trim_matches('"')
            == name
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "snmpsimd did not answer on {last} within 60 s"
        );
    }
    Daemon {
        child,
        addr: format!("{last}:161").parse().unwrap(),
        dir,
    }
}
