//! Network discovery in the store, on SQLite and PostgreSQL: rules with their credential
//! candidates encrypted (and kept by name on edit), runs, results keyed by device identity
//! (a rerun updates its row), the link to monitored devices, and adding results to
//! monitoring all or nothing.

use std::collections::HashMap;
use std::net::IpAddr;

use sea_orm::{ConnectionTrait, Statement};
use uuid::Uuid;
use wardflux_model::InventoryEvent;
use wardflux_model::discovery::{
    CandidateInput, Classification, DiscoveryAction, DiscoveryRuleInput, Finding, ResultQuery,
    RunState,
};
use wardflux_model::inventory::{Actor, DeviceQuery, Secret, SnmpVersion};
use wardflux_model::snmp::SecurityLevel;
use wardflux_store::{Store, StoreError};

#[macro_use]
mod common;
use common::*;

fn v2c(name: &str, community: &str) -> CandidateInput {
    CandidateInput {
        name: name.into(),
        ..CandidateInput::community(community)
    }
}

fn v3(name: &str) -> CandidateInput {
    CandidateInput {
        name: name.into(),
        version: Some(SnmpVersion::V3),
        username: Some("ops".into()),
        auth_key: Some(Secret::new("auth-SECRET-2")),
        priv_key: Some(Secret::new("priv-SECRET-3")),
        ..Default::default()
    }
}

