//! Network discovery: point it at ranges, get every device found, named and classified.
//!
//! - [`ranges`]: what a scan may probe (prefixes, addresses, ranges, exclusions; never a
//!   network, broadcast, multicast or reserved address; more than a /16 only when asked).
//! - [`scan`]: the ICMP sweep (wardflux-icmp), then an SNMP probe of each live host with
//!   the credential candidates in order (wardflux-snmp), under a rate and concurrency cap.
//! - [`classify`]: vendor, OS and device type from sysObjectID and sysDescr, by rules kept
//!   as data (`classifier.json`).
//! - [`identity`]: how one device answering on several addresses is recognised as one.
//!
//! No SQL here: the store keeps rules, runs and results; the binary runs rules on their
//! schedule and the API starts scans.

pub mod classify;
pub mod cli;
pub mod identity;
pub mod ranges;
pub mod scan;
pub mod service;

pub use classify::{Classifier, ClassifierError};
pub use ranges::{Targets, targets};
pub use scan::{Pacer, ScanProgress, ScanSpec, scan};
