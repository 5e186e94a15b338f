//! Live updates: device state changes pushed to open pages over server-sent events.
//!
//! [`LiveFeed`] is a `StateRecorder` on the collectors' state fan-out (the binary adds it
//! beside the history writer and the alert engine). Each change goes into a
//! `tokio::sync::broadcast` channel: recording never waits for browsers, and each open page
//! holds one receiver through `/ui/events`. An event only says "device X is now down"; the
//! page re-fetches its live fragment (htmx `hx-trigger="sse:state throttle:1s"`), so a
//! burst of changes costs one render per page and second, not one per change. A receiver that
//! falls behind (`Lagged`) gets one `state` event too, so it re-fetches instead of silently
//! missing changes.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::{Stream, StreamExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use wardflux_api::AppState;
use wardflux_model::{StateChange, StateRecorder};

use crate::session::Page;

/// Fans device state changes out to the open pages. Cheap to clone (one channel inside).
#[derive(Clone)]
pub struct LiveFeed {
    // A broadcast channel, not a lock: the recorder must never wait for a slow browser;
    // receivers that lag lose messages and are told to refresh instead.
    tx: broadcast::Sender<String>,
    /// Inventory facts the live fragments join to the monitor's table (see `inventory.rs`).
    pub(crate) inventory: std::sync::Arc<crate::inventory::InventoryCache>,
    /// Rendered live fragments shared by the open pages (see [`FragmentCache`]).
    pub(crate) fragments: std::sync::Arc<FragmentCache>,
}

/// Live fragments rendered at most once a second per distinct query. After a state change
/// every open Monitor page re-fetches its fragment within a second; pages with the same
/// filters get the same HTML (a fragment holds no per-user content), so K open pages cost
/// one render per second and filter set instead of K (measured in docs/perf/ui.md).
#[derive(Default)]
pub struct FragmentCache {
    // A std Mutex: held to look up or store one entry, never while rendering (two pages
    // that miss at once both render; the later one is kept).
    entries: std::sync::Mutex<
        std::collections::HashMap<String, (std::time::Instant, std::sync::Arc<String>)>,
    >,
}

impl FragmentCache {
    /// How old a shared fragment may be: the pages' own re-fetch throttle.
    const MAX_AGE: Duration = Duration::from_secs(1);
    /// Distinct queries kept (each open filter set is one); beyond it the cache is cleared.
    const MAX_ENTRIES: usize = 256;

    /// The fragment for `key`, rendered by `render` unless a fresh one is kept.
    pub fn get_or_render<E>(
        &self,
        key: &str,
        render: impl FnOnce() -> Result<String, E>,
    ) -> Result<std::sync::Arc<String>, E> {
        let now = std::time::Instant::now();
        {
            let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, html)) = map.get(key)
                && now.duration_since(*at) < Self::MAX_AGE
            {
                return Ok(html.clone());
            }
        }
        let html = std::sync::Arc::new(render()?);
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::MAX_ENTRIES {
            map.clear();
        }
        map.insert(key.to_string(), (now, html.clone()));
        Ok(html)
    }
}

impl Default for LiveFeed {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveFeed {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self {
            tx,
            inventory: Default::default(),
            fragments: Default::default(),
        }
    }

    /// Pages listening now.
    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }

    fn subscribe(&self) -> impl Stream<Item = Result<Event, Infallible>> + use<> {
        BroadcastStream::new(self.tx.subscribe()).map(|m| {
            Ok(match m {
                Ok(json) => Event::default().event("state").data(json),
                Err(BroadcastStreamRecvError::Lagged(n)) => Event::default()
                    .event("state")
                    .data(format!("{{\"lagged\":{n}}}")),
            })
        })
    }
}

#[async_trait::async_trait]
impl StateRecorder for LiveFeed {
    async fn record(&self, c: StateChange) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let (from, to) = c.shown_states();
        let msg = serde_json::json!({
            "device_id": c.device_id,
            "name": c.name,
            "from": from.as_str(),
            "to": to.as_str(),
            "at": c.at,
        })
        .to_string();
        // No receiver left between the check and the send is not an error.
        let _ = self.tx.send(msg);
    }
}

/// `GET /ui/events`: the page's event stream (`state` events; keep-alive comments every 15 s).
async fn events(
    State(st): State<AppState>,
    _page: Page,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = match st.services.get::<LiveFeed>() {
        Ok(feed) => feed.subscribe().boxed(),
        // No monitor, no changes: the page still gets keep-alives and its periodic refresh.
        Err(_) => futures::stream::pending().boxed(),
    };
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/ui/events", get(events))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fragment_is_rendered_once_per_query_within_a_second() {
        let c = FragmentCache::default();
        let mut renders = 0;
        for _ in 0..5 {
            let html = c
                .get_or_render::<()>("state=down", || {
                    renders += 1;
                    Ok("<tr>".into())
                })
                .unwrap();
            assert_eq!(*html, "<tr>");
        }
        assert_eq!(renders, 1);
        c.get_or_render::<()>("state=up", || {
            renders += 1;
            Ok(String::new())
        })
        .unwrap();
        assert_eq!(renders, 2, "another filter set is its own fragment");
    }
}
