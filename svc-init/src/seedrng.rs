//! svc-seedrng: the random seed kept across boots (services.d/seed.ini),
//! as Jason Donenfeld's SeedRNG keeps it and in the same files
//! (`/var/lib/seedrng/seed.credit` and `seed.no-credit`), so that a host can
//! move between this, busybox's and OpenRC's `seedrng` and keep its seed.
//!
//! It runs at boot and at shutdown (the service's start and stop halves).
//! Each run:
//!
//! 1. takes each seed file there is (seed.no-credit, then seed.credit; and
//!    `/var/lib/svc/random-seed`, where svc kept its seed before, as one
//!    not to credit), removes it and syncs the directory *before* using it,
//!    so that no crash can feed the same seed to two boots, and adds it to
//!    the kernel's pool with RNDADDENTROPY, crediting its bits when it is
//!    seed.credit. A credited seed makes the pool ready at once. Without
//!    it, the first program that asks for random bytes (sshd, OpenSSL)
//!    waits while the kernel gathers jitter entropy: a second and more of
//!    CPU on a slow or emulated machine. A shell cannot credit: writing to
//!    /dev/urandom mixes the bytes in but counts nothing.
//! 2. takes the next seed from getrandom without blocking: creditable when
//!    the pool is ready (it is, after a credited seed), else from
//!    GRND_INSECURE and not creditable;
//! 3. hashes the old seeds, both clocks and the new seed with BLAKE2s into
//!    the new seed's last 32 bytes, so that a seed saved before the pool
//!    was ready still carries the old ones' entropy forward;
//! 4. writes it to seed.no-credit (mode 0400, synced) and renames it to
//!    seed.credit when it is creditable.
//!
//! `-n` or `SEEDRNG_SKIP_CREDIT=1` (upstream's switch) never credits: for
//! an image whose seed files are copied to many machines. `-d DIR` names
//! another directory. In a container it does nothing: the pool is the
//! host's.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use blake2::{Blake2s256, Digest};
use nix::fcntl::{Flock, FlockArg};

const DEFAULT_DIR: &str = "/var/lib/seedrng";
/// Where svc's early script kept one seed before this program: taken once,
/// not credited (it may have been saved before the pool was ready).
const LEGACY_SEED: &str = "/var/lib/svc/random-seed";
const CREDIT: &str = "seed.credit";
const NO_CREDIT: &str = "seed.no-credit";
/// Seeds are between 32 bytes (BLAKE2s's output) and 512 (the pool of old
/// kernels); the size is the kernel's pool, from `poolsize`.
const MIN_SEED: usize = 32;
const MAX_SEED: usize = 512;
const HASH_LEN: usize = 32;
/// The start of what is hashed (a domain separator), SeedRNG's.
const HASH_PREFIX: &[u8] = b"SeedRNG v1 Old+New Prefix";
/// The prefix of every line this program prints on the console, which is
/// the service's name.
pub const SAY: &str = "seed";

/// `struct rand_pool_info` of <linux/random.h> with room for the largest
/// seed: RNDADDENTROPY reads `buf_size` bytes of `buf`.
#[repr(C)]
struct PoolInfo {
    entropy_count: libc::c_int,
    buf_size: libc::c_int,
    buf: [u8; MAX_SEED],
}

// RNDADDENTROPY is _IOW('R', 0x03, int[2]): the header's size, not the
// buffer's.
nix::ioctl_write_ptr!(rnd_add_entropy, b'R', 0x03, [libc::c_int; 2]);

/// What the command line asks.
pub struct Options {
    pub dir: PathBuf,
    pub credit: bool,
    /// `-h`/`--help`: print [`USAGE`] and do nothing else.
    pub help: bool,
}

pub const USAGE: &str = "usage: svc-seedrng [-n] [-d DIRECTORY]
Loads the saved random seeds into the kernel's pool (crediting seed.credit)
and saves the next one, in DIRECTORY (default /var/lib/seedrng).
  -n    credit nothing (also SEEDRNG_SKIP_CREDIT=1)
  -d    the seed directory";

/// The options from the environment and the arguments after the
/// program's name.
pub fn options(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Options, String> {
    let skip_env = std::env::var("SEEDRNG_SKIP_CREDIT")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "y"));
    let mut o = Options {
        dir: PathBuf::from(DEFAULT_DIR),
        credit: !skip_env,
        help: false,
    };
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        match a.to_str() {
            Some("-n") => o.credit = false,
            Some("-h" | "--help") => o.help = true,
            Some("-d") => {
                o.dir = args
                    .next()
                    .map(PathBuf::from)
                    .ok_or("-d needs a directory")?;
            }
            _ => {
                return Err(format!(
                    "unknown argument {}; usage: svc-seedrng [-n] [-d DIRECTORY] (-h: help)",
                    a.to_string_lossy()
                ));
            }
        }
    }
    Ok(o)
}

