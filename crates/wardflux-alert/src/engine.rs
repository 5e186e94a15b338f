//! The alert state machine, pure: no clock, no SQL, no sockets. The caller passes the
//! evaluation time and the rule's result (one value per label set) to [`Engine::step`] and
//! gets back the transitions to persist and notify.
//!
//! An instance is identified by rule + labels. A label set returned by the evaluation is
//! `pending` from its first evaluation (`started_at`), `firing` once it has been returned
//! continuously for the rule's `for` (at once with no `for`), and `resolved` at the first
//! evaluation that no longer returns it. A pending instance that disappears is dropped
//! (reported as `Pending -> Resolved` with `firing_at == None`, so the store can close it;
//! nothing was notified). Like vmalert, transitions happen only at evaluations; the driver's
//! 1 s timer re-evaluates rules with pending instances so `for` is honoured to the second.
//!
//! State is restored from the store before the first evaluation ([`Engine::restore`]), so a
//! restart neither re-fires nor forgets a firing alert (vmalert #1252/#11371 restore only
//! `ActiveAt`, and restored alerts come back pending).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use wardflux_model::Labels;
use wardflux_model::alerts::AlertState;

/// One live instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub id: Uuid,
    pub state: AlertState,
    pub started_at: DateTime<Utc>,
    pub firing_at: Option<DateTime<Utc>>,
    pub value: f64,
}

/// A state change of one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub rule_id: Uuid,
    pub instance_id: Uuid,
    pub labels: Labels,
    /// `None`: the instance is new.
    pub from: Option<AlertState>,
    pub to: AlertState,
    pub value: f64,
    pub started_at: DateTime<Utc>,
    pub firing_at: Option<DateTime<Utc>>,
    /// The evaluation time that made the change.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct RuleState {
    for_: Duration,
    instances: HashMap<Labels, Instance>,
}

/// Live instances of every rule.
#[derive(Debug, Default)]
pub struct Engine {
    rules: HashMap<Uuid, RuleState>,
}

impl Engine {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a rule or changes its `for` (instances are kept).
    pub fn set_rule(&mut self, rule_id: Uuid, for_: Duration) {
        self.rules.entry(rule_id).or_default().for_ = for_;
    }

    /// Removes a rule (deleted or disabled): its instances resolve now.
    pub fn remove_rule(&mut self, rule_id: Uuid, now: DateTime<Utc>) -> Vec<Transition> {
        match self.rules.remove(&rule_id) {
            None => Vec::new(),
            Some(mut r) => r
                .instances
                .drain()
                .map(|(labels, i)| resolve(rule_id, labels, &i, now))
                .collect(),
        }
    }

    /// Puts back an instance read from the store (pending or firing).
    pub fn restore(&mut self, rule_id: Uuid, labels: Labels, instance: Instance) {
        self.rules
            .entry(rule_id)
            .or_default()
            .instances
            .insert(labels, instance);
    }

    /// Drops an instance without a transition (it was resolved by hand and persisted so).
    pub fn forget(&mut self, rule_id: Uuid, instance_id: Uuid) -> bool {
        let Some(r) = self.rules.get_mut(&rule_id) else {
            return false;
        };
        let before = r.instances.len();
        r.instances.retain(|_, i| i.id != instance_id);
        r.instances.len() != before
    }

    pub fn instances(&self, rule_id: Uuid) -> impl Iterator<Item = (&Labels, &Instance)> {
        self.rules
            .get(&rule_id)
            .into_iter()
            .flat_map(|r| r.instances.iter())
    }

    /// Whether the rule has a pending instance (the timer must re-evaluate it).
    pub fn has_pending(&self, rule_id: Uuid) -> bool {
        self.instances(rule_id)
            .any(|(_, i)| i.state == AlertState::Pending)
    }

    /// Whether the rule has any live instance.
    pub fn has_active(&self, rule_id: Uuid) -> bool {
        self.rules
            .get(&rule_id)
            .is_some_and(|r| !r.instances.is_empty())
    }

    /// Applies one evaluation of `rule_id` at `now`: `results` are the label sets the
    /// expression returned, with their values. An unknown rule is added with no `for`.
    pub fn step(
        &mut self,
        now: DateTime<Utc>,
        rule_id: Uuid,
        results: Vec<(Labels, f64)>,
    ) -> Vec<Transition> {
        let rule = self.rules.entry(rule_id).or_default();
        let for_ = chrono::Duration::from_std(rule.for_).unwrap_or(chrono::Duration::MAX);
        let mut out = Vec::new();
        let mut seen: HashMap<Labels, ()> = HashMap::with_capacity(results.len());
        for (labels, value) in results {
            match rule.instances.get_mut(&labels) {
                Some(i) => {
                    i.value = value;
                    if i.state == AlertState::Pending && now - i.started_at >= for_ {
                        i.state = AlertState::Firing;
                        i.firing_at = Some(now);
                        out.push(transition(
                            rule_id,
                            &labels,
                            i,
                            Some(AlertState::Pending),
                            now,
                        ));
                    }
                }
                None => {
                    let firing = for_.is_zero();
                    let i = Instance {
                        id: Uuid::new_v4(),
                        state: if firing {
                            AlertState::Firing
                        } else {
                            AlertState::Pending
                        },
                        started_at: now,
                        firing_at: firing.then_some(now),
                        value,
                    };
                    out.push(transition(rule_id, &labels, &i, None, now));
                    rule.instances.insert(labels.clone(), i);
                }
            }
            seen.insert(labels, ());
        }
        let gone: Vec<Labels> = rule
            .instances
            .keys()
            .filter(|l| !seen.contains_key(*l))
            .cloned()
            .collect();
        for labels in gone {
            if let Some(i) = rule.instances.remove(&labels) {
                out.push(resolve(rule_id, labels, &i, now));
            }
        }
        out
    }
}

