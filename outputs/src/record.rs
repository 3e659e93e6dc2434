//! What travels to the destinations: the alert plus the `uuid` falcosidekick stamps on it,
//! and the renderings the sidekick destinations share (its JSON event, Go time formats).

use peregrine_rules::{Alert, Priority};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::sync::Arc;

/// One alert on its way out. Shared (`Arc`) by every destination that takes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub alert: Alert,
    /// A version 4 UUID, as falcosidekick adds to each event it receives.
    pub uuid: String,
}

impl Record {
    pub fn new(alert: Alert) -> Record {
        Record {
            alert,
            uuid: uuid_v4(),
        }
    }

    pub fn shared(alert: Alert) -> Arc<Record> {
        Arc::new(Record::new(alert))
    }
}

/// A random (version 4, RFC 4122 variant) UUID in its usual text form.
pub fn uuid_v4() -> String {
    let mut b = fastrand::u128(..).to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(HEX[(byte >> 4) as usize] as char);
        s.push(HEX[(byte & 15) as usize] as char);
    }
    s
}

/// The output fields a sidekick destination sees: Falco's, plus `customfields`
/// (which win over a field of the same name, as in falcosidekick).
pub fn sidekick_fields(alert: &Alert, custom: &[(String, String)]) -> Map<String, Json> {
    let mut fields = alert.output_fields.clone();
    for (k, v) in custom {
        fields.insert(k.clone(), Json::String(v.clone()));
    }
    fields
}

/// falcosidekick's event (`types.FalcoPayload`) in its JSON key order: `uuid`, `output`,
/// `priority`, `rule`, `time` (Go's RFC 3339 with nanoseconds, trailing zeros trimmed),
/// `output_fields`, `source`, `tags` (omitted when empty), `hostname` (omitted when empty).
///
/// One deliberate difference: integers in `output_fields` stay exact, where falcosidekick
/// round-trips them through `float64` (so `evt.time` in nanoseconds loses its last digits
/// there).
#[derive(Serialize)]
pub struct SidekickEvent<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    pub uuid: &'a str,
    pub output: &'a str,
    pub priority: &'static str,
    pub rule: &'a str,
    pub time: String,
    pub output_fields: FieldsView<'a>,
    pub source: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub tags: &'a [String],
    #[serde(skip_serializing_if = "str::is_empty")]
    pub hostname: &'a str,
}

/// The output fields plus custom fields, serialised without copying when there are no
/// custom fields.
pub struct FieldsView<'a> {
    pub fields: &'a Map<String, Json>,
    pub custom: &'a [(String, String)],
}

impl Serialize for FieldsView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.custom.is_empty() {
            return self.fields.serialize(s);
        }
        let mut merged = self.fields.clone();
        for (k, v) in self.custom {
            merged.insert(k.clone(), Json::String(v.clone()));
        }
        merged.serialize(s)
    }
}

impl<'a> SidekickEvent<'a> {
    pub fn new(rec: &'a Record, custom: &'a [(String, String)]) -> SidekickEvent<'a> {
        let a = &rec.alert;
        SidekickEvent {
            uuid: &rec.uuid,
            output: &a.output,
            priority: a.priority.as_str(),
            rule: &a.rule,
            time: go_rfc3339_nano(a.time_ns),
            output_fields: FieldsView {
                fields: &a.output_fields,
                custom,
            },
            source: &a.source,
            tags: &a.tags,
            hostname: &a.hostname,
        }
    }

    /// As Go's `json.Marshal` writes it (see [`go_json`]).
    pub fn to_json(&self) -> String {
        String::from_utf8(go_json(self)).unwrap_or_default()
    }
}

/// JSON as Go's `encoding/json` writes it, which falcosidekick uses for every body: `<`,
/// `>`, `&`, U+2028 and U+2029 escaped as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`
/// (these appear only inside strings, so escaping them after serialising is exact).
pub fn go_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let plain = serde_json::to_vec(value).unwrap_or_default();
    if !plain.iter().any(|b| matches!(b, b'<' | b'>' | b'&' | 0xE2)) {
        return plain;
    }
    let mut out = Vec::with_capacity(plain.len() + 64);
    let mut pos = 0;
    while let Some(off) = plain[pos..]
        .iter()
        .position(|b| matches!(b, b'<' | b'>' | b'&' | 0xE2))
    {
        let i = pos + off;
        out.extend_from_slice(&plain[pos..i]);
        pos = i + 1;
        match plain[i] {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            _ if plain.get(i + 1) == Some(&0x80)
                && matches!(plain.get(i + 2), Some(0xA8 | 0xA9)) =>
            {
                out.extend_from_slice(if plain[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                pos = i + 3;
            }
            b => out.push(b),
        }
    }
    out.extend_from_slice(&plain[pos..]);
    out
}

/// A request body as falcosidekick sends it: Go's JSON and a newline (`json.Encoder.Encode`).
pub fn go_json_body<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut body = go_json(value);
    body.push(b'\n');
    body
}

