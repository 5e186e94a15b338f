//! Runs PromQL test files (Prometheus' `promqltest` format) against several targets side by
//! side and prints pass / unsupported / wrong counts for each.
//!
//! Targets:
//! * `embedded`: this crate's evaluator over a fresh in-process embedded store per segment,
//!   data moved in time like the HTTP targets'.
//! * `embedded-at-0`: the same with the data at its own times, so the evals tied to absolute
//!   time run too. Both in-process targets also run the cases with staleness markers.
//! * `NAME=URL[#TOKEN]`: a Prometheus-compatible HTTP API (`wardflux serve`, VictoriaMetrics):
//!   samples are imported through `URL/api/v1/import/prometheus` and queried through
//!   `URL/api/v1/query` (and `query_range`), with `Authorization: Bearer TOKEN` when given.
//!   Each segment of a file (the data its evals see) is imported at its own base time, two
//!   days apart, so nothing has to be deleted between segments; evals whose answer depends
//!   on absolute time are therefore set aside, as are those over native histograms or
//!   staleness markers (the text import carries neither).
//!
//! Usage: `promql_conformance [-v] TARGET... -- FILE.test...`
//! (scripts/promql-conformance.sh starts the server and VictoriaMetrics and calls this).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::Value;
use wardflux_tsdb::embedded::EmbeddedStore;
use wardflux_tsdb::promql::testfile::{self, EvalKind, Outcome, Segment};
use wardflux_tsdb::victoria::{parse_query_answer, write_line};
use wardflux_tsdb::{EmbeddedConfig, MetricStore, QueryValue};

const DAY: i64 = 86_400_000;

enum Target {
    Embedded {
        shifted: bool,
    },
    Http {
        url: String,
        token: Option<String>,
        client: reqwest::Client,
    },
}

#[derive(Default)]
struct Tally {
    pass: usize,
    unsupported: usize,
    wrong: usize,
}

#[derive(Default)]
struct Counts {
    instant: Tally,
    range: Tally,
    unsupported_why: BTreeMap<String, usize>,
}

