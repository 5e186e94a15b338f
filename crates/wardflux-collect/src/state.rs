//! Device reachability state: up / down / unknown, confirmation and flapping.
//!
//! Pure: no I/O, no clock. The caller feeds check outcomes with the time they happened and
//! gets back what to do next and which transitions to record.
//!
//! Rules:
//! - A new device is `Unknown` until its first check.
//! - A check with any reply makes the device `Up` at once.
//! - A check with no reply while `Up` or `Unknown` is only a suspicion: the caller must run
//!   confirmation probes ([`Step::Confirm`]) and report with
//!   [`Tracker::on_confirmation`]. Only if every confirmation probe fails does the device
//!   become `Down`, with `down_since` = start of the first failed check. So one lost packet
//!   (or one lost check) raises nothing.
//! - Flapping: when `flap_threshold` up/down changes (default 3) fall within `flap_window`
//!   (default 5 min), one `FlappingStarted` transition is raised and later up/down changes
//!   are not reported (the state itself stays truthful). Flapping clears once no change has
//!   happened for a whole window; `FlappingStopped` then carries the settled state.
//!   Changes from `Unknown` do not count as flaps.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use wardflux_model::events::{DeviceState, TransitionKind};

/// Tuning of the state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct StateConfig {
    /// Up/down changes within `flap_window` that make a device flapping.
    pub flap_threshold: usize,
    pub flap_window: Duration,
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            flap_threshold: 3,
            flap_window: Duration::from_secs(300),
        }
    }
}

/// Something to record in the status history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub kind: TransitionKind,
    /// The state last reported (before this transition).
    pub from: DeviceState,
    pub to: DeviceState,
    /// Since when the device has been in `to` (for `Down`: the first failed check).
    pub since: DateTime<Utc>,
    /// When the transition was decided.
    pub at: DateTime<Utc>,
}

/// What the caller does after a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Record these transitions (possibly none); nothing else to do.
    Done(Vec<Transition>),
    /// The check failed while the device was not known down: run confirmation probes,
    /// then call [`Tracker::on_confirmation`].
    Confirm,
}

/// The state of one device.
#[derive(Debug, Clone)]
pub struct Tracker {
    cfg: StateConfig,
    state: DeviceState,
    since: DateTime<Utc>,
    /// State last handed out in a transition (differs from `state` while flapping).
    reported: DeviceState,
    /// Start of the failed check awaiting confirmation.
    suspect_since: Option<DateTime<Utc>>,
    /// Times of recent up/down changes (within the flap window).
    changes: VecDeque<DateTime<Utc>>,
    flapping: bool,
}

impl Tracker {
    pub fn new(cfg: StateConfig, now: DateTime<Utc>) -> Self {
        Self {
            cfg,
            state: DeviceState::Unknown,
            since: now,
            reported: DeviceState::Unknown,
            suspect_since: None,
            changes: VecDeque::new(),
            flapping: false,
        }
    }

    pub fn state(&self) -> DeviceState {
        self.state
    }

    /// Since when the device has been in its current state.
    pub fn since(&self) -> DateTime<Utc> {
        self.since
    }

    pub fn down_since(&self) -> Option<DateTime<Utc>> {
        (self.state == DeviceState::Down).then_some(self.since)
    }

    pub fn flapping(&self) -> bool {
        self.flapping
    }

    /// A check that started at `started` finished; `reply` tells whether anything answered.
    pub fn on_check(&mut self, reply: bool, started: DateTime<Utc>, now: DateTime<Utc>) -> Step {
        let mut out = Vec::new();
        if reply {
            self.suspect_since = None;
            if self.state != DeviceState::Up {
                self.change(DeviceState::Up, started, now, &mut out);
            }
        } else if self.state == DeviceState::Down {
            // Still down: nothing new.
        } else {
            self.suspect_since.get_or_insert(started);
            return Step::Confirm;
        }
        self.check_flap_end(now, &mut out);
        Step::Done(out)
    }

    /// Confirmation probes after a failed check finished: `any_reply` if any answered.
    pub fn on_confirmation(&mut self, any_reply: bool, now: DateTime<Utc>) -> Vec<Transition> {
        let mut out = Vec::new();
        let suspect = self.suspect_since.take();
        if any_reply {
            if self.state != DeviceState::Up {
                self.change(DeviceState::Up, now, now, &mut out);
            }
        } else if self.state != DeviceState::Down {
            self.change(DeviceState::Down, suspect.unwrap_or(now), now, &mut out);
        }
        self.check_flap_end(now, &mut out);
        out
    }

    fn change(
        &mut self,
        to: DeviceState,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        out: &mut Vec<Transition>,
    ) {
        let from = self.state;
        self.state = to;
        self.since = since;
        if from == DeviceState::Unknown {
            self.report(TransitionKind::Changed, now, out);
            return;
        }
        self.changes.push_back(now);
        self.prune(now);
        if self.flapping {
            return; // suppressed
        }
        if self.changes.len() >= self.cfg.flap_threshold.max(1) {
            self.flapping = true;
            self.report(TransitionKind::FlappingStarted, now, out);
        } else {
            self.report(TransitionKind::Changed, now, out);
        }
    }

    fn report(&mut self, kind: TransitionKind, now: DateTime<Utc>, out: &mut Vec<Transition>) {
        out.push(Transition {
            kind,
            from: self.reported,
            to: self.state,
            since: self.since,
            at: now,
        });
        self.reported = self.state;
    }

    fn prune(&mut self, now: DateTime<Utc>) {
        let window =
            chrono::Duration::from_std(self.cfg.flap_window).unwrap_or(chrono::Duration::MAX);
        while self.changes.front().is_some_and(|t| now - *t >= window) {
            self.changes.pop_front();
        }
    }

