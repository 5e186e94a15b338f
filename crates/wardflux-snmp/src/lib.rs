//! SNMP v1/v2c/v3 for WARD FLUX: the engine, the OID library, the counter-rate helper and
//! the net-snmp-compatible CLI.
//!
//! # Build or buy
//! The wire codec and USM come from `async-snmp` (pinned `=0.18.1`), kept entirely behind this
//! crate's own types ([`Oid`], [`Value`], [`VarBind`], [`Target`], [`SnmpError`]): no other
//! crate sees it, so it can be replaced here alone. It was chosen after reading its source
//! because it does everything the issue asks of a codec and USM: v1/v2c/v3, HMAC-MD5/SHA-1/
//! SHA-224/256/384/512, DES, AES-128, AES-192/256 in both key-extension variants (Blumenthal =
//! net-snmp's `AES-256`, Reeder = Cisco's `AES-256-C`), engine-ID discovery with an engine
//! cache, boots/time tracking and one authenticated re-sync after a notInTimeWindow report,
//! reusable master keys, tooBig splitting of GET batches, and one shared UDP socket with
//! request-id demultiplexing. Its decoder is fuzzed here (`fuzz/`). What it lacks and this
//! crate adds: the per-device and global in-flight limits, adaptive max-repetitions and the
//! GETNEXT fallback in walks (walks follow net-snmp's loop exactly, see [`client`]), a cache of
//! master keys per credential, net-snmp's text rendering ([`render`]), the CLI ([`cli`]), the
//! OID library ([`oids`]) and the API-facing probe/poll ([`api`]).
//!
//! One change to async-snmp is carried as a `[patch.crates-io]` copy in `patches/async-snmp`:
//! a decrypted AES scoped PDU may be followed by padding octets, which pysnmp-based agents
//! (snmpsim) send and net-snmp ignores (docs/upstream/async-snmp-aes-padding.md).
//! Unauthenticated USM reports (wrong digest, unknown user) are accepted, as net-snmp does, so
//! credential errors are typed instead of timing out.
//!
//! Protocol code written here ([`render`], [`oids`], [`opaque`], [`codec`]) does no I/O.

pub mod api;
pub mod cli;
pub mod client;
pub mod codec;
pub mod error;
pub mod oids;
pub mod opaque;
pub mod render;
pub mod target;
pub mod types;

pub use api::{ProbeError, ProbeReport, VarBindView, poll, probe};
pub use client::{ClientConfig, LearnedLimits, OidCheck, SnmpClient, WalkMethod, WalkOptions};
pub use error::SnmpError;
pub use target::{
    AuthProtocol, Credentials, PrivProtocol, SecurityLevel, Target, UsmUser, Version,
};
pub use types::{Oid, Value, VarBind};
