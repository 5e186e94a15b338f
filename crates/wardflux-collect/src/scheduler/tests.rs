//! Scheduler timing under paused tokio time: deterministic, no sleeps as synchronisation
//! (the test's own `sleep` only advances the virtual clock).

use super::*;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;

type Log = Arc<Mutex<Vec<(u32, Instant)>>>;

/// A scheduler with one job kind, `rec`, whose runs append (job number, start) to `log`
/// and then stay busy for the payload's `busy_ms`.
fn recording_scheduler(name: &str, log: &Log) -> Scheduler {
    let s = Scheduler::new(name);
    let log = Arc::clone(log);
    s.register(
        "rec",
        Arc::new(move |job: &Job| -> BoxFuture<'static, ()> {
            let log = Arc::clone(&log);
            let n = job.id.device_id.as_u128() as u32;
            let busy = Duration::from_millis(job.payload["busy_ms"].as_u64().unwrap_or(0));
            Box::pin(async move {
                log.lock().unwrap().push((n, Instant::now()));
                if !busy.is_zero() {
                    tokio::time::sleep(busy).await;
                }
            })
        }),
    );
    s
}

fn recording_job(n: u32, interval: Duration, busy: Duration) -> Job {
    let mut job = Job::new("rec", Uuid::from_u128(n.into()), interval);
    job.payload = serde_json::json!({ "busy_ms": busy.as_millis() as u64 });
    job
}

/// Jobs that return at once, one for each `(number, interval)`.
fn idle_jobs(specs: &[(u32, Duration)]) -> Vec<Job> {
    specs
        .iter()
        .map(|&(n, interval)| recording_job(n, interval, Duration::ZERO))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn first_runs_are_spread_across_the_interval() {
    let log: Log = Arc::default();
    let t0 = Instant::now();
    let s = recording_scheduler("spread", &log);
    let interval = Duration::from_secs(10);
    s.apply(
        "rec",
        (0..1000)
            .map(|k| recording_job(k, interval, Duration::ZERO))
            .collect(),
    );
    tokio::time::sleep(interval).await;
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 1000, "every job ran once in its first interval");
    let mut buckets = [0u32; 5];
    for (_, at) in log.iter() {
        let off = *at - t0;
        assert!(off < interval);
        buckets[(off.as_secs() / 2) as usize] += 1;
    }
    // 200 expected per 2-second slice; a herd would put them all in one.
    assert!(
        buckets.iter().all(|n| (140..=260).contains(n)),
        "{buckets:?}"
    );
    assert_eq!(
        s.stats().lag_max,
        Duration::ZERO,
        "paused clock: every run starts on time"
    );
}

#[tokio::test(start_paused = true)]
async fn runs_at_fixed_rate_on_a_stable_phase() {
    let log: Log = Arc::default();
    let t0 = Instant::now();
    let s = recording_scheduler("rate", &log);
    let interval = Duration::from_secs(1);
    let job = recording_job(7, interval, Duration::from_millis(300));
    let id = job.id.clone();
    s.apply("rec", vec![job]);
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    let times: Vec<Instant> = log.lock().unwrap().iter().map(|e| e.1).collect();
    assert!(times.len() >= 10, "{}", times.len());
    let phase = phase_of(&id, interval, DEFAULT_GRANULARITY);
    assert_eq!(phase.as_nanos() % 10_000_000, 0, "on the 10 ms grid");
    assert_eq!(times[0] - t0, phase);
    for w in times.windows(2) {
        assert_eq!(w[1] - w[0], interval, "no drift");
    }
    assert_eq!(s.stats().skipped, 0);
}

