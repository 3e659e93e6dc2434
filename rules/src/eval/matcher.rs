//! Value-level predicates: one compiled comparison, with its right-hand side pre-typed.

use super::glob::Glob;
use super::hash::FxSet;
use super::needles::Needles;
use super::pmatch::PathTrie;
use crate::ast::{ListModifier, Op};
use crate::fields::{Value, ValueRef};
use memchr::memmem;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ord4 {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Ord4 {
    fn holds(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Ord4::Eq => o == Equal,
            Ord4::Lt => o == Less,
            Ord4::Le => o != Greater,
            Ord4::Gt => o == Greater,
            Ord4::Ge => o != Less,
        }
    }

    pub(crate) fn from_op(op: Op) -> Option<Ord4> {
        Some(match op {
            Op::Eq | Op::Ne => Ord4::Eq,
            Op::Lt => Ord4::Lt,
            Op::Le => Ord4::Le,
            Op::Gt => Ord4::Gt,
            Op::Ge => Ord4::Ge,
            _ => return None,
        })
    }
}

/// A CIDR network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub(crate) fn parse(s: &str) -> Option<Cidr> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { addr: ip, prefix })
    }

    pub(crate) fn contains(&self, ip: &IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                u32::from(net) & mask == u32::from(*ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                u128::from(net) & mask == u128::from(*ip) & mask
            }
            _ => false,
        }
    }
}

/// String predicates. Byte values (`evt.buffer`) are tested on their raw bytes.
#[derive(Debug)]
pub(crate) enum StrMatcher {
    Eq(Box<str>),
    /// `in` / `intersects` against several values.
    Set(FxSet<Box<str>>),
    StartsWith(Box<str>),
    /// Several prefixes (an `or` of `startswith` on one field, folded at compile time).
    StartsWithAny(Vec<Box<str>>),
    EndsWith(Box<str>),
    Contains(Box<memmem::Finder<'static>>),
    /// Several needles (an `or` of `contains` on one field, folded at compile time): one
    /// multi-pattern search.
    ContainsAny(Box<Needles>),
    /// Needle already lower-cased.
    IContains(Box<str>),
    Glob(Glob),
    Regex(regex::Regex),
    PMatch(PathTrie),
    /// `<`, `<=`, `>`, `>=` on strings compare bytewise, like `strcmp`.
    Cmp(Ord4, Box<str>),
}

impl StrMatcher {
    /// The needles of a `contains` (one) or of `contains` checks folded together
    /// (several); `None` for every other matcher.
    pub(crate) fn contains_needles(&self) -> Option<Vec<&[u8]>> {
        match self {
            StrMatcher::Contains(f) => Some(vec![f.needle()]),
            StrMatcher::ContainsAny(n) => Some(n.needles().iter().map(|n| &**n).collect()),
            _ => None,
        }
    }

    pub(crate) fn test_bytes(&self, s: &[u8]) -> bool {
        match self {
            StrMatcher::Eq(x) => s == x.as_bytes(),
            StrMatcher::Set(set) => set_contains_bytes(set, s),
            StrMatcher::StartsWith(p) => s.starts_with(p.as_bytes()),
            StrMatcher::StartsWithAny(ps) => ps.iter().any(|p| s.starts_with(p.as_bytes())),
            StrMatcher::EndsWith(p) => s.ends_with(p.as_bytes()),
            StrMatcher::Contains(f) => f.find(s).is_some(),
            StrMatcher::ContainsAny(n) => n.is_match(s),
            StrMatcher::IContains(needle) => icontains(s, needle.as_bytes()),
            StrMatcher::Glob(g) => g.matches(&text(s)),
            StrMatcher::Regex(r) => r.is_match(&text(s)),
            StrMatcher::PMatch(t) => t.matches(&text(s)),
            StrMatcher::Cmp(o, x) => o.holds(s.cmp(x.as_bytes())),
        }
    }
}

/// `s` as text: borrowed when it is UTF-8 (checked with `from_utf8`, several times faster
/// than the chunked check of `from_utf8_lossy` on short values), else with replacements.
#[inline]
fn text(s: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(s) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(s),
    }
}

/// ASCII case-insensitive substring search; `needle` is already lower-case.
fn icontains(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if !hay.is_ascii() || !needle.is_ascii() {
        let hay = String::from_utf8_lossy(hay).to_lowercase();
        return memmem::find(hay.as_bytes(), needle).is_some();
    }
    let Some(last) = hay.len().checked_sub(needle.len()) else {
        return false;
    };
    let at = |p: usize| {
        hay[p..p + needle.len()]
            .iter()
            .zip(needle)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
    };
    // Candidates by one byte of the needle, found with memchr: a byte with no case if
    // there is one (`_` in `glibc_tunables`), else both cases of the first.
    match needle.iter().position(|b| !b.is_ascii_alphabetic()) {
        Some(k) => memchr::memchr_iter(needle[k], &hay[k..=last + k]).any(at),
        None => {
            let c = needle[0];
            memchr::memchr2_iter(c, c.to_ascii_uppercase(), &hay[..=last]).any(at)
        }
    }
}

