//! Maintenance windows: installs (and, when configured, downloads) happen only inside them.
//!
//! ```toml
//! [maintenance]
//! time_zone = "Europe/Berlin"
//! windows = [
//!   { days = ["mon", "tue", "wed", "thu", "fri"], start = "02:00", end = "04:30" },
//!   { days = ["sat"], start = "22:00", end = "06:00" },   # into Sunday morning
//! ]
//! ```
//!
//! A window opens on each listed day at `start`, local time in `time_zone`, and closes at `end`
//! (the next day when `end` is not after `start`; `24:00` is midnight). Times are compared on
//! the local wall clock, so a window keeps its hours across daylight-saving changes.

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::Deserialize;

/// The maintenance windows of a device.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawWindows")]
pub struct Windows {
    zone_name: String,
    zone: TimeZone,
    windows: Vec<Window>,
}

/// One weekly window.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    days: Vec<Weekday>,
    start: Time,
    /// `None`: midnight at the end of the day (`24:00`).
    end: Option<Time>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindows {
    time_zone: String,
    windows: Vec<RawWindow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    days: Vec<String>,
    start: String,
    end: String,
}

fn weekday(name: &str) -> Option<Weekday> {
    Some(match name.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

/// `HH:MM` (`24:00` as `None`: the end of the day).
fn clock(text: &str) -> Option<Option<Time>> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    if (h, m) == (24, 0) {
        return Some(None);
    }
    Time::new(h, m, 0, 0).ok().map(Some)
}

impl TryFrom<RawWindows> for Windows {
    type Error = String;

    fn try_from(raw: RawWindows) -> Result<Self, String> {
        let zone = TimeZone::get(&raw.time_zone).map_err(|e| {
            format!(
                "maintenance.time_zone: {:?} is not a time zone: {e}",
                raw.time_zone
            )
        })?;
        if raw.windows.is_empty() {
            return Err("maintenance.windows: at least one window".into());
        }
        let mut windows = Vec::new();
        for (i, w) in raw.windows.into_iter().enumerate() {
            let days = w
                .days
                .iter()
                .map(|d| {
                    weekday(d).ok_or_else(|| {
                        format!("maintenance.windows[{i}].days: {d:?} is not a day (mon..sun)")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if days.is_empty() {
                return Err(format!("maintenance.windows[{i}].days: at least one day"));
            }
            let start = match clock(&w.start) {
                Some(Some(t)) => t,
                _ => {
                    return Err(format!(
                        "maintenance.windows[{i}].start: {:?} is not HH:MM",
                        w.start
                    ))
                }
            };
            let end = clock(&w.end)
                .ok_or_else(|| format!("maintenance.windows[{i}].end: {:?} is not HH:MM", w.end))?;
            windows.push(Window { days, start, end });
        }
        Ok(Self {
            zone_name: raw.time_zone,
            zone,
            windows,
        })
    }
}

impl Window {
    /// The window that opens on `day`: its local start and end.
    fn on(&self, day: Date) -> Option<(DateTime, DateTime)> {
        if !self.days.contains(&day.weekday()) {
            return None;
        }
        let start = day.to_datetime(self.start);
        let end_day = match self.end {
            Some(e) if e > self.start => day,
            _ => day.tomorrow().ok()?,
        };
        let end = end_day.to_datetime(self.end.unwrap_or(Time::midnight()));
        Some((start, end))
    }
}

impl Windows {
    /// The time zone's name.
    pub fn zone_name(&self) -> &str {
        &self.zone_name
    }

    fn local(&self, now: Timestamp) -> Zoned {
        now.to_zoned(self.zone.clone())
    }

    /// Whether a window is open at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        let local = self.local(now).datetime();
        let today = local.date();
        let days = [today.yesterday().ok(), Some(today)];
        self.windows.iter().any(|w| {
            days.iter()
                .flatten()
                .filter_map(|d| w.on(*d))
                .any(|(start, end)| start <= local && local < end)
        })
    }

    /// When the next window opens (`now` when one is open), within the coming eight days.
    pub fn next_open(&self, now: Timestamp) -> Option<Zoned> {
        if self.is_open(now) {
            return Some(self.local(now));
        }
        let local = self.local(now).datetime();
        let mut day = local.date();
        let mut best: Option<DateTime> = None;
        for _ in 0..8 {
            for (start, _) in self.windows.iter().filter_map(|w| w.on(day)) {
                if start > local && best.is_none_or(|b| start < b) {
                    best = Some(start);
                }
            }
            day = day.tomorrow().ok()?;
        }
        best.and_then(|b| b.to_zoned(self.zone.clone()).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(zone: &str, list: &[(&[&str], &str, &str)]) -> Result<Windows, String> {
        Windows::try_from(RawWindows {
            time_zone: zone.into(),
            windows: list
                .iter()
                .map(|(days, start, end)| RawWindow {
                    days: days.iter().map(|d| d.to_string()).collect(),
                    start: start.to_string(),
                    end: end.to_string(),
                })
                .collect(),
        })
    }

    fn at(local: &str, zone: &str) -> Timestamp {
        local
            .parse::<DateTime>()
            .unwrap()
            .to_zoned(TimeZone::get(zone).unwrap())
            .unwrap()
            .timestamp()
    }

    #[test]
    fn windows_open_on_their_days_in_their_time_zone() {
        let w = windows("Europe/Berlin", &[(&["mon", "tue"], "02:00", "04:30")]).unwrap();
        // 2026-12-07 is a Monday.
        assert!(w.is_open(at("2026-12-07T02:00", "Europe/Berlin")));
        assert!(w.is_open(at("2026-12-08T04:29", "Europe/Berlin")));
        assert!(!w.is_open(at("2026-12-07T04:30", "Europe/Berlin")));
        assert!(
            !w.is_open(at("2026-12-09T03:00", "Europe/Berlin")),
            "a Wednesday"
        );
        // 02:30 in Berlin is 01:30 UTC: the window is about local time.
        assert!(w.is_open(at("2026-12-07T01:30", "UTC")));
        assert!(!w.is_open(at("2026-12-07T03:45", "UTC")));
        let next = w
            .next_open(at("2026-12-08T12:00", "Europe/Berlin"))
            .unwrap();
        assert_eq!(next.datetime().to_string(), "2026-12-14T02:00:00");
    }

    #[test]
    fn a_window_may_run_past_midnight_and_to_24_00() {
        let w = windows(
            "UTC",
            &[(&["sat"], "22:00", "06:00"), (&["sun"], "12:00", "24:00")],
        )
        .unwrap();
        // 2026-12-12 is a Saturday.
        assert!(w.is_open(at("2026-12-12T23:00", "UTC")));
        assert!(
            w.is_open(at("2026-12-13T05:59", "UTC")),
            "Sunday morning, from Saturday"
        );
        assert!(!w.is_open(at("2026-12-13T06:00", "UTC")));
        assert!(w.is_open(at("2026-12-13T23:59", "UTC")));
        assert!(!w.is_open(at("2026-12-14T00:00", "UTC")));
        let next = w.next_open(at("2026-12-13T07:00", "UTC")).unwrap();
        assert_eq!(next.datetime().to_string(), "2026-12-13T12:00:00");
    }

    #[test]
    fn daylight_saving_keeps_the_local_hours() {
        let w = windows("Europe/Berlin", &[(&["sun"], "01:00", "04:00")]).unwrap();
        // 2027-03-28: clocks go from 02:00 to 03:00; 03:30 local is 01:30 UTC.
        assert!(w.is_open(at("2027-03-28T01:30", "UTC")));
        assert!(!w.is_open(at("2027-03-28T02:30", "UTC")), "04:30 local");
    }

    #[test]
    fn bad_windows_are_named() {
        let e = windows("Mars/Olympus", &[(&["mon"], "02:00", "03:00")]).unwrap_err();
        assert!(e.contains("maintenance.time_zone"), "{e}");
        let e = windows("UTC", &[(&["mon", "funday"], "02:00", "03:00")]).unwrap_err();
        assert!(e.contains("windows[0].days") && e.contains("funday"), "{e}");
        let e = windows("UTC", &[(&["mon"], "25:00", "03:00")]).unwrap_err();
        assert!(e.contains("windows[0].start"), "{e}");
        let e = windows("UTC", &[(&["mon"], "02:00", "3pm")]).unwrap_err();
        assert!(e.contains("windows[0].end"), "{e}");
        assert!(windows("UTC", &[])
            .unwrap_err()
            .contains("at least one window"));
    }
}
