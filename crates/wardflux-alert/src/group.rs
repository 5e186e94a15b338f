//! Grouping: the first notification of a rule to a channel goes out at once; further ones
//! within the window (default 2 s) wait for the window's end and go out together as one
//! message; the next window starts when that batch goes out. So a 200-device outage spread
//! over a few seconds is one or two messages, and the first is never delayed.
//!
//! Pure: [`Grouper::slot`] says when a notification should be sent; the outbox merges the
//! rows that share a slot (its group key) into one message.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub const DEFAULT_WINDOW: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy)]
struct Slot {
    last_sent: DateTime<Utc>,
    batch_at: Option<DateTime<Utc>>,
}

/// Send slots per group (rule + channel + notification kind).
#[derive(Debug)]
pub struct Grouper<K> {
    window: chrono::Duration,
    groups: HashMap<K, Slot>,
}

impl<K: std::hash::Hash + Eq + Clone> Grouper<K> {
    pub fn new(window: Duration) -> Self {
        Self {
            window: chrono::Duration::from_std(window).unwrap_or(chrono::Duration::seconds(2)),
            groups: HashMap::new(),
        }
    }

    /// When a notification of group `key` decided at `now` is to be sent: `now` when the
    /// group has sent nothing within the window, else the end of the current window (the
    /// same instant for every notification that joins that batch).
    pub fn slot(&mut self, key: &K, now: DateTime<Utc>) -> DateTime<Utc> {
        let Some(s) = self.groups.get_mut(key) else {
            self.groups.insert(
                key.clone(),
                Slot {
                    last_sent: now,
                    batch_at: None,
                },
            );
            return now;
        };
        if let Some(b) = s.batch_at {
            if now < b {
                return b;
            }
            s.last_sent = b;
            s.batch_at = None;
        }
        if now < s.last_sent + self.window {
            let b = s.last_sent + self.window;
            s.batch_at = Some(b);
            b
        } else {
            s.last_sent = now;
            now
        }
    }

    /// Forgets groups idle for longer than the window (bounded memory).
    pub fn prune(&mut self, now: DateTime<Utc>) {
        let w = self.window;
        self.groups
            .retain(|_, s| s.batch_at.unwrap_or(s.last_sent) + w > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    /// `(arrival ms, expected send ms)` for one group with a 2 s window.
    #[test]
    fn first_at_once_then_batches_at_window_ends() {
        let cases: &[(i64, i64)] = &[
            (0, 0),     // first: at once
            (10, 2000), // joins the batch at the window end
            (1999, 2000),
            (2000, 4000), // the batch went out at 2000: next window
            (3500, 4000),
            (9000, 9000), // quiet for a window: at once again
            (9500, 11000),
        ];
        let mut g = Grouper::new(DEFAULT_WINDOW);
        for (at, want) in cases {
            assert_eq!(g.slot(&"r1", t(*at)), t(*want), "arrival {at}");
        }
        // Another group is independent.
        assert_eq!(g.slot(&"r2", t(9600)), t(9600));
    }

    #[test]
    fn storm_of_200_is_two_messages() {
        let mut g = Grouper::new(DEFAULT_WINDOW);
        let mut slots: Vec<_> = (0..200).map(|i| g.slot(&"r", t(i * 7))).collect();
        slots.dedup();
        assert_eq!(slots, vec![t(0), t(2000)]);
        g.prune(t(100_000));
        assert!(g.groups.is_empty());
    }
}
