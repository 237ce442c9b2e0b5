//! Calendar periods (week from Monday, month, quarter) in an IANA time zone.

use chrono::{Datelike, LocalResult, NaiveDate, TimeZone};
use chrono_tz::Tz;

use crate::spec::CalendarUnit;

/// The first day of the period containing `date`.
pub fn period_first_day(unit: CalendarUnit, date: NaiveDate) -> NaiveDate {
    match unit {
        CalendarUnit::Week => {
            date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday()))
        }
        CalendarUnit::Month => date.with_day(1).unwrap_or(date),
        CalendarUnit::Quarter => {
            let month = (date.month0() / 3) * 3 + 1;
            NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date)
        }
    }
}

/// The first day of the period after the one starting on `first`.
pub fn next_period_first_day(unit: CalendarUnit, first: NaiveDate) -> NaiveDate {
    match unit {
        CalendarUnit::Week => first + chrono::Days::new(7),
        CalendarUnit::Month => first + chrono::Months::new(1),
        CalendarUnit::Quarter => first + chrono::Months::new(3),
    }
}

fn local_midnight_ms(tz: Tz, day: NaiveDate) -> i64 {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.timestamp_millis(),
        // Midnight skipped by a DST jump: the period starts when the day does, an hour later.
        LocalResult::None => tz
            .from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
            .map_or_else(
                || naive.and_utc().timestamp_millis(),
                |t| t.timestamp_millis(),
            ),
    }
}

/// The `[start, end)` bounds in unix milliseconds of the period containing `t_ms` in `tz`.
pub fn period_bounds(unit: CalendarUnit, tz: Tz, t_ms: i64) -> (i64, i64) {
    let local = tz
        .timestamp_millis_opt(t_ms)
        .single()
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let first = period_first_day(unit, local);
    let next = next_period_first_day(unit, first);
    (local_midnight_ms(tz, first), local_midnight_ms(tz, next))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn ms(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn weeks_start_on_monday_in_the_zone() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        // Sunday 23:30 UTC on 2026-03-01 is Monday 00:30 in Paris.
        let (s, e) = period_bounds(CalendarUnit::Week, tz, ms("2026-03-01T23:30:00Z"));
        assert_eq!(s, ms("2026-03-01T23:00:00Z"));
        assert_eq!(e, ms("2026-03-08T23:00:00Z"));
    }

    #[test]
    fn months_and_quarters_follow_the_calendar_and_dst() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let (s, e) = period_bounds(CalendarUnit::Month, tz, ms("2026-03-15T12:00:00Z"));
        assert_eq!(s, ms("2026-03-01T05:00:00Z"));
        assert_eq!(e, ms("2026-04-01T04:00:00Z"));
        // 31 days less the hour lost to DST.
        assert_eq!(e - s, (31 * 24 - 1) * 3_600_000);
        let (s, e) = period_bounds(CalendarUnit::Quarter, tz, ms("2026-05-20T00:00:00Z"));
        assert_eq!(s, ms("2026-04-01T04:00:00Z"));
        assert_eq!(e, ms("2026-07-01T04:00:00Z"));
        let utc: Tz = "UTC".parse().unwrap();
        let (s, e) = period_bounds(CalendarUnit::Quarter, utc, ms("2026-12-31T23:59:59Z"));
        assert_eq!(s, ms("2026-10-01T00:00:00Z"));
        assert_eq!(e, ms("2027-01-01T00:00:00Z"));
    }
}
