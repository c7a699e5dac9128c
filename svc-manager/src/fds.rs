//! File descriptors: the manager's own RLIMIT_NOFILE (raised at start-up,
//! given back to each supervisor), a spare descriptor that lets `accept`
//! answer a connection when none is left, and the estimate of how many
//! are free that keeps non-root clients off the last ones.

use std::fs::File;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// The limits the manager was started with (soft, hard), when it raised
/// its own soft limit.
static ORIGINAL: OnceLock<(libc::rlim_t, libc::rlim_t)> = OnceLock::new();

/// How long the listener rests when `accept` fails and the spare cannot
/// help: the level-triggered loop would otherwise spin on it.
const ACCEPT_PAUSE: Duration = Duration::from_millis(200);
/// At most one log line per this long about running out of descriptors.
const LOG_EVERY: Duration = Duration::from_secs(10);
/// Descriptors non-root clients leave free, at most: for root's
/// connections and for the manager's own work (spawning a supervisor takes
/// three for a moment, a rescan opens files).
const RESERVE_MAX: usize = 64;

/// Raises the soft RLIMIT_NOFILE to the hard one, as systemd does for its
/// managers: a thousand supervisors and 512 clients need more than the
/// kernel's default 1024. Returns (original, raised) when it changed.
pub fn raise_limit() -> Result<Option<(u64, u64)>, String> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("getrlimit: {e}"))?;
    if soft >= hard {
        return Ok(None);
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
        .map_err(|e| format!("raising RLIMIT_NOFILE from {soft} to {hard}: {e}"))?;
    let _ = ORIGINAL.set((soft, hard));
    Ok(Some((soft, hard)))
}

/// Gives process `pid` (a supervisor just spawned) the soft limit the
/// manager was started with, so that its service sees that limit and not
/// the manager's. Done before the supervisor is sent its declaration: it
/// starts nothing before then.
pub fn restore_limit(pid: u32) -> std::io::Result<()> {
    let Some(&(soft, hard)) = ORIGINAL.get() else {
        return Ok(());
    };
    // The child inherited the hard limit, unchanged: one call sets both.
    let rl = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: sets the limits of our own child from a valid struct; no
    // old value is asked for.
    let r = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &rl,
            std::ptr::null_mut(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Descriptors open now, from /proc/self/fd (the directory's own not
/// counted); without /proc, by probing the first 1024 numbers.
fn count_open() -> usize {
    match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir.count().saturating_sub(1),
        Err(_) => (0..1024).filter(|&fd| crate::sys::fd_is_open(fd)).count(),
    }
}

/// What the manager knows of its descriptors.
pub struct Descriptors {
    /// The soft RLIMIT_NOFILE it runs under.
    pub limit: usize,
    /// Open besides clients and supervisor connections (stdio, the
    /// listener, epoll, the signalfd, the spare, what the parent left
    /// open), counted once at start-up.
    fixed: usize,
    /// /dev/null, closed to make room for one `accept` when none is left.
    spare: Option<File>,
    /// The listener is not polled before then.
    pub paused_until: Option<Instant>,
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl Descriptors {
    /// Opens the spare and counts what is open: call once the fixed
    /// descriptors are open and before any client or supervisor is.
    pub fn new() -> Descriptors {
        let limit = getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft);
        let spare = open_spare();
        Descriptors {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            fixed: count_open(),
            spare,
            paused_until: None,
            last_logged: None,
            unlogged: 0,
        }
    }

    /// Descriptors non-root clients must leave free: a quarter of the
    /// limit, at most 64.
    pub fn reserve(&self) -> usize {
        (self.limit / 4).min(RESERVE_MAX)
    }

    /// Free descriptors with `clients` and `links` connections open.
    pub fn free(&self, clients: usize, links: usize) -> usize {
        self.limit.saturating_sub(self.fixed + clients + links)
    }

    /// Closes the spare so that one `accept` can succeed; false when there
    /// is none to close.
    pub fn release_spare(&mut self) -> bool {
        self.spare.take().is_some()
    }

    /// Opens the spare again; false when even that fails.
    pub fn restore_spare(&mut self) -> bool {
        if self.spare.is_none() {
            self.spare = open_spare();
        }
        self.spare.is_some()
    }

    /// Stops polling the listener for a moment.
    pub fn pause_accept(&mut self) {
        self.paused_until = Some(Instant::now() + ACCEPT_PAUSE);
    }

    /// Whether the listener may be polled now (a pause past is forgotten).
    pub fn accepting(&mut self) -> bool {
        match self.paused_until {
            Some(t) if Instant::now() < t => false,
            _ => {
                self.paused_until = None;
                true
            }
        }
    }

    /// Logs `line` unless a line was logged less than 10 s ago; then it
    /// is only counted, and the next line says how many were not logged.
    pub fn log(&mut self, line: &str) {
        let now = Instant::now();
        if self.last_logged.is_some_and(|t| now < t + LOG_EVERY) {
            self.unlogged += 1;
            tracing::debug!("{line}");
            return;
        }
        let more = match std::mem::take(&mut self.unlogged) {
            0 => String::new(),
            n => format!(" (and {n} more times since the last such line)"),
        };
        self.last_logged = Some(now);
        tracing::warn!("{line}{more}");
    }
}

fn open_spare() -> Option<File> {
    // std opens with O_CLOEXEC.
    File::open("/dev/null").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_limit(limit: usize) -> Descriptors {
        Descriptors {
            limit,
            fixed: 8,
            spare: None,
            paused_until: None,
            last_logged: None,
            unlogged: 0,
        }
    }

    #[test]
    fn the_reserve_is_a_quarter_of_the_limit_at_most_64() {
        assert_eq!(with_limit(64).reserve(), 16);
        assert_eq!(with_limit(1024).reserve(), 64);
        assert_eq!(with_limit(1 << 20).reserve(), 64);
        let d = with_limit(64);
        assert_eq!(d.free(10, 6), 40);
        assert_eq!(d.free(60, 6), 0);
    }

    #[test]
    fn the_spare_is_given_up_and_had_again() {
        let mut d = with_limit(64);
        assert!(d.restore_spare());
        assert!(d.release_spare());
        assert!(!d.release_spare());
        assert!(d.restore_spare());
    }

    #[test]
    fn a_pause_ends() {
        let mut d = with_limit(64);
        assert!(d.accepting());
        d.pause_accept();
        assert!(!d.accepting());
        d.paused_until = Some(Instant::now() - Duration::from_millis(1));
        assert!(d.accepting());
        assert_eq!(d.paused_until, None);
    }

    #[test]
    fn lines_within_ten_seconds_are_only_counted() {
        let mut d = with_limit(64);
        d.log("one");
        d.log("two");
        d.log("three");
        assert_eq!(d.unlogged, 2);
        d.last_logged = Some(Instant::now() - LOG_EVERY);
        d.log("four");
        assert_eq!(d.unlogged, 0);
    }
}
