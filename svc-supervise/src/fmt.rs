//! Formatting into fixed buffers, so that log lines, paths and file names
//! are built without allocating.

/// Writes into a byte slice; what does not fit is cut and remembered.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer {
            buf,
            len: 0,
            overflow: false,
        }
    }

    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        let room = self.buf.len() - self.len;
        let n = b.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
        if n < b.len() {
            self.overflow = true;
        }
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    pub fn uint(&mut self, mut v: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.bytes(&digits[i..])
    }

    /// `v` with at least `width` digits, zero-padded.
    pub fn padded(&mut self, v: u64, width: usize) -> &mut Self {
        let mut digits = [b'0'; 20];
        let mut i = digits.len();
        let mut v = v;
        while v > 0 || digits.len() - i < width {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if i == 0 {
                break;
            }
        }
        self.bytes(&digits[i..])
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Broken-down UTC time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
}

impl Utc {
    pub fn from_unix(secs: i64, micros: u32) -> Utc {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Utc {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            micros,
        }
    }

    /// `2026-11-22T01:28:52.123456Z`
    pub fn iso8601(&self, w: &mut Writer) {
        w.padded(self.year.max(0) as u64, 4)
            .str("-")
            .padded(self.month.into(), 2)
            .str("-")
            .padded(self.day.into(), 2)
            .str("T")
            .padded(self.hour.into(), 2)
            .str(":")
            .padded(self.minute.into(), 2)
            .str(":")
            .padded(self.second.into(), 2)
            .str(".")
            .padded(self.micros.into(), 6)
            .str("Z");
    }

    /// `20261122T012852.123456Z`: sorts by time, safe in file names.
    pub fn compact(&self, w: &mut Writer) {
        w.padded(self.year.max(0) as u64, 4)
            .padded(self.month.into(), 2)
            .padded(self.day.into(), 2)
            .str("T")
            .padded(self.hour.into(), 2)
            .padded(self.minute.into(), 2)
            .padded(self.second.into(), 2)
            .str(".")
            .padded(self.micros.into(), 6)
            .str("Z");
    }

    /// `Nov 22 01:28:52`, the BSD syslog timestamp.
    pub fn bsd(&self, w: &mut Writer) {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        w.str(MONTHS[(self.month as usize).clamp(1, 12) - 1])
            .str(" ");
        if self.day < 10 {
            w.str(" ");
        }
        w.uint(self.day.into())
            .str(" ")
            .padded(self.hour.into(), 2)
            .str(":")
            .padded(self.minute.into(), 2)
            .str(":")
            .padded(self.second.into(), 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_overflow() {
        let mut buf = [0u8; 8];
        let mut w = Writer::new(&mut buf);
        w.uint(0).str(",").uint(1234);
        assert_eq!(w.written(), b"0,1234");
        w.str("xyz");
        assert!(w.overflowed());
        assert_eq!(w.written(), b"0,1234xy");
    }

    #[test]
    fn timestamps() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        Utc::from_unix(1_795_311_732, 7).iso8601(&mut w);
        assert_eq!(w.written(), b"2026-11-22T01:42:12.000007Z");
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        Utc::from_unix(0, 0).compact(&mut w);
        assert_eq!(w.written(), b"19700101T000000.000000Z");
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        Utc::from_unix(951_782_400, 0).bsd(&mut w); // 2000-02-29
        assert_eq!(w.written(), b"Feb 29 00:00:00");
    }
}
