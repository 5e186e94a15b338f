//! `wardflux ping` side by side with fping 5.1 on the same targets, inside a test namespace.

mod common;

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

fn setup() -> Option<common::Netns> {
    if !common::require(&[("fping", "fping")]) {
        return None;
    }
    let ns = common::Netns::new()?;
    ns.kill("127.5.0.9-127.5.0.16");
    Some(ns)
}

#[test]
fn sweep_alive_and_unreachable_sets_agree_with_fping() {
    let Some(ns) = setup() else { return };
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
    let Some(ns) = setup() else { return };
    let args = ["127.0.0.1", "127.5.0.1", "127.5.0.200"];
    let mut a = vec!["--netns", ns.name.as_str()];
    a.extend_from_slice(&args);
    let ours = ours(&a);
    let theirs = fping(&ns, &args);
    assert_eq!(ours.stdout, theirs.stdout, "fping prints in order here too");
    assert_eq!((ours.code, theirs.code), (0, 0));
}

#[test]
fn count_mode_summaries_agree_with_fping() {
    let Some(ns) = setup() else { return };
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
    let mut a = vec!["--netns", ns.name.as_str()];
    a.extend_from_slice(&args);
    let ours = ours(&a);
    let theirs = fping(&ns, &args);
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
    let Some(ns) = setup() else { return };
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
    if !common::require(&[("fping", "fping")]) {
        return;
    }
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