    fn check_flap_end(&mut self, now: DateTime<Utc>, out: &mut Vec<Transition>) {
        if !self.flapping {
            return;
        }
        self.prune(now);
        if self.changes.is_empty() {
            self.flapping = false;
            self.report(TransitionKind::FlappingStopped, now, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DeviceState::{Down, Unknown, Up};
    use super::TransitionKind::{Changed, FlappingStarted, FlappingStopped};
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    fn tr(
        kind: TransitionKind,
        from: DeviceState,
        to: DeviceState,
        since: i64,
        at: i64,
    ) -> Transition {
        Transition {
            kind,
            from,
            to,
            since: t(since),
            at: t(at),
        }
    }

    /// A check at `s` (finishing 1 s later); a failure is confirmed down when `confirm` is false.
    fn check(m: &mut Tracker, reply: bool, s: i64, confirm_reply: bool) -> Vec<Transition> {
        match m.on_check(reply, t(s), t(s + 1)) {
            Step::Done(v) => v,
            Step::Confirm => m.on_confirmation(confirm_reply, t(s + 3)),
        }
    }

    #[test]
    fn up_down_up_with_timestamps() {
        let mut m = Tracker::new(StateConfig::default(), t(0));
        assert_eq!(m.state(), Unknown);
        assert_eq!(
            check(&mut m, true, 0, true),
            vec![tr(Changed, Unknown, Up, 0, 1)]
        );
        assert_eq!(check(&mut m, true, 10, true), vec![]);
        assert_eq!(m.on_check(false, t(20), t(21)), Step::Confirm);
        assert_eq!(m.state(), Up, "not down before confirmation");
        assert_eq!(
            m.on_confirmation(false, t(23)),
            vec![tr(Changed, Up, Down, 20, 23)]
        );
        assert_eq!(m.down_since(), Some(t(20)));
        // Still down: further failed checks neither confirm nor report.
        assert_eq!(m.on_check(false, t(30), t(31)), Step::Done(vec![]));
        assert_eq!(
            check(&mut m, true, 40, true),
            vec![tr(Changed, Down, Up, 40, 41)]
        );
        assert_eq!((m.state(), m.since(), m.down_since()), (Up, t(40), None));
    }

    #[test]
    fn one_failed_check_confirmed_alive_raises_nothing() {
        let mut m = Tracker::new(StateConfig::default(), t(0));
        check(&mut m, true, 0, true);
        assert_eq!(check(&mut m, false, 10, true), vec![]);
        assert_eq!((m.state(), m.since()), (Up, t(0)));
        // The next real outage dates from its own first failed check, not the old suspicion.
        assert_eq!(m.on_check(false, t(20), t(21)), Step::Confirm);
        assert_eq!(
            m.on_confirmation(false, t(23)),
            vec![tr(Changed, Up, Down, 20, 23)]
        );
    }

    #[test]
    fn device_down_at_start_is_recorded() {
        let mut m = Tracker::new(StateConfig::default(), t(0));
        assert_eq!(
            check(&mut m, false, 0, false),
            vec![tr(Changed, Unknown, Down, 0, 3)]
        );
        assert_eq!(m.down_since(), Some(t(0)));
    }

    #[test]
    fn flapping_is_raised_once_suppresses_changes_and_clears_when_stable() {
        let mut m = Tracker::new(StateConfig::default(), t(0));
        check(&mut m, true, 0, true); // Unknown -> Up: not a flap
        assert_eq!(
            check(&mut m, false, 10, false),
            vec![tr(Changed, Up, Down, 10, 13)]
        );
        assert_eq!(
            check(&mut m, true, 20, true),
            vec![tr(Changed, Down, Up, 20, 21)]
        );
        // Third change within 5 minutes: one flapping event instead of the change.
        assert_eq!(
            check(&mut m, false, 30, false),
            vec![tr(FlappingStarted, Up, Down, 30, 33)]
        );
        assert!(m.flapping());
        // Suppressed, but the state stays truthful.
        assert_eq!(check(&mut m, true, 40, true), vec![]);
        assert_eq!(check(&mut m, false, 50, false), vec![]);
        assert_eq!(m.state(), Down);
        assert_eq!(check(&mut m, true, 60, true), vec![]);
        // Stable (no change) for a whole window after the last change at 61 s: cleared,
        // with the settled state.
        assert_eq!(check(&mut m, true, 300, true), vec![]);
        assert!(m.flapping());
        assert_eq!(
            check(&mut m, true, 360, true),
            vec![tr(FlappingStopped, Down, Up, 60, 361)]
        );
        assert!(!m.flapping());
        // After that a change is reported normally again.
        assert_eq!(
            check(&mut m, false, 370, false),
            vec![tr(Changed, Up, Down, 370, 373)]
        );
    }

    #[test]
    fn slow_changes_are_not_flapping() {
        let mut m = Tracker::new(StateConfig::default(), t(0));
        check(&mut m, true, 0, true);
        let mut events = Vec::new();
        for i in 1..=6 {
            events.extend(check(&mut m, i % 2 == 0, i * 200, i % 2 == 0));
        }
        assert_eq!(events.len(), 6);
        assert!(events.iter().all(|e| e.kind == Changed), "{events:?}");
        assert!(!m.flapping());
    }

    #[test]
    fn confirmation_reply_brings_unknown_device_up() {
        let mut m = Tracker::new(StateConfig::default(), t(0));
        assert_eq!(m.on_check(false, t(0), t(1)), Step::Confirm);
        assert_eq!(
            m.on_confirmation(true, t(2)),
            vec![tr(Changed, Unknown, Up, 2, 2)]
        );
    }
}