fn rule(name: &str, credentials: Vec<CandidateInput>) -> DiscoveryRuleInput {
    DiscoveryRuleInput {
        name: name.into(),
        ranges: vec!["10.0.0.0/24".into(), "10.0.1.1-10.0.1.20".into()],
        exclusions: vec!["10.0.0.1".into()],
        credentials,
        schedule: Some("0 */6 * * *".into()),
        ..Default::default()
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A device found over SNMP at `addr` (and `more`), identified by `identity`.
fn finding(identity: &str, addr: &str, more: &[&str], credential: Option<usize>) -> Finding {
    let mut addresses = vec![ip(addr)];
    addresses.extend(more.iter().map(|a| ip(a)));
    Finding {
        ip: Some(ip(addr)),
        addresses,
        alive: true,
        snmp: credential.is_some(),
        sys_name: Some(format!("sw-{identity}")),
        sys_descr: Some("Cisco IOS Software".into()),
        sys_object_id: Some("1.3.6.1.4.1.9.1.1".into()),
        sys_uptime_ticks: Some(12345),
        sys_location: Some("rack 4".into()),
        sys_contact: None,
        engine_id: Some(identity.into()),
        serial: None,
        mac_addresses: vec![],
        credential: credential.map(|i| format!("cand{i}")),
        credential_index: credential,
        class: Classification {
            vendor: Some("cisco".into()),
            os: Some("ios".into()),
            device_type: Some("switch".into()),
            rule: Some("cisco-ios".into()),
            confidence: 1.0,
        },
        identity: format!("engine:{identity}"),
    }
}

async fn raw_strings(s: &Store, sql: &str) -> Vec<String> {
    s.connection()
        .query_all_raw(Statement::from_string(
            s.connection().get_database_backend(),
            sql,
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "blob").unwrap())
        .collect()
}

async fn audit_text(s: &Store) -> String {
    serde_json::to_string(&s.list_audit(1000, 0).await.unwrap().items).unwrap()
}

both!(
    rule_crud_keeps_secrets_out_of_records_and_round_trips_them,
    |db| {
        let s = &db.store;
        let a = Actor::system();
        let r = s
            .create_discovery_rule(&a, rule("office", vec![v2c("", "comm-SECRET-1"), v3("")]))
            .await
            .unwrap();
        assert_eq!(r.ranges, ["10.0.0.0/24", "10.0.1.1-10.0.1.20"]);
        assert_eq!(r.exclusions, ["10.0.0.1"]);
        assert_eq!(r.schedule.as_deref(), Some("0 */6 * * *"));
        assert!(r.enabled && !r.allow_large);
        assert_eq!(r.action, DiscoveryAction::Record);
        assert_eq!(
            (r.rate_limit, r.concurrency),
            (
                wardflux_model::discovery::DEFAULT_RATE,
                wardflux_model::discovery::DEFAULT_CONCURRENCY
            )
        );
        assert_eq!(r.last_run, None);
        // default names, views without secrets
        assert_eq!(r.credentials[0].name, "v2c #1");
        assert_eq!(r.credentials[1].name, "v3 ops");
        assert!(r.credentials[0].has_community && !r.credentials[0].has_auth_key);
        assert!(r.credentials[1].has_auth_key && r.credentials[1].has_priv_key);
        assert_eq!(
            r.credentials[1].security_level,
            Some(SecurityLevel::AuthPriv)
        );
        let public = serde_json::to_string(&r).unwrap() + &format!("{r:?}");
        assert!(!public.contains("SECRET"), "{public}");
        assert_eq!(s.get_discovery_rule(r.id).await.unwrap(), r);
        assert_eq!(s.list_discovery_rules().await.unwrap(), vec![r.clone()]);

        // decrypted, in order, equal to what was given (after validation's defaults)
        let c = s.discovery_candidates(r.id).await.unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].community, Some(Secret::new("comm-SECRET-1")));
        assert_eq!(c[0].name, "v2c #1");
        assert_eq!(c[1].auth_key, Some(Secret::new("auth-SECRET-2")));
        assert_eq!(c[1].priv_key, Some(Secret::new("priv-SECRET-3")));
        assert_eq!(c[1].security_level, Some(SecurityLevel::AuthPriv));

        // at rest: one Fernet token, no secret in any column; none in the audit log
        let blobs = raw_strings(
            s,
            "SELECT credentials_encrypted AS blob FROM discovery_rules",
        )
        .await;
        assert!(blobs[0].starts_with("gAAAAA"), "{}", blobs[0]);
        let all = raw_strings(
        s,
        "SELECT name || network_range || coalesce(credentials_encrypted, '') || coalesce(CAST(credentials AS TEXT), '') AS blob FROM discovery_rules",
    )
    .await;
        assert!(!all[0].contains("SECRET"), "{}", all[0]);
        assert!(!audit_text(s).await.contains("SECRET"));

        // the name is unique
        let e = s
            .create_discovery_rule(&a, rule(" office ", vec![]))
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Conflict { ref field, .. } if field == "name"),
            "{e:?}"
        );
        // the model's checks run in the store
        let e = s
            .create_discovery_rule(
                &a,
                DiscoveryRuleInput {
                    ranges: vec![],
                    ..rule("x", vec![])
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref f) if f.field == "ranges"),
            "{e:?}"
        );
        let e = s
            .create_discovery_rule(
                &a,
                rule(
                    "x",
                    vec![CandidateInput {
                        version: Some(SnmpVersion::V2c),
                        ..Default::default()
                    }],
                ),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref f) if f.field == "credentials[0].community"),
            "{e:?}"
        );

        // candidate names are unique within a rule (secrets are kept by name on edit)
        let e = s
            .create_discovery_rule(
                &a,
                rule("x", vec![v2c("same", "a-SECRET"), v2c(" same", "b-SECRET")]),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref f) if f.field == "credentials[1].name"),
            "{e:?}"
        );

        let other = s
            .create_discovery_rule(&a, rule("other", vec![]))
            .await
            .unwrap();
        let e = s
            .update_discovery_rule(&a, other.id, rule("office", vec![]))
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Conflict { ref field, .. } if field == "name"),
            "{e:?}"
        );
        assert_eq!(s.discovery_candidates(other.id).await.unwrap(), vec![]);

        s.delete_discovery_rule(&a, r.id).await.unwrap();
        assert!(matches!(
            s.get_discovery_rule(r.id).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            s.delete_discovery_rule(&a, r.id).await,
            Err(StoreError::NotFound { .. })
        ));
        let audit = s.list_audit(100, 0).await.unwrap();
        let actions: Vec<&str> = audit
            .items
            .iter()
            .filter(|e| e.entity == "discovery_rule")
            .map(|e| e.action.as_str())
            .collect();
        assert_eq!(
            actions,
            [
                "discovery_rule.delete",
                "discovery_rule.create",
                "discovery_rule.create"
            ]
        );
    }
);

