//! sysvinit's /run/initctl protocol: fixed 384-byte `init_request` records
//! (magic 0x03091969, native byte order), as sent by sysvinit's `shutdown`
//! and `telinit`, OpenRC's `openrc-shutdown` and `systemctl` when PID 1 is
//! not systemd.
//!
//! The record parser and interpreter are pure (no I/O, no allocation) so
//! they can be tested exhaustively; `open_fifo` is the one piece of I/O.

use std::time::{Duration, Instant};

use crate::signals::Power;

pub const RECORD_LEN: usize = 384;
pub const MAGIC: u32 = 0x0309_1969;
/// Size of the `i.data` union that follows the four ints.
pub const DATA_LEN: usize = RECORD_LEN - 16;
/// A partial record that is not completed within this time was a short one.
pub const PARTIAL_TIMEOUT: Duration = Duration::from_secs(1);

pub const CMD_START: i32 = 0;
pub const CMD_RUNLVL: i32 = 1;
pub const CMD_POWERFAIL: i32 = 2;
pub const CMD_POWERFAILNOW: i32 = 3;
pub const CMD_POWEROK: i32 = 4;
pub const CMD_BSD: i32 = 5;
pub const CMD_SETENV: i32 = 6;
pub const CMD_UNSETENV: i32 = 7;
pub const CMD_CHANGECONS: i32 = 12345;

/// One decoded `struct init_request`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Request {
    pub cmd: i32,
    pub runlevel: i32,
    pub sleeptime: i32,
    pub data: [u8; DATA_LEN],
}

impl Request {
    pub fn new(cmd: i32, runlevel: i32) -> Self {
        Request {
            cmd,
            runlevel,
            sleeptime: 0,
            data: [0; DATA_LEN],
        }
    }

    /// A SETENV/UNSETENV request carrying `strings` (each NUL-terminated).
    pub fn with_data(cmd: i32, strings: &[&str]) -> Self {
        let mut req = Request::new(cmd, 0);
        let mut at = 0;
        for s in strings {
            let end = (at + s.len()).min(DATA_LEN - 1);
            req.data[at..end].copy_from_slice(&s.as_bytes()[..end - at]);
            at = end + 1;
            if at >= DATA_LEN {
                break;
            }
        }
        req
    }

    /// The record as a writer puts it on the FIFO.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut rec = [0u8; RECORD_LEN];
        rec[0..4].copy_from_slice(&MAGIC.to_ne_bytes());
        rec[4..8].copy_from_slice(&self.cmd.to_ne_bytes());
        rec[8..12].copy_from_slice(&self.runlevel.to_ne_bytes());
        rec[12..16].copy_from_slice(&self.sleeptime.to_ne_bytes());
        rec[16..].copy_from_slice(&self.data);
        rec
    }

    fn decode(rec: &[u8; RECORD_LEN]) -> Self {
        let int = |at: usize| i32::from_ne_bytes([rec[at], rec[at + 1], rec[at + 2], rec[at + 3]]);
        let mut data = [0u8; DATA_LEN];
        data.copy_from_slice(&rec[16..]);
        Request {
            cmd: int(4),
            runlevel: int(8),
            sleeptime: int(12),
            data,
        }
    }

    /// The NUL-separated strings of `data`, up to the first empty one.
    fn strings(&self) -> impl Iterator<Item = &[u8]> {
        self.data.split(|&b| b == 0).take_while(|s| !s.is_empty())
    }
}

/// Why bytes were dropped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reject {
    /// A partial record that was never completed.
    Short { len: usize },
    /// Bytes after a complete record, in the same write, that do not start
    /// another one.
    Long { extra: usize },
    /// Bytes that do not start with the magic number.
    BadMagic { dropped: usize },
}

// Passed by value on the stack on purpose: the main loop does not allocate.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Outcome {
    Record(Request),
    Rejected(Reject),
}

/// Turns the FIFO's byte stream back into records. A writer's record
/// normally arrives whole (writes up to PIPE_BUF are atomic), but one split
/// across writes is put back together; what cannot be a record is dropped
/// and reported.
pub struct Reassembler {
    buf: [u8; RECORD_LEN],
    len: usize,
    started: Instant,
}

impl Default for Reassembler {
    fn default() -> Self {
        Reassembler {
            buf: [0; RECORD_LEN],
            len: 0,
            started: Instant::now(),
        }
    }
}

impl Reassembler {
    /// When the pending partial record goes stale, if there is one.
    pub fn deadline(&self) -> Option<Instant> {
        (self.len > 0).then(|| self.started + PARTIAL_TIMEOUT)
    }

