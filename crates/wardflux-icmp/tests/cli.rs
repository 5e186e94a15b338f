//! `wardflux ping` side by side with fping 5.1 on the same targets, inside a test namespace.

use wardflux_testkit::netns as common;

use wardflux_icmp::cli;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn ours(args: &[&str]) -> Out {
    let mut o = Vec::new();
    let mut e = Vec::new();
    let code = cli::run(args.iter().map(|s| s.to_string()).collect(), &mut o, &mut e);
    Out {
        code,
        stdout: String::from_utf8(o).unwrap(),
        stderr: String::from_utf8(e).unwrap(),
    }
}

fn fping(ns: &common::Netns, args: &[&str]) -> Out {
    let mut full = vec!["fping"];
    full.extend_from_slice(args);
    let out = ns.exec(&full);
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The same arguments to our CLI and to fping, both inside `ns`: (ours, fping's).
fn ours_and_fping(ns: &common::Netns, args: &[&str]) -> (Out, Out) {
    let mut a = vec!["--netns", ns.name.as_str()];
    a.extend_from_slice(args);
    (ours(&a), fping(ns, args))
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_owned).collect();
    v.sort();
    v
}

/// Summary lines without the timing part, which differs run to run.
fn summaries(s: &str) -> Vec<String> {
    s.lines()
        .filter(|l| l.contains("xmt/rcv/%loss"))
        .map(|l| l.split(", min/avg/max").next().unwrap().to_owned())
        .collect()
}

fn setup() -> common::Netns {
    common::require(&[("fping", "fping")]);
    let ns = common::Netns::new();
    ns.kill("127.5.0.9-127.5.0.16");
    ns
}

#[test]
fn sweep_alive_and_unreachable_sets_agree_with_fping() {
    let ns = setup();
    let ours = ours(&[
        "--netns",
        &ns.name,
        "-r",
        "1",
        "-t",
        "200",
        "--sweep",
        "127.5.0.0/27",
    ]);
    let theirs = fping(
        &ns,
        &["-r", "1", "-t", "200", "-i", "1", "-g", "127.5.0.0/27"],
    );
    assert_eq!(sorted_lines(&ours.stdout), sorted_lines(&theirs.stdout));
    assert_eq!(
        ours.stdout
            .lines()
            .filter(|l| l.ends_with("is unreachable"))
            .count(),
        8
    );
    assert_eq!(
        ours.stdout
            .lines()
            .filter(|l| l.ends_with("is alive"))
            .count(),
        22
    );
    assert_eq!((ours.code, theirs.code), (1, 1));
    // -a / -u: bare addresses of the alive / unreachable targets.
    for flag in ["-a", "-u"] {
        let o = self::ours(&[
            "--netns",
            &ns.name,
            flag,
            "-r",
            "0",
            "-t",
            "200",
            "--sweep",
            "127.5.0.0/28",
        ]);
        let t = fping(
            &ns,
            &[
                flag,
                "-r",
                "0",
                "-t",
                "200",
                "-i",
                "1",
                "-g",
                "127.5.0.0/28",
            ],
        );
        assert_eq!(sorted_lines(&o.stdout), sorted_lines(&t.stdout), "{flag}");
    }
}

#[test]
fn hosts_all_alive_exit_zero_like_fping() {
    let ns = setup();
    let args = ["127.0.0.1", "127.5.0.1", "127.5.0.200"];
    let (ours, theirs) = ours_and_fping(&ns, &args);
    assert_eq!(ours.stdout, theirs.stdout, "fping prints in order here too");
    assert_eq!((ours.code, theirs.code), (0, 0));
}

#[test]
fn count_mode_summaries_agree_with_fping() {
    let ns = setup();
    let args = [
        "-q",
        "-c",
        "3",
        "-p",
        "50",
        "-t",
        "200",
        "127.0.0.1",
        "127.5.0.10",
        "127.5.0.3",
    ];
    let (ours, theirs) = ours_and_fping(&ns, &args);
    assert_eq!(summaries(&ours.stderr), summaries(&theirs.stderr));
    assert_eq!(
        summaries(&ours.stderr),
        vec![
            "127.0.0.1  : xmt/rcv/%loss = 3/3/0%",
            "127.5.0.10 : xmt/rcv/%loss = 3/0/100%",
            "127.5.0.3  : xmt/rcv/%loss = 3/3/0%",
        ]
    );
    assert!(ours.stdout.is_empty() && theirs.stdout.is_empty());
    assert_eq!((ours.code, theirs.code), (1, 1));
}

#[test]
fn count_mode_per_probe_lines_have_fpings_shape() {
    let ns = setup();
    ns.drop_next("127.5.0.4", 1);
    let out = ours(&[
        "--netns",
        &ns.name,
        "-c",
        "2",
        "-p",
        "50",
        "-t",
        "300",
        "127.5.0.4",
    ]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    // As fping 5.1 prints it: the reply to [1] comes before [0] times out, and the loss
    // column counts only probes already answered or timed out.
    let (l0, l1) = (lines[0], lines[1]);
    assert!(
        l0.starts_with("127.5.0.4 : [1], 64 bytes, ") && l0.ends_with(" avg, 0% loss)"),
        "{l0}"
    );
    let avg = l0.split(" ms (").nth(1).unwrap().split(' ').next().unwrap();
    assert_eq!(
        l1,
        format!("127.5.0.4 : [0], timed out ({avg} avg, 50% loss)")
    );
    // A blank line, then the summary, on stderr (as fping does without -q).
    assert!(
        out.stderr
            .starts_with("\n127.5.0.4 : xmt/rcv/%loss = 2/1/50%, min/avg/max = "),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.code, 0,
        "a target that answered at least once counts as alive"
    );
}

#[test]
fn usage_errors_exit_like_fping() {
    common::require(&[("fping", "fping")]);
    let theirs = std::process::Command::new("fping")
        .args(["-c", "0", "127.0.0.1"])
        .output()
        .unwrap();
    let o = ours(&["-c", "0", "127.0.0.1"]);
    assert_eq!(o.code, theirs.status.code().unwrap());
    assert!(!o.stderr.is_empty());
    assert_eq!(ours(&["--sweep", "127.0.0.0/33"]).code, 1);
    assert_eq!(ours(&["--no-such-flag"]).code, 1);
}

// ---- Cases that need a process of their own: a terminal on stderr, fewer capabilities,
// or name resolution inside the namespace. The test binary re-executes itself running
// only the calling test, with the CLI arguments in CHILD_ARGS; that child runs the CLI
// with its real stdout/stderr and exits with the CLI's code.

const CHILD_ARGS: &str = "WFX_CLI_CHILD_ARGS";

/// In the child process: runs the CLI and exits. In the parent: returns.
fn child_role() {
    if let Ok(args) = std::env::var(CHILD_ARGS) {
        let args: Vec<String> = args.split('\u{1f}').map(str::to_owned).collect();
        let code = cli::run(args, &mut std::io::stdout(), &mut std::io::stderr());
        std::process::exit(code);
    }
}

enum Wrap<'a> {
    /// Run under this command prefix (e.g. `setpriv ...`, `ip netns exec NS`).
    Prefix(&'a [&'a str]),
    /// Run with a pseudo-terminal as stdin/stdout/stderr (`script`); everything the child
    /// writes comes back in `stdout`.
    Pty,
}

