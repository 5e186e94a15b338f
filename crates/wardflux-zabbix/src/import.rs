//! Migration from Zabbix: the SNMP hosts of a Zabbix server become standalone devices here,
//! with their groups, their SNMP credential (v1/v2c community, v3 user and keys, `{$MACROS}`
//! resolved from the host's macros, then the global ones) and our templates in place of
//! theirs (by name, through a small table the caller may extend). The CLI
//! (`wardflux zabbix import`) and the API call [`import`], so both plan and write alike.
//!
//! A device is matched by its address: a host whose address is already a standalone device
//! is left alone, so a rerun changes nothing. Each device is written with the store's own
//! functions (device, then its credential, groups, templates), one store transaction each:
//! a failure part-way leaves the devices written so far, and a rerun completes the rest.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde::Serialize;
use uuid::Uuid;
use wardflux_model::inventory::{
    Actor, DeviceGroupInput, DeviceInput, DeviceSource, Secret, SnmpCredentialInput, SnmpVersion,
};
use wardflux_model::snmp::{AuthProtocol, PrivProtocol, SecurityLevel};
use wardflux_store::{Store, StoreError};

use crate::client::ZabbixClient;
use crate::error::ZabbixError;
use crate::types::{ImportHost, InterfaceKind};

/// Zabbix template names (6.0 and the older "Template ..." names) and the shipped template of
/// ours each maps to. A Zabbix template named like one of ours maps to it as well.
pub const DEFAULT_TEMPLATE_MAP: &[(&str, &str)] = &[
    ("Generic by SNMP", "Generic SNMP"),
    ("Network Generic Device by SNMP", "Generic SNMP"),
    ("Template Net Network Generic Device SNMP", "Generic SNMP"),
    ("Cisco IOS by SNMP", "Cisco IOS/IOS-XE"),
    ("Template Net Cisco IOS SNMPv2", "Cisco IOS/IOS-XE"),
    ("Linux by SNMP", "Linux Net-SNMP"),
    ("Template OS Linux SNMPv2", "Linux Net-SNMP"),
    ("Windows by SNMP", "Windows SNMP"),
    ("Template OS Windows SNMPv2", "Windows SNMP"),
    ("Juniper by SNMP", "Juniper JunOS"),
    ("FortiGate by SNMP", "Fortinet FortiGate"),
    ("Mikrotik by SNMP", "MikroTik RouterOS"),
    ("HP Enterprise Switch by SNMP", "HP/Aruba ProCurve"),
];

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Zabbix host groups to import; empty: all.
    pub groups: Vec<String>,
    /// Plan only: report what would change, write nothing.
    pub dry_run: bool,
    /// More Zabbix template name -> our template name entries (over [`DEFAULT_TEMPLATE_MAP`]).
    pub template_map: BTreeMap<String, String>,
}

/// One device the import creates (or would create).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlannedDevice {
    /// The Zabbix host's technical name.
    pub zabbix_host: String,
    pub name: String,
    pub ip: IpAddr,
    pub snmp_port: u16,
    /// `v1`, `v2c` or `v3`.
    pub snmp_version: String,
    pub groups: Vec<String>,
    /// Our templates it gets.
    pub templates: Vec<String>,
    /// Zabbix templates with no counterpart here.
    pub unmapped_templates: Vec<String>,
    /// Set once written.
    pub device_id: Option<Uuid>,
}

/// What an import did (or would do, on a dry run).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ImportReport {
    pub dry_run: bool,
    pub created: Vec<PlannedDevice>,
    /// Zabbix hosts whose address is a device already: (host, device id).
    pub unchanged: Vec<(String, Uuid)>,
    /// Zabbix hosts that cannot be imported: (host, why).
    pub skipped: Vec<(String, String)>,
    /// Groups created here.
    pub groups_created: Vec<String>,
}

