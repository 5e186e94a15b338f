//! `wardflux zabbix import`: the migration from a Zabbix server
//! ([`wardflux_zabbix::import`]) from the command line, printing what it creates (or, with
//! `--dry-run`, would create), what it leaves alone and what it cannot import.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use wardflux_model::inventory::Secret;
use wardflux_zabbix::import::{ImportOptions, ImportReport, import};
use wardflux_zabbix::{ZabbixAuth, ZabbixClient, ZabbixConfig};

use crate::config::Config;

/// The arguments of `wardflux zabbix import`.
#[derive(clap::Args)]
pub struct ImportArgs {
    /// The Zabbix frontend URL (http://HOST/zabbix) or its api_jsonrpc.php.
    #[arg(long, env = "WARDFLUX_ZABBIX_URL")]
    url: String,
    /// Zabbix user name (with --password-env).
    #[arg(long)]
    user: Option<String>,
    /// The environment variable holding the Zabbix password.
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// The environment variable holding a Zabbix API token (instead of user and password).
    #[arg(long, value_name = "VAR")]
    api_token_env: Option<String>,
    /// Print what would change; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// A Zabbix host group to import (repeatable); all groups when absent.
    #[arg(long = "group", value_name = "NAME")]
    groups: Vec<String>,
    /// ZABBIX_TEMPLATE=OUR_TEMPLATE: a template mapping beyond the built-in table (repeatable).
    #[arg(long = "map-template", value_name = "ZABBIX=OURS")]
    template_map: Vec<String>,
    /// The report as JSON.
    #[arg(long)]
    json: bool,
}

fn secret_from_env(var: &str, what: &str) -> anyhow::Result<Secret> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
        _ => bail!("{what}: the environment variable {var} is not set"),
    }
}

pub async fn import_cmd(cfg: &Config, a: ImportArgs) -> anyhow::Result<()> {
    let auth = match (&a.api_token_env, &a.user, &a.password_env) {
        (Some(var), None, None) => ZabbixAuth::ApiToken(secret_from_env(var, "--api-token-env")?),
        (None, Some(user), Some(var)) => ZabbixAuth::Password {
            username: user.clone(),
            password: secret_from_env(var, "--password-env")?,
        },
        _ => bail!("give either --user with --password-env, or --api-token-env"),
    };
    let mut template_map = BTreeMap::new();
    for m in &a.template_map {
        let (z, o) = m
            .split_once('=')
            .with_context(|| format!("--map-template {m:?}: expected ZABBIX=OURS"))?;
        template_map.insert(z.trim().to_string(), o.trim().to_string());
    }
    let client = ZabbixClient::new(ZabbixConfig {
        url: a.url.clone(),
        auth,
        timeout: Duration::from_secs(30),
    })?;
    let (_lock, store) = crate::server::open_store(cfg, crate::server::Create::Refused).await?;
    let opts = ImportOptions {
        groups: a.groups,
        dry_run: a.dry_run,
        template_map,
    };
    let report = import(&store, &client, &crate::cli_actor(), &opts)
        .await
        .map_err(|e| match e {
            wardflux_zabbix::import::ImportError::Zabbix(z) => {
                anyhow::anyhow!("Zabbix at {} ({}): {z}", client.url(), z.kind())
            }
            other => anyhow::Error::new(other),
        })?;
    let _ = client.logout().await;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

/// The report as lines for a terminal.
fn render(r: &ImportReport) -> String {
    let mut out = String::new();
    let verb = if r.dry_run { "would create" } else { "created" };
    if r.dry_run {
        out.push_str("dry run: nothing written\n");
    }
    for d in &r.created {
        out.push_str(&format!(
            "{verb}  {}  {}:{}  snmp {}  groups: {}  templates: {}",
            d.name,
            d.ip,
            d.snmp_port,
            d.snmp_version,
            list(&d.groups),
            list(&d.templates),
        ));
        if !d.unmapped_templates.is_empty() {
            out.push_str(&format!(
                "  (no template here for: {})",
                d.unmapped_templates.join(", ")
            ));
        }
        out.push('\n');
    }
    for (host, id) in &r.unchanged {
        out.push_str(&format!(
            "unchanged  {host}  (its address is device {id})\n"
        ));
    }
    for (host, why) in &r.skipped {
        out.push_str(&format!("skipped  {host}: {why}\n"));
    }
    if !r.groups_created.is_empty() {
        out.push_str(&format!(
            "groups {}: {}\n",
            if r.dry_run { "to create" } else { "created" },
            r.groups_created.join(", ")
        ));
    }
    out.push_str(&format!(
        "{} {verb}, {} unchanged, {} skipped\n",
        r.created.len(),
        r.unchanged.len(),
        r.skipped.len()
    ));
    out
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}
