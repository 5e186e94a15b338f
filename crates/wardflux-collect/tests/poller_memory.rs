//! What the SNMP poller holds per device once the devices' plans are applied (slot, device
//! configuration, item table, the jobs handed to the scheduler), counted by an instrumented
//! global allocator (`stats_alloc`), not estimated. Its own test binary, so no other test
//! allocates while it counts; the scheduler's driver does not run while it counts (a
//! current-thread runtime that is not yielded to), so the jobs are counted as sent.
//!
//! Data: the Generic SNMP template's plan (3 scalar items, one interface discovery rule with
//! 6 prototypes), given to 1,000 devices each as its own copy, as a caller that does not
//! share plans would: the poller holds one compiled plan for all of them. When every device
//! held its own expansion (the 10,000-device run of docs/perf/polling.md, issue 12), a
//! device's plan alone was about 5 KB.

use std::alloc::System;
use std::collections::BTreeMap;
use std::sync::Arc;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use uuid::Uuid;
use wardflux_collect::{PollDevice, Scheduler, SnmpPoller, SnmpPollerConfig};
use wardflux_model::FanoutSink;
use wardflux_model::items::{
    DiscoverySpec, ItemSpec, PollPlan, Preprocess, RowFilter, ScalarIds, SharedPlan, ValueType,
    scalar_item_id,
};
use wardflux_snmp::{SnmpClient, Target};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const DEVICES: usize = 1000;

/// Bytes the poller may hold per device once applied, its jobs included (requested bytes).
/// Measured 1,117 B with one plan for all; 2,227 B when each device's plan differs only in an
/// item name (its scalar items held per device, its compiled discovery rule still shared),
/// and about 5 KB more per device when each device compiled its own copy of everything.
const MAX_BYTES_PER_DEVICE: f64 = 1400.0;

fn spec(t: Uuid, key: &str, oid: &str, secs: u32, vt: ValueType) -> ItemSpec {
    ItemSpec {
        id: scalar_item_id(t, Uuid::nil(), key),
        key: key.to_owned(),
        name: key.replace('_', " "),
        oid: oid.to_owned(),
        interval_seconds: secs,
        value_type: vt,
        units: None,
        multiplier: None,
        preprocess: None,
        labels: BTreeMap::new(),
    }
}

/// The Generic SNMP template's plan, as the store shares it.
fn generic_plan() -> SharedPlan {
    let t = Uuid::from_u128(0x6e6e);
    let proto = |key: &str, oid: &str, vt| {
        let mut s = spec(t, key, oid, 60, vt);
        s.id = Uuid::new_v5(&t, key.as_bytes());
        s
    };
    let mut status = proto("interface_status", "1.3.6.1.2.1.2.2.1.8", ValueType::Gauge);
    status.preprocess = Some(Preprocess::Equals { value: 1.0 });
    let discovery = DiscoverySpec {
        id: Uuid::new_v5(&t, b"interfaces"),
        name: "Network interfaces".into(),
        columns: BTreeMap::from([
            ("ifName".into(), "1.3.6.1.2.1.31.1.1.1.1".into()),
            ("ifDescr".into(), "1.3.6.1.2.1.2.2.1.2".into()),
            ("ifAlias".into(), "1.3.6.1.2.1.31.1.1.1.18".into()),
            ("ifType".into(), "1.3.6.1.2.1.2.2.1.3".into()),
        ]),
        index_label: "ifIndex".into(),
        key_labels: vec!["ifName".into(), "ifDescr".into()],
        filters: vec![RowFilter {
            label: "ifType".into(),
            regex: "^24$".into(),
            negate: true,
        }],
        interval_seconds: 3600,
        prototypes: vec![
            proto(
                "interface_in_octets_per_second",
                "1.3.6.1.2.1.31.1.1.1.6",
                ValueType::Counter,
            ),
            proto(
                "interface_out_octets_per_second",
                "1.3.6.1.2.1.31.1.1.1.10",
                ValueType::Counter,
            ),
            proto(
                "interface_in_errors_per_second",
                "1.3.6.1.2.1.2.2.1.14",
                ValueType::Counter,
            ),
            proto(
                "interface_out_errors_per_second",
                "1.3.6.1.2.1.2.2.1.20",
                ValueType::Counter,
            ),
            status,
            proto(
                "interface_oper_status",
                "1.3.6.1.2.1.2.2.1.8",
                ValueType::Gauge,
            ),
        ],
    };
    SharedPlan {
        plan: PollPlan {
            items: vec![
                spec(
                    t,
                    "system_uptime_seconds",
                    "1.3.6.1.2.1.1.3.0",
                    60,
                    ValueType::Gauge,
                ),
                spec(
                    t,
                    "system_name",
                    "1.3.6.1.2.1.1.5.0",
                    3600,
                    ValueType::String,
                ),
                spec(
                    t,
                    "system_description",
                    "1.3.6.1.2.1.1.1.0",
                    3600,
                    ValueType::String,
                ),
            ],
            discoveries: vec![discovery],
        },
        scalar_ids: ScalarIds::Derived(vec![t; 3]),
    }
}

fn device(i: usize, plan: Arc<SharedPlan>) -> PollDevice {
    let ip = std::net::IpAddr::from([127, 79, (i / 250) as u8, (i % 250 + 1) as u8]);
    PollDevice {
        device_id: Uuid::from_u128(i as u128 + 1),
        name: format!("dev-{i}"),
        ip,
        port: 161,
        target: Target::v2c(std::net::SocketAddr::new(ip, 161), "bench"),
        plan,
        limits: None,
    }
}

#[tokio::test]
async fn devices_with_equal_plans_hold_one_plan() {
    let scheduler = Scheduler::new("memory");
    let poller = SnmpPoller::on(
        &scheduler,
        SnmpClient::default(),
        Arc::new(FanoutSink::new()),
        Arc::new(|_| true),
        SnmpPollerConfig::default(),
    );
    let plan = generic_plan();
    // one device first, so the poller's first plan and its maps' first growth are not counted
    poller.apply_devices(vec![device(DEVICES, Arc::new(plan.clone()))]);

    let region = Region::new(GLOBAL);
    let devices: Vec<PollDevice> = (0..=DEVICES)
        .map(|i| device(i, Arc::new(plan.clone())))
        .collect();
    poller.apply_devices(devices);
    let st = region.change();
    let held = st.bytes_allocated as f64 - st.bytes_deallocated as f64;
    let per_device = held / DEVICES as f64;
    println!("{DEVICES} devices: {per_device:.0} B/device held");
    assert!(
        per_device <= MAX_BYTES_PER_DEVICE,
        "a device holds {per_device:.0} B, bound {MAX_BYTES_PER_DEVICE}"
    );
    drop(scheduler);
}
