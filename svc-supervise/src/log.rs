//! The service's output: one pipe held across restarts, read line by line
//! and written to a rotating file or syslog; or, for `inherit`, `null`,
//! `console` and the standalone `--stdout`/`--stderr` files, an fd handed
//! straight to the service.
//!
//! Robustness rule: nothing here may block the supervisor. Files are
//! appended with single writes, syslog datagrams are sent with
//! MSG_DONTWAIT; a line that cannot be written is dropped and counted, and
//! a notice with the count is written once the sink works again.

use std::collections::VecDeque;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::fmt::{Utc, Writer};
use crate::spec::{Logging, Output};
use crate::sys;

/// Longest line kept whole; longer ones are split.
pub const LINE_MAX: usize = 2048;
/// Reads per wakeup, so a chatty service cannot starve the loop.
const READS_PER_WAKEUP: usize = 8;
/// `20261122T012852.123456Z.log`
const ARCHIVE_LEN: usize = 27;

type ArchiveName = [u8; ARCHIVE_LEN];

/// Who may read the log: the directory's and the files' modes, and the
/// group they are given (none: left as created).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perms {
    pub dir: u32,
    pub file: u32,
    pub gid: Option<libc::gid_t>,
}

impl Perms {
    /// `group` given: 0750/0640 with that group. Else a root supervisor
    /// uses `adm` (root when there is no such group), and any other keeps
    /// the log private to its user: 0700/0600.
    pub fn for_group(group: Option<&str>) -> Result<Perms, String> {
        // SAFETY: geteuid has no arguments.
        let root = unsafe { libc::geteuid() } == 0;
        let gid = match group {
            Some(g) => Some(crate::creds::lookup_group(g).map_err(|e| format!("log group: {e}"))?),
            None if root => Some(crate::creds::lookup_group("adm").unwrap_or(0)),
            None => None,
        };
        Ok(match gid {
            Some(gid) => Perms {
                dir: 0o750,
                file: 0o640,
                gid: Some(gid),
            },
            None => Perms {
                dir: 0o700,
                file: 0o600,
                gid: None,
            },
        })
    }
}

/// Gives `fd` the group and mode of `perms` if it is of `kind` (S_IFDIR,
/// S_IFREG): a log that is a symlink to a device is left alone.
fn tighten(
    fd: RawFd,
    kind: libc::mode_t,
    mode: u32,
    gid: Option<libc::gid_t>,
) -> std::io::Result<()> {
    // SAFETY: stat is plain data.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid out-pointer.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(sys::last_error());
    }
    if st.st_mode & libc::S_IFMT != kind {
        return Ok(());
    }
    if let Some(gid) = gid
        && st.st_gid != gid
        // SAFETY: fchown on an fd we hold; uid -1 leaves the owner.
        && unsafe { libc::fchown(fd, libc::uid_t::MAX, gid) } != 0
    {
        return Err(sys::last_error());
    }
    // SAFETY: fchmod on an fd we hold.
    if st.st_mode & 0o7777 != mode && unsafe { libc::fchmod(fd, mode) } != 0 {
        return Err(sys::last_error());
    }
    Ok(())
}

struct FileSink {
    dir: OwnedFd,
    perms: Perms,
    current: Option<OwnedFd>,
    size: u64,
    max_size: u64,
    max_files: u32,
    /// Oldest first.
    archives: VecDeque<ArchiveName>,
}

struct SyslogSink {
    fd: OwnedFd,
    addr: libc::sockaddr_un,
    addr_len: libc::socklen_t,
}

enum Sink {
    File(FileSink),
    Syslog(SyslogSink),
    /// Output does not pass through the supervisor.
    Direct,
}

/// The service's log.
pub struct Log {
    sink: Sink,
    pipe_r: Option<OwnedFd>,
    pipe_w: Option<OwnedFd>,
    /// fds handed to the service as 1 and 2 when output is direct.
    direct_out: Option<OwnedFd>,
    direct_err: Option<OwnedFd>,
    inherit_out: bool,
    inherit_err: bool,
    partial: Box<[u8]>,
    partial_len: usize,
    line: Box<[u8]>,
    timestamps: bool,
    name: String,
    /// Lines lost since the last successful write.
    unreported: u64,
    /// Lines lost in total.
    pub dropped: u64,
    /// Lines written in total.
    pub written: u64,
    /// pid shown in syslog tags.
    pub pid: i32,
}

