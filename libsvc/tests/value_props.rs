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
    fn cgroup_values_never_panic_and_stay_in_range(s in "\\PC{0,16}") {
        let _ = units::parse_cgroup_size(&s);
        if let Ok(libsvc::CpuMax::Quota { quota_us, period_us }) = units::parse_cpu_max(&s) {
            prop_assert!((1_000..=1_000_000).contains(&period_us));
            prop_assert!(quota_us >= 1_000);
        }
        if let Ok(libsvc::LimitValue::Value(n)) = units::parse_pids_max(&s) {
            prop_assert!((1..=units::PIDS_MAX_LIMIT).contains(&n));
        }
        if let Ok(w) = units::parse_weight(&s) {
            prop_assert!((1..=10_000).contains(&w));
        }
    }

    #[test]
    fn cpu_max_durations_read_as_written(quota_ms in 1u64..100_000, period_ms in 1u64..=1000) {
        let parsed = units::parse_cpu_max(&format!("{quota_ms}ms/{period_ms}ms"));
        prop_assert_eq!(parsed, Ok(libsvc::CpuMax::Quota { quota_us: quota_ms * 1000, period_us: period_ms * 1000 }));
    }

    #[test]
    fn signal_parsing_never_panics(s in "\\PC{0,12}") {
        if let Ok(n) = signal::parse_signal(&s) {
            prop_assert!((1..=64).contains(&n));
        }
    }
}
