//! Collection for WARD FLUX: the periodic per-device [`scheduler`], the device
//! [`state`] machine (pure, time passed in) and the [`icmp`] monitor built on both.
//!
//! Invariants: the state machine does no I/O and reads no clock; the monitor takes its
//! devices as plain data ([`IcmpTarget`]) and talks to storage only through
//! `wardflux_model::MetricSink` and [`StateRecorder`].

pub mod icmp;
pub mod scheduler;
pub mod state;

pub use icmp::{
    DeviceStatus, IcmpMonitor, IcmpMonitorConfig, IcmpTarget, MonitorError, StateChange,
    StateRecorder,
};
pub use scheduler::{JobFn, JobKey, JobSpec, Scheduler, StatsSnapshot};
pub use state::{DeviceState, StateConfig, Step, Tracker, Transition, TransitionKind};