#[derive(Debug)]
pub(crate) enum Matcher {
    Exists,
    Str(StrMatcher),
    /// `anyof` / `allof` / `oneof` over several string predicates.
    Modifier(ListModifier, Vec<StrMatcher>),
    Num(Ord4, i128),
    NumSet(FxSet<i128>),
    Bool(bool),
    IpSet(Vec<IpAddr>),
    Net(Vec<Cidr>),
    /// Compare against another operand of the same event (`val()` or a transformer).
    Dynamic {
        op: Op,
        rhs_slot: usize,
    },
}

impl Matcher {
    pub(crate) fn rhs_slot(&self) -> Option<usize> {
        match self {
            Matcher::Dynamic { rhs_slot, .. } => Some(*rhs_slot),
            _ => None,
        }
    }

    pub(crate) fn test(&self, v: &Value, rhs: Option<&Value>) -> bool {
        match v.as_ref() {
            Some(v) => self.test_ref(v, rhs),
            // Several candidates are tested one by one by the caller; as a whole, a list
            // only exists.
            None => matches!(self, Matcher::Exists),
        }
    }

    /// Tests one value, extracted or borrowed from the event.
    #[inline]
    pub(crate) fn test_ref(&self, v: ValueRef<'_>, rhs: Option<&Value>) -> bool {
        match self {
            Matcher::Exists => true,
            Matcher::Str(StrMatcher::Set(set)) => match v {
                ValueRef::Str(s) => set.contains(s),
                _ => bytes_of(v).is_some_and(|b| set_contains_bytes(set, b)),
            },
            Matcher::Str(m) => bytes_of(v).is_some_and(|b| m.test_bytes(b)),
            Matcher::Modifier(kind, ms) => {
                let Some(b) = bytes_of(v) else { return false };
                match kind {
                    ListModifier::AnyOf => ms.iter().any(|m| m.test_bytes(b)),
                    ListModifier::AllOf => ms.iter().all(|m| m.test_bytes(b)),
                    ListModifier::OneOf => ms.iter().filter(|m| m.test_bytes(b)).count() == 1,
                }
            }
            Matcher::Num(o, x) => num_of(v).is_some_and(|n| o.holds(n.cmp(x))),
            Matcher::NumSet(set) => num_of(v).is_some_and(|n| set.contains(&n)),
            Matcher::Bool(b) => matches!(v, ValueRef::Bool(x) if x == *b),
            Matcher::IpSet(ips) => matches!(v, ValueRef::Ip(ip) if ips.contains(&ip)),
            Matcher::Net(nets) => {
                matches!(v, ValueRef::Ip(ip) if nets.iter().any(|n| n.contains(&ip)))
            }
            Matcher::Dynamic { op, .. } => rhs.is_some_and(|r| dynamic(*op, v, r)),
        }
    }
}

fn set_contains_bytes(set: &FxSet<Box<str>>, b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|s| set.contains(s))
}

fn bytes_of(v: ValueRef<'_>) -> Option<&[u8]> {
    match v {
        ValueRef::Str(s) => Some(s.as_bytes()),
        ValueRef::Bytes(b) => Some(b),
        _ => None,
    }
}

fn num_of(v: ValueRef<'_>) -> Option<i128> {
    match v {
        ValueRef::U64(n) => Some(n as i128),
        ValueRef::I64(n) => Some(n as i128),
        ValueRef::Bool(b) => Some(b as i128),
        _ => None,
    }
}

