//! ICMP echo for WARD FLUX: packet codec (no I/O), a shared async pinger (one socket per
//! address family, replies demultiplexed by identifier and sequence, paced sends),
//! sweeps that stream results, and the fping-compatible `wardflux ping` command.
//!
//! Map: [`packet`] wire format; `sys` the platform socket module (the only one that
//! touches socket options and namespaces); [`pinger`] the engine; [`sweep`] lists and
//! CIDR ranges; [`cli`] the command.

pub mod cli;
pub mod packet;
pub mod pinger;
pub mod sweep;
mod sys;

pub use packet::Family;
pub use pinger::{IcmpError, PingResult, Pinger, PingerOptions, PingerStats};
pub use sweep::{CidrError, HostResult, SweepEvent, SweepSpec, expand_cidr};
pub use sys::{SocketKind, SocketMode};