/// An import that failed: reading Zabbix or writing the store.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading Zabbix")]
    Zabbix(#[from] ZabbixError),
    #[error("writing the store")]
    Store(#[from] StoreError),
}

struct Planned {
    plan: PlannedDevice,
    input: DeviceInput,
    credential: SnmpCredentialInput,
}

/// Plans, and unless `dry_run` writes, the import of the SNMP hosts of `opts.groups`.
pub async fn import(
    store: &Store,
    client: &ZabbixClient,
    actor: &Actor,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let hosts = client.hosts_for_import(&opts.groups).await?;
    let existing: HashMap<IpAddr, Uuid> = store
        .all_devices()
        .await?
        .iter()
        .filter(|d| d.source == DeviceSource::Standalone)
        .map(|d| (d.ip, d.id))
        .collect();
    let mut map: BTreeMap<String, String> = DEFAULT_TEMPLATE_MAP
        .iter()
        .map(|(z, o)| (z.to_string(), o.to_string()))
        .collect();
    map.extend(opts.template_map.clone());
    let mut ours: HashMap<String, Option<Uuid>> = HashMap::new();

    let mut report = ImportReport {
        dry_run: opts.dry_run,
        ..Default::default()
    };
    let mut planned = Vec::new();
    let mut seen_ips: HashMap<IpAddr, String> = HashMap::new();
    for h in &hosts {
        let name = h.host.host.clone();
        let p = match plan_host(h) {
            Ok(p) => p,
            Err(why) => {
                report.skipped.push((name, why));
                continue;
            }
        };
        if let Some(id) = existing.get(&p.plan.ip) {
            report.unchanged.push((name, *id));
            continue;
        }
        if let Some(first) = seen_ips.get(&p.plan.ip) {
            report.skipped.push((
                name,
                format!("address {} is also host {first}'s", p.plan.ip),
            ));
            continue;
        }
        seen_ips.insert(p.plan.ip, name.clone());
        let mut p = p;
        for zt in &h.templates {
            let target = map.get(zt).cloned().unwrap_or_else(|| zt.clone());
            let id = match ours.get(&target) {
                Some(id) => *id,
                None => {
                    let id = store.get_template_by_name(&target).await?.map(|t| t.id);
                    ours.insert(target.clone(), id);
                    id
                }
            };
            match id {
                Some(_) if !p.plan.templates.contains(&target) => p.plan.templates.push(target),
                Some(_) => {}
                None => p.plan.unmapped_templates.push(zt.clone()),
            }
        }
        planned.push(p);
    }

    let mut groups: HashMap<String, wardflux_model::inventory::DeviceGroup> = store
        .list_groups()
        .await?
        .into_iter()
        .map(|g| (g.name.clone(), g))
        .collect();
    for p in &planned {
        for g in &p.plan.groups {
            if !groups.contains_key(g) && !report.groups_created.contains(g) {
                report.groups_created.push(g.clone());
            }
        }
    }
    if opts.dry_run {
        report.created = planned.into_iter().map(|p| p.plan).collect();
        return Ok(report);
    }

    let mut members: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
    for p in planned {
        let Planned {
            mut plan,
            input,
            mut credential,
        } = p;
        let device = store.create_device(actor, input).await?;
        credential.device_id = Some(device.id);
        store.create_snmp_credential(actor, credential).await?;
        for t in &plan.templates {
            if let Some(Some(tid)) = ours.get(t) {
                store
                    .apply_template(actor, *tid, &[device.id], &BTreeMap::new())
                    .await?;
            }
        }
        for g in &plan.groups {
            members.entry(g.clone()).or_default().push(device.id);
        }
        plan.device_id = Some(device.id);
        report.created.push(plan);
    }
    for (name, ids) in members {
        match groups.remove(&name) {
            Some(g) => {
                let mut device_ids = g.device_ids.clone();
                device_ids.extend(ids);
                store
                    .update_group(
                        actor,
                        g.id,
                        DeviceGroupInput {
                            name: g.name,
                            description: g.description,
                            device_ids,
                        },
                    )
                    .await?;
            }
            None => {
                store
                    .create_group(
                        actor,
                        DeviceGroupInput {
                            name,
                            description: Some("imported from Zabbix".into()),
                            device_ids: ids,
                        },
                    )
                    .await?;
            }
        }
    }
    Ok(report)
}

/// The device and credential for one host, or why it cannot be imported.
fn plan_host(h: &ImportHost) -> Result<Planned, String> {
    let iface = h
        .host
        .interfaces
        .iter()
        .filter(|i| i.kind == InterfaceKind::Snmp && i.snmp.is_some())
        .max_by_key(|i| i.main)
        .ok_or("no SNMP interface")?;
    let snmp = iface.snmp.as_ref().ok_or("no SNMP details")?;
    let address = h.resolve(&iface.ip);
    let ip: IpAddr = address
        .parse()
        .or_else(|_| h.resolve(iface.address()).parse())
        .map_err(|_| {
            format!(
                "the SNMP interface has no IP address ({:?}); DNS-only interfaces are not imported",
                iface.address()
            )
        })?;
    let port_text = h.resolve(&iface.port);
    let snmp_port: u16 = port_text
        .trim()
        .parse()
        .map_err(|_| format!("SNMP port {port_text:?} is not a number"))?;
    let unresolved = |field: &str, v: &str| -> Result<(), String> {
        if v.contains("{$") {
            Err(format!(
                "{field} {v:?} uses a macro with no value (secret macros are not readable through the API)"
            ))
        } else {
            Ok(())
        }
    };
    let mut credential = SnmpCredentialInput {
        name: String::new(),
        device_id: None,
        version: None,
        community: None,
        username: None,
        security_level: None,
        auth_protocol: None,
        auth_key: None,
        priv_protocol: None,
        priv_key: None,
        context: None,
    };
    let version = match snmp.version {
        1 | 2 => {
            let community = h.resolve(snmp.community.expose());
            unresolved("community", &community)?;
            credential.community = Some(Secret::new(community));
            if snmp.version == 1 {
                SnmpVersion::V1
            } else {
                SnmpVersion::V2c
            }
        }
        3 => {
            let user = h.resolve(&snmp.security_name);
            unresolved("security name", &user)?;
            let level = match snmp.security_level {
                0 => SecurityLevel::NoAuthNoPriv,
                1 => SecurityLevel::AuthNoPriv,
                _ => SecurityLevel::AuthPriv,
            };
            credential.username = Some(user);
            credential.security_level = Some(level);
            if level.has_auth() {
                let key = h.resolve(snmp.auth_passphrase.expose());
                unresolved("auth passphrase", &key)?;
                credential.auth_protocol = Some(match snmp.auth_protocol {
                    0 => AuthProtocol::Md5,
                    1 => AuthProtocol::Sha1,
                    2 => AuthProtocol::Sha224,
                    3 => AuthProtocol::Sha256,
                    4 => AuthProtocol::Sha384,
                    _ => AuthProtocol::Sha512,
                });
                credential.auth_key = Some(Secret::new(key));
            }
            if level.has_priv() {
                let key = h.resolve(snmp.priv_passphrase.expose());
                unresolved("privacy passphrase", &key)?;
                credential.priv_protocol = Some(match snmp.priv_protocol {
                    0 => PrivProtocol::Des,
                    1 => PrivProtocol::Aes128,
                    2 => PrivProtocol::Aes192,
                    3 => PrivProtocol::Aes256,
                    4 => PrivProtocol::Aes192Cisco,
                    _ => PrivProtocol::Aes256Cisco,
                });
                credential.priv_key = Some(Secret::new(key));
            }
            let context = h.resolve(&snmp.context_name);
            if !context.is_empty() {
                credential.context = Some(context);
            }
            SnmpVersion::V3
        }
        v => return Err(format!("SNMP version {v}")),
    };
    credential.version = Some(version);
    let name = if h.host.name.trim().is_empty() {
        h.host.host.clone()
    } else {
        h.host.name.clone()
    };
    let input = DeviceInput {
        name: name.clone(),
        ip: ip.to_string(),
        hostname: Some(h.host.host.clone()),
        vendor: None,
        device_type: None,
        model: None,
        location: None,
        region: None,
        branch: None,
        tags: vec!["zabbix-import".into()],
        enabled: Some(h.host.enabled),
        parent_id: None,
        source: Some(DeviceSource::Standalone),
        icmp_interval_s: None,
        snmp_port: Some(i32::from(snmp_port)),
    };
    Ok(Planned {
        plan: PlannedDevice {
            zabbix_host: h.host.host.clone(),
            name,
            ip,
            snmp_port,
            snmp_version: version.as_str().to_string(),
            groups: h.host.groups.iter().map(|g| g.name.clone()).collect(),
            templates: Vec::new(),
            unmapped_templates: Vec::new(),
            device_id: None,
        },
        input,
        credential,
    })
}
