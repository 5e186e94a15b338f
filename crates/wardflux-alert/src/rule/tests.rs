use super::*;

/// `(expression, query evaluated, for seconds, metric names)`
#[test]
fn good_rules() {
    let cases: &[(&str, &str, u64, &[&str])] = &[
        (
            "avg(cpu_usage) > 90 for 5m",
            "avg(cpu_usage) > 90",
            300,
            &["cpu_usage"],
        ),
        (
            "interface_status == 0",
            "interface_status == 0",
            0,
            &["interface_status"],
        ),
        ("cpu_usage > 90", "cpu_usage > 90", 0, &["cpu_usage"]),
        (
            "cpu_usage > 90 FOR 30s",
            "cpu_usage > 90",
            30,
            &["cpu_usage"],
        ),
        (
            "  ping_up{device=~\"core.*\"} == 0 for 1h30m ",
            "ping_up{device=~\"core.*\"} == 0",
            5400,
            &["ping_up"],
        ),
        (
            "rate(interface_in_octets_total[5m]) * 8 > 1e9",
            "rate(interface_in_octets_total[5m]) * 8 > 1e9",
            0,
            &["interface_in_octets_total"],
        ),
        (
            "{__name__=\"ping_up\"} == 0",
            "{__name__=\"ping_up\"} == 0",
            0,
            &["ping_up"],
        ),
        (
            "ping_rtt_ms > on(device) group_left ping_packet_loss",
            "ping_rtt_ms > on(device) group_left ping_packet_loss",
            0,
            &["ping_packet_loss", "ping_rtt_ms"],
        ),
        // A metric called `forecast` is not the `for` keyword.
        ("forecast > 1", "forecast > 1", 0, &["forecast"]),
    ];
    for (expr, query, for_s, metrics) in cases {
        let r = parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(r.query, *query, "{expr}");
        assert_eq!(r.for_, Duration::from_secs(*for_s), "{expr}");
        let m: Vec<&str> = r.metrics.iter().map(String::as_str).collect();
        assert_eq!(m, *metrics, "{expr}");
        assert!(!r.any_metric, "{expr}");
    }
}

#[test]
fn memory_usage_alias_expands_with_the_selectors_matchers() {
    let r = parse("memory_usage{device=\"a\"} > 80 for 1m").unwrap();
    assert_eq!(r.for_, Duration::from_secs(60));
    let m: Vec<&str> = r.metrics.iter().map(String::as_str).collect();
    assert_eq!(m, ["memory_free_bytes", "memory_used_bytes"]);
    assert!(!r.query.contains("memory_usage"), "{}", r.query);
    assert_eq!(r.query.matches("device=\"a\"").count(), 3, "{}", r.query);
    // The printed query parses again to the same tree.
    let again = parser::parse(&r.query).unwrap();
    assert_eq!(again.to_string(), r.query);
    let e = parse("avg_over_time(memory_usage[5m]) > 80").unwrap_err();
    assert_eq!(e.column, 15, "{e}");
}

#[test]
fn absent_and_unnamed_selectors_are_flagged() {
    let r = parse("absent(ping_up{device=\"x\"})").unwrap();
    assert!(r.uses_absent);
    let r = parse("{job=\"x\"} > 1").unwrap();
    assert!(r.any_metric);
    assert!(r.touches("anything"));
}

/// `(expression, column, part of the message)`
#[test]
fn bad_rules_name_the_column() {
    let cases: &[(&str, usize, &str)] = &[
        ("cpu_usage >> 90", 12, ""),
        ("avg(cpu_usage > 90", 19, ""),
        ("cpu_usage > 90 for 5x", 20, "duration"),
        ("cpu_usage > 90 for", 16, "needs a duration"),
        ("cpu_usage{device=\"a\" > 90", 22, ""),
        ("rate(cpu_usage) > 1", 15, "matrix"),
        ("cpu_usage > ", 13, ""),
        ("90", 1, "instant vector"),
        ("", 1, "empty"),
        ("cpu_usage $ 3", 11, ""),
        ("sum(cpu_usage) by (device", 26, ""),
    ];
    for (expr, col, msg) in cases {
        let e = parse(expr).expect_err(expr);
        assert_eq!(e.column, *col, "{expr}: {e}");
        assert!(e.message.contains(msg), "{expr}: {e}");
    }
}
