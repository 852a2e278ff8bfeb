//! Opening hours in Dutch local time: the send window for marketer messages and the calling
//! hours for announced verification calls.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Europe::Amsterdam;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("time {0:?} is not HH:MM")]
    Time(String),
    #[error("day {0:?} is not one of mon, tue, wed, thu, fri, sat, sun")]
    Day(String),
    #[error("date {0:?} is not YYYY-MM-DD")]
    Date(String),
    #[error("start must be before end")]
    Order,
}

/// Days and hours (local time in the Netherlands) during which something may happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpeningHours {
    days: Vec<Weekday>,
    start: NaiveTime,
    /// `None` means midnight at the end of the day (`"24:00"`).
    end: Option<NaiveTime>,
    blocked: Vec<NaiveDate>,
}

fn time(s: &str) -> Result<Option<NaiveTime>, HoursError> {
    if s == "24:00" {
        return Ok(None);
    }
    NaiveTime::parse_from_str(s, "%H:%M").map(Some).map_err(|_| HoursError::Time(s.into()))
}

fn day(s: &str) -> Result<Weekday, HoursError> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return Err(HoursError::Day(s.into())),
    })
}

impl OpeningHours {
    pub fn parse(days: &[String], start: &str, end: &str, blocked: &[String]) -> Result<Self, HoursError> {
        let start = time(start)?.ok_or(HoursError::Time(start.into()))?;
        let end = time(end)?;
        if end.is_some_and(|e| e <= start) {
            return Err(HoursError::Order);
        }
        Ok(Self {
            days: days.iter().map(|d| day(d)).collect::<Result<_, _>>()?,
            start,
            end,
            blocked: blocked
                .iter()
                .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| HoursError::Date(d.clone())))
                .collect::<Result<_, _>>()?,
        })
    }

    fn open_on(&self, date: NaiveDate) -> bool {
        self.days.contains(&date.weekday()) && !self.blocked.contains(&date)
    }

    /// The open interval of a local date, in UTC.
    fn interval(&self, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if !self.open_on(date) {
            return None;
        }
        let local = |d: NaiveDate, t: NaiveTime| Amsterdam.from_local_datetime(&d.and_time(t)).earliest();
        let open = local(date, self.start)?;
        let close = match self.end {
            Some(e) => local(date, e)?,
            None => local(date.succ_opt()?, NaiveTime::MIN)?,
        };
        Some((open.with_timezone(&Utc), close.with_timezone(&Utc)))
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let date = t.with_timezone(&Amsterdam).date_naive();
        self.interval(date).is_some_and(|(o, c)| o <= t && t < c)
    }

    /// Whether all of `[start, end]` lies inside open hours (across midnight when both days are open).
    pub fn covers(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        let mut t = start;
        while t < end {
            let date = t.with_timezone(&Amsterdam).date_naive();
            match self.interval(date) {
                Some((o, c)) if o <= t && end <= c => return true,
                Some((o, c)) if o <= t && c > t && self.end.is_none() => t = c,
                _ => return false,
            }
        }
        self.contains(start)
    }

    /// The first moment at or after `t` that is inside open hours (within a year).
    pub fn next_open(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.contains(t) {
            return Some(t);
        }
        let first = t.with_timezone(&Amsterdam).date_naive();
        (0..366).filter_map(|i| first.checked_add_signed(Duration::days(i))).find_map(|d| {
            let (o, c) = self.interval(d)?;
            (c > t).then_some(o.max(t))
        })
    }
}

/// Weekday and date as people say them, e.g. "vrijdag 28 november".
pub fn spoken_date(t: DateTime<Utc>, en: bool) -> String {
    let l = t.with_timezone(&Amsterdam);
    const NL_DAYS: [&str; 7] = ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"];
    const NL_MONTHS: [&str; 12] = [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ];
    if en {
        l.format("%A %-d %B").to_string()
    } else {
        let d = NL_DAYS[l.weekday().num_days_from_monday() as usize];
        format!("{d} {} {}", l.day(), NL_MONTHS[l.month0() as usize])
    }
}

/// Local clock time, `14:00`.
pub fn clock(t: DateTime<Utc>) -> String {
    t.with_timezone(&Amsterdam).format("%H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekdays() -> Vec<String> {
        ["mon", "tue", "wed", "thu", "fri"].iter().map(|s| s.to_string()).collect()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn local_time_decides() {
        let h = OpeningHours::parse(&weekdays(), "09:00", "20:00", &["2026-12-25".into()]).unwrap();
        // Friday 27 November 2026, 08:30 UTC = 09:30 in Amsterdam (CET).
        assert!(h.contains(utc("2026-11-27T08:30:00Z")));
        assert!(!h.contains(utc("2026-11-27T07:30:00Z")));
        assert!(!h.contains(utc("2026-11-28T10:00:00Z")), "Saturday");
        assert!(!h.contains(utc("2026-12-25T10:00:00Z")), "blocked date");
        assert!(h.covers(utc("2026-11-27T13:00:00Z"), utc("2026-11-27T14:00:00Z")));
        assert!(!h.covers(utc("2026-11-27T18:30:00Z"), utc("2026-11-27T19:30:00Z")), "past 20:00 local");
        assert_eq!(h.next_open(utc("2026-11-27T20:00:00Z")), Some(utc("2026-11-30T08:00:00Z")));
    }

    #[test]
    fn whole_days_cover_midnight() {
        let all: Vec<String> =
            ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().map(|s| s.to_string()).collect();
        let h = OpeningHours::parse(&all, "00:00", "24:00", &[]).unwrap();
        assert!(h.covers(utc("2026-11-27T22:50:00Z"), utc("2026-11-27T23:20:00Z")));
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(OpeningHours::parse(&weekdays(), "9", "20:00", &[]).is_err());
        assert!(OpeningHours::parse(&["funday".into()], "09:00", "20:00", &[]).is_err());
        assert!(OpeningHours::parse(&weekdays(), "20:00", "09:00", &[]).is_err());
        assert!(OpeningHours::parse(&weekdays(), "09:00", "20:00", &["25-12-2026".into()]).is_err());
    }

    #[test]
    fn dates_are_spoken_in_both_languages() {
        assert_eq!(spoken_date(utc("2026-11-27T13:00:00Z"), false), "vrijdag 27 november");
        assert_eq!(spoken_date(utc("2026-11-27T13:00:00Z"), true), "Friday 27 November");
        assert_eq!(clock(utc("2026-11-27T13:00:00Z")), "14:00");
    }
}
