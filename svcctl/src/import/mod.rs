//! `svcctl import`: declarations from systemd units, OpenRC scripts, LSB
//! init scripts and runit service directories (docs/import.md).

// The driver and the importers land on top of this interface.
#[allow(dead_code)]
pub mod draft;