both!(update_keeps_stored_secrets_by_candidate_name, |db| {
    let s = &db.store;
    let a = Actor::system();
    let r = s
        .create_discovery_rule(&a, rule("r", vec![v2c("lab", "comm-SECRET-1"), v3("ops")]))
        .await
        .unwrap();
    let no_secret = |name: &str, version| CandidateInput {
        name: name.into(),
        version: Some(version),
        ..Default::default()
    };
    // The UI sends the rule back without secrets, reordered, with a new candidate and other
    // changes: stored secrets follow their names.
    let ops = CandidateInput {
        username: Some("ops".into()),
        ..no_secret("ops", SnmpVersion::V3)
    };
    let mut edit = rule(
        "r2",
        vec![
            v2c("new", "new-SECRET-4"),
            ops.clone(),
            no_secret("lab", SnmpVersion::V2c),
        ],
    );
    edit.rate_limit = Some(50);
    edit.action = Some(DiscoveryAction::Add);
    let u = s.update_discovery_rule(&a, r.id, edit).await.unwrap();
    assert_eq!(
        (u.name.as_str(), u.rate_limit, u.action),
        ("r2", 50, DiscoveryAction::Add)
    );
    assert_eq!(u.created_at, r.created_at);
    let names: Vec<&str> = u.credentials.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["new", "ops", "lab"]);
    let c = s.discovery_candidates(r.id).await.unwrap();
    assert_eq!(c[0].community, Some(Secret::new("new-SECRET-4")));
    assert_eq!(c[1].auth_key, Some(Secret::new("auth-SECRET-2")));
    assert_eq!(c[1].priv_key, Some(Secret::new("priv-SECRET-3")));
    assert_eq!(c[2].community, Some(Secret::new("comm-SECRET-1")));

    // a candidate without secret and without a stored namesake is refused, naming the field
    let e = s
        .update_discovery_rule(
            &a,
            r.id,
            rule(
                "r2",
                vec![ops.clone(), no_secret("renamed", SnmpVersion::V2c)],
            ),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref f) if f.field == "credentials[1].community"),
        "{e:?}"
    );
    let e = s
        .update_discovery_rule(
            &a,
            r.id,
            rule(
                "r2",
                vec![CandidateInput {
                    username: Some("x".into()),
                    security_level: Some(SecurityLevel::AuthNoPriv),
                    ..no_secret("v3 x", SnmpVersion::V3)
                }],
            ),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref f) if f.field == "credentials[0].auth_key"),
        "{e:?}"
    );
    // refused edits changed nothing
    assert_eq!(s.get_discovery_rule(r.id).await.unwrap(), u);
    let audit = audit_text(s).await;
    assert!(!audit.contains("SECRET"));
    assert!(audit.contains("discovery_rule.update"));
    assert!(matches!(
        s.update_discovery_rule(&a, Uuid::new_v4(), rule("z", vec![]))
            .await,
        Err(StoreError::NotFound { .. })
    ));
});

both!(runs_start_update_list_and_interrupted_runs_fail, |db| {
    let s = &db.store;
    let a = Actor::system();
    let r = s
        .create_discovery_rule(&a, rule("r", vec![v2c("lab", "comm-SECRET-1")]))
        .await
        .unwrap();
    // a rule's run given no candidates keeps its rule's
    let run1 = s.start_discovery_run(Some(r.id), 254, &[]).await.unwrap();
    assert_eq!(run1.state, RunState::Running);
    assert_eq!((run1.total, run1.done, run1.found), (254, 0, 0));
    assert_eq!(run1.rule_id, Some(r.id));
    assert_eq!(
        s.get_discovery_rule(r.id).await.unwrap().last_run,
        Some(run1.started_at)
    );
    assert_eq!(
        s.discovery_run_candidates(run1.id).await.unwrap()[0].community,
        Some(Secret::new("comm-SECRET-1"))
    );
    // an ad-hoc scan keeps its own
    let run2 = s
        .start_discovery_run(None, 10, &[v2c("adhoc", "adhoc-SECRET")])
        .await
        .unwrap();
    assert_eq!(
        s.discovery_run_candidates(run2.id).await.unwrap()[0].name,
        "adhoc"
    );
    assert!(matches!(
        s.start_discovery_run(Some(Uuid::new_v4()), 1, &[]).await,
        Err(StoreError::NotFound { .. })
    ));

    let mut done = run1.clone();
    done.state = RunState::Done;
    done.done = 254;
    done.alive = 12;
    done.snmp = 9;
    done.found = 8;
    done.new = 3;
    done.added = 1;
    done.finished_at = Some(run1.started_at + chrono::Duration::seconds(5));
    done.duration_ms = Some(5000);
    s.update_discovery_run(&done).await.unwrap();
    assert_eq!(s.get_discovery_run(run1.id).await.unwrap(), done);

    let all = s.list_discovery_runs(None, 50).await.unwrap();
    let ids: Vec<Uuid> = all.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 2);
    assert!(all[0].started_at >= all[1].started_at, "newest first");
    assert_eq!(
        s.list_discovery_runs(Some(r.id), 50).await.unwrap(),
        vec![done.clone()]
    );
    assert_eq!(s.list_discovery_runs(None, 1).await.unwrap().len(), 1);

    // the server restarts: the running run fails, the finished one is untouched
    assert_eq!(s.fail_interrupted_runs().await.unwrap(), 1);
    let r2 = s.get_discovery_run(run2.id).await.unwrap();
    assert_eq!(r2.state, RunState::Failed);
    assert_eq!(r2.error.as_deref(), Some("interrupted by a restart"));
    assert!(r2.finished_at.is_some() && r2.duration_ms.is_some());
    assert_eq!(s.get_discovery_run(run1.id).await.unwrap(), done);
    assert_eq!(s.fail_interrupted_runs().await.unwrap(), 0);

    // deleting the rule keeps its runs, without a rule
    s.delete_discovery_rule(&a, r.id).await.unwrap();
    assert_eq!(s.get_discovery_run(run1.id).await.unwrap().rule_id, None);
});

