//! `expires` as TUF writes it: `YYYY-MM-DDTHH:MM:SSZ`.

/// Formats UNIX seconds.
pub fn format(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    // H. Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_through_the_core_parser() {
        for t in [0, 951_782_400, 1_709_251_199, 1_893_456_000, 4_102_444_799] {
            let s = super::format(t);
            assert_eq!(
                otuf_core::time::UnixTime::parse_expires(s.as_bytes()),
                Ok(otuf_core::time::UnixTime(t)),
                "{s}"
            );
        }
    }
}
