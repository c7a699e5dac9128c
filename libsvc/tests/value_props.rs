//! Round trips of the value helpers over arbitrary input.

use libsvc::{cmdline, signal, units};
use proptest::prelude::*;
use std::time::Duration;

proptest! {
    #[test]
    fn command_words_survive_join_and_split(words in proptest::collection::vec("[^\u{0}]{0,12}", 1..6)) {
        let line = cmdline::join(&words);
        prop_assert_eq!(cmdline::split(&line).unwrap(), words);
    }

    #[test]
    fn split_never_panics(s in "\\PC{0,40}") {
        let _ = cmdline::split(&s);
    }

    #[test]
    fn durations_round_trip(ms in 0u64..10_000_000_000) {
        let d = Duration::from_millis(ms);
        prop_assert_eq!(units::parse_duration(&units::format_duration(d)), Ok(d));
    }

    #[test]
    fn sizes_round_trip(n in any::<u64>()) {
        prop_assert_eq!(units::parse_size(&units::format_size(n)), Ok(n));
    }

    #[test]
    fn signal_parsing_never_panics(s in "\\PC{0,12}") {
        if let Ok(n) = signal::parse_signal(&s) {
            prop_assert!((1..=64).contains(&n));
        }
    }
}
