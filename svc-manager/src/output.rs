//! Writing to stdout and stderr without ever ending the manager. A
//! console that answers EIO (a container whose nspawn died), `/dev/full`
//! or a pipe whose reader left must not stop the loop: a line that cannot
//! be written is dropped and counted, and the count is reported on the
//! stream once it works again. (`eprintln!` would panic, and so would
//! tracing-subscriber's own report of a failed write.)

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Lines dropped since the last report, per stream.
static DROPPED_STDOUT: AtomicU64 = AtomicU64::new(0);
static DROPPED_STDERR: AtomicU64 = AtomicU64::new(0);

#[derive(Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn dropped(self) -> &'static AtomicU64 {
        match self {
            Stream::Stdout => &DROPPED_STDOUT,
            Stream::Stderr => &DROPPED_STDERR,
        }
    }

    fn write_all(self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Stream::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            Stream::Stderr => std::io::stderr().lock().write_all(bytes),
        }
    }
}

/// Writes `bytes` (whole lines) to `stream`, or drops and counts them;
/// and to the boot log, when there is one.
pub fn write_lines(stream: Stream, bytes: &[u8]) {
    write_counted(stream.dropped(), |b| stream.write_all(b), bytes);
    boot_log_append(bytes);
}

/// `screen` to `stream`, `plain` (the same without colours) to the boot
/// log.
pub fn write_split(stream: Stream, screen: &[u8], plain: &[u8]) {
    write_counted(stream.dropped(), |b| stream.write_all(b), screen);
    boot_log_append(plain);
}

/// The boot log stops growing here (one line says so): it is for the
/// boot, and a manager that logs without end must not fill /var/log.
pub const BOOT_LOG_MAX: u64 = 4 << 20;

/// `LOGDIR/boot.log`: everything the system manager writes to stdout and
/// stderr — the console's OpenRC lines and its diagnostics.
struct BootLog {
    file: std::fs::File,
    path: PathBuf,
    written: u64,
}

static BOOT_LOG: Mutex<Option<BootLog>> = Mutex::new(None);

fn boot_log_append(bytes: &[u8]) {
    let Ok(mut guard) = BOOT_LOG.lock() else {
        return;
    };
    let Some(log) = guard.as_mut() else { return };
    if log.written >= BOOT_LOG_MAX {
        return;
    }
    let len = bytes.len() as u64;
    let r = if log.written + len > BOOT_LOG_MAX {
        log.file
            .write_all(b"svc-manager: boot.log is full; the rest is on the console only\n")
    } else {
        log.file.write_all(bytes)
    };
    log.written = if r.is_ok() {
        log.written + len
    } else {
        BOOT_LOG_MAX
    };
}

fn open_append(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

/// Starts the boot log at `path`. `fresh` (a manager with nothing to
/// adopt: a new boot): the previous boot's log becomes `boot.log.old`;
/// otherwise (a manager started again) it is continued.
pub fn open_boot_log(path: &Path, fresh: bool) -> Result<(), String> {
    if fresh {
        let _ = std::fs::rename(path, path.with_extension("log.old"));
    }
    let file = open_append(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let written = file.metadata().map_or(0, |m| m.len());
    if let Ok(mut g) = BOOT_LOG.lock() {
        *g = Some(BootLog {
            file,
            path: path.to_owned(),
            written,
        });
    }
    Ok(())
}

/// Moves the boot log to `to` (the early one under the runtime directory,
/// once the real log directory can be written): a previous boot's log
/// there becomes `boot.log.old`, what was written so far is copied, the
/// early file removed, and writing goes on at `to`.
pub fn move_boot_log(to: &Path) -> Result<(), String> {
    let Ok(mut guard) = BOOT_LOG.lock() else {
        return Ok(());
    };
    let Some(log) = guard.as_mut() else {
        return Ok(());
    };
    if log.path == to {
        return Ok(());
    }
    let _ = std::fs::rename(to, to.with_extension("log.old"));
    let mut file = open_append(to).map_err(|e| format!("{}: {e}", to.display()))?;
    let mut early =
        std::fs::File::open(&log.path).map_err(|e| format!("{}: {e}", log.path.display()))?;
    std::io::copy(&mut early, &mut file).map_err(|e| format!("{}: {e}", to.display()))?;
    let _ = std::fs::remove_file(&log.path);
    log.written = file.metadata().map_or(log.written, |m| m.len());
    log.file = file;
    log.path = to.to_owned();
    Ok(())
}

/// `write` the lines, preceded by a note of the lines dropped before if
/// any; a failure adds to `dropped` instead.
fn write_counted(
    dropped: &AtomicU64,
    mut write: impl FnMut(&[u8]) -> std::io::Result<()>,
    bytes: &[u8],
) {
    let earlier = dropped.swap(0, Ordering::Relaxed);
    if earlier > 0 {
        let note = format!("svc-manager: {earlier} lines could not be written here\n");
        if write(note.as_bytes()).is_err() {
            dropped.fetch_add(earlier, Ordering::Relaxed);
        }
    }
    if write(bytes).is_err() {
        dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// `--quiet`: diagnostics below warnings skip stderr.
static QUIET: AtomicBool = AtomicBool::new(false);

pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// tracing-subscriber's writer: every event goes to the boot log, and to
/// stderr unless it is below a warning and the manager is quiet. (On an
/// emulated or serial console each line costs the boot real time.)
pub struct Diagnostics;

pub struct DiagnosticLines {
    to_stderr: bool,
}

impl Write for DiagnosticLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.to_stderr {
            write_lines(Stream::Stderr, buf);
        } else {
            boot_log_append(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Diagnostics {
    type Writer = DiagnosticLines;

    fn make_writer(&'a self) -> DiagnosticLines {
        DiagnosticLines { to_stderr: true }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> DiagnosticLines {
        DiagnosticLines {
            to_stderr: !QUIET.load(Ordering::Relaxed) || *meta.level() <= tracing::Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_lines_are_counted_then_reported() {
        let dropped = AtomicU64::new(0);
        let broken = |_: &[u8]| Err(std::io::Error::from_raw_os_error(libc::EIO));
        write_counted(&dropped, broken, b"one\n");
        write_counted(&dropped, broken, b"two\n");
        assert_eq!(dropped.load(Ordering::Relaxed), 2);
        let mut out = Vec::new();
        write_counted(
            &dropped,
            |b| {
                out.extend_from_slice(b);
                Ok(())
            },
            b"three\n",
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "svc-manager: 2 lines could not be written here\nthree\n"
        );
        assert_eq!(dropped.load(Ordering::Relaxed), 0);
    }
}
