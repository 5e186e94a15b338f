//! Formatting shared by the templates: durations as operators read them ("3d 4h 12m"),
//! timestamps as `<time>` elements the browser shows in its own time zone (stored UTC),
//! and the CSS class of each device state.

use chrono::{DateTime, Utc};
use wardflux_model::inventory::DeviceSource;
use wardflux_model::zabbix::ZabbixStatus;

/// A duration in the largest three units that matter: `3d 4h 12m`, `4h 0m 5s`, `42s`.
pub fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, h, m, s) = (
        secs / 86_400,
        (secs % 86_400) / 3_600,
        (secs % 3_600) / 60,
        secs % 60,
    );
    if d > 0 {
        format!("{d}d {h}h {m}m")
    } else if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// The warning shown while the Zabbix data is stale (the mode reads Zabbix and the last
/// sync failed): `Zabbix data 2m 5s old: unreachable`, or `No Zabbix data yet: timeout`
/// before any sync succeeded. `None` otherwise.
pub fn stale_note(s: &ZabbixStatus) -> Option<String> {
    if !(s.active && s.stale) {
        return None;
    }
    let why = s.error_kind.as_deref().unwrap_or("sync failed");
    Some(match s.age_s {
        Some(age) => format!("Zabbix data {} old: {why}", human_duration(age)),
        None => format!("No Zabbix data yet: {why}"),
    })
}

/// Which sources know a device, as its badge says it: `standalone`, `zabbix` or `both`.
pub fn sources(s: &[DeviceSource]) -> &'static str {
    match (
        s.contains(&DeviceSource::Standalone),
        s.contains(&DeviceSource::Zabbix),
    ) {
        (true, true) => "both",
        (false, true) => "zabbix",
        _ => "standalone",
    }
}

/// How long ago `t` was, from `now`, as [`human_duration`].
pub fn since(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    human_duration((now - t).num_seconds())
}

/// RFC 3339 in UTC with a `Z`, for `<time datetime=...>` (app.js shows it in local time).
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The text the page shows for `t` before app.js localises it (UTC, minute precision).
pub fn short(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// At most `max` characters of user input echoed back in a message, with "…" when cut.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// `s` escaped for a URL's query string (flash messages in redirects).
pub fn query_escape(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A sample value for display: integers as they are, others to at most 4 decimals
/// (`0.045172000000000004` reads `0.0452`).
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stale_note_gives_the_age_and_why_only_when_zabbix_is_read() {
        let mut s = ZabbixStatus {
            configured: true,
            active: true,
            stale: true,
            age_s: Some(125),
            error_kind: Some("unreachable".into()),
            ..ZabbixStatus::default()
        };
        assert_eq!(
            stale_note(&s).as_deref(),
            Some("Zabbix data 2m 5s old: unreachable")
        );
        s.age_s = None;
        s.error_kind = Some("timeout".into());
        assert_eq!(
            stale_note(&s).as_deref(),
            Some("No Zabbix data yet: timeout")
        );
        s.active = false;
        assert_eq!(stale_note(&s), None);
        s.active = true;
        s.stale = false;
        assert_eq!(stale_note(&s), None);
    }

    #[test]
    fn sources_read_as_one_word() {
        use DeviceSource::{Standalone, Zabbix};
        assert_eq!(sources(&[Standalone]), "standalone");
        assert_eq!(sources(&[Zabbix]), "zabbix");
        assert_eq!(sources(&[Standalone, Zabbix]), "both");
        assert_eq!(sources(&[]), "standalone");
    }

    #[test]
    fn durations_read_as_operators_say_them() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(42), "42s");
        assert_eq!(human_duration(65), "1m 5s");
        assert_eq!(human_duration(3_600 * 4 + 5), "4h 0m 5s");
        assert_eq!(
            human_duration(86_400 * 3 + 3_600 * 4 + 60 * 12 + 9),
            "3d 4h 12m"
        );
        assert_eq!(human_duration(-5), "0s");
        let now = Utc::now();
        assert_eq!(since(now - chrono::Duration::minutes(90), now), "1h 30m 0s");
        assert!(iso(now).ends_with('Z'));
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.045172000000000004), "0.0452");
        assert_eq!(number(97.256), "97.26");
        assert_eq!(query_escape("a b&c"), "a+b%26c");
    }
}