fn open_append(path: &Path) -> Result<OwnedFd, String> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)
        .map(OwnedFd::from)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn path_c(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("NUL byte in {}", path.display()))
}

fn is_archive_name(name: &[u8]) -> bool {
    name.len() == ARCHIVE_LEN
        && name.ends_with(b"Z.log")
        && name[8] == b'T'
        && name[15] == b'.'
        && name[..8].iter().all(u8::is_ascii_digit)
        && name[9..15].iter().all(u8::is_ascii_digit)
        && name[16..22].iter().all(u8::is_ascii_digit)
}

impl FileSink {
    fn open(dir: &Path, max_size: u64, max_files: u32, perms: Perms) -> Result<FileSink, String> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(perms.dir)
            .create(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let dir_c = path_c(dir)?;
        // SAFETY: dir_c is NUL-terminated.
        let dfd = unsafe {
            libc::open(
                dir_c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if dfd < 0 {
            return Err(format!("{}: {}", dir.display(), sys::last_error()));
        }
        // SAFETY: a fresh fd nothing else owns.
        let dfd = unsafe { OwnedFd::from_raw_fd(dfd) };
        // Also what an older version left world-readable.
        tighten(dfd.as_raw_fd(), libc::S_IFDIR, perms.dir, perms.gid)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut names: Vec<ArchiveName> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|entry| {
                let name = entry.ok()?.file_name();
                let bytes = name.as_encoded_bytes();
                is_archive_name(bytes).then(|| bytes.try_into().ok())?
            })
            .collect();
        names.sort_unstable();
        for name in &names {
            let mut c = [0u8; ARCHIVE_LEN + 1];
            c[..ARCHIVE_LEN].copy_from_slice(name);
            // SAFETY: the dir fd is ours, the name is NUL-terminated.
            let fd = unsafe {
                libc::openat(
                    dfd.as_raw_fd(),
                    c.as_ptr().cast(),
                    libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC,
                )
            };
            if fd >= 0 {
                // SAFETY: a fresh fd nothing else owns.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                let _ = tighten(fd.as_raw_fd(), libc::S_IFREG, perms.file, perms.gid);
            }
        }
        let mut archives = VecDeque::with_capacity(max_files as usize + 1);
        archives.extend(names);
        let mut sink = FileSink {
            dir: dfd,
            perms,
            current: None,
            size: 0,
            max_size,
            max_files,
            archives,
        };
        sink.prune();
        sink.reopen();
        if sink.current.is_none() {
            return Err(format!("{}/current: {}", dir.display(), sys::last_error()));
        }
        Ok(sink)
    }

    fn reopen(&mut self) {
        // SAFETY: the dir fd is ours, the name is NUL-terminated.
        let fd = unsafe {
            libc::openat(
                self.dir.as_raw_fd(),
                c"current".as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND | libc::O_CLOEXEC | libc::O_NOCTTY,
                self.perms.file as libc::c_uint,
            )
        };
        if fd < 0 {
            self.current = None;
            return;
        }
        // SAFETY: a fresh fd nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // Created with the umask's bits off, or left by an older version:
        // archives are renamed from `current` and keep its mode.
        let _ = tighten(
            fd.as_raw_fd(),
            libc::S_IFREG,
            self.perms.file,
            self.perms.gid,
        );
        // SAFETY: st is a valid out-pointer.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fd is open.
        self.size = if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } == 0 {
            st.st_size as u64
        } else {
            0
        };
        self.current = Some(fd);
    }

    fn prune(&mut self) {
        while self.archives.len() > self.max_files as usize {
            let Some(oldest) = self.archives.pop_front() else {
                break;
            };
            let mut name = [0u8; ARCHIVE_LEN + 1];
            name[..ARCHIVE_LEN].copy_from_slice(&oldest);
            // SAFETY: name is NUL-terminated; the dir fd is ours.
            unsafe { libc::unlinkat(self.dir.as_raw_fd(), name.as_ptr().cast(), 0) };
        }
    }

