//! Text helpers for runtime metadata: image references split the way Falco splits them,
//! RFC 3339 times as the runtimes write them.

/// An image reference split like Falco's `split_container_image`: the repository keeps the
/// registry (`docker.io/library/nginx`), the tag is what follows the last ':' after the
/// last '/', the digest what follows '@'.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageRef<'a> {
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// Splits `repo[:tag][@digest]`. `localhost:5000/app` has no tag: a ':' before the last
/// '/' is a registry port.
pub fn split_image(image: &str) -> ImageRef<'_> {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d).filter(|d| !d.is_empty())),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match name[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            (&name[..at], Some(&name[at + 1..]).filter(|t| !t.is_empty()))
        }
        None => (name, None),
    };
    ImageRef {
        repository,
        tag,
        digest,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-26T21:11:34.481736722Z` (or with a `+hh:mm` offset) as epoch nanoseconds.
/// `None` for anything else, and for times before 1970 (Go's zero time
/// `0001-01-01T00:00:00Z` means "never").
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
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
        if i == start {
            return None;
        }
        for _ in (i - start).min(9)..9 {
            nanos *= 10;
        }
    }
    let offset: i64 = match &s[i..] {
        "Z" | "z" => 0,
        tz if tz.len() == 6
            && matches!(tz.as_bytes()[0], b'+' | b'-')
            && tz.as_bytes()[3] == b':' =>
        {
            let h = num(i + 1..i + 3)? as i64;
            let m = num(i + 4..i + 6)? as i64;
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let days = days_from_civil(year as i64, month, day);
    let secs = days * 86_400 + (hour * 3600 + min * 60 + sec) as i64 - offset;
    // Past 2554 the nanoseconds do not fit in a u64: no time, not a wrapped one.
    u64::try_from(secs)
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by tests/fuzz.rs (a container inspect's `StartedAt`): a year past 2554
    /// overflowed the nanosecond count (a panic in debug builds, a wrong time in release).
    #[test]
    fn times_past_u64_nanoseconds_are_none() {
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59.999999999Z"), None);
        assert_eq!(parse_rfc3339("2555-01-01T00:00:00Z"), None);
        assert_eq!(
            parse_rfc3339("2554-07-21T23:34:33.709551615Z"),
            Some(u64::MAX)
        );
        assert_eq!(parse_rfc3339("2554-07-21T23:34:33.709551616Z"), None);
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:01.5+00:00"),
            Some(1_500_000_000)
        );
    }

    #[test]
    fn images_split_like_falco() {
        let s = |i| {
            let r = split_image(i);
            (r.repository, r.tag, r.digest)
        };
        assert_eq!(s("nginx"), ("nginx", None, None));
        assert_eq!(s("nginx:1.25"), ("nginx", Some("1.25"), None));
        assert_eq!(
            s("docker.io/library/nginx:1.25"),
            ("docker.io/library/nginx", Some("1.25"), None)
        );
        assert_eq!(
            s("localhost/postgres-peregrine:15"),
            ("localhost/postgres-peregrine", Some("15"), None)
        );
        assert_eq!(s("localhost:5000/app"), ("localhost:5000/app", None, None));
        assert_eq!(
            s("localhost:5000/team/app:v2"),
            ("localhost:5000/team/app", Some("v2"), None)
        );
        assert_eq!(
            s("quay.io/x/y@sha256:abcd"),
            ("quay.io/x/y", None, Some("sha256:abcd"))
        );
        assert_eq!(
            s("quay.io/x/y:1@sha256:abcd"),
            ("quay.io/x/y", Some("1"), Some("sha256:abcd"))
        );
        assert_eq!(s(""), ("", None, None));
        assert_eq!(s("repo:"), ("repo", None, None));
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2026-11-26T21:11:34.481736722Z"),
            Some(1_795_727_494_481_736_722)
        );
        assert_eq!(
            parse_rfc3339("2026-11-26T22:11:34.5+01:00"),
            Some(1_795_727_494_500_000_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-26T21:11:34.1234567891234Z"),
            Some(1_795_727_494_123_456_789)
        );
        for bad in [
            "0001-01-01T00:00:00Z",
            "",
            "2026-11-26",
            "2026-13-26T21:11:34Z",
            "2026-11-26T21:11:34",
            "2026-11-26T21:11:34.Z",
            "2026-11-26T21:11:34+0100",
            "2026-11-26T21:11:34Zjunk",
            "2026-1a-26T21:11:34Z",
            "2026-11-26T21:11:34.5é",
            "2026-11-26T21:11:34+0é:0",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
