//! `freenet_time.__frnt__time__utc_now(id: i64, ptr: i64)`: the host's
//! clock, written as the 12 bytes of a chrono `DateTime<Utc>`, which
//! freenet-stdlib's `time::now()` transmutes.
//!
//! ```text
//! offset 0  date: i32 LE   chrono's NaiveDate: year << 13 | ordinal << 4 | year flags
//! offset 4  secs: u32 LE   seconds since midnight
//! offset 8  frac: u32 LE   nanoseconds
//! ```
//!
//! The year flags are chrono's: bit 3 set for a common year, bits 0..3 the
//! weekday code of the year's start (7 when it starts on a Tuesday, 1 on a
//! Wednesday, ..., 6 on a Monday).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use refill_core::{Caller, Error, HostFunctions, Result};

use super::{FreenetHost, check_id};

/// The import module.
const MODULE: &str = "freenet_time";
/// The import's name.
const UTC_NOW: &str = "__frnt__time__utc_now";

/// The size of a chrono `DateTime<Utc>` in guest memory.
pub const DATETIME_LEN: usize = 12;

/// A UTC instant: seconds since the Unix epoch and nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcTime {
    /// Seconds since 1970-01-01T00:00:00Z (negative before).
    pub unix_secs: i64,
    /// Nanoseconds within the second, below 1 000 000 000.
    pub nanos: u32,
}

/// The host's clock. The embedder's to replace (a fixed one for tests).
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> UtcTime;
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UtcTime {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) => UtcTime {
                unix_secs: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
                nanos: since.subsec_nanos(),
            },
            // A clock before 1970: count back.
            Err(before) => {
                let before = before.duration();
                let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
                match before.subsec_nanos() {
                    0 => UtcTime {
                        unix_secs: -secs,
                        nanos: 0,
                    },
                    n => UtcTime {
                        unix_secs: -secs - 1,
                        nanos: 1_000_000_000 - n,
                    },
                }
            }
        }
    }
}

/// A clock that always says the same instant.
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub UtcTime);

impl Clock for FixedClock {
    fn now(&self) -> UtcTime {
        self.0
    }
}

/// chrono's range of years.
const MIN_YEAR: i64 = -262_143;
const MAX_YEAR: i64 = 262_142;

/// `time` as the bytes of a chrono `DateTime<Utc>`, or `None` outside the
/// years chrono can represent.
pub fn encode_datetime(time: UtcTime) -> Option<[u8; DATETIME_LEN]> {
    let days = time.unix_secs.div_euclid(86_400);
    let secs_of_day = time.unix_secs.rem_euclid(86_400) as u32;
    let (year, ordinal) = year_and_ordinal(days);
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) || time.nanos >= 1_000_000_000 {
        return None;
    }
    let jan1 = days - i64::from(ordinal - 1);
    // 1970-01-01 was a Thursday: weekday 3 counting from Monday = 0.
    let jan1_weekday = (jan1 + 3).rem_euclid(7) as u8;
    let common = if is_leap(year) { 0 } else { 1 << 3 };
    let start = match (jan1_weekday + 6) % 7 {
        0 => 7,
        code => code,
    };
    let flags = common | start;
    let date = ((year as i32) << 13) | ((ordinal as i32) << 4) | i32::from(flags);
    let mut bytes = [0; DATETIME_LEN];
    bytes[..4].copy_from_slice(&date.to_le_bytes());
    bytes[4..8].copy_from_slice(&secs_of_day.to_le_bytes());
    bytes[8..].copy_from_slice(&time.nanos.to_le_bytes());
    Some(bytes)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// The proleptic Gregorian year of a day counted from 1970-01-01, and the
/// day's ordinal (1-based) within it.
fn year_and_ordinal(days: i64) -> (i64, u32) {
    // Days from 0000-03-01, in 400-year eras of 146 097 days (H. Hinnant's
    // civil-from-days), then the ordinal from the year's own January 1st.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    const BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap_day = i64::from(month > 2 && is_leap(year));
    let ordinal = BEFORE[(month - 1) as usize] + day + leap_day;
    (year, ordinal as u32)
}

pub(super) fn define(set: &mut HostFunctions, host: &FreenetHost) {
    let clock = Arc::clone(&host.clock);
    set.func(
        MODULE,
        UTC_NOW,
        move |caller: &mut Caller<'_>, id: i64, ptr: i64| -> Result<()> {
            check_id(caller, id)?;
            let now = clock.now();
            let bytes = encode_datetime(now).ok_or_else(|| {
                Error::host(format!(
                    "the host clock's {now:?} is outside chrono's years"
                ))
            })?;
            caller.write(ptr, &bytes)
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Datelike, Timelike, Utc};

    fn decode(bytes: [u8; DATETIME_LEN]) -> (i64, u32, u8, u32, u32) {
        let date = i32::from_le_bytes(bytes[..4].try_into().unwrap());
        let secs = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
        let frac = u32::from_le_bytes(bytes[8..].try_into().unwrap());
        (
            i64::from(date >> 13),
            ((date >> 4) & 0x1ff) as u32,
            (date & 0xf) as u8,
            secs,
            frac,
        )
    }

    /// Every field agrees with chrono's own calendar, over four centuries
    /// and around the edges (leap years, century years, before 1970).
    #[test]
    fn the_layout_agrees_with_chrono() {
        let mut unix_secs = -12_219_292_800; // 1582-10-15
        while unix_secs < 16_725_225_600 {
            let time = UtcTime {
                unix_secs,
                nanos: 123_456_789,
            };
            let chrono = DateTime::<Utc>::from_timestamp(unix_secs, 123_456_789).unwrap();
            let (year, ordinal, flags, secs, frac) = decode(encode_datetime(time).unwrap());
            assert_eq!(year, i64::from(chrono.year()), "{chrono}");
            assert_eq!(ordinal, chrono.ordinal(), "{chrono}");
            assert_eq!(secs, chrono.num_seconds_from_midnight(), "{chrono}");
            assert_eq!(frac, chrono.nanosecond(), "{chrono}");
            let leap = chrono.date_naive().leap_year();
            assert_eq!(flags & 8 == 0, leap, "{chrono}");
            let jan1 = chrono.date_naive().with_ordinal(1).unwrap().weekday();
            let code = (jan1.num_days_from_monday() as u8 + 6) % 7;
            assert_eq!(flags & 7, if code == 0 { 7 } else { code }, "{chrono}");
            unix_secs += 86_400 * 37 + 3_601;
        }
    }

    #[test]
    fn the_system_clock_is_near_chrono_and_bad_instants_are_refused() {
        let ours = SystemClock.now().unix_secs;
        let chrono = Utc::now().timestamp();
        assert!((ours - chrono).abs() <= 1);
        assert!(
            encode_datetime(UtcTime {
                unix_secs: i64::MAX,
                nanos: 0
            })
            .is_none()
        );
        assert!(
            encode_datetime(UtcTime {
                unix_secs: 0,
                nanos: 1_000_000_000
            })
            .is_none()
        );
    }
}