both!(
    a_rerun_updates_rows_by_identity_and_keeps_the_working_credential,
    |db| {
        let s = &db.store;
        let a = Actor::system();
        let r = s
            .create_discovery_rule(&a, rule("r", vec![]))
            .await
            .unwrap();
        let cands = vec![v2c("wrong", "nope-SECRET"), v2c("lab", "comm-SECRET-1")];
        let run1 = s.start_discovery_run(Some(r.id), 20, &cands).await.unwrap();
        let f1 = vec![
            finding("a", "10.0.0.10", &[], Some(1)),
            finding("b", "10.0.0.2", &["10.0.0.3"], Some(1)),
            Finding {
                identity: "ip:10.0.0.7".into(),
                ..finding("c", "10.0.0.7", &[], None)
            },
        ];
        let o1 = s
            .record_discovery_findings(run1.id, Some(r.id), &f1, &cands)
            .await
            .unwrap();
        assert_eq!((o1.found, o1.new, o1.result_ids.len()), (3, 3, 3));

        let page = s
            .list_discovery_results(&ResultQuery::default())
            .await
            .unwrap();
        assert_eq!(page.total, 3);
        // numeric address order, not text order
        let ips: Vec<String> = page
            .items
            .iter()
            .map(|x| x.finding.ip.unwrap().to_string())
            .collect();
        assert_eq!(ips, ["10.0.0.2", "10.0.0.7", "10.0.0.10"]);
        let b = s.get_discovery_result(o1.result_ids[1]).await.unwrap();
        assert_eq!(b.finding.addresses, [ip("10.0.0.2"), ip("10.0.0.3")]);
        assert_eq!(b.finding.credential.as_deref(), Some("cand1"));
        assert_eq!(b.finding.class.vendor.as_deref(), Some("cisco"));
        assert_eq!(b.finding.sys_uptime_ticks, Some(12345));
        assert_eq!(
            (b.job_id, b.rule_id, b.device_id),
            (run1.id, Some(r.id), None)
        );
        assert_eq!(b.first_seen, b.last_seen);
        let cred = s.discovery_result_credential(b.id).await.unwrap().unwrap();
        assert_eq!(
            (cred.name.as_str(), cred.community),
            ("lab", Some(Secret::new("comm-SECRET-1")))
        );
        assert_eq!(
            s.discovery_result_credential(o1.result_ids[2])
                .await
                .unwrap(),
            None
        );
        let public = serde_json::to_string(&page.items).unwrap();
        assert!(!public.contains("SECRET"));
        let blobs = raw_strings(
            s,
            "SELECT coalesce(credential_encrypted, 'none') AS blob FROM discovery_results",
        )
        .await;
        assert!(
            blobs.iter().all(|b| b == "none" || b.starts_with("gAAAAA")),
            "{blobs:?}"
        );
        let runs = raw_strings(s, "SELECT candidates_encrypted AS blob FROM discovery_runs").await;
        assert!(
            runs.iter()
                .all(|b| b.starts_with("gAAAAA") && !b.contains("SECRET"))
        );

        // The next run sees b on another address, a again, and a new device d: b and a are
        // updated in place (same ids, first_seen kept), d is new.
        let run2 = s.start_discovery_run(None, 20, &cands[..1]).await.unwrap();
        let mut b2 = finding("b", "10.0.0.4", &["10.0.0.2"], Some(0));
        b2.sys_name = Some("renamed".into());
        b2.class.device_type = Some("router".into());
        let f2 = vec![
            b2,
            finding("d", "10.0.0.1", &[], None),
            finding("a", "10.0.0.10", &[], None),
        ];
        let o2 = s
            .record_discovery_findings(run2.id, None, &f2, &cands[..1])
            .await
            .unwrap();
        assert_eq!((o2.found, o2.new), (3, 1));
        assert_eq!(o2.result_ids[0], o1.result_ids[1]);
        assert_eq!(o2.result_ids[2], o1.result_ids[0]);
        let b = s.get_discovery_result(o1.result_ids[1]).await.unwrap();
        assert_eq!(b.finding.ip, Some(ip("10.0.0.4")));
        assert_eq!(b.finding.addresses, [ip("10.0.0.4"), ip("10.0.0.2")]);
        assert_eq!(b.finding.sys_name.as_deref(), Some("renamed"));
        assert_eq!(b.finding.class.device_type.as_deref(), Some("router"));
        assert_eq!((b.job_id, b.rule_id), (run2.id, None));
        assert!(b.last_seen >= b.first_seen);
        assert_eq!(
            b.first_seen,
            s.get_discovery_result(o1.result_ids[1])
                .await
                .unwrap()
                .first_seen
        );
        assert_eq!(
            s.discovery_result_credential(b.id)
                .await
                .unwrap()
                .unwrap()
                .name,
            "wrong"
        );
        // a no longer answered SNMP: no credential kept
        assert_eq!(
            s.discovery_result_credential(o1.result_ids[0])
                .await
                .unwrap(),
            None
        );
        let all = s
            .list_discovery_results(&ResultQuery::default())
            .await
            .unwrap();
        assert_eq!(all.total, 4);

        // filters
        let q = |f: ResultQuery| async move { s.list_discovery_results(&f).await.unwrap().total };
        assert_eq!(
            q(ResultQuery {
                job_id: Some(run2.id),
                ..Default::default()
            })
            .await,
            3
        );
        assert_eq!(
            q(ResultQuery {
                job_id: Some(run1.id),
                ..Default::default()
            })
            .await,
            1
        );
        assert_eq!(
            q(ResultQuery {
                rule_id: Some(r.id),
                ..Default::default()
            })
            .await,
            1
        );
        assert_eq!(
            q(ResultQuery {
                device_type: Some("router".into()),
                ..Default::default()
            })
            .await,
            1
        );
        assert_eq!(
            q(ResultQuery {
                vendor: Some("cisco".into()),
                ..Default::default()
            })
            .await,
            4
        );
        let p = s
            .list_discovery_results(&ResultQuery {
                limit: Some(2),
                offset: Some(1),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!((p.total, p.items.len(), p.limit, p.offset), (4, 2, 2, 1));
        for bad in [0, 1001] {
            let e = s
                .list_discovery_results(&ResultQuery {
                    limit: Some(bad),
                    ..Default::default()
                })
                .await
                .unwrap_err();
            assert!(matches!(e, StoreError::Invalid(ref f) if f.field == "limit"));
        }
        // a credential index outside the candidates is refused, nothing written
        let e = s
            .record_discovery_findings(
                run2.id,
                None,
                &[finding("z", "10.0.0.99", &[], Some(5))],
                &cands,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref f) if f.field == "findings[0].credential_index"),
            "{e:?}"
        );
        assert!(matches!(
            s.record_discovery_findings(Uuid::new_v4(), None, &f2, &cands)
                .await,
            Err(StoreError::NotFound { .. })
        ));
        // deleting the rule keeps its results; a scan still running records with no rule
        let rid_res = o1.result_ids[2];
        s.delete_discovery_rule(&a, r.id).await.unwrap();
        assert_eq!(s.get_discovery_result(rid_res).await.unwrap().rule_id, None);
        let late = s
            .record_discovery_findings(run1.id, Some(r.id), &f1[..1], &cands)
            .await
            .unwrap();
        let late = s.get_discovery_result(late.result_ids[0]).await.unwrap();
        assert_eq!(late.rule_id, None);
    }
);

