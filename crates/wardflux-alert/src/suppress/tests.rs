use super::*;

fn t(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// core(1) <- dist(2) <- access(3); other(4) stands alone.
fn tree() -> Topology {
    let mut t = Topology::new(Duration::from_secs(10));
    for (n, name, parent) in [
        (1, "core", None),
        (2, "dist", Some(1)),
        (3, "access", Some(2)),
        (4, "other", None),
    ] {
        t.devices.insert(
            id(n),
            DeviceNode {
                name: name.into(),
                parent: parent.map(id),
                groups: vec![],
            },
        );
    }
    t.devices.get_mut(&id(4)).unwrap().groups.push(id(100));
    t
}

fn up(check: i64) -> Reach {
    Reach {
        down: false,
        down_since: None,
        last_check: Some(t(check)),
        recovered_at: None,
    }
}
fn down(since: i64, check: i64) -> Reach {
    Reach {
        down: true,
        down_since: Some(t(since)),
        last_check: Some(t(check)),
        recovered_at: None,
    }
}

#[test]
fn parent_chain_self_and_holds() {
    use Decision::{Hold, Notify, Suppress};
    let s = |x: &str| Suppress(x.to_string());
    // (name, reach of 1/2/3, now, device, reachability rule, expected)
    type Case<'a> = (&'a str, [Reach; 3], i64, u128, bool, Decision);
    let cases: Vec<Case> = vec![
        ("all up", [up(100), up(100), up(100)], 100, 3, false, Notify),
        (
            "grandparent down",
            [down(90, 100), up(100), up(100)],
            100,
            3,
            true,
            s("parent:core"),
        ),
        (
            "nearest down ancestor named",
            [down(90, 100), down(90, 100), down(95, 100)],
            100,
            3,
            true,
            s("parent:dist"),
        ),
        (
            "own metric alert while down",
            [up(100), up(100), down(95, 100)],
            100,
            3,
            false,
            s("self:access"),
        ),
        (
            "own unreachable alert, parents checked since",
            [up(100), up(100), down(95, 100)],
            100,
            3,
            true,
            Notify,
        ),
        (
            "child down before the parents were checked: hold and probe them",
            [up(90), up(94), down(95, 98)],
            98,
            3,
            true,
            Hold {
                until: t(105),
                probe: vec![id(2), id(1)],
            },
        ),
        (
            "hold ends one cycle after the child failed",
            [up(90), up(94), down(95, 98)],
            105,
            3,
            true,
            Notify,
        ),
    ];
    for (name, reach, now, dev, reachability, want) in cases {
        let mut topo = tree();
        for (i, r) in reach.into_iter().enumerate() {
            topo.reach.insert(id(i as u128 + 1), r);
        }
        assert_eq!(
            topo.decide(t(now), Some(id(dev)), reachability, &[]),
            want,
            "{name}"
        );
    }
}

#[test]
fn a_recovering_parent_holds_children_for_one_cycle() {
    let mut topo = tree();
    topo.reach.insert(
        id(1),
        Reach {
            recovered_at: Some(t(100)),
            ..up(100)
        },
    );
    assert_eq!(
        topo.decide(t(103), Some(id(3)), false, &[]),
        Decision::Hold {
            until: t(110),
            probe: vec![]
        }
    );
    assert_eq!(
        topo.decide(t(110), Some(id(3)), false, &[]),
        Decision::Notify
    );
}

#[test]
fn parent_cycles_do_not_loop() {
    let mut topo = tree();
    topo.devices.get_mut(&id(1)).unwrap().parent = Some(id(3));
    assert_eq!(topo.ancestors(id(3)), vec![id(2), id(1)]);
    assert_eq!(topo.decide(t(0), Some(id(3)), false, &[]), Decision::Notify);
}

fn window(name: &str) -> MaintenanceWindow {
    MaintenanceWindow {
        id: Uuid::new_v4(),
        name: name.into(),
        device_ids: vec![],
        group_ids: vec![],
        starts_at: None,
        ends_at: None,
        cron: None,
        duration_minutes: None,
        timezone: "UTC".into(),
        comment: None,
        created_at: t(0),
        updated_at: t(0),
    }
}

#[test]
fn one_off_and_group_windows() {
    let topo = tree();
    let mut w = window("upgrade");
    w.device_ids = vec![id(3)];
    w.starts_at = Some(t(100));
    w.ends_at = Some(t(200));
    let mut g = window("branch");
    g.group_ids = vec![id(100)];
    g.starts_at = Some(t(0));
    let ws = [w, g];
    assert_eq!(
        topo.decide(t(99), Some(id(3)), false, &ws),
        Decision::Notify
    );
    assert_eq!(
        topo.decide(t(100), Some(id(3)), false, &ws),
        Decision::Suppress("maintenance:upgrade".into())
    );
    assert_eq!(
        topo.decide(t(200), Some(id(3)), false, &ws),
        Decision::Notify
    );
    assert_eq!(
        topo.decide(t(5), Some(id(4)), true, &ws),
        Decision::Suppress("maintenance:branch".into())
    );
    assert_eq!(topo.decide(t(5), None, false, &ws), Decision::Notify);
}

#[test]
fn cron_windows_are_read_in_their_zone() {
    // Sundays 02:00 for 2 hours, Europe/Berlin (UTC+1 in winter, UTC+2 in summer).
    let mut w = window("sunday");
    w.cron = Some("0 2 * * SUN".into());
    w.duration_minutes = Some(120);
    w.timezone = "Europe/Berlin".into();
    check_window(&w).unwrap();
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    let cases = [
        ("2026-01-04T00:59:00Z", false), // 01:59 Berlin
        ("2026-01-04T01:00:00Z", true),  // 02:00 Berlin
        ("2026-01-04T02:59:00Z", true),
        ("2026-01-04T03:00:00Z", false), // 04:00 Berlin: over
        ("2026-07-05T00:00:00Z", true),  // 02:00 Berlin summer time
        ("2026-07-05T02:00:00Z", false),
        ("2026-01-05T01:30:00Z", false), // a Monday
    ];
    for (now, want) in cases {
        assert_eq!(window_active(&w, at(now)), want, "{now}");
    }
    let mut bad = w.clone();
    bad.timezone = "Mars/Olympus".into();
    assert!(matches!(check_window(&bad), Err(WindowError::Zone(_))));
    bad.timezone = "UTC".into();
    bad.cron = Some("61 * * * *".into());
    assert!(matches!(check_window(&bad), Err(WindowError::Cron(_))));
}
