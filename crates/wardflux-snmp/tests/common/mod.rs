//! The SNMP agents and net-snmp helpers live in `wardflux_testkit::snmp` (one copy for every
//! test tree); this adds what only the engine's own tests need: the CLI runner.
#![allow(dead_code)]

pub use wardflux_testkit::snmp::*;

/// Runs `wardflux snmp <args>` through `cli::run`.
pub fn wardflux(args: &[&str]) -> Run {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = wardflux_snmp::cli::run(
        args.iter().map(|s| s.to_string()).collect(),
        &mut out,
        &mut err,
    );
    Run {
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
        code,
    }
}

/// One command line for `wardflux snmp` and net-snmp: `cmd`, the options, the agent, the OID.
pub fn command<'a>(cmd: &'a str, opts: &[&'a str], host: &'a str, oid: &'a str) -> Vec<&'a str> {
    let mut v = vec![cmd];
    v.extend_from_slice(opts);
    v.extend([host, oid]);
    v
}