fn transition(
    rule_id: Uuid,
    labels: &Labels,
    i: &Instance,
    from: Option<AlertState>,
    at: DateTime<Utc>,
) -> Transition {
    Transition {
        rule_id,
        instance_id: i.id,
        labels: labels.clone(),
        from,
        to: i.state,
        value: i.value,
        started_at: i.started_at,
        firing_at: i.firing_at,
        at,
    }
}

fn resolve(rule_id: Uuid, labels: Labels, i: &Instance, now: DateTime<Utc>) -> Transition {
    Transition {
        rule_id,
        instance_id: i.id,
        labels,
        from: Some(i.state),
        to: AlertState::Resolved,
        value: i.value,
        started_at: i.started_at,
        firing_at: i.firing_at,
        at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlertState::{Firing, Pending, Resolved};

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }
    fn l(dev: &str) -> Labels {
        Labels::from_pairs([("device", dev)])
    }
    /// One step of a timeline: the time, the devices the evaluation returned, and the
    /// transitions expected as `(device, from, to)`.
    type Step<'a> = (
        i64,
        &'a [&'a str],
        &'a [(&'a str, Option<AlertState>, AlertState)],
    );

    fn check(for_s: u64, steps: &[Step]) {
        let mut e = Engine::new();
        let rule = Uuid::new_v4();
        e.set_rule(rule, Duration::from_secs(for_s));
        for (at, devs, want) in steps {
            let res = devs.iter().map(|d| (l(d), 95.0)).collect();
            let mut got: Vec<(String, Option<AlertState>, AlertState)> = e
                .step(t(*at), rule, res)
                .into_iter()
                .map(|tr| (tr.labels.get("device").unwrap().to_string(), tr.from, tr.to))
                .collect();
            got.sort_by(|a, b| a.0.cmp(&b.0));
            let want: Vec<_> = want
                .iter()
                .map(|(d, f, to)| (d.to_string(), *f, *to))
                .collect();
            assert_eq!(got, want, "at t={at}");
        }
    }

    #[test]
    fn no_for_fires_at_once_and_resolves_once() {
        check(
            0,
            &[
                (0, &["a"], &[("a", None, Firing)]),
                (1, &["a"], &[]),
                (2, &["a", "b"], &[("b", None, Firing)]),
                (3, &["b"], &[("a", Some(Firing), Resolved)]),
                (4, &[], &[("b", Some(Firing), Resolved)]),
                (5, &[], &[]),
            ],
        );
    }

    #[test]
    fn for_holds_pending_until_the_duration_has_passed() {
        check(
            300,
            &[
                (0, &["a"], &[("a", None, Pending)]),
                (60, &["a"], &[]),
                (299, &["a"], &[]),
                (300, &["a"], &[("a", Some(Pending), Firing)]),
                (301, &["a"], &[]),
                (400, &[], &[("a", Some(Firing), Resolved)]),
            ],
        );
    }

    #[test]
    fn a_gap_restarts_the_for_clock() {
        check(
            60,
            &[
                (0, &["a"], &[("a", None, Pending)]),
                (30, &[], &[("a", Some(Pending), Resolved)]),
                (40, &["a"], &[("a", None, Pending)]),
                (90, &["a"], &[]),
                (100, &["a"], &[("a", Some(Pending), Firing)]),
            ],
        );
    }

    #[test]
    fn restored_firing_instance_does_not_fire_again() {
        let mut e = Engine::new();
        let rule = Uuid::new_v4();
        let id = Uuid::new_v4();
        e.set_rule(rule, Duration::from_secs(60));
        e.restore(
            rule,
            l("a"),
            Instance {
                id,
                state: Firing,
                started_at: t(0),
                firing_at: Some(t(60)),
                value: 1.0,
            },
        );
        assert!(e.step(t(100), rule, vec![(l("a"), 2.0)]).is_empty());
        let tr = e.step(t(101), rule, vec![]);
        assert_eq!(tr.len(), 1);
        assert_eq!((tr[0].instance_id, tr[0].to), (id, Resolved));
        assert_eq!(tr[0].firing_at, Some(t(60)));
    }

    #[test]
    fn removing_a_rule_resolves_its_instances() {
        let mut e = Engine::new();
        let rule = Uuid::new_v4();
        e.step(t(0), rule, vec![(l("a"), 1.0), (l("b"), 1.0)]);
        let tr = e.remove_rule(rule, t(5));
        assert_eq!(tr.len(), 2);
        assert!(tr.iter().all(|t| t.to == Resolved));
        assert!(!e.has_active(rule));
    }
}
