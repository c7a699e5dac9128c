//! svc-init's entry point. `no_main`: the C `main` below takes over from
//! std's runtime start-up, which an init does not need and which costs a
//! container entrypoint about a dozen system calls and a read of
//! /proc/self/maps per start (stdio poll, SIGPIPE, the main thread's stack
//! guard and alternate signal stack). svc-init does what it needs of that
//! itself: it fills missing fds 0-2 and blocks every signal.
#![no_main]

use std::ffi::{CStr, OsString, c_char, c_int};
use std::os::unix::ffi::OsStringExt;

#[unsafe(no_mangle)]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let count = usize::try_from(argc).unwrap_or(0);
    let mut args: Vec<OsString> = (0..count)
        .filter_map(|i| {
            // SAFETY: the C runtime passes argc entries in argv, each a
            // NUL-terminated string or (never in practice) null, skipped.
            let ptr = unsafe { *argv.add(i) };
            // SAFETY: see above; the bytes are copied out at once.
            (!ptr.is_null())
                .then(|| OsString::from_vec(unsafe { CStr::from_ptr(ptr) }.to_bytes().to_vec()))
        })
        .collect();
    // argv[0]: `telinit` is svc-init under another name.
    let program = (!args.is_empty()).then(|| args.remove(0));
    svc_init::run(program, args)
}
