//! Collection for WARD FLUX: the periodic per-device [`scheduler`], the device
//! [`state`] machine (pure, time passed in), the [`icmp`] monitor built on both and the
//! [`snmp`] item poller (SNMP items and discovered tables as `snmp` jobs).
//!
//! Invariants: the state machine does no I/O and reads no clock; the monitor takes its
//! devices as plain data ([`IcmpTarget`]) and talks to storage only through
//! `wardflux_model::MetricSink` and [`StateRecorder`]. Every periodic check is a [`Job`]
//! (data) run by the [`JobRunner`] its kind registered on the [`Scheduler`].

pub mod icmp;
pub mod scheduler;
pub mod snmp;
pub mod state;

pub use icmp::{
    DeviceStatus, IcmpMonitor, IcmpMonitorConfig, IcmpTarget, MonitorError, StateChange,
    StateRecorder,
};
pub use scheduler::{Job, JobId, JobRunner, Scheduler, StatsSnapshot};
pub use snmp::{
    DeviceLimits, DiscoveryStatus, PollDevice, PollError, SnmpDeviceStatus, SnmpPoller,
    SnmpPollerConfig,
};
pub use state::{DeviceState, StateConfig, Step, Tracker, Transition, TransitionKind};
