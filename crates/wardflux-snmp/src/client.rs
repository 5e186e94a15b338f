//! The async engine: [`SnmpClient`], one shared UDP socket per address family.
//!
//! Design:
//! - One `async_snmp::UdpTransport` per address family (bound lazily on first use), shared by
//!   every target; responses are demultiplexed by request-id (msgID for v3) in its single
//!   receive task. No task and no socket per device.
//! - A per-target handle (the library's `Client`) is built once per distinct
//!   (address, version, credentials, timeout, retries) and cached; it carries the target's
//!   discovered engine ID, boots/time and localised keys. Password-to-key derivation (1 MB of
//!   hashing) is cached per (protocol, password) in `master_keys`, so a fleet sharing one
//!   credential derives it once.
//! - Two limits on requests in flight: a global semaphore and a per-device one (default 1,
//!   because real routers' SNMP processes are slow and low-priority). Each PDU exchange takes
//!   one permit of each; walks take them per request, not for the whole walk.
//! - v3: after a timeout the engine is rediscovered before the next request to that device,
//!   so a replaced or reconfigured agent (new engine ID) costs one failed poll, not all of
//!   them; a rebooted agent with the same engine ID is re-synchronised by the library on its
//!   notInTimeWindow report without any error.
//! - Walks are driven here (not by the library's walk stream) so that they follow net-snmp's
//!   `snmpwalk`/`snmpbulkwalk` loop exactly, adapt max-repetitions per device (halved on
//!   tooBig and remembered), and fall back to GETNEXT for v1 and for agents answering
//!   GETBULK with an error status (remembered per device).
//! - OID order ([`OidCheck`]): by default a walk ends, as net-snmp's does, at an OID that
//!   does not increase, after handing out the rest of that response. Agents that list their
//!   tables out of order are read with [`OidCheck::Unchecked`] (net-snmp's `-Cc`); since such
//!   a walk can no longer rely on order to end, it keeps the set of OIDs it asked for and
//!   stops with [`SnmpError::WalkLoop`] when one comes round again (net-snmp would loop
//!   forever).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_snmp::{Auth, ClientBuilder, EngineCache, MasterKeys, Retry, UdpHandle, UdpTransport};
use tokio::sync::{OnceCell, Semaphore};

use crate::error::SnmpError;
use crate::target::{Credentials, SecurityLevel, Target, Version};
use crate::types::{Oid, Value, VarBind};

/// Engine-wide limits.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Requests in flight over all devices.
    pub global_in_flight: usize,
    /// Requests in flight per device.
    pub per_device_in_flight: usize,
    /// SO_RCVBUF of each shared socket (a burst of replies from a large fleet must fit).
    pub recv_buffer_size: usize,
    /// Largest response we accept, advertised to v3 agents as msgMaxSize (net-snmp
    /// advertises the UDP maximum, 65507, too). Agents answer tooBig above it.
    pub max_message_size: usize,
    /// Most variable bindings sent in one GET/GETNEXT PDU; longer lists are split. net-snmp
    /// sends every OID of a command in one PDU, and async-snmp's own default (10) tripled
    /// the PDUs of a 21-OID interface poll (and the agent's work with them); a PDU whose
    /// answer is too big is still split on tooBig.
    pub max_oids_per_request: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            global_in_flight: 2048,
            per_device_in_flight: 1,
            recv_buffer_size: 8 << 20,
            max_message_size: 65_507,
            max_oids_per_request: 64,
        }
    }
}

/// How a walk asks for the next rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WalkMethod {
    GetNext,
    #[default]
    GetBulk,
}

/// Whether a walk checks that the agent returns increasing OIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OidCheck {
    /// net-snmp's default: an OID not greater than the one asked for ends the walk with
    /// [`SnmpError::NotIncreasing`] (after the rest of that response, as net-snmp prints it).
    #[default]
    Increasing,
    /// net-snmp's `-Cc`: accept OIDs in any order, so tables of agents that answer out of
    /// order are still read. Unlike net-snmp (which then loops forever on an agent that
    /// cycles), asking for an OID a second time ends the walk with [`SnmpError::WalkLoop`].
    Unchecked,
}

/// How to walk: request type and OID-order check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalkOptions {
    pub method: WalkMethod,
    pub oid_check: OidCheck,
}

