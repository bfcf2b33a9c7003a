//! Time is an argument: the core never reads a clock. `expires` is strict
//! `YYYY-MM-DDTHH:MM:SSZ` (TUF §4.2), turned into UNIX seconds.

use crate::error::{Error, ErrorKind, Field, Result};

/// Seconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// Parses `YYYY-MM-DDTHH:MM:SSZ` exactly: no fractions, no offsets, no lower-case letters.
    pub fn parse_expires(s: &[u8]) -> Result<Self> {
        Self::expires(s).ok_or(Error::new(ErrorKind::BadValue, Field::Expires))
    }

    /// [`parse_expires`](Self::parse_expires) for the core's readers, which name the error.
    pub(crate) fn expires(s: &[u8]) -> Option<Self> {
        // Read against a template: digits accumulate into the current field, every other byte
        // must be the template's and starts the next field. One loop, not twenty bindings.
        const FORMAT: &[u8; 20] = b"0000-00-00T00:00:00Z";
        if s.len() != FORMAT.len() {
            return None;
        }
        // Four-digit years: everything fits in `i32`, which a 32-bit device divides without a
        // 64-bit division routine.
        let mut fields = [0i32; 6];
        let mut k = 0;
        for (&c, &t) in s.iter().zip(FORMAT) {
            match (t, fields.get_mut(k)) {
                (b'0', Some(v)) if c.is_ascii_digit() => *v = *v * 10 + i32::from(c - b'0'),
                (b'0', _) => return None,
                _ if c == t => k += 1,
                _ => return None,
            }
        }
        let [year, month, day, hour, min, sec] = fields;
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || min > 59 || sec > 59 {
            return None;
        }
        let seconds = hour * 3600 + min * 60 + sec;
        Some(Self(
            i64::from(days_from_civil(year, month, day)) * 86_400 + i64::from(seconds),
        ))
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: i32) -> i32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i32, m: i32, d: i32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_instants() {
        assert_eq!(
            UnixTime::parse_expires(b"1970-01-01T00:00:00Z"),
            Ok(UnixTime(0))
        );
        assert_eq!(
            UnixTime::parse_expires(b"2030-01-01T00:00:00Z"),
            Ok(UnixTime(1_893_456_000))
        );
        assert_eq!(
            UnixTime::parse_expires(b"2024-02-29T23:59:59Z"),
            Ok(UnixTime(1_709_251_199))
        );
    }

    #[test]
    fn rejects_everything_else() {
        for s in [
            &b"2030-01-01T00:00:00"[..],
            b"2030-01-01T00:00:00.5Z",
            b"2030-01-01 00:00:00Z",
            b"2030-01-01T00:00:00+00:00",
            b"2023-02-29T00:00:00Z",
            b"2030-13-01T00:00:00Z",
            b"2030-01-01T24:00:00Z",
            b"2030-01-01t00:00:00z",
            b"2030-01-01T00:00:0aZ",
            b"2030-01-01T00:00:00ZZ",
            b"2030-01-01T00:00Z:00",
            b"2030/01/01T00:00:00Z",
            b"+030-01-01T00:00:00Z",
            b"",
        ] {
            assert!(UnixTime::parse_expires(s).is_err(), "{s:?}");
        }
    }
}
