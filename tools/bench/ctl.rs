//! The smallest whole-process control client: one status request to one
//! svc-supervise control socket, the reply read to its end, exit 0.
//! Measured against `sv status` and `s6-svstat` (tools/bench.sh): what a
//! lean `svcctl status NAME` could cost at best.
//!
//!     ctl SOCKET REQUEST-FILE        (REQUEST-FILE: a packed nvlist)
//!
//! Built by tools/bench.sh with plain `rustc -O`; std only.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

/// The nvlist header: magic, version, flags, descriptors (u64), size (u64).
const HEADER: usize = 19;
const MAGIC: u8 = 0x6c;
const BIG_ENDIAN: u8 = 0x80;
/// A supervisor's reply is small; anything larger is not one.
const MAX_REPLY: u64 = 64 * 1024;

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (Some(socket), Some(request), None) = (args.next(), args.next(), args.next()) else {
        return Err("usage: ctl SOCKET REQUEST-FILE".into());
    };
    let request = std::fs::read(&request).map_err(|e| format!("{request}: {e}"))?;
    let mut stream = UnixStream::connect(&socket).map_err(|e| format!("{socket}: {e}"))?;
    stream
        .write_all(&request)
        .map_err(|e| format!("{socket}: write: {e}"))?;
    let mut header = [0u8; HEADER];
    stream
        .read_exact(&mut header)
        .map_err(|e| format!("{socket}: reading the reply header: {e}"))?;
    if header[0] != MAGIC {
        return Err(format!("{socket}: the reply is not an nvlist"));
    }
    let size_bytes: [u8; 8] = header[11..19].try_into().expect("8 bytes");
    let size = if header[2] & BIG_ENDIAN != 0 {
        u64::from_be_bytes(size_bytes)
    } else {
        u64::from_le_bytes(size_bytes)
    };
    if size > MAX_REPLY {
        return Err(format!("{socket}: reply announces {size} bytes"));
    }
    let mut body = vec![0u8; size as usize];
    stream
        .read_exact(&mut body)
        .map_err(|e| format!("{socket}: reading the reply: {e}"))?;
    // A failed reply carries `ipc:error_code`: the status was not given.
    if body.windows(15).any(|w| w == b"ipc:error_code\0") {
        return Err(format!("{socket}: the supervisor answered with an error"));
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ctl: {e}");
            ExitCode::FAILURE
        }
    }
}