impl From<WalkMethod> for WalkOptions {
    fn from(method: WalkMethod) -> Self {
        WalkOptions {
            method,
            oid_check: OidCheck::Increasing,
        }
    }
}

/// What a walk loop hands out, in net-snmp's order.
#[derive(Debug)]
pub(crate) enum WalkItem {
    /// A varbind inside the subtree (exception values included).
    VarBind(VarBind),
    /// `next` did not increase over `previous`; the rest of the response still follows.
    NotIncreasing { previous: Oid, next: Oid },
}

/// Why a walk loop ended without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WalkEnd {
    /// Left the subtree or met an exception value.
    Done,
    /// A v1 agent answered noSuchName: the end of its MIB (net-snmp prints "End of MIB").
    EndOfMib,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct DeviceKey {
    addr: SocketAddr,
    version: Version,
    credentials: Credentials,
    timeout: Duration,
    retries: u32,
}

fn device_key(t: &Target) -> DeviceKey {
    DeviceKey {
        addr: t.addr,
        version: t.version,
        credentials: t.credentials.clone(),
        timeout: t.timeout,
        retries: t.retries,
    }
}

/// Per-agent limits the engine learns as it talks to it ([`SnmpClient::learned_limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LearnedLimits {
    /// The max-repetitions cap walks settled on after tooBig answers (`None`: no cap
    /// learned, the target's own value is used).
    pub max_repetitions: Option<u32>,
    /// Whether walks use GETBULK (false for v1 and for agents that answered it with an
    /// error status).
    pub getbulk: bool,
}

struct Device {
    client: async_snmp::Client<UdpHandle>,
    /// Per-device in-flight limit; shared by all tasks polling this device.
    permits: Semaphore,
    /// Learned max-repetitions cap (0 = none learned yet).
    max_reps: AtomicU32,
    /// Set once the agent answered GETBULK with an error: walk it with GETNEXT.
    getnext_only: AtomicBool,
    /// v3 target.
    v3: bool,
    /// Set when a v3 exchange timed out: rediscover the engine before the next one.
    rediscover: AtomicBool,
}

type KeyId = (u8, String, u8, String);

struct Inner {
    config: ClientConfig,
    v4: OnceCell<UdpTransport>,
    v6: OnceCell<UdpTransport>,
    engines: Arc<EngineCache>,
    /// std Mutex: held only to look up / insert, never across an await.
    devices: Mutex<HashMap<DeviceKey, Arc<Device>>>,
    /// std Mutex for the same reason; values are cheap to clone.
    master_keys: Mutex<HashMap<KeyId, MasterKeys>>,
    global: Semaphore,
    des_salt: OnceLock<Result<async_snmp::DesSaltState, String>>,
}

/// The SNMP engine. Cheap to clone (an `Arc`); share one per process.
#[derive(Clone)]
pub struct SnmpClient {
    inner: Arc<Inner>,
}

impl Default for SnmpClient {
    fn default() -> Self {
        SnmpClient::new(ClientConfig::default())
    }
}

impl std::fmt::Debug for SnmpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnmpClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl SnmpClient {
    /// A new engine. Sockets are bound on first use (must be inside a tokio runtime then).
    pub fn new(config: ClientConfig) -> Self {
        let global = Semaphore::new(config.global_in_flight.max(1));
        SnmpClient {
            inner: Arc::new(Inner {
                config,
                v4: OnceCell::new(),
                v6: OnceCell::new(),
                engines: Arc::new(EngineCache::new()),
                devices: Mutex::new(HashMap::new()),
                master_keys: Mutex::new(HashMap::new()),
                global,
                des_salt: OnceLock::new(),
            }),
        }
    }

    async fn transport(&self, addr: &SocketAddr) -> Result<&UdpTransport, SnmpError> {
        let (cell, bind) = if addr.is_ipv4() {
            (&self.inner.v4, "0.0.0.0:0")
        } else {
            (&self.inner.v6, "[::]:0")
        };
        cell.get_or_try_init(|| async {
            UdpTransport::builder()
                .bind(bind)
                .recv_buffer_size(self.inner.config.recv_buffer_size)
                .receive_capacity(self.inner.config.max_message_size.clamp(484, 65_507))
                .build()
                .await
                .map_err(|e| SnmpError::from_lib(&e, *addr))
        })
        .await
    }