/// Runs `wardflux ping ARGS` in a child process (see [`child_role`]) as test `test`.
fn cli_in_child(test: &str, wrap: Wrap<'_>, args: &[&str]) -> Out {
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_str().unwrap();
    let harness = [
        exe,
        "--exact",
        test,
        "--nocapture",
        "--quiet",
        "--test-threads=1",
    ];
    let mut cmd = match wrap {
        Wrap::Prefix(prefix) => {
            let mut c = std::process::Command::new(prefix[0]);
            c.args(&prefix[1..]).args(harness);
            c
        }
        Wrap::Pty => {
            let line = harness
                .iter()
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(" ");
            let mut c = std::process::Command::new("script");
            c.args(["-qec", &line, "/dev/null"]);
            c
        }
    };
    let out = cmd
        .env(CHILD_ARGS, args.join("\u{1f}"))
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    // The harness announces "running 1 test" before the child takes over.
    let stdout = String::from_utf8_lossy(&out.stdout)
        .replace("\r\n", "\n")
        .lines()
        .filter(|l| !l.is_empty() && *l != "running 1 test")
        .map(|l| format!("{l}\n"))
        .collect();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn progress_bar_only_when_stderr_is_a_terminal() {
    child_role();
    common::require(&[("script", "bsdutils")]);
    let ns = setup();
    let test = "progress_bar_only_when_stderr_is_a_terminal";
    let args = [
        "--netns",
        &ns.name,
        "-q",
        "-r",
        "0",
        "-t",
        "300",
        "--sweep",
        "127.5.0.0/28",
    ];
    let piped = cli_in_child(test, Wrap::Prefix(&["env"]), &args);
    assert_eq!(piped.code, 1, "{}", piped.stderr);
    assert_eq!(
        piped.stderr, "",
        "no bar (nor anything else with -q) on a pipe"
    );
    assert_eq!(piped.stdout, "");
    let tty = cli_in_child(test, Wrap::Pty, &args);
    assert_eq!(tty.code, 1, "{}", tty.stdout);
    assert!(
        tty.stdout.contains("/14 targets"),
        "a progress bar on the terminal: {:?}",
        tty.stdout
    );
}

#[test]
fn no_icmp_socket_at_all_exits_4_with_the_fix() {
    child_role();
    common::require(&[("setpriv", "util-linux"), ("fping", "fping")]);
    let ns = common::Netns::new();
    // No CAP_NET_RAW (raw sockets refused) and no group allowed datagram ICMP sockets.
    ns.exec(&["sysctl", "-q", "-w", "net.ipv4.ping_group_range=1 0"]);
    let no_raw = [
        "setpriv",
        "--bounding-set",
        "-net_raw",
        "--inh-caps",
        "-net_raw",
    ];
    let o = cli_in_child(
        "no_icmp_socket_at_all_exits_4_with_the_fix",
        Wrap::Prefix(&no_raw),
        &["--netns", &ns.name, "127.0.0.1", "::1"],
    );
    assert_eq!(o.code, 4, "{}", o.stderr);
    assert_eq!(o.stdout, "", "no verdict without a socket");
    for needle in [
        "cannot open an ICMP socket",
        "raw: Operation not permitted",
        "datagram: Permission denied",
        "CAP_NET_RAW",
        "setcap cap_net_raw+ep",
        "net.ipv4.ping_group_range",
    ] {
        assert!(o.stderr.contains(needle), "{needle:?} in {}", o.stderr);
    }
    // fping fails the same way with the same code (a copy without its file capability).
    let dir = std::env::temp_dir().join(format!("wfx-fping-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fping_path = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join("fping"))
        .find(|p| p.is_file())
        .unwrap();
    let copy = dir.join("fping");
    std::fs::copy(fping_path, &copy).unwrap();
    let mut args = no_raw.to_vec();
    args.extend([copy.to_str().unwrap(), "127.0.0.1"]);
    let theirs = ns.exec(&args);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        theirs.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&theirs.stderr)
    );
}

#[test]
fn unresolvable_name_exits_2_like_fping() {
    child_role();
    let ns = setup();
    // Resolved inside the namespace: no network, so no query leaves the machine.
    let args = ["no-such-host.invalid", "127.0.0.1", "127.5.0.9"];
    let o = cli_in_child(
        "unresolvable_name_exits_2_like_fping",
        Wrap::Prefix(&["ip", "netns", "exec", &ns.name]),
        &["-r", "0", "-t", "200", args[0], args[1], args[2]],
    );
    let theirs = fping(&ns, &["-r", "0", "-t", "200", args[0], args[1], args[2]]);
    assert_eq!((o.code, theirs.code), (2, 2), "{}", o.stderr);
    assert_eq!(o.stdout, theirs.stdout);
    assert_eq!(o.stdout, "127.0.0.1 is alive\n127.5.0.9 is unreachable\n");
    assert_eq!(o.stderr, theirs.stderr);
    assert!(
        o.stderr.starts_with("no-such-host.invalid: "),
        "{}",
        o.stderr
    );
}

#[test]
fn ipv6_hosts_agree_with_fping() {
    let ns = setup();
    ns.kill("fd77::9");
    let args = [
        "-r", "1", "-t", "200", "::1", "fd77::5", "fd77::9", "fd77::a",
    ];
    let (ours, theirs) = ours_and_fping(&ns, &args);
    assert_eq!(sorted_lines(&ours.stdout), sorted_lines(&theirs.stdout));
    assert_eq!(
        sorted_lines(&ours.stdout),
        vec![
            "::1 is alive",
            "fd77::5 is alive",
            "fd77::9 is unreachable",
            "fd77::a is alive"
        ]
    );
    assert_eq!((ours.code, theirs.code), (1, 1));
    // Count mode summaries too.
    let args = ["-q", "-c", "2", "-p", "50", "-t", "200", "::1", "fd77::9"];
    let (o, t) = ours_and_fping(&ns, &args);
    assert_eq!(summaries(&o.stderr), summaries(&t.stderr));
    assert_eq!(summaries(&o.stderr).len(), 2);
    assert_eq!((o.code, t.code), (1, 1));
    // --sweep takes an IPv6 prefix too (fping -g refuses one): every address of it, as
    // IPv6 has no broadcast address.
    let o = self::ours(&[
        "--netns",
        &ns.name,
        "-r",
        "0",
        "-t",
        "200",
        "--sweep",
        "fd77::8/126",
    ]);
    assert_eq!(
        sorted_lines(&o.stdout),
        vec![
            "fd77::8 is alive",
            "fd77::9 is unreachable",
            "fd77::a is alive",
            "fd77::b is alive"
        ]
    );
    assert_eq!(o.code, 1);
}

#[test]
fn cidr_expands_like_fping_g_on_small_prefixes() {
    let ns = setup();
    // Network and broadcast addresses left out, except for /31 and /32 (RFC 3021).
    for cidr in [
        "127.5.0.5/32",
        "127.5.0.4/31",
        "127.5.0.4/30",
        "127.5.0.8/29",
    ] {
        let o = ours(&["--netns", &ns.name, "-r", "0", "-t", "200", "--sweep", cidr]);
        let t = fping(&ns, &["-r", "0", "-t", "200", "-g", cidr]);
        assert_eq!(sorted_lines(&o.stdout), sorted_lines(&t.stdout), "{cidr}");
        assert_eq!(o.code, t.code, "{cidr}");
    }
    assert_eq!(
        sorted_lines(
            &ours(&[
                "--netns",
                &ns.name,
                "-r",
                "0",
                "-t",
                "200",
                "--sweep",
                "127.5.0.8/29"
            ])
            .stdout
        ),
        vec![
            "127.5.0.10 is unreachable",
            "127.5.0.11 is unreachable",
            "127.5.0.12 is unreachable",
            "127.5.0.13 is unreachable",
            "127.5.0.14 is unreachable",
            "127.5.0.9 is unreachable",
        ]
    );
}
