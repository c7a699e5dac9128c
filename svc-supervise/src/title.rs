//! The process title: `svc-supervise NAME` in argv (what `ps ax` shows)
//! and `svc:NAME` as the kernel's 15-byte thread name (what `ps -e` shows).

/// Renames the process. The argv area is rewritten only where the kernel
/// says it is (`arg_start`..`arg_end` in /proc/self/stat) and when its
/// bytes are those of /proc/self/cmdline. Call it before any other thread
/// exists: `std::env::args` reads the same memory.
pub fn set(name: &str) {
    let mut comm = [0u8; 15];
    let text = format!("svc:{name}");
    let n = text.len().min(comm.len());
    comm[..n].copy_from_slice(&text.as_bytes()[..n]);
    crate::sys::set_thread_name(&comm[..n]);

    let Some((start, end)) = std::fs::read("/proc/self/stat")
        .ok()
        .and_then(|stat| arg_area(&stat))
    else {
        return;
    };
    let Ok(cmdline) = std::fs::read("/proc/self/cmdline") else {
        return;
    };
    if cmdline.is_empty() || cmdline.len() != end - start {
        return;
    }
    // SAFETY: the kernel says our argv strings occupy start..end (memory it
    // mapped for this process at exec, on the initial stack, never freed);
    // nothing else holds a Rust reference into it, and no other thread runs.
    let area = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, end - start) };
    if area != cmdline.as_slice() {
        return;
    }
    let title = format!("svc-supervise {name}");
    let n = title.len().min(area.len() - 1);
    area[..n].copy_from_slice(&title.as_bytes()[..n]);
    area[n..].fill(0);
}

/// `arg_start` and `arg_end` (fields 48 and 49) of /proc/PID/stat, when
/// they make a non-empty range.
fn arg_area(stat: &[u8]) -> Option<(usize, usize)> {
    // The name in parentheses may hold spaces and ')': fields count from
    // the last ')', after which comes field 3.
    let rest = &stat[stat.iter().rposition(|&b| b == b')')? + 1..];
    let mut fields = rest
        .split(|&b| b == b' ' || b == b'\n')
        .filter(|f| !f.is_empty());
    let mut field = |skip: usize| -> Option<usize> {
        std::str::from_utf8(fields.nth(skip)?).ok()?.parse().ok()
    };
    let start = field(48 - 3)?;
    let end = field(0)?;
    (start > 0 && end > start).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argv_area_is_read_from_stat() {
        let stat = b"12 (a b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 \
                     24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 1000 1020 \
                     1020 1100 0\n";
        assert_eq!(arg_area(stat), Some((1000, 1020)));
        // Hidden (0) or truncated: nothing is written.
        assert_eq!(arg_area(b"12 (x) S 1 2"), None);
        let hidden = String::from_utf8_lossy(stat).replace("1000 1020", "0 0");
        assert_eq!(arg_area(hidden.as_bytes()), None);
    }

    #[test]
    fn our_own_argv_area_matches_cmdline() {
        let stat = std::fs::read("/proc/self/stat").unwrap();
        let (start, end) = arg_area(&stat).unwrap();
        let cmdline = std::fs::read("/proc/self/cmdline").unwrap();
        assert_eq!(end - start, cmdline.len());
    }
}