    fn master_keys(&self, t: &Target) -> Result<Option<MasterKeys>, SnmpError> {
        let Credentials::Usm(u) = &t.credentials else {
            return Ok(None);
        };
        let Some((ap, apass)) = u
            .auth
            .as_ref()
            .filter(|_| u.level != SecurityLevel::NoAuthNoPriv)
        else {
            return Ok(None);
        };
        let privacy = u
            .privacy
            .as_ref()
            .filter(|_| u.level == SecurityLevel::AuthPriv);
        let id: KeyId = (
            *ap as u8,
            apass.expose().to_string(),
            privacy.map_or(255, |(p, _)| *p as u8),
            privacy
                .map(|(_, s)| s.expose().to_string())
                .unwrap_or_default(),
        );
        if let Some(k) = self.inner.master_keys.lock().expect("poisoned").get(&id) {
            return Ok(Some(k.clone()));
        }
        let cfg = |e: async_snmp::CryptoError| SnmpError::Config(e.to_string());
        let mut keys = MasterKeys::new(crate::target::auth_to_lib(*ap), apass.expose().as_bytes())
            .map_err(cfg)?;
        if let Some((pp, ppass)) = privacy {
            keys = keys
                .with_privacy(crate::target::priv_to_lib(*pp), ppass.expose().as_bytes())
                .map_err(cfg)?;
        }
        self.inner
            .master_keys
            .lock()
            .expect("poisoned")
            .insert(id, keys.clone());
        Ok(Some(keys))
    }