/// Comparison of two extracted values (`proc.name = val(proc.pname)`).
fn dynamic(op: Op, l: ValueRef<'_>, r: &Value) -> bool {
    let r = match r.as_ref() {
        Some(r) => r,
        None => {
            let Value::Any(items) = r else { return false };
            return items.iter().any(|r| dynamic(op, l, r));
        }
    };
    if let (Some(a), Some(b)) = (num_of(l), num_of(r)) {
        return match Ord4::from_op(op) {
            Some(o) => o.holds(a.cmp(&b)),
            None => matches!(op, Op::In | Op::Intersects) && a == b,
        };
    }
    if let (ValueRef::Ip(a), ValueRef::Ip(b)) = (l, r) {
        return matches!(op, Op::Eq | Op::Ne | Op::In | Op::Intersects) && a == b;
    }
    let (Some(a), Some(b)) = (bytes_of(l), bytes_of(r)) else {
        return false;
    };
    match op {
        Op::Eq | Op::Ne | Op::In | Op::Intersects => a == b,
        Op::Lt | Op::Le | Op::Gt | Op::Ge => Ord4::from_op(op).is_some_and(|o| o.holds(a.cmp(b))),
        Op::Contains | Op::BContains => memmem::find(a, b).is_some(),
        Op::IContains => icontains(a, String::from_utf8_lossy(b).to_lowercase().as_bytes()),
        Op::StartsWith | Op::BStartsWith => a.starts_with(b),
        Op::EndsWith => a.ends_with(b),
        Op::Glob | Op::IGlob => Glob::new(&String::from_utf8_lossy(b), op == Op::IGlob)
            .matches(&String::from_utf8_lossy(a)),
        Op::Regex | Op::PMatch | Op::Exists => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn cidr_matching() {
        let n = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(n.contains(&"10.1.2.3".parse().unwrap()));
        assert!(!n.contains(&"11.1.2.3".parse().unwrap()));
        assert!(!n.contains(&"::1".parse().unwrap()));
        let host = Cidr::parse("127.0.0.1").unwrap();
        assert_eq!(host.prefix, 32);
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains(&"fd12::1".parse().unwrap()));
        let any = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(any.contains(&"8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nope").is_none());
    }

    #[test]
    fn string_predicates() {
        assert!(StrMatcher::IContains("bash".into()).test_bytes(b"/bin/BaSh -c"));
        assert!(!StrMatcher::IContains("zsh".into()).test_bytes(b"/bin/bash"));
        assert!(StrMatcher::IContains("".into()).test_bytes(b""));
        assert!(StrMatcher::IContains("ä".into()).test_bytes("XÄY".as_bytes()));
        // Anchored on a byte with no case, at either end and repeated.
        let m = StrMatcher::IContains("glibc_tunables".into());
        assert!(m.test_bytes(b"GLIBC_TUNABLES=x"));
        assert!(m.test_bytes(b"A_B=1 C_D=2 x=glibc_TUNables"));
        assert!(!m.test_bytes(b"GLIBC_TUNABLE"));
        assert!(!m.test_bytes(b"_tunables glibc_"));
        let m = StrMatcher::IContains("ab".into());
        assert!(m.test_bytes(b"xAb"));
        assert!(m.test_bytes(b"aB"));
        assert!(!m.test_bytes(b"a"));
        assert!(!m.test_bytes(b"a b"));
        assert!(StrMatcher::Cmp(Ord4::Lt, "b".into()).test_bytes(b"a"));
        assert!(!StrMatcher::Cmp(Ord4::Lt, "b".into()).test_bytes(b"b"));
        assert!(
            StrMatcher::Contains(Box::new(memmem::Finder::new("ell").into_owned()))
                .test_bytes(b"hello")
        );
    }

    #[test]
    fn contains_any() {
        let needles: Vec<Box<[u8]>> = vec![b"trivy".as_slice().into(), b"aqua".as_slice().into()];
        let m = StrMatcher::ContainsAny(Box::new(Needles::new(needles)));
        assert!(m.test_bytes(b"docker.io/aquasec/trivy"));
        assert!(m.test_bytes(b"trivy"));
        assert!(!m.test_bytes(b"docker.io/library/nginx"));
    }

    #[test]
    fn modifiers() {
        let m = Matcher::Modifier(
            ListModifier::OneOf,
            vec![
                StrMatcher::StartsWith("ba".into()),
                StrMatcher::StartsWith("b".into()),
            ],
        );
        assert!(
            !m.test(&s("bash"), None),
            "two match, oneof wants exactly one"
        );
        assert!(m.test(&s("bin"), None));
        let all = Matcher::Modifier(
            ListModifier::AllOf,
            vec![
                StrMatcher::StartsWith("ba".into()),
                StrMatcher::EndsWith("sh".into()),
            ],
        );
        assert!(all.test(&s("bash"), None));
        assert!(!all.test(&s("bat"), None));
    }

    #[test]
    fn dynamic_comparisons() {
        let r = ValueRef::Str;
        assert!(dynamic(Op::Eq, r("bash"), &s("bash")));
        assert!(dynamic(Op::StartsWith, r("bash"), &s("ba")));
        assert!(dynamic(Op::Lt, ValueRef::U64(3), &Value::I64(4)));
        assert!(!dynamic(Op::Eq, ValueRef::U64(3), &s("3")));
        assert!(dynamic(Op::Eq, r("x"), &Value::Any(vec![s("y"), s("x")])));
    }
}
