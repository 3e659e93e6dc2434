//! Time stamps as Falco prints them, without a date-time dependency.

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
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

struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    nanos: u32,
}

fn parts(ns: u64, offset_secs: i64) -> Parts {
    let total = (ns / 1_000_000_000) as i64 + offset_secs;
    let days = total.div_euclid(86_400);
    let secs = total.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    Parts {
        year,
        month,
        day,
        hour: (secs / 3600) as u32,
        min: (secs / 60 % 60) as u32,
        sec: (secs % 60) as u32,
        nanos: (ns % 1_000_000_000) as u32,
    }
}

/// `HH:MM:SS.nnnnnnnnn` in local time (`offset_secs` east of UTC): Falco's `%evt.time`.
pub fn hms(ns: u64, offset_secs: i64) -> String {
    let p = parts(ns, offset_secs);
    format!("{:02}:{:02}:{:02}.{:09}", p.hour, p.min, p.sec, p.nanos)
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000` (UTC): Falco's `%evt.time.iso8601`.
pub fn iso8601(ns: u64) -> String {
    let p = parts(ns, 0);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}+0000",
        p.year, p.month, p.day, p.hour, p.min, p.sec, p.nanos
    )
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`: the `time` key of JSON alerts.
pub fn rfc3339(ns: u64) -> String {
    let p = parts(ns, 0);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        p.year, p.month, p.day, p.hour, p.min, p.sec, p.nanos
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_falco_examples() {
        // From Falco's output_files/single_rule_with_cat_write.json.
        let ns = 1_470_327_477_881_781_397;
        assert_eq!(iso8601(ns), "2016-08-04T16:17:57.881781397+0000");
        assert_eq!(rfc3339(ns), "2016-08-04T16:17:57.881781397Z");
        assert_eq!(hms(ns, 0), "16:17:57.881781397");
        assert_eq!(hms(ns, 9 * 3600), "01:17:57.881781397");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
    }
}