both!(
    results_are_linked_to_monitored_devices_and_filtered_new_or_known,
    |db| {
        let s = &db.store;
        let run = s.start_discovery_run(None, 10, &[]).await.unwrap();
        let f = vec![
            finding("a", "10.0.0.1", &[], None),
            // monitored under its second address
            finding("b", "10.0.0.2", &["192.168.5.5"], None),
            finding("c", "10.0.0.3", &[], None),
        ];
        let o = s
            .record_discovery_findings(run.id, None, &f, &[])
            .await
            .unwrap();
        assert!(
            s.list_discovery_results(&ResultQuery::default())
                .await
                .unwrap()
                .items
                .iter()
                .all(|r| r.device_id.is_none())
        );

        let d1 = add_device(s, "core", "10.0.0.1").await;
        let d2 = add_device(s, "edge", "192.168.5.5").await;
        // the link is kept up to date on every record
        s.record_discovery_findings(run.id, None, &f, &[])
            .await
            .unwrap();
        let ids =
            |p: wardflux_model::inventory::Page<wardflux_model::discovery::DiscoveryResult>| {
                p.items
                    .into_iter()
                    .map(|r| (r.id, r.device_id))
                    .collect::<Vec<_>>()
            };
        let status = |st: &str| ResultQuery {
            status: Some(st.into()),
            ..Default::default()
        };
        assert_eq!(
            ids(s.list_discovery_results(&status("known")).await.unwrap()),
            [
                (o.result_ids[0], Some(d1.id)),
                (o.result_ids[1], Some(d2.id))
            ]
        );
        assert_eq!(
            ids(s.list_discovery_results(&status("new")).await.unwrap()),
            [(o.result_ids[2], None)]
        );
        let e = s
            .list_discovery_results(&status("added"))
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref f) if f.field == "status"),
            "{e:?}"
        );

        // a device removed: its result is new again
        s.delete_device(&Actor::system(), d2.id).await.unwrap();
        assert_eq!(
            s.get_discovery_result(o.result_ids[1])
                .await
                .unwrap()
                .device_id,
            None
        );
        s.record_discovery_findings(run.id, None, &f, &[])
            .await
            .unwrap();
        assert_eq!(
            s.list_discovery_results(&status("new"))
                .await
                .unwrap()
                .total,
            2
        );
    }
);

