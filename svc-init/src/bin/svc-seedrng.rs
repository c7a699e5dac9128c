//! svc-seedrng: the random seed kept across boots; see svc_init::seedrng.

use std::process::ExitCode;

use svc_init::seedrng::{SAY, USAGE, options, run};

fn main() -> ExitCode {
    let result = options(std::env::args_os().skip(1)).and_then(|o| {
        if o.help {
            println!("{USAGE}");
            Ok(())
        } else {
            run(&o)
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{SAY}: {e}");
            ExitCode::FAILURE
        }
    }
}
