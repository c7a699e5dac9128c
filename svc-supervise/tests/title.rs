//! The process title is written where the kernel says argv is, not where
//! `program_invocation_name` points: a pointer moved to a short string at
//! the end of a mapping must not make the title code read past it.
//! (Alone in its binary: it rewrites this process's argv.)

unsafe extern "C" {
    static mut program_invocation_name: *mut libc::c_char;
}

#[test]
fn the_title_goes_to_the_argv_area_whatever_program_invocation_name_says() {
    const PAGE: usize = 4096;
    // SAFETY: a fresh private anonymous mapping of two pages, the second
    // made inaccessible, so any read past the first page faults.
    let region = unsafe {
        let region = libc::mmap(
            std::ptr::null_mut(),
            2 * PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(region, libc::MAP_FAILED);
        assert_eq!(
            libc::mprotect(region.cast::<u8>().add(PAGE).cast(), PAGE, libc::PROT_NONE),
            0
        );
        region.cast::<u8>()
    };
    // SAFETY: the last two bytes of the first page, ours.
    let short = unsafe {
        let at = region.add(PAGE - 2);
        at.write(b'x');
        at.add(1).write(0);
        at
    };
    // SAFETY: no other thread reads it while the test runs (one test here).
    let saved = unsafe { program_invocation_name };
    // SAFETY: as above.
    unsafe { program_invocation_name = short.cast() };
    svc_supervise::title::set("title-test");
    // SAFETY: as above.
    unsafe { program_invocation_name = saved };
    let cmdline = std::fs::read("/proc/self/cmdline").unwrap();
    assert!(
        cmdline.starts_with(b"svc-supervise title-test\0"),
        "{:?}",
        String::from_utf8_lossy(&cmdline)
    );
    // SAFETY: our mapping, not used after this.
    unsafe { libc::munmap(region.cast(), 2 * PAGE) };
}
