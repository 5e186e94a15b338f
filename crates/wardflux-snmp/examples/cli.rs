//! Runs the CLI: `cargo run -p wardflux-snmp --example cli -- bulkwalk -v2c -c public HOST`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = wardflux_snmp::cli::run(args, &mut std::io::stdout(), &mut std::io::stderr());
    std::process::exit(code);
}