/// One run: the saved seeds into the pool, the next one saved.
pub fn run(opts: &Options) -> Result<(), String> {
    if in_container() {
        return Ok(());
    }
    // Checked first: a seed is removed before it is used, and one that
    // then cannot be added to the pool would be lost.
    if !nix::unistd::geteuid().is_root() {
        return Err("must run as root (RNDADDENTROPY needs CAP_SYS_ADMIN)".into());
    }
    let dir = &opts.dir;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir_file = File::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // Two runs at once (the stop half while a boot's start half still
    // runs) would each take a seed and write one: one waits.
    let dir_lock = Flock::lock(dir_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| format!("{}: lock: {e}", dir.display()))?;
    let pool = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/urandom")
        .map_err(|e| format!("/dev/urandom: {e}"))?;

    let mut hash = Blake2s256::new();
    hash.update(HASH_PREFIX);
    for clock in [libc::CLOCK_REALTIME, libc::CLOCK_BOOTTIME] {
        let ts = clock_now(clock);
        hash.update(ts.tv_sec.to_le_bytes());
        hash.update(ts.tv_nsec.to_le_bytes());
    }
    let mut old = vec![
        (dir.join(NO_CREDIT), false),
        (dir.join(CREDIT), opts.credit),
    ];
    if dir == Path::new(DEFAULT_DIR) {
        old.push((PathBuf::from(LEGACY_SEED), false));
    }
    for (path, credit) in old {
        let Some(seed) = take_seed(&path)? else {
            continue;
        };
        hash.update((seed.len() as u64).to_le_bytes());
        hash.update(&seed);
        add_to_pool(&pool, &seed, credit).map_err(|e| format!("RNDADDENTROPY: {e}"))?;
        println!(
            "{SAY}: loaded {} bits from {}{}",
            seed.len() * 8,
            path.display(),
            if credit { ", credited" } else { "" }
        );
    }

    let len = seed_len();
    let mut new = [0u8; MAX_SEED];
    let creditable = new_seed(&mut new[..len], &pool).map_err(|e| format!("getrandom: {e}"))?;
    hash.update((len as u64).to_le_bytes());
    hash.update(&new[..len]);
    new[len - HASH_LEN..len].copy_from_slice(&hash.finalize());
    let saved = save(dir, &dir_lock, &new[..len], creditable)?;
    let kind = if creditable {
        "creditable"
    } else {
        "uncreditable"
    };
    println!(
        "{SAY}: saved {} bits of {kind} seed to {}",
        len * 8,
        saved.display()
    );
    Ok(())
}

/// In a container as svc-init sees it (its markers, a PID namespace of
/// its own), or as svc-init recorded it for its services.
fn in_container() -> bool {
    crate::detect::probe(false).in_container() || Path::new(crate::CONTAINER_FILE).exists()
}

/// The seed in `path`, removed from disk (and the removal synced) before
/// it is returned; None when there is none or it is empty.
pub(crate) fn take_seed(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let shown = |e: io::Error| format!("{}: {e}", path.display());
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(shown(e)),
    };
    let mut seed = Vec::with_capacity(MAX_SEED);
    file.take(MAX_SEED as u64)
        .read_to_end(&mut seed)
        .map_err(shown)?;
    fs::remove_file(path).map_err(shown)?;
    let parent = path.parent().unwrap_or(Path::new("/"));
    File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("{}: {e}", parent.display()))?;
    Ok((!seed.is_empty()).then_some(seed))
}

/// RNDADDENTROPY: the bytes mixed into the input pool, with all their bits
/// credited or none.
fn add_to_pool(pool: &File, seed: &[u8], credit: bool) -> io::Result<()> {
    let mut info = PoolInfo {
        entropy_count: if credit {
            (seed.len() * 8) as libc::c_int
        } else {
            0
        },
        buf_size: seed.len() as libc::c_int,
        buf: [0; MAX_SEED],
    };
    info.buf[..seed.len()].copy_from_slice(seed);
    // SAFETY: `info` is a `struct rand_pool_info` whose buffer holds
    // `buf_size` bytes; the kernel only reads it.
    unsafe { rnd_add_entropy(pool.as_fd().as_raw_fd(), (&raw const info).cast()) }?;
    Ok(())
}

/// The kernel's pool size in bytes, within [MIN_SEED, MAX_SEED].
pub(crate) fn seed_len() -> usize {
    fs::read_to_string("/proc/sys/kernel/random/poolsize")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .map_or(MIN_SEED, |bits| bits / 8)
        .clamp(MIN_SEED, MAX_SEED)
}