    /// Drops a stale partial record.
    pub fn expire(&mut self, now: Instant, out: &mut impl FnMut(Outcome)) {
        if self.len > 0 && now >= self.started + PARTIAL_TIMEOUT {
            out(Outcome::Rejected(Reject::Short { len: self.len }));
            self.len = 0;
        }
    }

    /// Takes the bytes of one read(2). Several writes may arrive in one
    /// read, so after bytes that cannot be a record the parser resumes at
    /// the next magic number rather than dropping the whole read.
    pub fn feed(&mut self, chunk: &[u8], now: Instant, out: &mut impl FnMut(Outcome)) {
        self.expire(now, out);
        let magic = MAGIC.to_ne_bytes();
        let mut rest = chunk;
        let mut after_record = false;
        while !rest.is_empty() {
            if self.len == 0 {
                self.started = now;
            }
            let take = rest.len().min(RECORD_LEN - self.len);
            self.buf[self.len..self.len + take].copy_from_slice(&rest[..take]);
            let have = self.len + take;
            let head = have.min(magic.len());
            if self.buf[..head] != magic[..head] {
                // A pending partial record may have been junk too: search
                // this chunk from its start then, else past its first byte.
                let from = if self.len == 0 { 1 } else { 0 };
                let skip = find(&rest[from..], &magic).map_or(rest.len(), |i| i + from);
                let reject = if after_record && self.len == 0 {
                    Reject::Long { extra: skip }
                } else {
                    Reject::BadMagic {
                        dropped: self.len + skip,
                    }
                };
                out(Outcome::Rejected(reject));
                self.len = 0;
                after_record = false;
                rest = &rest[skip..];
                continue;
            }
            self.len = have;
            rest = &rest[take..];
            if self.len == RECORD_LEN {
                out(Outcome::Record(Request::decode(&self.buf)));
                self.len = 0;
                after_record = true;
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Which runlevel-0 action a preceding `INIT_HALT` asked for.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum HaltChoice {
    #[default]
    Unset,
    Halt,
    Poweroff,
}

/// The `INIT_*` variables that SETENV keeps; only INIT_HALT means anything here.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct InitEnv {
    pub halt: HaltChoice,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SwitchTo {
    Rescue,
    Default,
}

/// What a request asks svc-init to do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Command {
    Shutdown(Power),
    Target(SwitchTo),
    /// `telinit q`: re-read the configuration.
    Rescan,
    PowerFail {
        now: bool,
    },
    PowerOk,
    /// Understood, nothing to do (an environment update).
    Nothing,
    /// Not something svc-init does; the request is logged and dropped.
    Unsupported,
}

pub fn interpret(req: &Request, env: &mut InitEnv) -> Command {
    match req.cmd {
        CMD_RUNLVL => match u8::try_from(req.runlevel).map(char::from) {
            Ok('0') => Command::Shutdown(match env.halt {
                HaltChoice::Halt => Power::Halt,
                HaltChoice::Poweroff | HaltChoice::Unset => Power::Poweroff,
            }),
            Ok('6') => Command::Shutdown(Power::Reboot),
            Ok('1' | 'S' | 's') => Command::Target(SwitchTo::Rescue),
            Ok('2'..='5') => Command::Target(SwitchTo::Default),
            Ok('q' | 'Q') => Command::Rescan,
            _ => Command::Unsupported,
        },
        CMD_SETENV | CMD_UNSETENV => {
            for s in req.strings() {
                let (name, value) = match s.iter().position(|&b| b == b'=') {
                    Some(i) => (&s[..i], Some(&s[i + 1..])),
                    None => (s, None),
                };
                if name != b"INIT_HALT" {
                    continue;
                }
                env.halt = match (req.cmd, value) {
                    (CMD_SETENV, Some(b"HALT")) => HaltChoice::Halt,
                    // sysvinit's shutdown says POWERDOWN; POWEROFF is accepted too.
                    (CMD_SETENV, Some(b"POWERDOWN" | b"POWEROFF")) => HaltChoice::Poweroff,
                    _ => HaltChoice::Unset,
                };
            }
            Command::Nothing
        }
        CMD_POWERFAIL => Command::PowerFail { now: false },
        CMD_POWERFAILNOW => Command::PowerFail { now: true },
        CMD_POWEROK => Command::PowerOk,
        CMD_START | CMD_BSD | CMD_CHANGECONS => Command::Unsupported,
        _ => Command::Unsupported,
    }
}

/// Creates the FIFO (0600) if needed and opens it read-write and non-blocking:
/// holding a write end ourselves means the FIFO never reports end-of-file
/// when a writer goes away.
pub fn open_fifo(path: &std::path::Path) -> nix::Result<std::os::fd::OwnedFd> {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::{Mode, SFlag, lstat};
    match lstat(path) {
        Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFIFO => {}
        Ok(_) => {
            nix::unistd::unlink(path)?;
            nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR)?;
        }
        Err(_) => nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR)?,
    }
    // mkfifo's mode went through the umask, and an old FIFO may have any mode.
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        path,
        Mode::S_IRUSR | Mode::S_IWUSR,
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )?;
    open(
        path,
        OFlag::O_RDWR | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn feed_all(r: &mut Reassembler, chunks: &[&[u8]], now: Instant) -> Vec<Outcome> {
        let mut got = Vec::new();
        for c in chunks {
            r.feed(c, now, &mut |o| got.push(o));
        }
        got
    }

    fn runlevel(c: char) -> Request {
        Request::new(CMD_RUNLVL, c as i32)
    }

    #[test]
    fn whole_record() {
        let mut r = Reassembler::default();
        let req = runlevel('6');
        let got = feed_all(&mut r, &[&req.encode()], Instant::now());
        assert_eq!(got, vec![Outcome::Record(req)]);
        assert_eq!(r.deadline(), None);
    }

    #[test]
    fn split_record_is_reassembled() {
        let mut r = Reassembler::default();
        let rec = runlevel('0').encode();
        let now = Instant::now();
        assert!(feed_all(&mut r, &[&rec[..2]], now).is_empty());
        assert!(r.deadline().is_some());
        assert!(feed_all(&mut r, &[&rec[2..100]], now).is_empty());
        let got = feed_all(&mut r, &[&rec[100..]], now);
        assert_eq!(got, vec![Outcome::Record(runlevel('0'))]);
    }

    #[test]
    fn two_records_in_one_write() {
        let mut r = Reassembler::default();
        let mut both = runlevel('0').encode().to_vec();
        both.extend_from_slice(&runlevel('6').encode());
        let got = feed_all(&mut r, &[&both], Instant::now());
        assert_eq!(
            got,
            vec![
                Outcome::Record(runlevel('0')),
                Outcome::Record(runlevel('6'))
            ]
        );
    }

    #[test]
    fn bad_magic_is_dropped_and_the_next_record_still_parses() {
        let mut r = Reassembler::default();
        let mut bad = runlevel('0').encode();
        bad[0] ^= 0xff;
        let good = runlevel('6').encode();
        let got = feed_all(&mut r, &[&bad, &good], Instant::now());
        assert_eq!(
            got,
            vec![
                Outcome::Rejected(Reject::BadMagic {
                    dropped: RECORD_LEN
                }),
                Outcome::Record(runlevel('6'))
            ]
        );
    }

    #[test]
    fn junk_between_records_in_one_read_does_not_hide_the_records() {
        let mut r = Reassembler::default();
        let mut bad = runlevel('0').encode();
        bad[0] ^= 0xff;
        let mut stream = bad.to_vec();
        stream.extend_from_slice(&runlevel('2').encode());
        stream.extend_from_slice(&[9u8; 10]);
        stream.extend_from_slice(&runlevel('6').encode());
        let got = feed_all(&mut r, &[&stream], Instant::now());
        assert_eq!(
            got,
            vec![
                Outcome::Rejected(Reject::BadMagic {
                    dropped: RECORD_LEN
                }),
                Outcome::Record(runlevel('2')),
                Outcome::Rejected(Reject::Long { extra: 10 }),
                Outcome::Record(runlevel('6')),
            ]
        );
    }

    #[test]
    fn long_record_reports_the_extra_bytes() {
        let mut r = Reassembler::default();
        let mut long = runlevel('6').encode().to_vec();
        long.extend_from_slice(&[7u8; 16]);
        let got = feed_all(&mut r, &[&long], Instant::now());
        assert_eq!(
            got,
            vec![
                Outcome::Record(runlevel('6')),
                Outcome::Rejected(Reject::Long { extra: 16 })
            ]
        );
    }

    #[test]
    fn short_record_expires_and_does_not_swallow_the_next() {
        let mut r = Reassembler::default();
        let t0 = Instant::now();
        let rec = runlevel('0').encode();
        assert!(feed_all(&mut r, &[&rec[..100]], t0).is_empty());
        let later = t0 + PARTIAL_TIMEOUT + Duration::from_millis(1);
        let got = feed_all(&mut r, &[&runlevel('6').encode()], later);
        assert_eq!(
            got,
            vec![
                Outcome::Rejected(Reject::Short { len: 100 }),
                Outcome::Record(runlevel('6'))
            ]
        );
        // expire() alone reports it too
        feed_all(&mut r, &[&rec[..10]], t0);
        let mut got = Vec::new();
        r.expire(later, &mut |o| got.push(o));
        assert_eq!(got, vec![Outcome::Rejected(Reject::Short { len: 10 })]);
        assert_eq!(r.deadline(), None);
    }

    #[test]
    fn runlevels() {
        let mut env = InitEnv::default();
        let cases = [
            ('0', Command::Shutdown(Power::Poweroff)),
            ('6', Command::Shutdown(Power::Reboot)),
            ('1', Command::Target(SwitchTo::Rescue)),
            ('S', Command::Target(SwitchTo::Rescue)),
            ('s', Command::Target(SwitchTo::Rescue)),
            ('2', Command::Target(SwitchTo::Default)),
            ('5', Command::Target(SwitchTo::Default)),
            ('q', Command::Rescan),
            ('7', Command::Unsupported),
            ('u', Command::Unsupported),
        ];
        for (level, want) in cases {
            assert_eq!(interpret(&runlevel(level), &mut env), want, "{level}");
        }
        assert_eq!(
            interpret(&Request::new(CMD_RUNLVL, -1), &mut env),
            Command::Unsupported
        );
    }

    #[test]
    fn init_halt_decides_runlevel_zero() {
        let mut env = InitEnv::default();
        let set = |v: &str| Request::with_data(CMD_SETENV, &[v]);
        assert_eq!(
            interpret(&set("INIT_HALT=HALT"), &mut env),
            Command::Nothing
        );
        assert_eq!(
            interpret(&runlevel('0'), &mut env),
            Command::Shutdown(Power::Halt)
        );
        interpret(&set("INIT_HALT=POWERDOWN"), &mut env);
        assert_eq!(
            interpret(&runlevel('0'), &mut env),
            Command::Shutdown(Power::Poweroff)
        );
        interpret(&set("INIT_HALT=HALT"), &mut env);
        interpret(&set("INIT_HALT"), &mut env); // no '=': unset
        assert_eq!(env.halt, HaltChoice::Unset);
        interpret(
            &Request::with_data(CMD_SETENV, &["OTHER=1", "INIT_HALT=HALT"]),
            &mut env,
        );
        assert_eq!(env.halt, HaltChoice::Halt);
        interpret(&Request::with_data(CMD_UNSETENV, &["INIT_HALT"]), &mut env);
        assert_eq!(env.halt, HaltChoice::Unset);
        interpret(&set("INIT_HALT=POWEROFF"), &mut env);
        assert_eq!(env.halt, HaltChoice::Poweroff);
    }

    #[test]
    fn power_events() {
        let mut env = InitEnv::default();
        assert_eq!(
            interpret(&Request::new(CMD_POWERFAIL, 0), &mut env),
            Command::PowerFail { now: false }
        );
        assert_eq!(
            interpret(&Request::new(CMD_POWERFAILNOW, 0), &mut env),
            Command::PowerFail { now: true }
        );
        assert_eq!(
            interpret(&Request::new(CMD_POWEROK, 0), &mut env),
            Command::PowerOk
        );
        assert_eq!(
            interpret(&Request::new(99, 0), &mut env),
            Command::Unsupported
        );
    }

    proptest! {
        #[test]
        fn arbitrary_chunks_never_panic(chunks in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..900), 0..8),
            late in any::<bool>()) {
            let mut r = Reassembler::default();
            let mut env = InitEnv::default();
            let t0 = Instant::now();
            for (i, c) in chunks.iter().enumerate() {
                let now = if late { t0 + PARTIAL_TIMEOUT * i as u32 } else { t0 };
                r.feed(c, now, &mut |o| {
                    if let Outcome::Record(req) = o {
                        interpret(&req, &mut env);
                    }
                });
            }
        }

        #[test]
        fn valid_records_split_anywhere_are_reassembled(
            levels in proptest::collection::vec(any::<i32>(), 1..5),
            cuts in proptest::collection::vec(0usize..2000, 0..12),
        ) {
            let reqs: Vec<Request> = levels.iter().map(|&l| Request::new(CMD_RUNLVL, l)).collect();
            let stream: Vec<u8> = reqs.iter().flat_map(|r| r.encode()).collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (stream.len() + 1)).collect();
            cuts.push(0);
            cuts.push(stream.len());
            cuts.sort_unstable();
            let mut r = Reassembler::default();
            let mut got = Vec::new();
            let now = Instant::now();
            for w in cuts.windows(2) {
                r.feed(&stream[w[0]..w[1]], now, &mut |o| got.push(o));
            }
            let want: Vec<Outcome> = reqs.into_iter().map(Outcome::Record).collect();
            prop_assert_eq!(got, want);
            prop_assert_eq!(r.deadline(), None);
        }
    }
}