/// falcosidekick's priority order, used for `minimumpriority`: `Debug` (lowest) to
/// `Emergency` (highest).
pub fn passes(priority: Priority, minimum: Option<Priority>) -> bool {
    // peregrine_rules::Priority counts down from Emergency = 0.
    minimum.is_none_or(|m| priority <= m)
}

/// Civil date and time of an epoch nanosecond count (UTC).
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
}

fn civil(ns: u64) -> Civil {
    let secs = (ns / 1_000_000_000) as i64;
    let nanos = (ns % 1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's days_from_civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    Civil {
        year: if month <= 2 { y + 1 } else { y },
        month,
        day,
        hour: rem / 3600,
        minute: rem % 3600 / 60,
        second: rem % 60,
        nanos,
    }
}

/// Days since the epoch of a civil date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `.999999999` with trailing zeros removed, nothing for whole seconds (Go's `.999999999`).
fn trimmed_fraction(nanos: u32) -> String {
    if nanos == 0 {
        return String::new();
    }
    let s = format!(".{nanos:09}");
    s.trim_end_matches('0').to_string()
}

/// Go's `time.RFC3339Nano` of a UTC time: `2016-08-04T16:17:57.881781397Z`, trailing zeros
/// of the fraction trimmed.
pub fn go_rfc3339_nano(ns: u64) -> String {
    let c = civil(ns);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}Z",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        trimmed_fraction(c.nanos)
    )
}

/// Go's `time.Time.String()` of a UTC time: `2016-08-04 16:17:57.881781397 +0000 UTC`.
pub fn go_time_string(ns: u64) -> String {
    let c = civil(ns);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{} +0000 UTC",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        trimmed_fraction(c.nanos)
    )
}

/// Parses an RFC 3339 time (`2016-08-04T16:17:57.881781397Z`, or with a `+hh:mm` offset)
/// into epoch nanoseconds.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0..4)? as i64, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos: u64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + (b[i] - b'0') as u64;
            }
            i += 1;
        }
        let digits = (i - start).min(9);
        if i == start {
            return None;
        }
        nanos *= 10u64.pow(9 - digits as u32);
    }
    let offset: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let h = num(i + 1..i + 3)? as i64;
            let m = num(i + 4..i + 6)? as i64;
            let off = h * 3600 + m * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400
        + hour as i64 * 3600
        + minute as i64 * 60
        + second as i64
        - offset;
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_time_formats() {
        let ns = 1_470_327_477_881_781_397;
        assert_eq!(go_rfc3339_nano(ns), "2016-08-04T16:17:57.881781397Z");
        assert_eq!(
            go_time_string(ns),
            "2016-08-04 16:17:57.881781397 +0000 UTC"
        );
        assert_eq!(
            go_rfc3339_nano(1_700_000_000_120_000_000),
            "2023-11-14T22:13:20.12Z"
        );
        assert_eq!(go_rfc3339_nano(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            go_time_string(951_782_400_000_000_000),
            "2000-02-29 00:00:00 +0000 UTC"
        );
    }

    #[test]
    fn rfc3339_round_trips_and_rejects_garbage() {
        for ns in [0u64, 1, 951_782_400_000_000_000, 1_470_327_477_881_781_397] {
            assert_eq!(parse_rfc3339(&go_rfc3339_nano(ns)), Some(ns));
        }
        assert_eq!(
            parse_rfc3339("2016-08-04T18:17:57.5+02:00"),
            Some(1_470_327_477_500_000_000)
        );
        for bad in [
            "",
            "2016-08-04",
            "2016-13-04T00:00:00Z",
            "2016-08-04T00:00:00",
            "x016-08-04T00:00:00Z",
            "2016-08-04T00:00:00.Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_is_escaped_as_go_does() {
        let v = serde_json::json!({"a": "<NA> & x > y \u{2028}\u{2029} é"});
        assert_eq!(
            String::from_utf8(go_json(&v)).unwrap(),
            r#"{"a":"\u003cNA\u003e \u0026 x \u003e y \u2028\u2029 é"}"#
        );
        assert_eq!(go_json_body(&1).last(), Some(&b'\n'));
    }

    #[test]
    fn uuids_are_version_4() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(u, uuid_v4());
    }

    #[test]
    fn minimum_priority_is_at_least_as_severe() {
        assert!(passes(Priority::Debug, None));
        assert!(passes(Priority::Warning, Some(Priority::Warning)));
        assert!(passes(Priority::Critical, Some(Priority::Warning)));
        assert!(!passes(Priority::Notice, Some(Priority::Warning)));
    }
}