    /// current → a timestamped archive; a fresh current; old archives pruned.
    fn rotate(&mut self) {
        let (secs, micros) = sys::realtime();
        let mut name = [0u8; ARCHIVE_LEN + 1];
        let mut w = Writer::new(&mut name[..ARCHIVE_LEN]);
        Utc::from_unix(secs, micros).compact(&mut w);
        w.str(".log");
        let mut archive = [0u8; ARCHIVE_LEN];
        archive.copy_from_slice(&name[..ARCHIVE_LEN]);
        let dir = self.dir.as_raw_fd();
        // SAFETY: both names are NUL-terminated; the dir fd is ours.
        let renamed =
            unsafe { libc::renameat(dir, c"current".as_ptr(), dir, name.as_ptr().cast()) } == 0;
        if renamed {
            if self.archives.back() == Some(&archive) {
                self.archives.pop_back();
            }
            self.archives.push_back(archive);
            self.prune();
        }
        self.reopen();
    }

    fn write(&mut self, bytes: &[u8]) -> bool {
        if self.size > 0 && self.size + bytes.len() as u64 > self.max_size {
            self.rotate();
        }
        if self.current.is_none() {
            self.reopen();
        }
        let Some(fd) = &self.current else {
            return false;
        };
        match sys::write(fd.as_raw_fd(), bytes) {
            Ok(n) => {
                self.size += n as u64;
                n == bytes.len()
            }
            Err(_) => false,
        }
    }
}