/// Fills `buf` without ever waiting for the pool: true when the bytes are
/// creditable (the pool was ready).
fn new_seed(buf: &mut [u8], pool: &File) -> io::Result<bool> {
    match getrandom(buf, libc::GRND_NONBLOCK) {
        Ok(()) => return Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
        Err(e) => return Err(e),
    }
    match getrandom(buf, libc::GRND_INSECURE) {
        Ok(()) => Ok(false),
        // Before Linux 5.6 there is no GRND_INSECURE; /dev/urandom never
        // blocks there.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let mut p = pool;
            p.read_exact(buf)?;
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

fn getrandom(buf: &mut [u8], flags: libc::c_uint) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // The system call, not libc's getrandom(): std declares that symbol
        // weak, and in a static musl link the weak reference wins and is
        // never resolved (the call went to address 0).
        // SAFETY: writes at most `rest.len()` bytes into `rest`.
        let n = unsafe { libc::syscall(libc::SYS_getrandom, rest.as_mut_ptr(), rest.len(), flags) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        done += n as usize;
    }
    Ok(())
}

fn clock_now(clock: libc::clockid_t) -> libc::timespec {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: fills the timespec it is given; a clock the kernel lacks
    // leaves it zero, which only takes that clock out of the hash.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts
}

/// Writes the new seed to seed.no-credit, synced, then renames it to
/// seed.credit when it is creditable; the directory is synced last. The
/// file it is in.
pub(crate) fn save(
    dir: &Path,
    dir_file: &File,
    seed: &[u8],
    creditable: bool,
) -> Result<PathBuf, String> {
    let no_credit = dir.join(NO_CREDIT);
    let shown = |p: &Path, e: io::Error| format!("{}: {e}", p.display());
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o400)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&no_credit)
        .map_err(|e| shown(&no_credit, e))?;
    f.write_all(seed)
        .and_then(|()| f.sync_all())
        .map_err(|e| shown(&no_credit, e))?;
    let saved = if creditable {
        let credit = dir.join(CREDIT);
        fs::rename(&no_credit, &credit).map_err(|e| shown(&credit, e))?;
        credit
    } else {
        no_credit
    };
    dir_file.sync_all().map_err(|e| shown(dir, e))?;
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let d = std::env::temp_dir().join(format!(
                "svc-seedrng-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = fs::remove_dir_all(&d);
            fs::create_dir_all(&d).unwrap();
            TempDir(d)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn args(list: &[&str]) -> Vec<std::ffi::OsString> {
        list.iter().map(Into::into).collect()
    }

    #[test]
    fn options_take_no_credit_and_a_directory() {
        let o = options(args(&["-n", "-d", "/tmp/x"])).unwrap();
        assert!(!o.credit);
        assert_eq!(o.dir, Path::new("/tmp/x"));
        let e = options(args(&["-d"])).err().unwrap();
        assert!(e.contains("-d needs a directory"), "{e}");
        let e = options(args(&["--bogus"])).err().unwrap();
        assert!(e.contains("--bogus") && e.contains("usage"), "{e}");
        assert!(options(args(&["--help"])).unwrap().help);
        assert!(!options(args(&[])).unwrap().help);
    }

    #[test]
    fn a_seed_is_removed_before_it_is_used() {
        let d = TempDir::new("take");
        let p = d.0.join(CREDIT);
        assert_eq!(take_seed(&p).unwrap(), None, "no file, no seed");
        fs::write(&p, [7u8; 40]).unwrap();
        assert_eq!(take_seed(&p).unwrap(), Some(vec![7u8; 40]));
        assert!(!p.exists(), "taken seeds are gone from disk");
        fs::write(&p, b"").unwrap();
        assert_eq!(take_seed(&p).unwrap(), None, "an empty file is no seed");
        assert!(!p.exists());
        fs::write(&p, vec![1u8; MAX_SEED + 100]).unwrap();
        assert_eq!(take_seed(&p).unwrap().map(|s| s.len()), Some(MAX_SEED));
    }

    #[test]
    fn a_creditable_seed_is_saved_as_seed_credit() {
        let d = TempDir::new("save");
        let dir = File::open(&d.0).unwrap();
        let saved = save(&d.0, &dir, &[3u8; 32], true).unwrap();
        assert_eq!(saved, d.0.join(CREDIT));
        assert_eq!(fs::read(&saved).unwrap(), vec![3u8; 32]);
        assert_eq!(
            fs::metadata(&saved).unwrap().permissions().mode() & 0o777,
            0o400
        );
        assert!(!d.0.join(NO_CREDIT).exists());

        let saved = save(&d.0, &dir, &[4u8; 32], false).unwrap();
        assert_eq!(saved, d.0.join(NO_CREDIT));
        assert_eq!(fs::read(&saved).unwrap(), vec![4u8; 32]);
    }

    #[test]
    fn the_seed_length_is_within_bounds() {
        let n = seed_len();
        assert!((MIN_SEED..=MAX_SEED).contains(&n), "{n}");
    }
}
