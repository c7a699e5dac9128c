//! Diagnostics to stderr (the console when PID 1) without allocating: a line
//! is formatted into a fixed buffer on the stack and written with one write(2),
//! so logging never fails on memory and never interleaves with another line.

use std::fmt::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Routine lines (`note!`) are dropped when quiet: an entrypoint says
/// nothing unless something goes wrong, like tini.
static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

const LINE_MAX: usize = 512;

struct StackLine {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Write for StackLine {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Keep one byte for the newline; a longer line is cut, never refused.
        let room = LINE_MAX - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Writes `svc-init: MESSAGE\n` to stderr; errors (no console) are dropped.
pub fn write_line(args: fmt::Arguments<'_>) {
    write_stderr(true, args);
}

/// Writes the formatted text as it is to stderr (one write, cut at 511
/// bytes); errors are dropped.
pub fn write_raw(args: fmt::Arguments<'_>) {
    write_stderr(false, args);
}

fn write_stderr(prefix: bool, args: fmt::Arguments<'_>) {
    let mut line = StackLine {
        buf: [0; LINE_MAX],
        len: 0,
    };
    if prefix {
        let _ = line.write_str("svc-init: ");
    }
    // A Display that fails leaves what it wrote so far: still worth a line.
    let _ = line.write_fmt(args);
    if prefix || line.len == 0 || line.buf[line.len - 1] != b'\n' {
        line.buf[line.len] = b'\n';
        line.len += 1;
    }
    // A console that says EIO, a full disk, a pipe whose reader left
    // (SIGPIPE is blocked, so that is EPIPE): the line is lost, nothing else.
    let _ = write_all(libc::STDERR_FILENO, &line.buf[..line.len]);
}

/// All of `bytes` to `fd`, through EINTR; the first other error ends it.
pub fn write_all(fd: i32, bytes: &[u8]) -> Result<(), nix::errno::Errno> {
    let mut written = 0;
    while written < bytes.len() {
        // SAFETY: the pointer and length describe initialised bytes of `bytes`.
        let n = unsafe { libc::write(fd, bytes[written..].as_ptr().cast(), bytes.len() - written) };
        if n > 0 {
            written += n as usize;
        } else if n == 0 {
            return Err(nix::errno::Errno::EIO);
        } else {
            match nix::errno::Errno::last() {
                nix::errno::Errno::EINTR => continue,
                e => return Err(e),
            }
        }
    }
    Ok(())
}

/// `log!("format", args…)`: one line to the console, no allocation.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log::write_line(format_args!($($arg)*))
    };
}

/// `note!(…)`: a routine line, dropped in quiet (entrypoint) mode.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::log::quiet() {
            $crate::log::write_line(format_args!($($arg)*))
        }
    };
}