impl SyslogSink {
    fn open(path: &Path) -> Result<SyslogSink, String> {
        let bytes = path.as_os_str().as_encoded_bytes();
        // SAFETY: sockaddr_un is plain data.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        if bytes.len() >= addr.sun_path.len() {
            return Err(format!("syslog socket path too long: {}", path.display()));
        }
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        let addr_len =
            (std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
        // SAFETY: socket takes no pointers.
        let fd = unsafe {
            libc::socket(
                libc::AF_UNIX,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        if fd < 0 {
            return Err(format!("syslog socket: {}", sys::last_error()));
        }
        let sink = SyslogSink {
            // SAFETY: a fresh fd nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            addr,
            addr_len,
        };
        // Not connected yet is fine: syslogd may come later; lines are
        // dropped and counted until then.
        sink.connect();
        Ok(sink)
    }

    fn connect(&self) -> bool {
        // SAFETY: addr is a valid sockaddr_un of addr_len bytes.
        unsafe {
            libc::connect(
                self.fd.as_raw_fd(),
                (&self.addr as *const libc::sockaddr_un).cast(),
                self.addr_len,
            ) == 0
        }
    }

    fn write(&mut self, bytes: &[u8]) -> bool {
        match sys::send_nonblocking(self.fd.as_raw_fd(), bytes) {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            // Not connected, or syslogd restarted: reconnect once.
            Err(_) => self.connect() && sys::send_nonblocking(self.fd.as_raw_fd(), bytes).is_ok(),
        }
    }
}

impl Log {
    /// Sets up the sink for `logging`. `name` is the service name.
    pub fn open(name: &str, logging: &Logging) -> Result<Log, String> {
        let mut inherit_out = false;
        let mut inherit_err = false;
        let mut direct_out = None;
        let mut direct_err = None;
        let sink = match logging.output {
            Output::File => {
                let dir = logging
                    .log_dir
                    .as_ref()
                    .ok_or("'output = file' needs a log directory")?
                    .join(name);
                let perms = Perms::for_group(logging.log_group.as_deref())?;
                Sink::File(FileSink::open(
                    &dir,
                    logging.max_size,
                    logging.max_files,
                    perms,
                )?)
            }
            Output::Syslog => Sink::Syslog(SyslogSink::open(&logging.syslog_path)?),
            Output::Inherit => {
                inherit_out = true;
                inherit_err = true;
                Sink::Direct
            }
            Output::Null | Output::Console => {
                let path = if logging.output == Output::Null {
                    "/dev/null"
                } else {
                    "/dev/console"
                };
                let open = |path: &str| {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
                        .open(path)
                        .map(OwnedFd::from)
                        .map_err(|e| format!("{path}: {e}"))
                };
                // No console (a container, say): the service still runs,
                // its output is discarded, and we say so once.
                let fd = open(path).or_else(|e| {
                    if logging.output != Output::Console {
                        return Err(e);
                    }
                    sys::stderr_fmt(format_args!(
                        "svc-supervise: {name}: {e}; output discarded\n"
                    ));
                    open("/dev/null")
                })?;
                direct_err = Some(fd.try_clone().map_err(|e| format!("{path}: {e}"))?);
                direct_out = Some(fd);
                Sink::Direct
            }
        };
        let (pipe_r, pipe_w) = if matches!(sink, Sink::Direct) {
            (None, None)
        } else {
            let (r, w) = sys::pipe(0).map_err(|e| format!("log pipe: {e}"))?;
            sys::set_nonblocking(r.as_raw_fd()).map_err(|e| format!("log pipe: {e}"))?;
            (Some(r), Some(w))
        };
        // Standalone --stdout / --stderr override one fd each.
        if let Some(path) = &logging.stdout_file {
            direct_out = Some(open_append(path)?);
            inherit_out = false;
        }
        if let Some(path) = &logging.stderr_file {
            direct_err = Some(open_append(path)?);
            inherit_err = false;
        }
        // Line buffers only when lines pass through us.
        let (partial, line) = if matches!(sink, Sink::Direct) {
            (Box::default(), Box::default())
        } else {
            (
                vec![0u8; LINE_MAX].into_boxed_slice(),
                vec![0u8; LINE_MAX + 128].into_boxed_slice(),
            )
        };
        Ok(Log {
            sink,
            pipe_r,
            pipe_w,
            direct_out,
            direct_err,
            inherit_out,
            inherit_err,
            partial,
            partial_len: 0,
            line,
            timestamps: logging.timestamps,
            name: name.to_owned(),
            unreported: 0,
            dropped: 0,
            written: 0,
            pid: 0,
        })
    }

    /// The fds the service gets as 1 and 2.
    pub fn service_fds(&self) -> (RawFd, RawFd) {
        let pipe = sys::raw(&self.pipe_w);
        let pick = |inherit: bool, fixed: RawFd, direct: &Option<OwnedFd>| {
            if let Some(fd) = direct {
                fd.as_raw_fd()
            } else if inherit {
                fixed
            } else {
                pipe
            }
        };
        (
            pick(self.inherit_out, 1, &self.direct_out),
            pick(self.inherit_err, 2, &self.direct_err),
        )
    }

    /// The read end to poll, if output passes through the supervisor.
    pub fn pipe_fd(&self) -> Option<RawFd> {
        self.pipe_r.as_ref().map(|fd| fd.as_raw_fd())
    }

    /// Drains what the service wrote (bounded per wakeup).
    pub fn on_readable(&mut self) {
        let Some(fd) = self.pipe_fd() else { return };
        for _ in 0..READS_PER_WAKEUP {
            let n = match sys::read(fd, &mut self.partial[self.partial_len..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let start = self.partial_len;
            self.partial_len += n;
            let mut line_start = 0;
            let mut i = start;
            while i < self.partial_len {
                if self.partial[i] == b'\n' {
                    self.emit_partial(line_start, i);
                    line_start = i + 1;
                }
                i += 1;
            }
            if line_start > 0 {
                self.partial.copy_within(line_start..self.partial_len, 0);
                self.partial_len -= line_start;
            }
            if self.partial_len == self.partial.len() {
                // A line longer than LINE_MAX: write what we have.
                self.emit_partial(0, self.partial_len);
                self.partial_len = 0;
            }
        }
    }

    /// Writes out a last line that had no newline (at service exit).
    pub fn flush_partial(&mut self) {
        self.on_readable();
        if self.partial_len > 0 {
            self.emit_partial(0, self.partial_len);
            self.partial_len = 0;
        }
    }

    fn emit_partial(&mut self, from: usize, to: usize) {
        // Move the bytes out of `partial` into the formatted line first.
        let mut line = std::mem::take(&mut self.line);
        let len = self.format(&mut line, None, from, to);
        self.deliver(&line[..len]);
        self.line = line;
    }

    /// A line from the supervisor itself, e.g. why a start failed.
    pub fn notice(&mut self, text: &str) {
        if matches!(self.sink, Sink::Direct) {
            let fd = self.direct_err.as_ref().map_or(2, |f| f.as_raw_fd());
            let mut buf = [0u8; 512];
            let mut w = Writer::new(&mut buf);
            w.str("svc-supervise: ")
                .str(&self.name)
                .str(": ")
                .str(text)
                .str("\n");
            if !write_if_room(fd, w.written()) {
                self.dropped += 1;
            }
            return;
        }
        let mut line = std::mem::take(&mut self.line);
        let len = self.format(&mut line, Some(text), 0, 0);
        self.deliver(&line[..len]);
        self.line = line;
    }

    /// Formats one record into `out`: the line, or a supervisor notice.
    fn format(&self, out: &mut [u8], notice: Option<&str>, from: usize, to: usize) -> usize {
        let (secs, micros) = sys::realtime();
        let utc = Utc::from_unix(secs, micros);
        let mut w = Writer::new(out);
        match self.sink {
            Sink::Syslog(_) => {
                w.str("<30>");
                utc.bsd(&mut w);
                w.str(" ").str(&self.name);
                if self.pid > 0 {
                    w.str("[").uint(self.pid as u64).str("]");
                }
                w.str(": ");
            }
            _ => {
                if self.timestamps {
                    utc.iso8601(&mut w);
                    w.str(" ");
                }
            }
        }
        match notice {
            Some(text) => {
                w.str("svc-supervise: ").str(text);
            }
            None => {
                w.bytes(&self.partial[from..to]);
            }
        }
        if !matches!(self.sink, Sink::Syslog(_)) {
            w.str("\n");
        }
        let mut len = w.len();
        if w.overflowed() && !matches!(self.sink, Sink::Syslog(_)) {
            out[len - 1] = b'\n';
        }
        len = len.min(out.len());
        len
    }

    fn deliver(&mut self, record: &[u8]) {
        if self.unreported > 0 && !self.write_dropped_notice() {
            self.unreported += 1;
            self.dropped += 1;
            return;
        }
        if self.write_raw(record) {
            self.written += 1;
        } else {
            self.unreported += 1;
            self.dropped += 1;
        }
    }

    fn write_dropped_notice(&mut self) -> bool {
        let mut text = [0u8; 96];
        let mut w = Writer::new(&mut text);
        w.uint(self.unreported)
            .str(" log lines dropped (log not writable)");
        let n = w.len();
        let text = std::str::from_utf8(&text[..n]).unwrap_or("log lines dropped");
        let mut buf = [0u8; 256];
        let (secs, micros) = sys::realtime();
        let mut w = Writer::new(&mut buf);
        if let Sink::Syslog(_) = self.sink {
            w.str("<28>");
            Utc::from_unix(secs, micros).bsd(&mut w);
            w.str(" ")
                .str(&self.name)
                .str(": svc-supervise: ")
                .str(text);
        } else {
            if self.timestamps {
                Utc::from_unix(secs, micros).iso8601(&mut w);
                w.str(" ");
            }
            w.str("svc-supervise: ").str(text).str("\n");
        }
        let len = w.len();
        let ok = self.write_raw(&buf[..len]);
        if ok {
            self.unreported = 0;
        }
        ok
    }

    fn write_raw(&mut self, bytes: &[u8]) -> bool {
        match &mut self.sink {
            Sink::File(f) => f.write(bytes),
            Sink::Syslog(s) => s.write(bytes),
            Sink::Direct => true,
        }
    }
}

/// Writes to an fd we share with others (our own stderr) only when that
/// cannot block: POLLOUT on a pipe means PIPE_BUF bytes fit. False when the
/// line was not written (no room, EIO, ENOSPC, EPIPE): it is dropped.
fn write_if_room(fd: RawFd, bytes: &[u8]) -> bool {
    let mut pfd = [libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    }];
    let bytes = &bytes[..bytes.len().min(libc::PIPE_BUF)];
    sys::poll(&mut pfd, 0).unwrap_or(0) == 1
        && pfd[0].revents & libc::POLLOUT != 0
        && sys::write(fd, bytes).is_ok_and(|n| n == bytes.len())
}

impl Log {
    /// A supervisor notice from format arguments, built on the stack.
    pub fn notice_fmt(&mut self, args: std::fmt::Arguments) {
        struct Buf {
            data: [u8; 400],
            len: usize,
        }
        impl std::fmt::Write for Buf {
            fn write_str(&mut self, s: &str) -> std::fmt::Result {
                let n = s.len().min(self.data.len() - self.len);
                self.data[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
                self.len += n;
                Ok(())
            }
        }
        let mut buf = Buf {
            data: [0; 400],
            len: 0,
        };
        let _ = std::fmt::write(&mut buf, args);
        let mut len = buf.len;
        while std::str::from_utf8(&buf.data[..len]).is_err() {
            len -= 1;
        }
        let text = std::str::from_utf8(&buf.data[..len]).unwrap_or("");
        self.notice(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_names() {
        assert!(is_archive_name(b"20261122T012852.123456Z.log"));
        assert!(!is_archive_name(b"current"));
        assert!(!is_archive_name(b"2026112xT012852.123456Z.log"));
    }
}
