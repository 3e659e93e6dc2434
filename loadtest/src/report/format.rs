//! Number formatting shared by the HTML and Markdown reports, the chart axes and `compare`.
//! Every function prints `n/a` for a value that is not finite instead of `NaN` or `inf`.

/// An integer with thousands separators: `1,234,567`.
pub(crate) fn count(n: u64) -> String {
    group_thousands(&n.to_string())
}

/// A rate: whole numbers with separators from 100 up, three significant digits below.
pub(crate) fn rate(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    if x == 0.0 {
        "0".into()
    } else if x.abs() >= 100.0 {
        group_thousands(&format!("{x:.0}"))
    } else {
        significant(x)
    }
}

/// A duration given in nanoseconds, in the unit that keeps it short: `850 ns`, `12.3 µs`.
pub(crate) fn duration_ns(ns: f64) -> String {
    if !ns.is_finite() {
        return "n/a".into();
    }
    let (value, unit) = match ns.abs() {
        a if a >= 1e9 => (ns / 1e9, "s"),
        a if a >= 1e6 => (ns / 1e6, "ms"),
        a if a >= 1e3 => (ns / 1e3, "µs"),
        _ => (ns, "ns"),
    };
    format!("{} {unit}", significant(value))
}

/// A duration for an axis tick: as [`duration_ns`] without trailing zeros (`10 ms`).
pub(crate) fn duration_ns_axis(ns: f64) -> String {
    let text = duration_ns(ns);
    match text.split_once(' ') {
        Some((number, unit)) => format!("{} {unit}", trim_zeros(number)),
        None => text,
    }
}

/// A size in bytes, in binary units: `512 B`, `1.50 KiB`, `123 MiB`.
pub(crate) fn bytes(b: f64) -> String {
    if !b.is_finite() {
        return "n/a".into();
    }
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = b;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{} {}", significant(value), UNITS[unit])
}

/// CPU cores used (1.0 = one core).
pub(crate) fn cores(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    format!("{x:.2}")
}

/// Seconds with one decimal: `30.0 s`.
pub(crate) fn seconds(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    format!("{x:.1} s")
}

/// A relative change as a signed percentage: `+3.2%`, `-20.0%`.
pub(crate) fn change(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "n/a".into();
    }
    format!("{:+.1}%", fraction * 100.0)
}

/// A fraction as a percentage without needless decimals: 0.05 → `5%`, 0.125 → `12.5%`.
pub(crate) fn percent(fraction: f64) -> String {
    if !fraction.is_finite() {
        return "n/a".into();
    }
    format!("{}%", trim_zeros(&format!("{:.2}", fraction * 100.0)))
}

/// Short axis labels with SI suffixes: `0`, `250`, `1.5k`, `2M`, `0.25`.
pub(crate) fn si(x: f64) -> String {
    if !x.is_finite() {
        return "n/a".into();
    }
    let (value, suffix) = match x.abs() {
        a if a >= 1e9 => (x / 1e9, "G"),
        a if a >= 1e6 => (x / 1e6, "M"),
        a if a >= 1e3 => (x / 1e3, "k"),
        _ => (x, ""),
    };
    format!("{}{suffix}", trim_zeros(&significant(value)))
}

/// Three significant digits (fewer decimals as the value grows).
fn significant(x: f64) -> String {
    match x.abs() {
        a if a >= 100.0 => format!("{x:.0}"),
        a if a >= 10.0 => format!("{x:.1}"),
        _ => format!("{x:.2}"),
    }
}

/// `1.50` → `1.5`, `2.00` → `2`; integers are left alone.
fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// Inserts `,` every three digits of the integer part (keeping a sign and any decimals).
fn group_thousands(s: &str) -> String {
    let (sign, rest) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s),
    };
    let (int, frac) = match rest.find('.') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}{frac}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_rates_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(rate(123_456.7), "123,457");
        assert_eq!(rate(-1234.0), "-1,234");
        assert_eq!(rate(12.345), "12.3");
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(f64::NAN), "n/a");
    }

    #[test]
    fn units_are_chosen_by_size() {
        assert_eq!(duration_ns(850.0), "850 ns");
        assert_eq!(duration_ns(12_300.0), "12.3 µs");
        assert_eq!(duration_ns(4_560_000.0), "4.56 ms");
        assert_eq!(duration_ns(1.5e9), "1.50 s");
        assert_eq!(duration_ns_axis(1e7), "10 ms");
        assert_eq!(duration_ns_axis(100.0), "100 ns");
        assert_eq!(duration_ns_axis(f64::NAN), "n/a");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0), "1.50 KiB");
        assert_eq!(bytes(200.0 * 1024.0 * 1024.0), "200 MiB");
        assert_eq!(si(0.0), "0");
        assert_eq!(si(1500.0), "1.5k");
        assert_eq!(si(2_000_000.0), "2M");
        assert_eq!(si(0.25), "0.25");
        assert_eq!(percent(0.05), "5%");
        assert_eq!(percent(0.125), "12.5%");
        assert_eq!(change(-0.2), "-20.0%");
        assert_eq!(change(0.032), "+3.2%");
    }
}
