//! `svcctl import`: declarations from systemd units, OpenRC scripts, LSB
//! init scripts and runit service directories (docs/import.md).

// The driver and the importers land on top of this interface.
#[allow(dead_code)]
pub mod draft;
// Used by the driver's Format dispatch once it lands.
#[allow(dead_code)]
pub mod lsb;
#[allow(dead_code)]
pub mod openrc;
#[allow(dead_code)]
pub mod runit;
#[allow(dead_code)]
mod sh;
#[allow(dead_code)]
mod shared;