fn exposition(seg: &Segment, shift: i64) -> String {
    let mut out = String::new();
    for l in &seg.loads {
        for s in l.samples(shift) {
            // staleness markers cannot be imported as text (their cases are set aside)
            if s.value.to_bits() != 0x7ff0_0000_0000_0002 {
                write_line(&mut out, &s);
            }
        }
    }
    out
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

impl Target {
    async fn load(
        &self,
        seg: &Segment<'_>,
        shift: i64,
        dir: &std::path::Path,
    ) -> anyhow::Result<Option<Arc<EmbeddedStore>>> {
        match self {
            Target::Embedded { .. } => {
                let mut cfg = EmbeddedConfig::new(dir);
                cfg.raw_retention = std::time::Duration::from_secs(100 * 365 * 86_400);
                let s = EmbeddedStore::open(cfg).await?;
                for l in &seg.loads {
                    s.append(l.samples(shift)).await?;
                }
                s.flush().await?;
                Ok(Some(s))
            }
            Target::Http { url, token, client } => {
                let body = exposition(seg, shift);
                if !body.is_empty() {
                    let mut req = client
                        .post(format!("{url}/api/v1/import/prometheus"))
                        .body(body);
                    if let Some(t) = token {
                        req = req.bearer_auth(t);
                    }
                    let r = req.send().await.context("import")?;
                    if !r.status().is_success() {
                        bail!(
                            "import: {} {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        );
                    }
                    // VictoriaMetrics: make the import searchable now (404 elsewhere)
                    let _ = client
                        .get(format!("{url}/internal/force_flush"))
                        .send()
                        .await;
                }
                Ok(None)
            }
        }
    }

    async fn query(
        &self,
        store: Option<&Arc<EmbeddedStore>>,
        q: &str,
        kind: EvalKind,
        shift: i64,
    ) -> Result<QueryValue, String> {
        match self {
            Target::Embedded { .. } => {
                let s = store.expect("embedded store");
                let r = match kind {
                    EvalKind::Instant { at_ms } => {
                        wardflux_tsdb::promql::eval_instant(&**s, q, at_ms + shift).await
                    }
                    EvalKind::Range {
                        start_ms,
                        end_ms,
                        step_ms,
                    } => {
                        wardflux_tsdb::promql::eval_range(
                            &**s,
                            q,
                            start_ms + shift,
                            end_ms + shift,
                            step_ms,
                        )
                        .await
                    }
                };
                r.map_err(|e| e.to_string())
            }
            Target::Http { url, token, client } => {
                let (path, params) = match kind {
                    EvalKind::Instant { at_ms } => (
                        "query",
                        vec![("query", q.to_string()), ("time", secs(at_ms + shift))],
                    ),
                    EvalKind::Range {
                        start_ms,
                        end_ms,
                        step_ms,
                    } => (
                        "query_range",
                        vec![
                            ("query", q.to_string()),
                            ("start", secs(start_ms + shift)),
                            ("end", secs(end_ms + shift)),
                            ("step", format!("{step_ms}ms")),
                        ],
                    ),
                };
                let mut req = client.post(format!("{url}/api/v1/{path}")).form(&params);
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let r = req.send().await.map_err(|e| e.to_string())?;
                let v: Value = r.json().await.map_err(|e| format!("bad answer: {e}"))?;
                parse_query_answer(&v).map_err(|e| e.to_string())
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    let sep = args
        .iter()
        .position(|a| a == "--")
        .context("usage: promql_conformance [-v] TARGET... -- FILE...")?;
    let mut targets: Vec<(String, Target)> = Vec::new();
    for t in args[..sep].iter().filter(|a| *a != "-v") {
        if t == "embedded" || t == "embedded-at-0" {
            let shifted = t == "embedded";
            targets.push((t.clone(), Target::Embedded { shifted }));
            continue;
        }
        let (name, rest) = t.split_once('=').context("target NAME=URL[#TOKEN]")?;
        let (url, token) = match rest.split_once('#') {
            Some((u, tok)) => (u.to_string(), Some(tok.to_string())),
            None => (rest.to_string(), None),
        };
        targets.push((
            name.to_string(),
            Target::Http {
                url: url.trim_end_matches('/').to_string(),
                token,
                client: reqwest::Client::new(),
            },
        ));
    }
    let files: Vec<(String, Vec<testfile::Command>)> = args[sep + 1..]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).with_context(|| f.clone())?;
            let cmds = testfile::parse(&text).with_context(|| f.clone())?;
            Ok((f.clone(), cmds))
        })
        .collect::<anyhow::Result<_>>()?;
    let total_segments: i64 = files
        .iter()
        .map(|(_, c)| testfile::segments(c).len() as i64)
        .sum();
    let today = wardflux_tsdb::now_ms().div_euclid(DAY) * DAY;
    let base0 = today - 2 * DAY * (total_segments + 2);
    let mut counts: Vec<Counts> = targets.iter().map(|_| Counts::default()).collect();
    let mut set_aside: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut seg_no = 0i64;
    let tmp = tempfile::tempdir()?;
    for (fname, cmds) in &files {
        for seg in testfile::segments(cmds) {
            let moved = base0 + 2 * DAY * seg_no;
            seg_no += 1;
            for (ti, (tname, target)) in targets.iter().enumerate() {
                let unshifted = matches!(target, Target::Embedded { shifted: false });
                let shift = if unshifted { 0 } else { moved };
                let dir = tmp.path().join(format!("s{seg_no}-{ti}"));
                let store = target.load(&seg, shift, &dir).await?;
                for (ev, why) in &seg.evals {
                    // in-process, staleness markers are appended as they are; unmoved data
                    // keeps absolute times
                    let in_process = matches!(target, Target::Embedded { .. });
                    let why = why.filter(|w| {
                        !(unshifted && *w == "absolute time"
                            || in_process && *w == "staleness markers")
                    });
                    if let Some(w) = why {
                        if ti == 0 {
                            *set_aside.entry(w).or_default() += 1;
                        }
                        continue;
                    }
                    let got = target
                        .query(store.as_ref(), &ev.query, ev.kind, shift)
                        .await;
                    let out = testfile::check(ev, got, shift);
                    let c = &mut counts[ti];
                    let tally = match ev.kind {
                        EvalKind::Instant { .. } => &mut c.instant,
                        EvalKind::Range { .. } => &mut c.range,
                    };
                    match &out {
                        Outcome::Pass => tally.pass += 1,
                        Outcome::Unsupported(m) => {
                            tally.unsupported += 1;
                            *c.unsupported_why.entry(m.clone()).or_default() += 1;
                        }
                        Outcome::Wrong(_) => tally.wrong += 1,
                    }
                    if verbose && out != Outcome::Pass {
                        println!("{tname}\t{fname}:{}\t{}\t{out:?}", ev.line, ev.query);
                    }
                }
            }
        }
    }
    println!("set aside (all targets): {set_aside:?}");
    println!("target\tinstant: pass/unsupported/wrong (total)\trange: pass/unsupported/wrong");
    for ((name, _), c) in targets.iter().zip(&counts) {
        let t = &c.instant;
        let r = &c.range;
        println!(
            "{name}\t{}/{}/{} ({})\t{}/{}/{}",
            t.pass,
            t.unsupported,
            t.wrong,
            t.pass + t.unsupported + t.wrong,
            r.pass,
            r.unsupported,
            r.wrong
        );
        if verbose {
            for (why, n) in &c.unsupported_why {
                println!("  unsupported x{n}: {why}");
            }
        }
    }
    Ok(())
}