fn template() -> wardflux_template::Template {
    wardflux_template::parse(
        r#"{"name": "T", "items": [{"name": "CPU", "key": "cpu_usage", "oid": "1.3.6.1.4.1.9.2.1.57.0"}]}"#,
    )
    .unwrap()
}

both!(
    adding_results_creates_devices_credentials_and_template_assignments,
    |db| {
        let s = &db.store;
        let a = Actor::system();
        let t = s.create_template(&a, template()).await.unwrap();
        let cands = vec![v2c("lab", "comm-SECRET-1"), v3("ops")];
        let run = s.start_discovery_run(None, 10, &cands).await.unwrap();
        let mut noname = finding("b", "10.0.0.2", &[], Some(1));
        noname.sys_name = Some("  ".into());
        let mut icmp_only = finding("c", "10.0.0.3", &[], None);
        icmp_only.class = Classification::default();
        let o = s
            .record_discovery_findings(
                run.id,
                None,
                &[finding("a", "10.0.0.1", &[], Some(0)), noname, icmp_only],
                &cands,
            )
            .await
            .unwrap();
        let [ra, rb, rc] = [o.result_ids[0], o.result_ids[1], o.result_ids[2]];
        let mut ev = s.subscribe();
        let devices = s
            .add_discovered_devices(&a, &[ra, rb, rc], &HashMap::from([(ra, t.id), (rc, t.id)]))
            .await
            .unwrap();
        assert_eq!(devices.len(), 3);
        let (da, db_, dc) = (&devices[0], &devices[1], &devices[2]);
        assert_eq!(
            (
                da.name.as_str(),
                da.ip,
                da.hostname.as_deref(),
                da.vendor.as_deref(),
                da.device_type.as_deref(),
                da.location.as_deref()
            ),
            (
                "sw-a",
                ip("10.0.0.1"),
                Some("sw-a"),
                Some("cisco"),
                Some("switch"),
                Some("rack 4")
            )
        );
        assert_eq!(
            (db_.name.as_str(), db_.hostname.as_deref()),
            ("10.0.0.2", None)
        );
        assert_eq!(
            (dc.vendor.as_deref(), dc.device_type.as_deref()),
            (None, None)
        );

        // the credential that worked became each device's own
        let ca = s.snmp_credential_for_device(da.id).await.unwrap().unwrap();
        assert_eq!((ca.device_id, ca.version), (Some(da.id), SnmpVersion::V2c));
        assert_eq!(
            s.snmp_secrets(ca.id)
                .await
                .unwrap()
                .community
                .unwrap()
                .expose(),
            "comm-SECRET-1"
        );
        let cb = s.snmp_credential_for_device(db_.id).await.unwrap().unwrap();
        assert_eq!(
            (cb.device_id, cb.version, cb.username.as_deref()),
            (Some(db_.id), SnmpVersion::V3, Some("ops"))
        );
        assert_eq!(
            s.snmp_secrets(cb.id)
                .await
                .unwrap()
                .priv_key
                .unwrap()
                .expose(),
            "priv-SECRET-3"
        );
        assert!(
            s.snmp_credential_for_device(dc.id).await.unwrap().is_none(),
            "no SNMP, no credential"
        );

        // the templates asked for are applied
        let assigned: Vec<Uuid> = s
            .get_template(t.id)
            .await
            .unwrap()
            .devices
            .iter()
            .map(|x| x.device_id)
            .collect();
        let mut want = vec![da.id, dc.id];
        want.sort();
        assert_eq!(assigned, want);
        assert_eq!(s.list_items(Some(da.id)).await.unwrap().len(), 1);
        assert!(s.list_items(Some(db_.id)).await.unwrap().is_empty());

        // results are known now
        for (r, d) in [(ra, da), (rb, db_), (rc, dc)] {
            assert_eq!(
                s.get_discovery_result(r).await.unwrap().device_id,
                Some(d.id)
            );
        }
        // events after commit: devices, credentials, templates
        let mut got = Vec::new();
        while let Ok(e) = ev.try_recv() {
            got.push(e);
        }
        for d in &devices {
            assert!(got.contains(&InventoryEvent::DeviceAdded(d.id)));
        }
        assert!(got.contains(&InventoryEvent::CredentialsChanged(Some(da.id))));
        assert!(got.contains(&InventoryEvent::TemplatesChanged));
        let audit = audit_text(s).await;
        assert!(audit.contains("discovery_result.add") && audit.contains("template.apply"));
        assert!(!audit.contains("SECRET"));

        // adding again is refused
        let e = s
            .add_discovered_devices(&a, &[ra], &HashMap::new())
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Rows(ref rows) if rows.len() == 1 && rows[0].row == 0),
            "{e:?}"
        );
    }
);

