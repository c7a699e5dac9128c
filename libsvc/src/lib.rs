//! Shared pieces of svc: the declaration model and its parser, loading a
//! set of declarations, the dependency graph and the start/stop plans,
//! paths, duration/size/signal/name validators, and the wire protocol
//! (`proto`) every svc program speaks.

pub mod cgroup;
pub mod cmdline;
pub mod decl;
pub mod diag;
pub mod graph;
pub mod host;
pub mod ini;
pub mod limits;
pub mod load;
pub mod model;
pub mod names;
pub mod paths;
pub mod plan;
pub mod proto;
pub mod signal;
pub mod units;

pub use diag::{Diagnostic, Severity};
pub use model::*;
pub use paths::Paths;