#[tokio::test(start_paused = true)]
async fn a_running_job_is_not_started_again_and_skips_are_counted() {
    let active = Arc::new(AtomicUsize::new(0));
    let max_active = Arc::new(AtomicUsize::new(0));
    let s = Scheduler::new("overlap");
    let (a, m) = (Arc::clone(&active), Arc::clone(&max_active));
    s.register(
        "slow",
        Arc::new(move |_: &Job| -> BoxFuture<'static, ()> {
            let (a, m) = (Arc::clone(&a), Arc::clone(&m));
            Box::pin(async move {
                let now = a.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2500)).await;
                a.fetch_sub(1, Ordering::SeqCst);
            })
        }),
    );
    s.apply(
        "slow",
        vec![Job::new("slow", Uuid::nil(), Duration::from_secs(1))],
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    let st = s.stats();
    assert_eq!(
        max_active.load(Ordering::SeqCst),
        1,
        "never two runs at once"
    );
    // A 2.5 s job on a 1 s interval runs every 3rd slot and skips the two in between.
    assert!((9..=11).contains(&st.runs), "{st:?}");
    assert!(st.skipped >= 2 * (st.runs - 1), "{st:?}");
    assert!(
        st.runs + st.skipped >= 29,
        "every due slot is either run or counted: {st:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn apply_hot_reloads_the_job_set() {
    let log: Log = Arc::default();
    let s = recording_scheduler("reload", &log);
    let sec = Duration::from_secs(1);
    s.apply("rec", idle_jobs(&[(1, sec), (2, sec)]));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let runs_of = |k: u32| -> Vec<Instant> {
        log.lock()
            .unwrap()
            .iter()
            .filter(|e| e.0 == k)
            .map(|e| e.1)
            .collect()
    };
    let count = |k: u32| runs_of(k).len();
    assert_eq!((count(1), count(2)), (5, 5));

    // Drop job 2, slow job 1 to 2 s, add job 3.
    let two = 2 * sec;
    s.apply("rec", idle_jobs(&[(1, two), (3, sec)]));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(count(2), 5, "removed job stopped");
    assert_eq!(count(3), 10);
    assert_eq!(count(1), 5 + 5, "re-timed job runs every 2 s");

    // Re-applying the same set keeps phases: runs stay on the same grid.
    let before: Vec<Instant> = runs_of(3);
    s.apply("rec", idle_jobs(&[(1, two), (3, sec)]));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after: Vec<Instant> = runs_of(3);
    assert_eq!(after.len(), before.len() + 3);
    assert_eq!(after[before.len()] - *before.last().unwrap(), sec);
}

#[tokio::test(start_paused = true)]
async fn lag_and_skips_are_exported_through_the_metrics_facade() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let log: Log = Arc::default();
    let s = metrics::with_local_recorder(&recorder, || recording_scheduler("facade", &log));
    s.apply(
        "rec",
        vec![recording_job(
            1,
            Duration::from_secs(1),
            Duration::from_millis(1500),
        )],
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    let mut seen = HashMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let labels: Vec<String> = key
            .key()
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        assert_eq!(labels, vec!["scheduler=facade".to_owned()]);
        seen.insert(key.key().name().to_owned(), value);
    }
    match &seen["wardflux_scheduler_lag_seconds"] {
        DebugValue::Histogram(v) => {
            assert!(!v.is_empty() && v.iter().all(|x| x.into_inner() == 0.0))
        }
        other => panic!("{other:?}"),
    }
    let st = s.stats();
    assert!(st.skipped > 0);
    assert_eq!(
        seen["wardflux_scheduler_skipped_total"],
        DebugValue::Counter(st.skipped)
    );
    assert_eq!(
        seen["wardflux_scheduler_runs_total"],
        DebugValue::Counter(st.runs)
    );
    assert_eq!(
        seen["wardflux_scheduler_jobs"],
        DebugValue::Gauge(1.0.into())
    );
}

#[tokio::test(start_paused = true)]
async fn kinds_keep_their_own_job_sets_and_jobs_round_trip_as_data() {
    let log: Log = Arc::default();
    let s = recording_scheduler("kinds", &log);
    let other: Log = Arc::default();
    let o = Arc::clone(&other);
    s.register(
        "other",
        Arc::new(move |job: &Job| -> BoxFuture<'static, ()> {
            o.lock()
                .unwrap()
                .push((job.id.device_id.as_u128() as u32, Instant::now()));
            Box::pin(async {})
        }),
    );
    let sec = Duration::from_secs(1);
    s.apply("rec", vec![recording_job(1, sec, Duration::ZERO)]);
    s.apply("other", vec![Job::new("other", Uuid::from_u128(9), sec)]);
    // A job of a kind nobody registered is ignored, not run by someone else's runner.
    s.apply("nobody", vec![Job::new("nobody", Uuid::from_u128(5), sec)]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Replacing the `other` set with nothing leaves `rec` running.
    s.apply("other", Vec::new());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(log.lock().unwrap().len(), 6);
    assert_eq!(other.lock().unwrap().len(), 3);
    assert!(log.lock().unwrap().iter().all(|e| e.0 == 1));

    let job = recording_job(4, sec, Duration::from_millis(20));
    let json = serde_json::to_string(&job).unwrap();
    assert_eq!(serde_json::from_str::<Job>(&json).unwrap(), job);
    assert!(json.contains("\"kind\":\"rec\""), "{json}");
}

#[test]
fn lag_quantile_reads_bucket_bounds() {
    let stats = SchedulerStats::new("q");
    for _ in 0..98 {
        stats.record_run(Duration::from_micros(80));
    }
    stats.record_run(Duration::from_millis(12));
    stats.record_run(Duration::from_millis(40));
    let s = stats.snapshot();
    assert_eq!(s.lag_quantile(0.5), Duration::from_micros(100));
    assert_eq!(s.lag_quantile(0.99), Duration::from_millis(15));
    assert_eq!(s.lag_quantile(1.0), Duration::from_millis(40));
    assert_eq!(s.runs, 100);
}
