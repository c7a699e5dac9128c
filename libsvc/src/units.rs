//! Durations, sizes and booleans as declarations write them.

use crate::model::{CpuMax, LimitValue};
use std::time::Duration;

/// A value that does not have the expected form; `expected` says what would
/// have been accepted, for error messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, found '{found}'")]
pub struct ValueError {
    pub expected: &'static str,
    pub found: String,
}

impl ValueError {
    pub fn new(expected: &'static str, found: &str) -> Self {
        Self {
            expected,
            found: found.to_string(),
        }
    }
}

pub const DURATION_EXPECTED: &str = "a duration such as 250ms, 10s, 5m, 1h or a number of seconds";
pub const SIZE_EXPECTED: &str = "a size such as 512K, 4M, 1G or a number of bytes";
pub const BOOL_EXPECTED: &str = "yes/no, true/false, on/off or 1/0";

/// Splits `"250ms"` into `("250", "ms")`.
fn split_number(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// `250ms`, `10s`, `5m`, `1h`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, ValueError> {
    let err = || ValueError::new(DURATION_EXPECTED, s);
    let (digits, unit) = split_number(s.trim());
    if digits.is_empty() {
        return Err(err());
    }
    let n: u64 = digits.parse().map_err(|_| err())?;
    let ms_per_unit: u64 = match unit {
        "ms" => 1,
        "" | "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return Err(err()),
    };
    let ms = n.checked_mul(ms_per_unit).ok_or_else(err)?;
    Ok(Duration::from_millis(ms))
}

/// The shortest exact form `parse_duration` reads back to the same value
/// (sub-millisecond parts are dropped, since declarations cannot write them).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    for (unit, per) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1000)] {
        if ms % per == 0 {
            return format!("{}{}", ms / per, unit);
        }
    }
    format!("{ms}ms")
}

