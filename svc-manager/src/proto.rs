//! The protocol.md messages, as libsvc defines them for every program.

pub use libsvc::proto::{
    Failure, Status, code, error_reply, flag, key, message, names, now_unix, parse_request, string,
    usage_to_nvlist,
};
