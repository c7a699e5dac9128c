//! The protocol.md envelope constants every svc program and client shares.
//! The envelope's key names and its framing live with each program; these
//! numbers are the contract between them, so they are defined once.

/// `ipc:version` of every message.
pub const VERSION: u64 = 1;

/// `ipc:error_code` values (protocol.md).
pub mod code {
    pub const INVALID_ENVELOPE: u64 = 1;
    pub const NOT_A_REQUEST: u64 = 2;
    pub const UNKNOWN_METHOD: u64 = 3;
    pub const INVALID_ARGUMENT: u64 = 4;
    pub const NOT_PERMITTED: u64 = 5;
    pub const NO_SUCH_SERVICE: u64 = 6;
    pub const FAILED: u64 = 7;
}
