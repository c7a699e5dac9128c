//! The memory floor of a Rust supervisor: fork + exec PROGRAM, wait,
//! do it again. No control socket, no logging, no state. Built static
//! (like svc-supervise) by tools/bench.sh to show what glibc or musl and
//! Rust std cost before any supervision is written.
//!
//!     forkwait PROGRAM [ARGS...]

use std::process::{Command, ExitCode};
use std::time::Duration;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: forkwait PROGRAM [ARGS...]");
        return ExitCode::from(2);
    };
    let rest: Vec<_> = args.collect();
    loop {
        if let Err(e) = Command::new(&program).args(&rest).status() {
            eprintln!("forkwait: {e}");
        }
        // Never a busy loop when the program cannot run.
        std::thread::sleep(Duration::from_millis(100));
    }
}
