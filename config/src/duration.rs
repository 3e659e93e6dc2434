//! Prometheus-style durations, as Falco's `metrics.interval` takes them: integer amounts
//! with units `y` (365 days), `w`, `d`, `h`, `m`, `s`, `ms`, largest first, each at most
//! once (`1h30m`, `500ms`, `2d12h`). A bare `0` is zero; other bare numbers are rejected
//! because their unit would be a guess.

use std::time::Duration;

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("ms", 1),
    ("m", 60 * 1000),
    ("s", 1000),
];

/// The order units must appear in (`ms` last).
fn rank(unit: &str) -> u8 {
    match unit {
        "y" => 0,
        "w" => 1,
        "d" => 2,
        "h" => 3,
        "m" => 4,
        "s" => 5,
        _ => 6,
    }
}

pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total_ms: u64 = 0;
    let mut next_rank = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let amount: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        // `ms` is listed before `m` so that `5ms` is not read as `5m` + `s`.
        let (unit, unit_ms) = UNITS.iter().find(|(u, _)| rest.starts_with(u))?;
        if rank(unit) < next_rank {
            return None;
        }
        next_rank = rank(unit) + 1;
        rest = &rest[unit.len()..];
        total_ms = total_ms.checked_add(amount.checked_mul(*unit_ms)?)?;
    }
    (!text.is_empty()).then(|| Duration::from_millis(total_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> Option<u128> {
        parse_duration(text).map(|d| d.as_millis())
    }

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(ms("500ms"), Some(500));
        assert_eq!(ms("1h30m"), Some(5_400_000));
        assert_eq!(ms("1h"), Some(3_600_000));
        assert_eq!(ms("2d12h"), Some(216_000_000));
        assert_eq!(ms("1w"), Some(604_800_000));
        assert_eq!(ms("1y"), Some(31_536_000_000));
        assert_eq!(ms("1m30s500ms"), Some(90_500));
        assert_eq!(ms("10ms"), Some(10));
        assert_eq!(ms("0"), Some(0));
        assert_eq!(ms("0s"), Some(0));
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in [
            "",
            "5000",
            "1.5h",
            "h",
            "1x",
            "30m1h",
            "1h1h",
            "-1s",
            "1 h",
            "ms",
            "1s500",
            "99999999999999999999s",
            "18446744073709551615y",
        ] {
            assert_eq!(ms(bad), None, "{bad:?}");
        }
    }
}