    /// DES needs a sender salt that never repeats for a key; without persisted state we
    /// start a fresh epoch from the wall clock (seconds), which only moves forward.
    fn des_salt(&self) -> Result<async_snmp::DesSaltState, SnmpError> {
        self.inner
            .des_salt
            .get_or_init(|| {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(1);
                let epoch = (secs % 0x7fff_fff0).max(1) as u32;
                let prev =
                    async_snmp::v3::PersistedDesSaltState::new(epoch).map_err(|e| e.to_string())?;
                async_snmp::DesSaltState::restart(prev, |_| Ok::<(), std::io::Error>(()))
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(SnmpError::Config)
    }

    fn auth_for(&self, t: &Target) -> Result<Auth, SnmpError> {
        match (&t.credentials, t.version) {
            (Credentials::Community(c), Version::V1) => Ok(Auth::v1(c.expose().to_string())),
            (Credentials::Community(c), Version::V2c) => Ok(Auth::v2c(c.expose().to_string())),
            (Credentials::Usm(u), Version::V3) => {
                let mut cfg = async_snmp::UsmConfig::new(u.user.clone().into_bytes());
                if let Some(keys) = self.master_keys(t)? {
                    cfg = cfg
                        .with_master_keys(keys)
                        .map_err(|e| SnmpError::Config(e.to_string()))?;
                } else if u.level != SecurityLevel::NoAuthNoPriv {
                    return Err(SnmpError::Config(
                        "security level needs an auth protocol and password".into(),
                    ));
                }
                if u.level == SecurityLevel::AuthPriv && u.privacy.is_none() {
                    return Err(SnmpError::Config(
                        "authPriv needs a privacy protocol and password".into(),
                    ));
                }
                if !u.context.is_empty() {
                    cfg = cfg.context_name(u.context.clone().into_bytes());
                }
                Ok(Auth::from(cfg))
            }
            (Credentials::Community(_), Version::V3) => Err(SnmpError::Config(
                "v3 needs a USM user, not a community".into(),
            )),
            (Credentials::Usm(_), _) => Err(SnmpError::Config("a USM user needs version 3".into())),
        }
    }

    async fn device(&self, t: &Target) -> Result<Arc<Device>, SnmpError> {
        let key = device_key(t);
        if let Some(d) = self.inner.devices.lock().expect("poisoned").get(&key) {
            return Ok(d.clone());
        }
        let transport = self.transport(&t.addr).await?;
        let handle = transport
            .handle(t.addr)
            .map_err(|e| SnmpError::from_lib(&e, t.addr))?;
        let retry = Retry::fixed(t.retries.min(async_snmp::MAX_RETRIES), Duration::ZERO)
            .map_err(|e| SnmpError::Config(e.to_string()))?;
        let mut builder = ClientBuilder::new(self.auth_for(t)?)
            .request_timeout(t.timeout)
            .retry(retry)
            .engine_cache(self.inner.engines.clone())
            .max_oids_per_request(self.inner.config.max_oids_per_request.max(1))
            // Agents send usmStatsWrongDigests / UnknownUserNames / NotInTimeWindows reports
            // unauthenticated (RFC 3414 3.2 step 7a); without this they would be dropped and
            // a wrong password would look like a timeout. Like net-snmp, accept them: a
            // spoofed report can at worst fail one request.
            .allow_unauthenticated_v3_time_correction(true);
        if let Credentials::Usm(u) = &t.credentials
            && u.level == SecurityLevel::AuthPriv
            && matches!(u.privacy, Some((crate::target::PrivProtocol::Des, _)))
        {
            builder = builder.des_salt_state(self.des_salt()?);
        }
        let client = builder
            .build_with_transport(handle)
            .map_err(|e| SnmpError::from_lib(&e, t.addr))?;
        let dev = Arc::new(Device {
            client,
            permits: Semaphore::new(self.inner.config.per_device_in_flight.max(1)),
            max_reps: AtomicU32::new(0),
            getnext_only: AtomicBool::new(t.version == Version::V1),
            v3: t.version == Version::V3,
            rediscover: AtomicBool::new(false),
        });
        let mut map = self.inner.devices.lock().expect("poisoned");
        Ok(map.entry(key).or_insert(dev).clone())
    }

    /// Runs one exchange under the global and the per-device limits.
    async fn limited<F, Fut, R>(&self, dev: &Device, addr: SocketAddr, f: F) -> Result<R, SnmpError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = async_snmp::Result<R>>,
    {
        // Device permit first: a task waiting for a busy device must not hold a global
        // permit that a request to an idle device could use.
        let _d = dev
            .permits
            .acquire()
            .await
            .map_err(|_| SnmpError::Protocol("engine closed".into()))?;
        let _g = self
            .inner
            .global
            .acquire()
            .await
            .map_err(|_| SnmpError::Protocol("engine closed".into()))?;
        if dev.rediscover.load(Ordering::Relaxed) {
            // The last v3 exchange timed out: the agent may have been replaced or re-keyed
            // (new engine ID; its reports then fail our checks and look like silence).
            // Discover again before this request; a dead agent fails here within one
            // timeout, so a call never waits more than one timeout sequence.
            dev.client
                .rediscover_engine()
                .await
                .map_err(|e| SnmpError::from_lib(&e, addr))?;
            dev.rediscover.store(false, Ordering::Relaxed);
        }
        let res = f().await.map_err(|e| SnmpError::from_lib(&e, addr));
        if dev.v3 && matches!(res, Err(SnmpError::Timeout { .. })) {
            dev.rediscover.store(true, Ordering::Relaxed);
        }
        res
    }

    /// GET of many OIDs; split into several PDUs when the agent answers tooBig.
    pub async fn get(&self, t: &Target, oids: &[Oid]) -> Result<Vec<VarBind>, SnmpError> {
        if oids.is_empty() {
            return Ok(Vec::new());
        }
        let dev = self.device(t).await?;
        let lib: Vec<async_snmp::Oid> = oids.iter().map(|o| o.0.clone()).collect();
        let r = self
            .limited(&dev, t.addr, || dev.client.get_many(&lib))
            .await?;
        VarBind::from_lib_all(r.varbinds, t.addr)
    }

    /// GETNEXT of many OIDs.
    pub async fn get_next(&self, t: &Target, oids: &[Oid]) -> Result<Vec<VarBind>, SnmpError> {
        if oids.is_empty() {
            return Ok(Vec::new());
        }
        let dev = self.device(t).await?;
        let lib: Vec<async_snmp::Oid> = oids.iter().map(|o| o.0.clone()).collect();
        let r = self
            .limited(&dev, t.addr, || dev.client.get_next_many(&lib))
            .await?;
        VarBind::from_lib_all(r.varbinds, t.addr)
    }

    /// One GETBULK request (v2c/v3).
    pub async fn get_bulk(
        &self,
        t: &Target,
        oids: &[Oid],
        non_repeaters: u32,
        max_repetitions: u32,
    ) -> Result<Vec<VarBind>, SnmpError> {
        if t.version == Version::V1 {
            return Err(SnmpError::Config("GETBULK needs SNMP v2c or v3".into()));
        }
        let dev = self.device(t).await?;
        let lib: Vec<async_snmp::Oid> = oids.iter().map(|o| o.0.clone()).collect();
        let r = self
            .limited(&dev, t.addr, || {
                dev.client.get_bulk(&lib, non_repeaters, max_repetitions)
            })
            .await?;
        VarBind::from_lib_all(r, t.addr)
    }

    /// Walks the subtree under `root` with GETNEXT; returns its values (exceptions excluded).
    pub async fn walk(&self, t: &Target, root: &Oid) -> Result<Vec<VarBind>, SnmpError> {
        self.walk_collect(t, root, WalkMethod::GetNext.into()).await
    }

    /// Walks the subtree under `root` with GETBULK (max-repetitions adapted per device,
    /// GETNEXT for v1 and for agents that mishandle GETBULK); exceptions excluded.
    pub async fn bulk_walk(&self, t: &Target, root: &Oid) -> Result<Vec<VarBind>, SnmpError> {
        self.walk_collect(t, root, WalkMethod::GetBulk.into()).await
    }

    /// Walks the subtree under `root` as `opts` says (e.g. [`OidCheck::Unchecked`] for an
    /// agent that returns its OIDs out of order); exceptions excluded.
    pub async fn walk_collect(
        &self,
        t: &Target,
        root: &Oid,
        opts: WalkOptions,
    ) -> Result<Vec<VarBind>, SnmpError> {
        let mut out = Vec::new();
        self.walk_with(t, root, opts, |vb| {
            if !vb.value.is_exception() {
                out.push(vb)
            }
        })
        .await?;
        Ok(out)
    }

    /// Streaming walk: calls `f` for every varbind of the subtree as responses arrive
    /// (exception values included, as net-snmp prints them). `opts` is a [`WalkMethod`] or
    /// [`WalkOptions`]; GETBULK falls back to GETNEXT as in [`SnmpClient::bulk_walk`].
    pub async fn walk_with(
        &self,
        t: &Target,
        root: &Oid,
        opts: impl Into<WalkOptions>,
        mut f: impl FnMut(VarBind),
    ) -> Result<(), SnmpError> {
        self.walk_each(t, root, opts.into(), t.max_repetitions, |item| {
            if let WalkItem::VarBind(vb) = item {
                f(vb)
            }
        })
        .await
        .map(|_| ())
    }

    /// net-snmp's walk loop: every varbind inside the subtree (exceptions included, as
    /// net-snmp prints them) goes to `emit`, in order, and so does every OID-order
    /// violation, where net-snmp prints it. As in net-snmp, a violation ends the walk after
    /// the rest of its response; GETBULK responses are checked against the OID asked for
    /// (`snmpbulkwalk`), GETNEXT against the previous one (`snmpwalk`).
    pub(crate) async fn walk_each(
        &self,
        t: &Target,
        root: &Oid,
        opts: WalkOptions,
        max_repetitions: u32,
        mut emit: impl FnMut(WalkItem),
    ) -> Result<WalkEnd, SnmpError> {
        let dev = self.device(t).await?;
        let mut bulk = opts.method == WalkMethod::GetBulk
            && t.version != Version::V1
            && !dev.getnext_only.load(Ordering::Relaxed);
        // net-snmp BER-encodes a one-arc OID `.1` as `1.0`; ask for exactly that.
        let mut name = if root.len() < 2 {
            let mut arcs = root.arcs().to_vec();
            arcs.resize(2, 0);
            Oid::from_arcs(&arcs)
        } else {
            root.clone()
        };
        // -Cc: the OIDs asked for so far; one asked for twice means the agent cycles.
        let mut requested = (opts.oid_check == OidCheck::Unchecked)
            .then(|| std::collections::HashSet::from([name.clone()]));
        loop {
            let reps = {
                let learned = dev.max_reps.load(Ordering::Relaxed);
                let want = max_repetitions.max(1);
                if learned == 0 {
                    want
                } else {
                    want.min(learned)
                }
            };
            let req = [name.0.clone()];
            let res = if bulk {
                self.limited(&dev, t.addr, || dev.client.get_bulk(&req, 0, reps))
                    .await
            } else {
                self.limited(&dev, t.addr, || dev.client.get_next_many(&req))
                    .await
                    .map(|r| r.varbinds)
            };
            let varbinds = match res {
                Ok(v) => VarBind::from_lib_all(v, t.addr)?,
                Err(SnmpError::TooBig { .. }) if bulk && reps > 1 => {
                    dev.max_reps.store((reps / 2).max(1), Ordering::Relaxed);
                    continue;
                }
                Err(SnmpError::ErrorStatus { status: 2, .. })
                    if !bulk && t.version == Version::V1 =>
                {
                    return Ok(WalkEnd::EndOfMib);
                }
                Err(SnmpError::ErrorStatus { .. }) if bulk => {
                    dev.getnext_only.store(true, Ordering::Relaxed);
                    bulk = false;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if varbinds.is_empty() {
                return Ok(WalkEnd::Done);
            }
            let mut running = true;
            let mut violation: Option<SnmpError> = None;
            let n = varbinds.len();
            let mut next = None;
            for (i, vb) in varbinds.into_iter().enumerate() {
                if !vb.oid.starts_with(root) {
                    running = false;
                    continue;
                }
                let exception = vb.value.is_exception();
                let oid = vb.oid.clone();
                emit(WalkItem::VarBind(vb));
                if exception {
                    running = false;
                    continue;
                }
                if requested.is_none() && name >= oid {
                    emit(WalkItem::NotIncreasing {
                        previous: name.clone(),
                        next: oid.clone(),
                    });
                    running = false;
                    violation.get_or_insert_with(|| SnmpError::NotIncreasing {
                        target: t.addr,
                        previous: Box::new(name.clone()),
                        next: Box::new(oid.clone()),
                    });
                }
                if !bulk || i + 1 == n {
                    next = Some(oid);
                }
            }
            if let Some(e) = violation {
                return Err(e);
            }
            if !running {
                return Ok(WalkEnd::Done);
            }
            let Some(next) = next else {
                return Ok(WalkEnd::Done);
            };
            if let Some(seen) = requested.as_mut()
                && !seen.insert(next.clone())
            {
                return Err(SnmpError::WalkLoop {
                    target: t.addr,
                    oid: Box::new(next),
                });
            }
            name = next;
        }
    }

    /// What the engine has learned about `t`'s agent so far (`None` before the first
    /// exchange with it): the max-repetitions cap its walks settled on and whether it
    /// answers GETBULK. A caller may persist this and hand it back with
    /// [`SnmpClient::seed_limits`] after a restart.
    pub fn learned_limits(&self, t: &Target) -> Option<LearnedLimits> {
        let dev = self
            .inner
            .devices
            .lock()
            .expect("poisoned")
            .get(&device_key(t))
            .cloned()?;
        let reps = dev.max_reps.load(Ordering::Relaxed);
        Some(LearnedLimits {
            max_repetitions: (reps > 0).then_some(reps),
            getbulk: t.version != Version::V1 && !dev.getnext_only.load(Ordering::Relaxed),
        })
    }

    /// Seeds what an earlier run learned about `t`'s agent (see
    /// [`SnmpClient::learned_limits`]), so its walks start with a max-repetitions that works
    /// and skip GETBULK on an agent known to mishandle it.
    pub async fn seed_limits(&self, t: &Target, limits: LearnedLimits) -> Result<(), SnmpError> {
        let dev = self.device(t).await?;
        if let Some(r) = limits.max_repetitions.filter(|r| *r > 0) {
            dev.max_reps.store(r, Ordering::Relaxed);
        }
        if !limits.getbulk {
            dev.getnext_only.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Forgets cached per-device state (engine ID, learned limits) for `t`.
    pub fn forget(&self, t: &Target) {
        self.inner
            .devices
            .lock()
            .expect("poisoned")
            .remove(&device_key(t));
    }

    /// Number of devices with cached state.
    pub fn device_count(&self) -> usize {
        self.inner.devices.lock().expect("poisoned").len()
    }
}

/// Convenience: the value of one varbind for `oid` in `vbs`.
pub fn find<'a>(vbs: &'a [VarBind], oid: &Oid) -> Option<&'a Value> {
    vbs.iter().find(|v| &v.oid == oid).map(|v| &v.value)
}
