//! Escalation: while an alert is firing, notified and unacknowledged, its rule's channels are
//! notified again every `repeat_minutes`, and once `after_minutes` have passed since the first
//! notification, the escalation channels are notified (once). Pure; suppressed or
//! acknowledged alerts never reach here, so they use up no steps.

use chrono::{DateTime, Utc};
use wardflux_model::alerts::Escalation;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Notify the rule's channels again.
    Repeat,
    /// Notify the escalation channels.
    Escalate,
}

/// What an alert's escalation state needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub notified_at: DateTime<Utc>,
    pub last_notified_at: DateTime<Utc>,
    pub escalated: bool,
}

/// The actions due at `now` (at most one of each).
pub fn due(policy: &Escalation, p: Progress, now: DateTime<Utc>) -> Vec<Action> {
    let mut out = Vec::new();
    if let Some(n) = policy.after_minutes
        && !p.escalated
        && !policy.channels.is_empty()
        && now >= p.notified_at + chrono::Duration::minutes(i64::from(n))
    {
        out.push(Action::Escalate);
    }
    if let Some(n) = policy.repeat_minutes
        && n > 0
        && now >= p.last_notified_at + chrono::Duration::minutes(i64::from(n))
    {
        out.push(Action::Repeat);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + min * 60, 0).unwrap()
    }

    #[test]
    fn repeats_every_n_and_escalates_once_after_m() {
        let policy = Escalation {
            repeat_minutes: Some(10),
            after_minutes: Some(30),
            channels: vec!["oncall".into()],
        };
        let mut p = Progress {
            notified_at: t(0),
            last_notified_at: t(0),
            escalated: false,
        };
        let mut log = Vec::new();
        for min in 0..=45 {
            for a in due(&policy, p, t(min)) {
                log.push((min, a));
                match a {
                    Action::Repeat => p.last_notified_at = t(min),
                    Action::Escalate => p.escalated = true,
                }
            }
        }
        use Action::{Escalate, Repeat};
        assert_eq!(
            log,
            vec![
                (10, Repeat),
                (20, Repeat),
                (30, Escalate),
                (30, Repeat),
                (40, Repeat)
            ]
        );
    }

    #[test]
    fn no_policy_no_actions() {
        let p = Progress {
            notified_at: t(0),
            last_notified_at: t(0),
            escalated: false,
        };
        assert!(due(&Escalation::default(), p, t(1000)).is_empty());
        let only_after = Escalation {
            after_minutes: Some(5),
            ..Default::default()
        };
        assert!(
            due(&only_after, p, t(10)).is_empty(),
            "no channels to escalate to"
        );
    }
}
