//! The process title: `svc-supervise NAME` in argv (what `ps ax` shows)
//! and `svc:NAME` as the kernel's 15-byte thread name (what `ps -e` shows).

unsafe extern "C" {
    /// glibc and musl point this at argv[0].
    static mut program_invocation_name: *mut libc::c_char;
}

/// Renames the process. The argv area is rewritten only when it can be
/// found and checked against /proc/self/cmdline.
pub fn set(name: &str) {
    let mut comm = [0u8; 15];
    let text = format!("svc:{name}");
    let n = text.len().min(comm.len());
    comm[..n].copy_from_slice(&text.as_bytes()[..n]);
    crate::sys::set_thread_name(&comm[..n]);

    let Ok(cmdline) = std::fs::read("/proc/self/cmdline") else {
        return;
    };
    // SAFETY: reading the pointer value of a libc global.
    let argv0 = unsafe { program_invocation_name };
    if argv0.is_null() || cmdline.is_empty() {
        return;
    }
    // SAFETY: the kernel laid out argv as `cmdline.len()` contiguous bytes
    // starting at argv[0]; we compare before writing, so a different layout
    // is detected and left alone.
    let area = unsafe { std::slice::from_raw_parts_mut(argv0.cast::<u8>(), cmdline.len()) };
    if area != cmdline.as_slice() {
        return;
    }
    let title = format!("svc-supervise {name}");
    let n = title.len().min(area.len() - 1);
    area[..n].copy_from_slice(&title.as_bytes()[..n]);
    area[n..].fill(0);
}