both!(
    adding_results_is_all_or_nothing_and_lists_every_bad_row,
    |db| {
        let s = &db.store;
        let a = Actor::system();
        let cands = vec![v2c("lab", "comm-SECRET-1")];
        let run = s.start_discovery_run(None, 10, &cands).await.unwrap();
        let no_address = Finding {
            ip: None,
            addresses: vec![],
            identity: "serial:X1".into(),
            ..finding("n", "10.0.0.9", &[], None)
        };
        let o = s
            .record_discovery_findings(
                run.id,
                None,
                &[
                    finding("good", "10.0.0.1", &[], Some(0)),
                    finding("taken", "10.0.0.2", &[], None),
                    no_address,
                    finding("good2", "10.0.0.4", &[], None),
                ],
                &cands,
            )
            .await
            .unwrap();
        let [good, taken, noaddr, good2] = [
            o.result_ids[0],
            o.result_ids[1],
            o.result_ids[2],
            o.result_ids[3],
        ];
        // 10.0.0.2 became a device after the scan (result not linked yet)
        add_device(s, "existing", "10.0.0.2").await;
        let before = s.list_devices(&DeviceQuery::default()).await.unwrap().total;
        let audit_before = s.list_audit(1000, 0).await.unwrap().total;
        let unknown = Uuid::new_v4();
        let missing_template = Uuid::new_v4();
        let e = s
            .add_discovered_devices(
                &a,
                &[good, unknown, taken, noaddr, good, good2],
                &HashMap::from([(good2, missing_template)]),
            )
            .await
            .unwrap_err();
        let StoreError::Rows(rows) = e else {
            panic!("{e:?}")
        };
        let got: Vec<(u64, &str)> = rows.iter().map(|r| (r.row, r.field.as_str())).collect();
        let good2_field = format!("templates.{good2}");
        assert_eq!(
            got,
            [
                (1, "result_ids[1]"),
                (2, "result_ids[2]"),
                (3, "result_ids[3]"),
                (4, "result_ids[4]"),
                (5, good2_field.as_str()),
            ],
            "{rows:?}"
        );
        assert!(
            rows[0].message.contains(&unknown.to_string()) && rows[0].message.contains("not found")
        );
        assert!(rows[1].message.contains("10.0.0.2"));
        assert!(rows[2].message.contains("no address"));
        assert!(rows[3].message.contains("more than once"));
        assert!(rows[4].message.contains(&missing_template.to_string()));
        // nothing was written
        assert_eq!(
            s.list_devices(&DeviceQuery::default()).await.unwrap().total,
            before
        );
        assert_eq!(s.list_audit(1000, 0).await.unwrap().total, audit_before);
        assert_eq!(s.get_discovery_result(good).await.unwrap().device_id, None);
        assert!(s.list_snmp_credentials().await.unwrap().is_empty());
        // two results on the same address in one request: the second is refused
        let run2 = s.start_discovery_run(None, 1, &[]).await.unwrap();
        let o2 = s
            .record_discovery_findings(
                run2.id,
                None,
                &[finding("twin", "10.0.0.1", &[], None)],
                &[],
            )
            .await
            .unwrap();
        let e = s
            .add_discovered_devices(&a, &[good, o2.result_ids[0]], &HashMap::new())
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Rows(ref r) if r.len() == 1 && r[0].row == 1),
            "{e:?}"
        );
        assert!(matches!(
            s.add_discovered_devices(&a, &[], &HashMap::new()).await,
            Err(StoreError::Invalid(_))
        ));
        // the good ones alone go through
        let d = s
            .add_discovered_devices(&a, &[good, good2], &HashMap::new())
            .await
            .unwrap();
        assert_eq!(d.len(), 2);
    }
);

