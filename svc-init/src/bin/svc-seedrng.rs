//! svc-seedrng: the random seed kept across boots; see svc_init::seedrng.

use std::process::ExitCode;

use svc_init::seedrng::{SAY, options, run};

fn main() -> ExitCode {
    match options(std::env::args_os().skip(1)).and_then(|o| run(&o)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{SAY}: {e}");
            ExitCode::FAILURE
        }
    }
}