/// `512K`, `4M`, `1G`, `1T` (powers of 1024) or a number of bytes.
pub fn parse_size(s: &str) -> Result<u64, ValueError> {
    let err = || ValueError::new(SIZE_EXPECTED, s);
    let (digits, unit) = split_number(s.trim());
    if digits.is_empty() {
        return Err(err());
    }
    let n: u64 = digits.parse().map_err(|_| err())?;
    let shift = match unit {
        "" | "B" => 0,
        "K" | "k" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(err()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(err)
}

/// The shortest exact form `parse_size` reads back to the same value.
pub fn format_size(n: u64) -> String {
    if n == 0 {
        return "0".to_string();
    }
    for (unit, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] {
        if n % (1u64 << shift) == 0 {
            return format!("{}{}", n >> shift, unit);
        }
    }
    n.to_string()
}

pub const CGROUP_SIZE_EXPECTED: &str =
    "a size such as 512K, 32M, 1G, a number of bytes, or 'infinity'";
pub const WEIGHT_EXPECTED: &str = "a weight from 1 to 10000 (the default is 100)";
pub const PIDS_MAX_EXPECTED: &str = "a number of tasks from 1 to 4194304, or 'infinity'";
pub const CPU_MAX_EXPECTED: &str = "QUOTA/PERIOD such as 50ms/100ms (PERIOD 1ms to 1s, default 100ms; QUOTA at least 1ms), a percentage of one CPU such as 150%, or 'infinity'";

/// The default `cpu.max` period, as the kernel has it: 100ms.
pub const CPU_PERIOD_DEFAULT_US: u64 = 100_000;
/// `cpu.max` bounds (kernel/sched/core.c): the period from 1ms to 1s, the
/// quota from 1ms to the largest runtime the bandwidth code can hold.
const CPU_PERIOD_MIN_US: u64 = 1_000;
const CPU_PERIOD_MAX_US: u64 = 1_000_000;
const CPU_QUOTA_MIN_US: u64 = 1_000;
const CPU_QUOTA_MAX_US: u64 = (1 << 44) - 1;
/// `pids.max` above PID_MAX_LIMIT is refused by the kernel.
pub const PIDS_MAX_LIMIT: u64 = 4 * 1024 * 1024;

/// A cgroup memory size: as `parse_size`, or `infinity`.
pub fn parse_cgroup_size(s: &str) -> Result<LimitValue, ValueError> {
    match s.trim() {
        "infinity" => Ok(LimitValue::Infinity),
        t => parse_size(t)
            .map(LimitValue::Value)
            .map_err(|_| ValueError::new(CGROUP_SIZE_EXPECTED, s)),
    }
}

/// `cpu-weight`, `io-weight`: 1 to 10000, as `cpu.weight` and `io.weight`
/// take them.
pub fn parse_weight(s: &str) -> Result<u32, ValueError> {
    let t = s.trim();
    t.parse::<u32>()
        .ok()
        .filter(|n| t.bytes().all(|b| b.is_ascii_digit()) && (1..=10_000).contains(n))
        .ok_or_else(|| ValueError::new(WEIGHT_EXPECTED, s))
}

/// `pids-max`: a number of tasks, or `infinity`.
pub fn parse_pids_max(s: &str) -> Result<LimitValue, ValueError> {
    let t = s.trim();
    if t == "infinity" {
        return Ok(LimitValue::Infinity);
    }
    t.parse::<u64>()
        .ok()
        .filter(|n| t.bytes().all(|b| b.is_ascii_digit()) && (1..=PIDS_MAX_LIMIT).contains(n))
        .map(LimitValue::Value)
        .ok_or_else(|| ValueError::new(PIDS_MAX_EXPECTED, s))
}

/// `cpu-max`: `QUOTA[/PERIOD]` (durations), `N%` of one CPU over the
/// default period, or `infinity`.
pub fn parse_cpu_max(s: &str) -> Result<CpuMax, ValueError> {
    let err = || ValueError::new(CPU_MAX_EXPECTED, s);
    let t = s.trim();
    if t == "infinity" {
        return Ok(CpuMax::Infinity);
    }
    let micros = |d: &str| -> Option<u64> {
        let ms = parse_duration(d.trim()).ok()?.as_millis();
        u64::try_from(ms).ok()?.checked_mul(1000)
    };
    let (quota_us, period_us) = if let Some(pct) = t.strip_suffix('%') {
        if pct.is_empty() || !pct.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let pct: u64 = pct.parse().map_err(|_| err())?;
        let quota = pct
            .checked_mul(CPU_PERIOD_DEFAULT_US / 100)
            .ok_or_else(err)?;
        (quota, CPU_PERIOD_DEFAULT_US)
    } else {
        match t.split_once('/') {
            Some((q, p)) => (micros(q).ok_or_else(err)?, micros(p).ok_or_else(err)?),
            None => (micros(t).ok_or_else(err)?, CPU_PERIOD_DEFAULT_US),
        }
    };
    let ok = (CPU_PERIOD_MIN_US..=CPU_PERIOD_MAX_US).contains(&period_us)
        && (CPU_QUOTA_MIN_US..=CPU_QUOTA_MAX_US).contains(&quota_us);
    if !ok {
        return Err(err());
    }
    Ok(CpuMax::Quota {
        quota_us,
        period_us,
    })
}

/// A cgroup limit as its file takes it: bytes or a count, or `max`.
pub fn cgroup_value(v: LimitValue) -> String {
    match v {
        LimitValue::Value(n) => n.to_string(),
        LimitValue::Infinity => "max".to_string(),
    }
}

/// `cpu.max` as the file takes it: `QUOTA PERIOD` in microseconds, or `max`.
pub fn cpu_max_value(c: CpuMax) -> String {
    match c {
        CpuMax::Quota {
            quota_us,
            period_us,
        } => format!("{quota_us} {period_us}"),
        CpuMax::Infinity => "max".to_string(),
    }
}

/// A cgroup memory size as a declaration writes it: `32M`, `infinity`.
pub fn format_cgroup_size(v: LimitValue) -> String {
    match v {
        LimitValue::Value(n) => format_size(n),
        LimitValue::Infinity => "infinity".to_string(),
    }
}

/// `yes/no`, `true/false`, `on/off`, `1/0`.
pub fn parse_bool(s: &str) -> Result<bool, ValueError> {
    match s.trim() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(ValueError::new(BOOL_EXPECTED, s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in [
            "",
            "s",
            "10x",
            "-1s",
            "1.5s",
            "10 s",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("18446744073709551615h").is_err());
    }

    #[test]
    fn duration_round_trip() {
        for s in ["0s", "250ms", "10s", "5m", "1h", "90s", "1500ms", "25h"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(format_duration(d), s);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512K"), Ok(512 * 1024));
        assert_eq!(parse_size("4M"), Ok(4 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("100"), Ok(100));
        for bad in ["", "M", "4X", "-4", "4 M", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        for n in [0, 1, 1023, 1024, 4 << 20, 1 << 40, 1536] {
            assert_eq!(parse_size(&format_size(n)), Ok(n));
        }
        assert_eq!(format_size(4 << 20), "4M");
    }

    #[test]
    fn cgroup_sizes() {
        assert_eq!(parse_cgroup_size("32M"), Ok(LimitValue::Value(32 << 20)));
        assert_eq!(parse_cgroup_size("infinity"), Ok(LimitValue::Infinity));
        assert_eq!(parse_cgroup_size("0"), Ok(LimitValue::Value(0)));
        for bad in ["", "max", "32X", "-1", "unlimited", "1.5G"] {
            let e = parse_cgroup_size(bad).unwrap_err();
            assert_eq!(e.expected, CGROUP_SIZE_EXPECTED, "{bad}");
        }
        assert_eq!(cgroup_value(LimitValue::Value(32 << 20)), "33554432");
        assert_eq!(cgroup_value(LimitValue::Infinity), "max");
        assert_eq!(format_cgroup_size(LimitValue::Value(32 << 20)), "32M");
    }

    #[test]
    fn weights_and_pids() {
        assert_eq!(parse_weight("1"), Ok(1));
        assert_eq!(parse_weight("10000"), Ok(10_000));
        for bad in ["0", "10001", "-5", "+5", "", "1e3", "99999999999999999999"] {
            assert!(parse_weight(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_pids_max("10"), Ok(LimitValue::Value(10)));
        assert_eq!(parse_pids_max("infinity"), Ok(LimitValue::Infinity));
        assert_eq!(parse_pids_max("4194304"), Ok(LimitValue::Value(4_194_304)));
        for bad in ["0", "4194305", "max", "-1", "ten"] {
            assert!(parse_pids_max(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpu_max() {
        let q = |quota_us, period_us| {
            Ok(CpuMax::Quota {
                quota_us,
                period_us,
            })
        };
        assert_eq!(parse_cpu_max("50ms/100ms"), q(50_000, 100_000));
        assert_eq!(parse_cpu_max("2s/1s"), q(2_000_000, 1_000_000));
        assert_eq!(parse_cpu_max("20ms"), q(20_000, 100_000));
        assert_eq!(parse_cpu_max("150%"), q(150_000, 100_000));
        assert_eq!(parse_cpu_max("1%"), q(1_000, 100_000));
        assert_eq!(parse_cpu_max("infinity"), Ok(CpuMax::Infinity));
        for bad in [
            "",
            "%",
            "0%",
            "1.5%",
            "-5%",
            "50ms/",
            "/100ms",
            "50ms/2s",
            "50ms/0",
            "0/100ms",
            "max",
            "50ms 100ms",
            "99999999999999999999%",
        ] {
            let e = parse_cpu_max(bad).unwrap_err();
            assert_eq!(e.expected, CPU_MAX_EXPECTED, "{bad}");
        }
        assert_eq!(
            cpu_max_value(CpuMax::Quota {
                quota_us: 150_000,
                period_us: 100_000
            }),
            "150000 100000"
        );
        assert_eq!(cpu_max_value(CpuMax::Infinity), "max");
    }

    #[test]
    fn bools() {
        for t in ["yes", "true", "on", "1"] {
            assert_eq!(parse_bool(t), Ok(true));
        }
        for f in ["no", "false", "off", "0"] {
            assert_eq!(parse_bool(f), Ok(false));
        }
        let e = parse_bool("maybe").unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected yes/no, true/false, on/off or 1/0, found 'maybe'"
        );
    }
}
