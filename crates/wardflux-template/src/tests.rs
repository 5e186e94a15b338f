use super::*;

fn problems(json: &str) -> Vec<String> {
    match parse(json) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn the_seed_shape_parses_and_keys_derive_from_names() {
    let t = parse(
        r#"{"name": "Seed", "description": "d", "device_types": ["router"],
            "items": [{"name": "CPU Usage", "oid": "1.3.6.1.4.1.9.2.1.56.0", "interval": 60,
                       "units": "%", "value_type": "integer"}],
            "triggers": [{"name": "High CPU", "expression": "cpu_usage > 90", "severity": "high"}]}"#,
    )
    .unwrap();
    let (plan, trig) = expand(&t, Uuid::nil(), Uuid::nil(), &BTreeMap::new()).unwrap();
    assert_eq!(plan.items[0].key, "cpu_usage");
    assert_eq!(plan.items[0].value_type, ValueType::Integer);
    assert_eq!(plan.items[0].interval_seconds, 60);
    assert_eq!(trig[0].severity, Severity::High);
}

#[test]
fn snake_case_names() {
    assert_eq!(snake_case("CPU Usage"), "cpu_usage");
    assert_eq!(snake_case("  Memory -- used (bytes) "), "memory_used_bytes");
    assert_eq!(snake_case("ifHCInOctets"), "if_hcin_octets");
    assert_eq!(snake_case("5 second CPU"), "_5_second_cpu");
}

#[test]
fn every_problem_is_reported_with_its_path() {
    let p = problems(
        r#"{"name": "Bad",
            "macros": {"{$X}": "1", "lower": "2"},
            "items": [
              {"name": "a", "oid": "1.3.6.1.2.1.1.3.0"},
              {"name": "b", "oid": "1.3.6.1.2.1.1.5.0", "value_type": "text"},
              {"name": "c", "oid": "sysName.0", "interval": 0},
              {"name": "a", "oid": "1.3.6.1.2.1.1.1.0", "interval": "{$NOPE}"},
              {"name": "d", "oid": "1.3.6.1.2.1.1.1.0", "preprocess": {"op": "ratio", "other": "zz"}}
            ],
            "discovery": [{"name": "t", "columns": {"n": "1.3.6.1.2.1.2.2.1.2"},
                           "filters": [{"label": "n", "regex": "(["}, {"label": "q", "regex": "x"}],
                           "items": [{"name": "p", "oid": "1.3.x"}]}],
            "triggers": [{"name": "t", "expression": "cpu_usage >", "severity": "urgent"}]}"#,
    );
    let want = [
        "macros.lower: macro names are {$NAME}",
        "items[1].value_type: unknown value_type \"text\"",
        "items[2].oid: \"sysName.0\" is not a numeric OID",
        "items[2].interval: must be at least 1 second",
        "items[3].key: duplicate key \"a\" (also items[0])",
        "items[3].interval: unknown macro {$NOPE}",
        "items[4].preprocess.other: names no item: \"zz\"",
        "discovery[0].filters[0].regex: bad regex",
        "discovery[0].filters[1].label: \"q\" is not a column",
        "discovery[0].items[0].oid: \"1.3.x\" is not a numeric OID",
        "triggers[0].severity: unknown severity \"urgent\"",
        "triggers[0].expression: not PromQL",
    ];
    for w in want {
        assert!(
            p.iter().any(|x| x.starts_with(w)),
            "missing {w:?} in {p:#?}"
        );
    }
    assert_eq!(p.len(), want.len(), "{p:#?}");
}

