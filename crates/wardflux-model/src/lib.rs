//! Domain types shared by every WARD FLUX crate, and the narrow traits at the seams.
//!
//! This crate does no I/O and depends on no runtime: collectors, stores and the API
//! meet here, so that e.g. the ICMP monitor can write samples without knowing whether
//! they land in the embedded store or in VictoriaMetrics.

pub mod alerts;
pub mod discovery;
pub mod events;
pub mod inventory;
pub mod items;
pub mod metrics;
pub mod snmp;
pub mod zabbix;

pub use events::{
    DeviceState, FanoutRecorder, InventoryEvent, ReachabilityProbe, StateChange, StateRecorder,
    TransitionKind,
};
pub use items::{
    DiscoverySpec, ItemSpec, ItemState, ItemStates, ItemStatus, PollPlan, Preprocess, RowFilter,
    ScalarIds, SharedPlan, ValueType, scalar_item_id,
};
pub use metrics::{FanoutSink, Labels, MetricSink, Sample, SinkError};

/// Monitoring mode of the whole installation (seed plan: `monitoring_profiles.mode`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum MonitoringMode {
    Zabbix,
    Standalone,
    Hybrid,
}

impl MonitoringMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zabbix => "zabbix",
            Self::Standalone => "standalone",
            Self::Hybrid => "hybrid",
        }
    }
}

impl std::str::FromStr for MonitoringMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "zabbix" => Ok(Self::Zabbix),
            "standalone" => Ok(Self::Standalone),
            "hybrid" => Ok(Self::Hybrid),
            other => Err(format!(
                "unknown mode {other:?}: expected zabbix, standalone or hybrid"
            )),
        }
    }
}
