//! Signal names and raw Linux numbers (x86_64 and the generic ABI, which
//! agree on every number below). Kept as plain numbers so the model does not
//! depend on the host libc.

use crate::units::ValueError;

pub const SIGNAL_EXPECTED: &str = "a signal name (TERM, SIGTERM, RTMIN+3) or a number from 1 to 64";

/// Real-time signals as the kernel numbers them (glibc reserves 32 and 33
/// for itself and reports SIGRTMIN as 34).
pub const RTMIN: i32 = 34;
pub const RTMAX: i32 = 64;

const NAMES: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// `TERM`, `SIGTERM`, `term`, `RTMIN+2`, `RTMAX-1` or `15`.
pub fn parse_signal(s: &str) -> Result<i32, ValueError> {
    let err = || ValueError::new(SIGNAL_EXPECTED, s);
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let n: i32 = t.parse().map_err(|_| err())?;
        return if (1..=RTMAX).contains(&n) {
            Ok(n)
        } else {
            Err(err())
        };
    }
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = NAMES.iter().find(|(known, _)| *known == name) {
        return Ok(n);
    }
    let offset = |rest: &str| -> Option<i32> {
        if rest.is_empty() {
            return Some(0);
        }
        let (sign, digits) = if let Some(d) = rest.strip_prefix('+') {
            (1, d)
        } else {
            (-1, rest.strip_prefix('-')?)
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<i32>().ok().map(|k| sign * k)
    };
    let n = if let Some(rest) = name.strip_prefix("RTMIN") {
        offset(rest).map(|k| RTMIN + k)
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        offset(rest).map(|k| RTMAX + k)
    } else {
        None
    };
    match n {
        Some(n) if (RTMIN..=RTMAX).contains(&n) => Ok(n),
        _ => Err(err()),
    }
}

/// The conventional name without `SIG` (`TERM`, `RTMIN+3`), or the number
/// for one that has none.
pub fn signal_name(n: i32) -> String {
    if let Some(&(name, _)) = NAMES.iter().find(|(_, k)| *k == n) {
        return name.to_string();
    }
    if (RTMIN..=RTMAX).contains(&n) {
        return if n == RTMIN {
            "RTMIN".to_string()
        } else if n == RTMAX {
            "RTMAX".to_string()
        } else {
            format!("RTMIN+{}", n - RTMIN)
        };
    }
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse_signal("TERM"), Ok(15));
        assert_eq!(parse_signal("SIGTERM"), Ok(15));
        assert_eq!(parse_signal("sigkill"), Ok(9));
        assert_eq!(parse_signal("HUP"), Ok(1));
        assert_eq!(parse_signal("15"), Ok(15));
        assert_eq!(parse_signal("RTMIN"), Ok(34));
        assert_eq!(parse_signal("RTMIN+4"), Ok(38));
        assert_eq!(parse_signal("SIGRTMAX-1"), Ok(63));
        for bad in [
            "", "0", "65", "-1", "FOO", "RTMIN+31", "RTMAX+1", "RTMINX", "SIG",
        ] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_number_round_trips() {
        for n in 1..=64 {
            assert_eq!(parse_signal(&signal_name(n)), Ok(n), "{n}");
        }
        assert_eq!(signal_name(15), "TERM");
        assert_eq!(signal_name(37), "RTMIN+3");
        assert_eq!(signal_name(32), "32");
    }
}
