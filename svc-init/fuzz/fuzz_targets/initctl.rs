//! Arbitrary bytes through the /run/initctl reassembler, split into reads as
//! the input says (`[len, bytes[len*4]]…`), and every record it yields
//! through the interpreter. Anyone who can open the FIFO can write these
//! bytes. Besides not panicking, every byte must be accounted for exactly
//! once: in a record, or in what a rejection says it dropped.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use svc_init::initctl::{InitEnv, Outcome, RECORD_LEN, Reassembler, Reject, interpret};

fuzz_target!(|data: &[u8]| {
    let mut records = Reassembler::default();
    let mut env = InitEnv::default();
    let mut now = Instant::now();
    let mut fed = 0usize;
    let mut accounted = 0usize;
    let mut count = |outcome: Outcome, env: &mut InitEnv| match outcome {
        Outcome::Record(req) => {
            let _ = interpret(&req, env);
            RECORD_LEN
        }
        Outcome::Rejected(Reject::Short { len }) => len,
        Outcome::Rejected(Reject::Long { extra }) => extra,
        Outcome::Rejected(Reject::BadMagic { dropped }) => dropped,
    };
    let mut rest = data;
    while let [len, tail @ ..] = rest {
        let n = (*len as usize * 4).min(tail.len());
        let (chunk, more) = tail.split_at(n);
        rest = more;
        fed += chunk.len();
        records.feed(chunk, now, &mut |o| accounted += count(o, &mut env));
        now += Duration::from_millis(u64::from(*len) * 37);
    }
    records.expire(now + Duration::from_secs(3600), &mut |o| {
        accounted += count(o, &mut env)
    });
    assert!(records.deadline().is_none());
    assert_eq!(fed, accounted, "bytes fed vs bytes reported");
});
