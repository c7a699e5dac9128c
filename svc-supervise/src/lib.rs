//! svc-supervise: the per-service supervisor of svc.
//!
//! The binary is a thin shell around [`supervisor::Supervisor`]; the core
//! is a library so that the lifecycle table is unit-tested without
//! processes and the steady state can be checked for allocations.

pub mod cli;
pub mod creds;
pub mod fmt;
pub mod ipc;
pub mod log;
pub mod notify;
pub mod spawn;
pub mod spec;
pub mod supervisor;
pub mod sys;
pub mod table;
pub mod title;
