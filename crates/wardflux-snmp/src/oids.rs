//! OID library: names, units and types of the objects WARD FLUX polls, and the counter-rate
//! helper. Pure data and arithmetic, no I/O.
//!
//! Scalars are listed with their `.0` instance; table columns without an index (append the
//! row index, e.g. `IF_HC_IN_OCTETS.oid().child(ifindex)`).

use crate::types::{Oid, Value};

/// The SMI type an object is expected to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Integer,
    Text,
    ObjectId,
    TimeTicks,
    Counter32,
    Counter64,
    Gauge32,
    /// A number that may come as text (UCD laLoad) or as an Opaque-wrapped float
    /// (laLoadFloat, [`Value::OpaqueFloat`]).
    FloatText,
}

/// One object definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Def {
    /// MIB name, e.g. `ifHCInOctets`.
    pub name: &'static str,
    /// MIB module.
    pub module: &'static str,
    /// Numeric OID (scalars with `.0`, columns without index).
    pub arcs: &'static [u32],
    pub kind: Kind,
    /// Unit of the value, `""` when dimensionless.
    pub unit: &'static str,
    /// Whether this is a table column (needs an index appended).
    pub column: bool,
}

impl Def {
    /// The OID (for columns: the column, without an index).
    pub fn oid(&self) -> Oid {
        Oid::from_arcs(self.arcs)
    }
    /// For columns: the instance OID of row `index`.
    pub fn at(&self, index: u32) -> Oid {
        self.oid().child(index)
    }
}

macro_rules! defs {
    ($($ident:ident = $name:literal, $module:literal, [$($arc:literal),*], $kind:ident, $unit:literal, $column:literal;)*) => {
        $(
            #[doc = concat!("`", $module, "::", $name, "`")]
            pub const $ident: Def = Def {
                name: $name,
                module: $module,
                arcs: &[$($arc),*],
                kind: Kind::$kind,
                unit: $unit,
                column: $column,
            };
        )*
        /// Every definition of this library.
        pub const ALL: &[Def] = &[$($ident),*];
    };
}

