//! Writing to stdout and stderr without ever ending the manager. A
//! console that answers EIO (a container whose nspawn died), `/dev/full`
//! or a pipe whose reader left must not stop the loop: a line that cannot
//! be written is dropped and counted, and the count is reported on the
//! stream once it works again. (`eprintln!` would panic, and so would
//! tracing-subscriber's own report of a failed write.)

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Writes `bytes` (whole lines) to `stream`, or drops and counts them.
pub fn write_lines(stream: Stream, bytes: &[u8]) {
    write_counted(stream.dropped(), |b| stream.write_all(b), bytes);
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

/// tracing-subscriber's writer: every event goes through `write_lines`.
pub struct Diagnostics;

impl Write for Diagnostics {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write_lines(Stream::Stderr, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Diagnostics {
    type Writer = Diagnostics;

    fn make_writer(&'a self) -> Diagnostics {
        Diagnostics
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
