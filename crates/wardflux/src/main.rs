//! `wardflux`: the only crate that names concrete adapters and wires them together.
//!
//! Subcommands: `serve` (the server), `migrate`, `user add|passwd|list`,
//! `config check|export|import`, `keys rotate`, `zabbix import` (migration from a Zabbix
//! server), and the network tools `snmp`, `ping` and `discover`.

mod config;
mod configdoc;
mod datadir;
mod history;
mod keys;
mod server;
mod services;
mod zabbix_cli;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use wardflux_model::inventory::{Actor, Role, Secret};

use config::{Config, Overrides};

/// jemalloc instead of glibc malloc, measured on the server (docs/perf/icmp.md, tsdb.md): with
/// 10,000 monitored devices glibc held 255 MB RSS for a heap that peaks at 52 MB (heaptrack:
/// fragmentation across its per-thread arenas), jemalloc 73-106 MB, mimalloc 90-110 MB; idle,
/// jemalloc 25 MB, glibc 42, mimalloc 69. The `system-alloc` feature (never in a shipped
/// build) leaves glibc malloc in place, for heap profilers such as heaptrack.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "wardflux",
    version,
    about = "WARD FLUX network monitoring",
    after_help = "Network tools (their own flags, as net-snmp and fping spell them):\n  \
                  wardflux snmp get|getnext|walk|bulkwalk -v 2c -c COMMUNITY HOST[:PORT] OID...   (wardflux snmp --help)\n  \
                  wardflux ping [-c N] [-t MS] [-r N] [-i MS] [-q] HOST... | --sweep CIDR        (wardflux ping --help)\n  \
                  wardflux discover CIDR... [-c COMMUNITY]... [--v3-user USER] [--json]           (wardflux discover --help)"
)]
struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, env = "WARDFLUX_CONFIG")]
    config: Option<PathBuf>,
    /// Directory for the embedded database, key file and metrics [default: ./data].
    #[arg(long, global = true, env = "WARDFLUX_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// sqlite:PATH or postgres://USER@HOST/DB [default: sqlite in the data directory].
    #[arg(
        long,
        global = true,
        env = "WARDFLUX_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (default 127.0.0.1:8080, data under ./data).
    Serve {
        /// Address to listen on: IP:PORT or HOST:PORT, e.g. 0.0.0.0:8080 or localhost:8080
        /// [default: 127.0.0.1:8080].
        #[arg(long, env = "WARDFLUX_LISTEN")]
        listen: Option<String>,
    },
    /// Create or upgrade the configuration database schema.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCmd),
    /// Configuration.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Encryption keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Zabbix: `zabbix import` turns a Zabbix server's SNMP hosts into devices here.
    #[command(subcommand)]
    Zabbix(ZabbixCmd),
    /// SNMP client with net-snmp's flags: get, getnext, walk, bulkwalk (`wardflux snmp --help`).
    #[command(disable_help_flag = true)]
    Snmp {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// ICMP echo with fping's flags: hosts or a --sweep of a network (`wardflux ping --help`).
    #[command(disable_help_flag = true)]
    Ping {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Find the devices of a network, without a server: CIDR... [-c COMMUNITY]... [--json]
    /// (`wardflux discover --help`).
    #[command(disable_help_flag = true)]
    Discover {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add a user; the password comes from WARDFLUX_USER_PASSWORD, a prompt, or stdin.
    Add {
        username: String,
        #[arg(long, default_value = "viewer", value_parser = ["viewer", "operator", "admin"])]
        role: String,
    },
    /// Set a user's password (from WARDFLUX_USER_PASSWORD, a prompt, or stdin).
    Passwd { username: String },
    /// List users.
    List,
}

#[derive(Subcommand)]
enum ZabbixCmd {
    /// Import the SNMP hosts of a Zabbix server (or of --group NAME...) as devices, with their
    /// SNMP credentials (macros resolved), groups and templates mapped by name. A rerun
    /// changes nothing; --dry-run prints what would change.
    Import(zabbix_cli::ImportArgs),
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Validate the configuration and print it as TOML that loads back (secrets redacted).
    Check,
    /// Write the whole standalone configuration (devices, groups, credentials, templates and
    /// their assignments, channels, alert rules, maintenance windows, discovery rules) as one
    /// JSON document. Secrets only with --include-secrets, encrypted with a passphrase.
    Export {
        /// Include every secret, encrypted with a passphrase (from --passphrase-env or a prompt).
        #[arg(long)]
        include_secrets: bool,
        /// Name of the environment variable holding the passphrase (never the passphrase itself).
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
        /// Write to FILE instead of stdout.
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Import a document written by `config export` (FILE, or - for stdin): validated as a
    /// whole first, then merged by name/IP (created, updated, nothing deleted). Exit status 2
    /// when the document is refused.
    Import {
        file: PathBuf,
        /// Print what would be created, updated or left unchanged; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Name of the environment variable holding the passphrase of the document's secrets.
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Re-encrypt every stored secret under a new key.
    Rotate {
        /// The new Fernet key; generated when absent.
        #[arg(long, env = "WARDFLUX_NEW_ENCRYPTION_KEY", hide_env_values = true)]
        new_key: Option<String>,
    },
}

fn main() -> ExitCode {
    // The network tools keep net-snmp's / fping's own argument syntax (-v2c, -Cr25, -On ...),
    // which clap cannot express: hand them their raw arguments. (They are also clap
    // subcommands, so `--help` lists them and global flags before them still work.)
    let args: Vec<String> = std::env::args().collect();
    if let Some(tool) = args.get(1).map(String::as_str)
        && matches!(tool, "snmp" | "ping" | "discover")
    {
        return network_tool(tool, args[2..].to_vec());
    }
    let cli = Cli::parse();
    match &cli.command {
        Command::Snmp { args } => return network_tool("snmp", args.clone()),
        Command::Ping { args } => return network_tool("ping", args.clone()),
        Command::Discover { args } => return network_tool("discover", args.clone()),
        _ => {}
    }
    // Owner-only files: the database holds password and token hashes.
    datadir::restrict_umask();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<configdoc::Invalid>().is_some() => {
            eprintln!("wardflux: error: {e:#}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("wardflux: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn network_tool(tool: &str, args: Vec<String>) -> ExitCode {
    // `discover` draws its progress bar on stderr from a runtime thread: holding the
    // stderr lock here (on the main thread) would block that thread's writes for good.
    if tool == "discover" {
        let code =
            wardflux_discovery::cli::run(args, &mut std::io::stdout(), &mut std::io::stderr());
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let code = match tool {
        "snmp" => tools::snmp(args, &mut out, &mut err),
        _ => tools::ping(args, &mut out, &mut err),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

mod tools {
    use std::io::Write;

    pub fn snmp(args: Vec<String>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
        wardflux_snmp::cli::run(args, out, err)
    }

    pub fn ping(args: Vec<String>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
        wardflux_icmp::cli::run(args, out, err)
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut o = Overrides {
        config: cli.config,
        data_dir: cli.data_dir,
        database_url: cli.database_url,
        listen: None,
    };
    if let Command::Serve { listen } = &cli.command {
        o.listen.clone_from(listen);
    }
    let cfg = Config::load(&o)?;
    server::init_tracing(cfg.log_json);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve { .. } => server::serve(cfg).await,
            Command::Migrate => {
                let (_lock, store) = server::open_store(&cfg, server::Create::Allowed).await?;
                println!("schema up to date ({})", store.backend());
                Ok(())
            }
            Command::User(cmd) => user_cmd(&cfg, cmd).await,
            Command::Config(ConfigCmd::Check) => {
                // TOML that loads back: the status lines are comments.
                println!("# configuration OK");
                match &cfg.source {
                    Some(p) => println!("# file: {}", p.display()),
                    None => println!("# file: (none; defaults and environment)"),
                }
                print!("{}", cfg.to_toml());
                Ok(())
            }
            Command::Config(ConfigCmd::Export {
                include_secrets,
                passphrase_env,
                output,
            }) => configdoc::export(&cfg, include_secrets, passphrase_env.as_deref(), output).await,
            Command::Config(ConfigCmd::Import {
                file,
                dry_run,
                passphrase_env,
            }) => configdoc::import(&cfg, file, dry_run, passphrase_env.as_deref()).await,
            Command::Keys(KeysCmd::Rotate { new_key }) => keys::rotate(&cfg, new_key).await,
            Command::Zabbix(ZabbixCmd::Import(args)) => zabbix_cli::import_cmd(&cfg, args).await,
            Command::Snmp { .. } | Command::Ping { .. } | Command::Discover { .. } => {
                unreachable!("main dispatches the network tools")
            }
        }
    })
}

fn cli_actor() -> Actor {
    Actor {
        user_id: None,
        name: "cli".into(),
    }
}

fn read_password() -> anyhow::Result<Secret> {
    if let Ok(p) = std::env::var("WARDFLUX_USER_PASSWORD")
        && !p.is_empty()
    {
        return Ok(Secret::new(p));
    }
    let p = if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password("Password: ")?;
        let b = rpassword::prompt_password("Repeat password: ")?;
        if a != b {
            bail!("the passwords differ");
        }
        a
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    Ok(Secret::new(p))
}

async fn user_cmd(cfg: &Config, cmd: UserCmd) -> anyhow::Result<()> {
    let (_lock, store) = server::open_store(cfg, server::Create::Refused).await?;
    match cmd {
        UserCmd::Add { username, role } => {
            let role: Role = role.parse().map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            let pw = read_password()?;
            let u = store
                .create_user(&cli_actor(), &username, &pw, role)
                .await?;
            println!(
                "created user {} ({}) id {}",
                u.username,
                u.role.as_str(),
                u.id
            );
        }
        UserCmd::Passwd { username } => {
            let u = store
                .user_by_username(&username)
                .await?
                .with_context(|| format!("no user named {username:?}"))?;
            let pw = read_password()?;
            store.set_password(&cli_actor(), u.id, &pw).await?;
            println!("password of {username} changed");
        }
        UserCmd::List => {
            println!("{:<24} {:<9} {:<8} id", "username", "role", "disabled");
            for u in store.list_users().await? {
                println!(
                    "{:<24} {:<9} {:<8} {}",
                    u.username,
                    u.role.as_str(),
                    u.disabled,
                    u.id
                );
            }
        }
    }
    Ok(())
}