defs! {
    // SNMPv2-MIB system group
    SYS_DESCR = "sysDescr", "SNMPv2-MIB", [1,3,6,1,2,1,1,1,0], Text, "", false;
    SYS_OBJECT_ID = "sysObjectID", "SNMPv2-MIB", [1,3,6,1,2,1,1,2,0], ObjectId, "", false;
    SYS_UPTIME = "sysUpTime", "SNMPv2-MIB", [1,3,6,1,2,1,1,3,0], TimeTicks, "centiseconds", false;
    SYS_CONTACT = "sysContact", "SNMPv2-MIB", [1,3,6,1,2,1,1,4,0], Text, "", false;
    SYS_NAME = "sysName", "SNMPv2-MIB", [1,3,6,1,2,1,1,5,0], Text, "", false;
    SYS_LOCATION = "sysLocation", "SNMPv2-MIB", [1,3,6,1,2,1,1,6,0], Text, "", false;
    SYS_SERVICES = "sysServices", "SNMPv2-MIB", [1,3,6,1,2,1,1,7,0], Integer, "", false;
    // OLD-CISCO-CPU-MIB / OLD-CISCO-MEMORY-MIB (lsystem)
    CISCO_BUSY_PER = "busyPer", "OLD-CISCO-CPU-MIB", [1,3,6,1,4,1,9,2,1,56,0], Integer, "%", false;
    CISCO_AVG_BUSY1 = "avgBusy1", "OLD-CISCO-CPU-MIB", [1,3,6,1,4,1,9,2,1,57,0], Integer, "%", false;
    CISCO_AVG_BUSY5 = "avgBusy5", "OLD-CISCO-CPU-MIB", [1,3,6,1,4,1,9,2,1,58,0], Integer, "%", false;
    CISCO_FREE_MEM = "freeMem", "OLD-CISCO-MEMORY-MIB", [1,3,6,1,4,1,9,2,1,8,0], Integer, "bytes", false;
    // a count of free buffer elements: not bytes, not memory in use
    CISCO_BUFFER_EL_FREE = "bufferElFree", "OLD-CISCO-MEMORY-MIB", [1,3,6,1,4,1,9,2,1,9,0], Integer, "", false;
    // CISCO-MEMORY-POOL-MIB ciscoMemoryPoolTable (index: pool type, 1 = Processor)
    CISCO_MEMORY_POOL_NAME = "ciscoMemoryPoolName", "CISCO-MEMORY-POOL-MIB", [1,3,6,1,4,1,9,9,48,1,1,1,2], Text, "", true;
    CISCO_MEMORY_POOL_USED = "ciscoMemoryPoolUsed", "CISCO-MEMORY-POOL-MIB", [1,3,6,1,4,1,9,9,48,1,1,1,5], Gauge32, "bytes", true;
    CISCO_MEMORY_POOL_FREE = "ciscoMemoryPoolFree", "CISCO-MEMORY-POOL-MIB", [1,3,6,1,4,1,9,9,48,1,1,1,6], Gauge32, "bytes", true;
    // IF-MIB ifTable
    IF_NUMBER = "ifNumber", "IF-MIB", [1,3,6,1,2,1,2,1,0], Integer, "", false;
    IF_DESCR = "ifDescr", "IF-MIB", [1,3,6,1,2,1,2,2,1,2], Text, "", true;
    IF_SPEED = "ifSpeed", "IF-MIB", [1,3,6,1,2,1,2,2,1,5], Gauge32, "bit/s", true;
    IF_OPER_STATUS = "ifOperStatus", "IF-MIB", [1,3,6,1,2,1,2,2,1,8], Integer, "", true;
    IF_IN_OCTETS = "ifInOctets", "IF-MIB", [1,3,6,1,2,1,2,2,1,10], Counter32, "bytes", true;
    IF_IN_ERRORS = "ifInErrors", "IF-MIB", [1,3,6,1,2,1,2,2,1,14], Counter32, "packets", true;
    IF_OUT_OCTETS = "ifOutOctets", "IF-MIB", [1,3,6,1,2,1,2,2,1,16], Counter32, "bytes", true;
    IF_OUT_ERRORS = "ifOutErrors", "IF-MIB", [1,3,6,1,2,1,2,2,1,20], Counter32, "packets", true;
    // IF-MIB ifXTable
    IF_NAME = "ifName", "IF-MIB", [1,3,6,1,2,1,31,1,1,1,1], Text, "", true;
    IF_HC_IN_OCTETS = "ifHCInOctets", "IF-MIB", [1,3,6,1,2,1,31,1,1,1,6], Counter64, "bytes", true;
    IF_HC_OUT_OCTETS = "ifHCOutOctets", "IF-MIB", [1,3,6,1,2,1,31,1,1,1,10], Counter64, "bytes", true;
    IF_HIGH_SPEED = "ifHighSpeed", "IF-MIB", [1,3,6,1,2,1,31,1,1,1,15], Gauge32, "Mbit/s", true;
    IF_ALIAS = "ifAlias", "IF-MIB", [1,3,6,1,2,1,31,1,1,1,18], Text, "", true;
    // CISCO-PROCESS-MIB cpmCPUTotalTable
    CPM_CPU_TOTAL_5SEC = "cpmCPUTotal5secRev", "CISCO-PROCESS-MIB", [1,3,6,1,4,1,9,9,109,1,1,1,1,6], Gauge32, "%", true;
    CPM_CPU_TOTAL_1MIN = "cpmCPUTotal1minRev", "CISCO-PROCESS-MIB", [1,3,6,1,4,1,9,9,109,1,1,1,1,7], Gauge32, "%", true;
    CPM_CPU_TOTAL_5MIN = "cpmCPUTotal5minRev", "CISCO-PROCESS-MIB", [1,3,6,1,4,1,9,9,109,1,1,1,1,8], Gauge32, "%", true;
    CPM_CPU_TOTAL_5SEC_OLD = "cpmCPUTotal5sec", "CISCO-PROCESS-MIB", [1,3,6,1,4,1,9,9,109,1,1,1,1,3], Gauge32, "%", true;
    CPM_CPU_TOTAL_1MIN_OLD = "cpmCPUTotal1min", "CISCO-PROCESS-MIB", [1,3,6,1,4,1,9,9,109,1,1,1,1,4], Gauge32, "%", true;
    CPM_CPU_TOTAL_5MIN_OLD = "cpmCPUTotal5min", "CISCO-PROCESS-MIB", [1,3,6,1,4,1,9,9,109,1,1,1,1,5], Gauge32, "%", true;
    // HOST-RESOURCES-MIB
    HR_PROCESSOR_LOAD = "hrProcessorLoad", "HOST-RESOURCES-MIB", [1,3,6,1,2,1,25,3,3,1,2], Integer, "%", true;
    HR_STORAGE_TYPE = "hrStorageType", "HOST-RESOURCES-MIB", [1,3,6,1,2,1,25,2,3,1,2], ObjectId, "", true;
    HR_STORAGE_DESCR = "hrStorageDescr", "HOST-RESOURCES-MIB", [1,3,6,1,2,1,25,2,3,1,3], Text, "", true;
    HR_STORAGE_ALLOCATION_UNITS = "hrStorageAllocationUnits", "HOST-RESOURCES-MIB", [1,3,6,1,2,1,25,2,3,1,4], Integer, "bytes", true;
    HR_STORAGE_SIZE = "hrStorageSize", "HOST-RESOURCES-MIB", [1,3,6,1,2,1,25,2,3,1,5], Integer, "units", true;
    HR_STORAGE_USED = "hrStorageUsed", "HOST-RESOURCES-MIB", [1,3,6,1,2,1,25,2,3,1,6], Integer, "units", true;
    // UCD-SNMP-MIB
    UCD_LA_LOAD = "laLoad", "UCD-SNMP-MIB", [1,3,6,1,4,1,2021,10,1,3], FloatText, "", true;
    UCD_LA_LOAD_FLOAT = "laLoadFloat", "UCD-SNMP-MIB", [1,3,6,1,4,1,2021,10,1,6], FloatText, "", true;
    UCD_LA_LOAD_INT = "laLoadInt", "UCD-SNMP-MIB", [1,3,6,1,4,1,2021,10,1,5], Integer, "load*100", true;
    UCD_MEM_TOTAL_REAL = "memTotalReal", "UCD-SNMP-MIB", [1,3,6,1,4,1,2021,4,5,0], Integer, "KiB", false;
    UCD_MEM_AVAIL_REAL = "memAvailReal", "UCD-SNMP-MIB", [1,3,6,1,4,1,2021,4,6,0], Integer, "KiB", false;
    UCD_MEM_TOTAL_FREE = "memTotalFree", "UCD-SNMP-MIB", [1,3,6,1,4,1,2021,4,11,0], Integer, "KiB", false;
    UCD_MEM_BUFFER = "memBuffer", "UCD-SNMP-MIB", [1,3,6,1,4,1,2021,4,14,0], Integer, "KiB", false;
    UCD_MEM_CACHED = "memCached", "UCD-SNMP-MIB", [1,3,6,1,4,1,2021,4,15,0], Integer, "KiB", false;
    UCD_SS_CPU_USER = "ssCpuUser", "UCD-SNMP-MIB", [1,3,6,1,4,1,2021,11,9,0], Integer, "%", false;
    UCD_SS_CPU_SYSTEM = "ssCpuSystem", "UCD-SNMP-MIB", [1,3,6,1,4,1,2021,11,10,0], Integer, "%", false;
    UCD_SS_CPU_IDLE = "ssCpuIdle", "UCD-SNMP-MIB", [1,3,6,1,4,1,2021,11,11,0], Integer, "%", false;
    UCD_SS_CPU_RAW_USER = "ssCpuRawUser", "UCD-SNMP-MIB", [1,3,6,1,4,1,2021,11,50,0], Counter32, "ticks", false;
    UCD_SS_CPU_RAW_SYSTEM = "ssCpuRawSystem", "UCD-SNMP-MIB", [1,3,6,1,4,1,2021,11,52,0], Counter32, "ticks", false;
    UCD_SS_CPU_RAW_IDLE = "ssCpuRawIdle", "UCD-SNMP-MIB", [1,3,6,1,4,1,2021,11,53,0], Counter32, "ticks", false;
}

