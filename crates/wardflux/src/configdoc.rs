//! `wardflux config export|import`: the whole standalone configuration as one JSON document
//! (`wardflux_store::config`), the same export and import the API offers. The passphrase of
//! the secrets comes from an environment variable (`--passphrase-env VAR`) or a prompt, never
//! from the command line (argv is visible to every user of the machine).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use wardflux_alert::config_checks::AlertChecks;
use wardflux_model::inventory::Secret;
use wardflux_store::config::{ConfigError, Outcome};

use crate::config::Config;
use crate::server::{self, Create};

/// A refused document or argument: the binary exits with status 2 (not 1, an unexpected
/// failure), after printing every problem.
#[derive(Debug)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

fn invalid(msg: impl Into<String>) -> anyhow::Error {
    Invalid(msg.into()).into()
}

/// The passphrase from `$VAR`, else a prompt on a terminal (twice when `confirm`).
fn passphrase(env: Option<&str>, confirm: bool) -> anyhow::Result<Secret> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(p) if !p.is_empty() => Ok(Secret::new(p)),
            _ => Err(invalid(format!(
                "--passphrase-env: environment variable {var} is not set or empty"
            ))),
        };
    }
    if !std::io::stdin().is_terminal() {
        return Err(invalid(
            "the secrets need a passphrase: give --passphrase-env VAR (no terminal to prompt on)",
        ));
    }
    let a = rpassword::prompt_password("Passphrase for the secrets: ")?;
    if confirm {
        let b = rpassword::prompt_password("Repeat passphrase: ")?;
        if a != b {
            return Err(invalid("the passphrases differ"));
        }
    }
    if a.is_empty() {
        return Err(invalid("the passphrase must not be empty"));
    }
    Ok(Secret::new(a))
}

pub async fn export(
    cfg: &Config,
    include_secrets: bool,
    passphrase_env: Option<&str>,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    if passphrase_env.is_some() && !include_secrets {
        return Err(invalid(
            "--passphrase-env is for --include-secrets (without it no secret is exported)",
        ));
    }
    let pass = if include_secrets {
        Some(passphrase(passphrase_env, true)?)
    } else {
        None
    };
    let (_lock, store) = server::open_store(cfg, Create::Refused).await?;
    let doc = store.export_config(pass.as_ref()).await?;
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    match out {
        Some(path) => {
            // The umask is 077: the file is the owner's only, secrets or not.
            std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "exported {} devices, {} groups, {} credentials, {} templates, {} assignments, \
                 {} channels, {} alert rules, {} maintenance windows, {} discovery rules to {}{}",
                doc.devices.len(),
                doc.groups.len(),
                doc.credentials.len(),
                doc.templates.len(),
                doc.template_assignments.len(),
                doc.channels.len(),
                doc.alert_rules.len(),
                doc.maintenance.len(),
                doc.discovery_rules.len(),
                path.display(),
                if include_secrets {
                    " (secrets encrypted)"
                } else {
                    " (no secrets)"
                }
            );
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(())
}

pub async fn import(
    cfg: &Config,
    file: PathBuf,
    dry_run: bool,
    passphrase_env: Option<&str>,
) -> anyhow::Result<()> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the document from stdin")?
    } else {
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?
    };
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| invalid(format!("{}: not JSON: {e}", file.display())))?;
    let has_secrets = doc.get("secrets").is_some_and(|s| !s.is_null());
    let pass = if has_secrets {
        Some(passphrase(passphrase_env, false)?)
    } else {
        None
    };
    // A new data directory is allowed: importing is how a new installation is set up.
    let (_lock, store) = server::open_store(cfg, Create::Allowed).await?;
    let actor = crate::cli_actor();
    let report = match store
        .import_config(&actor, &doc, pass.as_ref(), &AlertChecks, dry_run)
        .await
    {
        Ok(r) => r,
        Err(ConfigError::Invalid(problems)) => {
            let mut msg = format!(
                "{} refused, nothing written ({} problem(s)):",
                file.display(),
                problems.len()
            );
            for p in &problems {
                msg.push_str(&format!("\n  {p}"));
            }
            return Err(invalid(msg));
        }
        Err(e @ ConfigError::WrongPassphrase(_)) => return Err(invalid(e.to_string())),
        Err(e @ ConfigError::Apply { .. }) => {
            if let ConfigError::Apply { done, .. } = &e {
                for d in done {
                    eprintln!("applied  {:<22} {}", d.section, d.key);
                }
            }
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = std::io::stdout().lock();
    if dry_run {
        writeln!(out, "dry run: nothing written")?;
    }
    for e in &report.entries {
        let what = match e.outcome {
            Outcome::Created => "create",
            Outcome::Updated => "update",
            Outcome::Unchanged => continue,
            Outcome::NeedsSecret => "needs secret",
        };
        writeln!(out, "{what:<13} {:<22} {}", e.section, e.key)?;
    }
    write!(
        out,
        "{}: {} created, {} updated, {} unchanged",
        if dry_run { "would be" } else { "done" },
        report.created,
        report.updated,
        report.unchanged,
    )?;
    if report.needs_secret > 0 {
        write!(
            out,
            ", {} new without their secrets (credentials and discovery rules left out, \
             channels created without them; export with --include-secrets)",
            report.needs_secret
        )?;
    }
    writeln!(out)?;
    Ok(())
}