both!(classifier_overrides_are_stored_and_audited, |db| {
    let s = &db.store;
    let a = Actor::system();
    assert_eq!(s.classifier_overrides().await.unwrap(), None);
    let j = r#"{"rules":[{"id":"my-fw","sys_object_id":"1.3.6.1.4.1.99999","device_type":"firewall"}]}"#;
    s.set_classifier_overrides(&a, Some(j.into()))
        .await
        .unwrap();
    assert_eq!(s.classifier_overrides().await.unwrap().as_deref(), Some(j));
    let j2 = r#"{"rules":[]}"#;
    s.set_classifier_overrides(&a, Some(j2.into()))
        .await
        .unwrap();
    assert_eq!(s.classifier_overrides().await.unwrap().as_deref(), Some(j2));
    s.set_classifier_overrides(&a, None).await.unwrap();
    assert_eq!(s.classifier_overrides().await.unwrap(), None);
    let audit = s.list_audit(100, 0).await.unwrap();
    let rows: Vec<_> = audit
        .items
        .iter()
        .filter(|e| e.action == "discovery.classifier_overrides")
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0].before.as_ref().unwrap()["rules"],
        serde_json::json!([])
    );
    assert_eq!(rows[0].after, None);
    assert_eq!(rows[2].after.as_ref().unwrap()["rules"][0]["id"], "my-fw");
});

both!(key_rotation_reencrypts_discovery_secrets, |db| {
    let s = &db.store;
    let a = Actor::system();
    let cands = vec![v2c("lab", "comm-SECRET-1")];
    let r = s
        .create_discovery_rule(&a, rule("r", cands.clone()))
        .await
        .unwrap();
    let run = s.start_discovery_run(Some(r.id), 1, &[]).await.unwrap();
    let o = s
        .record_discovery_findings(
            run.id,
            Some(r.id),
            &[finding("a", "10.0.0.1", &[], Some(0))],
            &cands,
        )
        .await
        .unwrap();
    // rule, run, result: one token each
    assert_eq!(s.rotate_key(&a, key()).await.unwrap(), 3);
    let secret = Some(Secret::new("comm-SECRET-1"));
    assert_eq!(
        s.discovery_candidates(r.id).await.unwrap()[0].community,
        secret
    );
    assert_eq!(
        s.discovery_run_candidates(run.id).await.unwrap()[0].community,
        secret
    );
    assert_eq!(
        s.discovery_result_credential(o.result_ids[0])
            .await
            .unwrap()
            .unwrap()
            .community,
        secret
    );
});