/// The definition whose OID equals `oid` (scalars) or is the column of `oid` (one index arc
/// or more appended), longest match first.
pub fn lookup(oid: &Oid) -> Option<&'static Def> {
    ALL.iter()
        .filter(|d| {
            let a = oid.arcs();
            if d.column {
                a.len() > d.arcs.len() && a.starts_with(d.arcs)
            } else {
                a == d.arcs
            }
        })
        .max_by_key(|d| d.arcs.len())
}

/// The definition with MIB name `name` (case-sensitive, as in the MIB).
pub fn by_name(name: &str) -> Option<&'static Def> {
    ALL.iter().find(|d| d.name == name)
}

/// One counter reading: the counter value and the agent's sysUpTime when it was read
/// (TimeTicks, hundredths of a second), plus the local time in seconds as a fallback clock.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterReading {
    pub value: Value,
    pub uptime_ticks: Option<u32>,
    pub at_secs: f64,
}

/// Per-second rate between two readings of the same counter, or `None` when no honest rate
/// exists:
/// - the agent rebooted (sysUpTime went back) → `None` (the counter restarted: no spike);
/// - Counter32 that went down → one 2^32 wrap is assumed (the value can only wrap once in a
///   polling interval at sane rates); a Counter64 that went down → `None` (a 64-bit counter
///   does not wrap in practice: a decrease means a reset);
/// - zero or negative elapsed time, or non-counter values, or mixed types → `None`.
///
/// Elapsed time comes from sysUpTime when both readings have it (the agent's own clock, immune
/// to poller jitter), else from the local clock. sysUpTime itself wraps after 497 days; a
/// wrap of uptime is indistinguishable from a reboot and treated as one.
pub fn counter_rate(prev: &CounterReading, cur: &CounterReading) -> Option<f64> {
    let elapsed = match (prev.uptime_ticks, cur.uptime_ticks) {
        (Some(a), Some(b)) => {
            if b < a {
                return None;
            }
            f64::from(b - a) / 100.0
        }
        _ => cur.at_secs - prev.at_secs,
    };
    if elapsed.is_nan() || elapsed <= 0.0 {
        return None;
    }
    let delta: f64 = match (&prev.value, &cur.value) {
        (Value::Counter32(a), Value::Counter32(b)) => f64::from(b.wrapping_sub(*a)),
        (Value::Counter64(a), Value::Counter64(b)) => {
            if b < a {
                return None;
            }
            (b - a) as f64
        }
        _ => return None,
    };
    Some(delta / elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(value: Value, up: Option<u32>, at: f64) -> CounterReading {
        CounterReading {
            value,
            uptime_ticks: up,
            at_secs: at,
        }
    }

    #[test]
    fn plain_rate_uses_agent_uptime() {
        let a = r(Value::Counter64(1_000), Some(10_000), 0.0);
        let b = r(Value::Counter64(11_000), Some(11_000), 999.0);
        assert_eq!(counter_rate(&a, &b), Some(1_000.0));
    }

    #[test]
    fn counter32_wrap_is_one_wrap_not_a_spike() {
        let a = r(Value::Counter32(u32::MAX - 99), Some(0), 0.0);
        let b = r(Value::Counter32(900), Some(1_000), 10.0);
        assert_eq!(counter_rate(&a, &b), Some(100.0));
    }

    #[test]
    fn counter64_decrease_and_reboot_give_none() {
        let a = r(Value::Counter64(5_000), Some(50_000), 0.0);
        let b = r(Value::Counter64(4_000), Some(51_000), 10.0);
        assert_eq!(counter_rate(&a, &b), None);
        let rebooted = r(Value::Counter32(10), Some(300), 10.0);
        let before = r(Value::Counter32(1_000_000), Some(90_000), 0.0);
        assert_eq!(counter_rate(&before, &rebooted), None);
    }

    #[test]
    fn local_clock_fallback_and_bad_inputs() {
        let a = r(Value::Counter32(0), None, 100.0);
        let b = r(Value::Counter32(500), None, 105.0);
        assert_eq!(counter_rate(&a, &b), Some(100.0));
        assert_eq!(counter_rate(&b, &b), None);
        let g = r(Value::Gauge32(1), None, 0.0);
        assert_eq!(counter_rate(&g, &b), None);
        let c64 = r(Value::Counter64(1), None, 0.0);
        assert_eq!(counter_rate(&c64, &b), None);
    }

    #[test]
    fn library_lookup() {
        let o: Oid = ".1.3.6.1.2.1.31.1.1.1.6.10101".parse().unwrap();
        let d = lookup(&o).unwrap();
        assert_eq!(d.name, "ifHCInOctets");
        assert_eq!(d.unit, "bytes");
        assert_eq!(d.kind, Kind::Counter64);
        assert_eq!(lookup(&SYS_UPTIME.oid()).unwrap().name, "sysUpTime");
        assert_eq!(
            by_name("avgBusy1").unwrap().oid().to_string(),
            ".1.3.6.1.4.1.9.2.1.57.0"
        );
        assert_eq!(IF_DESCR.at(3).to_string(), ".1.3.6.1.2.1.2.2.1.2.3");
        // the column itself (no index) is not an instance
        assert!(lookup(&IF_DESCR.oid()).is_none());
        // every definition is unique by OID
        for (i, a) in ALL.iter().enumerate() {
            for b in &ALL[i + 1..] {
                assert_ne!(a.arcs, b.arcs, "{} / {}", a.name, b.name);
            }
        }
    }
}