#[test]
fn structural_errors_name_the_path() {
    let e = parse(r#"{"name": "x", "items": [{"name": "a", "oid": "1.3.6.1", "intreval": 5}]}"#)
        .unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!(e.0[0].path, "items[0].intreval");
    assert!(e.0[0].message.contains("intreval"), "{e}");
    let e = parse(r#"{"name": "x", "items": [{"name": "a", "oid": "1.3.6.1", "preprocess": {"op": "sqrt"}}]}"#)
        .unwrap_err();
    assert_eq!(e.0[0].path, "items[0].preprocess.op");
}

#[test]
fn macros_expand_in_oids_intervals_filters_and_triggers_and_overrides_win() {
    let t = parse(
        r#"{"name": "M", "macros": {"{$CPU_HIGH}": "90", "{$IV}": "5m", "{$ENT}": "9", "{$SKIP}": "^lo$"},
            "items": [{"name": "cpu", "key": "cpu_usage", "oid": "1.3.6.1.4.1.{$ENT}.2.1.57.0", "interval": "{$IV}"}],
            "discovery": [{"name": "If", "columns": {"ifName": "1.3.6.1.2.1.31.1.1.1.1"}, "index_label": "ifIndex",
                           "key_labels": ["ifName"], "filters": [{"label": "ifName", "regex": "{$SKIP}", "negate": true}],
                           "items": [{"name": "in", "key": "interface_in_octets_per_second", "oid": "1.3.6.1.2.1.31.1.1.1.6", "value_type": "counter"}]}],
            "triggers": [{"name": "High CPU", "expression": "cpu_usage > {$CPU_HIGH} for 5m", "severity": "high"}]}"#,
    )
    .unwrap();
    let tid = Uuid::from_u128(1);
    let dev = Uuid::from_u128(2);
    let (plan, trig) = expand(&t, tid, dev, &BTreeMap::new()).unwrap();
    assert_eq!(plan.items[0].oid, "1.3.6.1.4.1.9.2.1.57.0");
    assert_eq!(plan.items[0].interval_seconds, 300);
    assert_eq!(plan.discoveries[0].filters[0].regex, "^lo$");
    assert_eq!(
        plan.discoveries[0].interval_seconds,
        DEFAULT_DISCOVERY_INTERVAL
    );
    assert_eq!(trig[0].expression, "cpu_usage > 90 for 5m");

    let over = BTreeMap::from([("{$CPU_HIGH}".to_string(), "50".to_string())]);
    let (plan2, trig2) = expand(&t, tid, dev, &over).unwrap();
    assert_eq!(trig2[0].expression, "cpu_usage > 50 for 5m");
    // Ids are stable: the same template, device and key give the same ids.
    assert_eq!(plan2.items[0].id, plan.items[0].id);
    assert_eq!(plan.items[0].id, item_id(tid, dev, "cpu_usage"));
    assert_ne!(
        plan.items[0].id,
        item_id(tid, Uuid::from_u128(3), "cpu_usage")
    );
    assert_eq!(
        plan.discoveries[0].prototypes[0].id,
        prototype_id(tid, "if", "interface_in_octets_per_second")
    );
    assert_eq!(trig[0].id, trigger_id(tid, "High CPU"));

    let bad = BTreeMap::from([("{$NOT_DEFINED}".to_string(), "1".to_string())]);
    let e = expand(&t, tid, dev, &bad).unwrap_err();
    assert_eq!(e.first().path, "macros.{$NOT_DEFINED}");
    let bad = BTreeMap::from([("{$IV}".to_string(), "0".to_string())]);
    let e = expand(&t, tid, dev, &bad).unwrap_err();
    assert_eq!(e.first().path, "items[0].interval");
}

#[test]
fn every_shipped_template_validates_and_expands() {
    let all = builtin::all().unwrap_or_else(|(f, e)| panic!("{f}: {e}"));
    assert_eq!(all.len(), 8);
    let mut names = BTreeSet::new();
    for t in &all {
        assert!(names.insert(t.name.clone()), "duplicate name {}", t.name);
        let (plan, _) = expand(t, Uuid::from_u128(7), Uuid::from_u128(8), &BTreeMap::new())
            .unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert!(!plan.items.is_empty() || !plan.discoveries.is_empty());
    }
    let cisco = all.iter().find(|t| t.name == "Cisco IOS/IOS-XE").unwrap();
    let (plan, trig) = expand(cisco, Uuid::nil(), Uuid::nil(), &BTreeMap::new()).unwrap();
    assert!(
        plan.items
            .iter()
            .any(|i| i.key == "cpu_usage" && i.oid == "1.3.6.1.4.1.9.2.1.57.0")
    );
    assert!(trig.iter().any(|t| t.expression == "cpu_usage > 90"));
    let generic = all.iter().find(|t| t.name == "Generic SNMP").unwrap();
    let (plan, _) = expand(generic, Uuid::nil(), Uuid::nil(), &BTreeMap::new()).unwrap();
    let keys: Vec<_> = plan.discoveries[0]
        .prototypes
        .iter()
        .map(|p| p.key.as_str())
        .collect();
    for k in [
        "interface_in_octets_per_second",
        "interface_out_octets_per_second",
        "interface_in_errors_per_second",
        "interface_out_errors_per_second",
        "interface_status",
        "interface_oper_status",
    ] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
    }
}

#[test]
fn table_presets_fill_columns_index_and_keys() {
    let t = parse(
        r#"{"name": "P", "discovery": [
              {"name": "If", "table": "ifXTable", "columns": {"ifSpeed": "1.3.6.1.2.1.31.1.1.1.15"},
               "items": [{"name": "in", "key": "interface_in_octets_per_second", "oid": "1.3.6.1.2.1.31.1.1.1.6", "value_type": "counter"}]},
              {"name": "Old", "table": "ifTable", "key_labels": ["ifIndex"],
               "items": [{"name": "in", "key": "interface_in_octets_per_second", "oid": "1.3.6.1.2.1.2.2.1.10", "value_type": "counter"}]}]}"#,
    )
    .unwrap();
    let (plan, _) = expand(&t, Uuid::nil(), Uuid::nil(), &BTreeMap::new()).unwrap();
    let x = &plan.discoveries[0];
    assert_eq!(x.index_label, "ifIndex");
    assert_eq!(x.key_labels, ["ifName", "ifDescr"]);
    assert_eq!(x.columns["ifName"], "1.3.6.1.2.1.31.1.1.1.1");
    assert_eq!(x.columns["ifSpeed"], "1.3.6.1.2.1.31.1.1.1.15");
    let o = &plan.discoveries[1];
    assert_eq!(o.key_labels, ["ifIndex"]);
    assert_eq!(o.columns.keys().collect::<Vec<_>>(), ["ifDescr", "ifType"]);
    let p = problems(
        r#"{"name": "P", "discovery": [{"name": "x", "table": "ipTable", "items": [{"name": "a", "oid": "1.3.6.1"}]}]}"#,
    );
    assert!(
        p[0].starts_with("discovery[0].table: unknown table preset"),
        "{p:?}"
    );
}
