//! Durations, sizes and booleans as declarations write them.

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
