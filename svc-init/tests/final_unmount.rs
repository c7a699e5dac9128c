//! The final unmount with the real system calls, in a private mount
//! namespace of this (single-threaded, harness-less) test process, on
//! scratch tmpfs mounts only: a directory under /tmp gets a tmpfs that
//! stands in for `/`, with tmpfs mounts inside it. Only that table is
//! handed to `take_down` — never a host mount — and the stand-in root is
//! what is remounted read-only, never `/` (a remount of `/` would reach
//! the host's superblock even from another mount namespace).

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};

#[path = "../../tests/support/harness.rs"]
mod harness;
use svc_init::mounts::{Left, ROUNDS, SysMounts, points, take_down};

fn tmpfs(at: &Path) {
    std::fs::create_dir_all(at).unwrap();
    mount(
        Some("tmpfs"),
        at,
        Some("tmpfs"),
        MsFlags::empty(),
        Some("size=1m"),
    )
    .unwrap_or_else(|e| panic!("tmpfs on {}: {e}", at.display()));
}

fn is_mounted(table: &str, at: &Path) -> bool {
    points(table).iter().any(|p| p.target == at)
}

fn read_only(path: &Path) -> bool {
    nix::sys::statvfs::statvfs(path)
        .unwrap()
        .flags()
        .contains(nix::sys::statvfs::FsFlags::ST_RDONLY)
}

fn main() {
    if !harness::needs_root("final_unmount", "mounts") {
        return;
    }
    let scratch = PathBuf::from(format!("/tmp/svc-final-unmount-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let result = std::panic::catch_unwind(|| run(&scratch));
    let _ = std::fs::remove_dir(&scratch);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    println!("final_unmount: ok");
}

fn run(scratch: &Path) {
    // Our own copy of the mount table, whose changes reach no one.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).expect("unshare(CLONE_NEWNS)");
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("private propagation");
    tmpfs(scratch);
    let (a, b, busy, held) = (
        scratch.join("a"),
        scratch.join("a/b"),
        scratch.join("busy"),
        scratch.join("held"),
    );
    tmpfs(&a);
    tmpfs(&b);
    tmpfs(&busy);
    tmpfs(&held);
    // `busy` is held by a reader until the first kill round; `held` by a
    // writer throughout (no unmount, and no read-only remount, then).
    std::fs::write(busy.join("f"), "x").unwrap();
    let mut reader = Some(std::fs::File::open(busy.join("f")).unwrap());
    let writer = std::fs::File::create(held.join("f")).unwrap();

    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mine: Vec<_> = points(&table)
        .into_iter()
        .filter(|p| p.target.starts_with(scratch))
        .collect();
    assert_eq!(mine.len(), 5, "{mine:?}");
    let mut rounds = 0;
    let left = take_down(
        &mine,
        scratch,
        &mut SysMounts {
            between: || {
                rounds += 1;
                reader.take();
            },
        },
    );

    assert_eq!(
        left,
        [Left::Writable(held.clone(), nix::errno::Errno::EBUSY)]
    );
    // 2 unmount rounds for `busy`, then ROUNDS-1 retries of held's remount
    assert!(rounds >= ROUNDS, "{rounds} rounds");
    let after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for gone in [&a, &b, &busy] {
        assert!(
            !is_mounted(&after, gone),
            "{} still mounted",
            gone.display()
        );
    }
    assert!(is_mounted(&after, &held));
    assert!(read_only(scratch), "the stand-in root is not read-only");
    assert!(!read_only(&held));
    drop(writer);
    umount2(&held, MntFlags::empty()).unwrap();
    umount2(scratch, MntFlags::empty()).unwrap();
}
