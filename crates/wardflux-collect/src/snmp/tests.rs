use super::*;
use wardflux_model::PollPlan;

fn item(key: &str, oid: &str, secs: u32, value_type: ValueType) -> ItemSpec {
    ItemSpec {
        id: Uuid::new_v4(),
        key: key.to_owned(),
        name: key.to_owned(),
        oid: oid.to_owned(),
        interval_seconds: secs,
        value_type,
        units: None,
        multiplier: None,
        preprocess: None,
        labels: BTreeMap::new(),
    }
}

fn cfg(plan: PollPlan) -> DeviceCfg {
    DeviceCfg {
        name: "d".into(),
        ip: "127.0.0.1".parse().unwrap(),
        target: Target::v2c("127.0.0.1:161".parse().unwrap(), "public"),
        plan: Arc::new(Compiled::compile(plan.into(), 0, &[], &mut Regexes::new())),
    }
}

#[test]
fn one_job_per_interval_group_and_per_discovery_rule_without_a_plan_copy() {
    let disc = DiscoverySpec {
        id: Uuid::new_v4(),
        name: "if".into(),
        columns: BTreeMap::from([("ifName".into(), "1.3.6.1.2.1.31.1.1.1.1".into())]),
        index_label: "ifIndex".into(),
        key_labels: vec!["ifName".into()],
        filters: vec![],
        interval_seconds: 0,
        prototypes: vec![
            item("in", "1.3.6.1.2.1.31.1.1.1.6", 60, ValueType::Counter),
            item("st", "1.3.6.1.2.1.2.2.1.8", 300, ValueType::Gauge),
        ],
    };
    let plan = PollPlan {
        items: vec![
            item("cpu", "1.3.6.1.4.1.9.2.1.57.0", 60, ValueType::Gauge),
            item("name", "1.3.6.1.2.1.1.5.0", 3600, ValueType::String),
            item("off", "1.3.6.1.2.1.1.4.0", 0, ValueType::String),
        ],
        discoveries: vec![disc.clone()],
    };
    let id = Uuid::new_v4();
    let c = cfg(plan);
    let jobs = jobs_for(id, &c, &SnmpPollerConfig::default());
    let keys: Vec<(&str, u64)> = jobs
        .iter()
        .map(|j| (j.id.key.as_str(), j.interval.as_secs()))
        .collect();
    let dkey = format!("discovery:{}", disc.id);
    assert_eq!(
        keys,
        vec![
            ("poll:60s", 60),
            ("poll:300s", 300),
            ("poll:3600s", 3600),
            (dkey.as_str(), 3600)
        ]
    );
    assert!(
        jobs.iter()
            .all(|j| j.id.kind == JOB_KIND && j.id.device_id == id)
    );
    // Jobs carry no copy of the plan (the runner reads it from the device's slot): the
    // 60 s group reads the cpu item and the 60 s prototype only.
    assert!(jobs.iter().all(|j| j.payload.is_null()));
    let group: Vec<&str> = c
        .plan
        .all_items()
        .filter(|i| Due::Interval(60).covers(i))
        .map(|i| i.key.as_str())
        .collect();
    assert_eq!(group, vec!["cpu", "in"]);
}

#[test]
fn preprocess_steps() {
    let o = || "x".to_owned();
    let check = |p: Preprocess, this: f64, other: Option<f64>| preprocess(&p, this, other);
    assert_eq!(
        check(Preprocess::PercentOfSum { other: o() }, 25.0, Some(75.0)),
        Some(25.0)
    );
    assert_eq!(
        check(Preprocess::PercentOfSum { other: o() }, 0.0, Some(0.0)),
        None
    );
    assert_eq!(
        check(Preprocess::PercentOf { other: o() }, 5.0, Some(20.0)),
        Some(25.0)
    );
    assert_eq!(
        check(Preprocess::PercentOf { other: o() }, 5.0, Some(0.0)),
        None
    );
    assert_eq!(
        check(Preprocess::Ratio { other: o() }, 3.0, Some(4.0)),
        Some(0.75)
    );
    assert_eq!(check(Preprocess::Ratio { other: o() }, 3.0, None), None);
    assert_eq!(
        check(Preprocess::Difference { other: o() }, 300.0, Some(1000.0)),
        Some(700.0),
        "used = total - free"
    );
    assert_eq!(
        check(Preprocess::Difference { other: o() }, 3.0, None),
        None
    );
    assert_eq!(check(Preprocess::Complement100, 12.5, None), Some(87.5));
    assert_eq!(
        check(Preprocess::Equals { value: 1.0 }, 1.0, None),
        Some(1.0)
    );
    assert_eq!(
        check(Preprocess::Equals { value: 1.0 }, 2.0, None),
        Some(0.0)
    );
}

#[test]
fn values_as_text_and_numbers() {
    assert_eq!(
        value_text(&Value::OctetString(b"Gi1/0/1".to_vec())),
        "Gi1/0/1"
    );
    assert_eq!(value_text(&Value::OctetString(b"eth0\0".to_vec())), "eth0");
    assert_eq!(
        value_text(&Value::OctetString(vec![0, 0x1b, 0xff])),
        "00:1b:ff"
    );
    assert_eq!(value_text(&Value::Integer(6)), "6");
    assert_eq!(value_text(&Value::Counter64(1 << 40)), "1099511627776");
    assert_eq!(value_text(&Value::IpAddress([10, 0, 0, 1])), "10.0.0.1");
    assert_eq!(number(&Value::OctetString(b" 0.25\n".to_vec())), Some(0.25));
    assert_eq!(number(&Value::Gauge32(7)), Some(7.0));
    assert_eq!(number(&Value::OctetString(b"up".to_vec())), None);
}

#[test]
fn name_keyed_rows_leave_the_index_off_their_samples() {
    let labels = Labels::from_pairs([("ifIndex", "3"), ("ifName", "Gi0/3")]);
    let mut row = Row {
        index: "3".into(),
        key: "Gi0/3".into(),
        labels,
        keyed_by_index: false,
    };
    let names = |r: &Row| {
        r.sample_labels("ifIndex")
            .map(|(k, _)| k.to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&row), vec!["ifName"]);
    row.keyed_by_index = true;
    assert_eq!(names(&row), vec!["ifIndex", "ifName"]);
}

#[test]
fn invalid_rules_are_reported_not_run() {
    let d = Disc::compile(
        DiscoverySpec {
            id: Uuid::new_v4(),
            name: "bad".into(),
            columns: BTreeMap::new(),
            index_label: "i".into(),
            key_labels: vec![],
            filters: vec![wardflux_model::items::RowFilter {
                label: "ifName".into(),
                regex: "([".into(),
                negate: false,
            }],
            interval_seconds: 60,
            prototypes: vec![],
        },
        &mut Regexes::new(),
    );
    assert!(d.invalid.as_deref().unwrap().contains("filter on ifName"));
}

/// An item's runtime stays compact: 210,000 of them for 10,000 devices with the Generic SNMP
/// template (docs/perf/polling.md). A full `ItemState` per item, with its strings and row
/// labels, took about 1.2 KB each.
#[test]
fn item_runtime_stays_compact() {
    let inline = std::mem::size_of::<ItemRt>();
    let key = std::mem::size_of::<ItemKey>();
    println!("item runtime {inline} B, key {key} B");
    assert!(inline <= 96, "ItemRt is {inline} bytes");
    assert!(key <= 32, "ItemKey is {key} bytes");
}
