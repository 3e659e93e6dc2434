//! Flag and constant arguments given as text (`O_WRONLY|O_CREAT`, `AF_PACKET`, `0644`) or
//! numbers, as the event-generator's suite files write them.

use anyhow::{bail, Result};
use serde_json::Value;

/// Names this module knows, with their x86_64 Linux values.
const NAMES: &[(&str, i64)] = &[
    ("O_RDONLY", libc::O_RDONLY as i64),
    ("O_WRONLY", libc::O_WRONLY as i64),
    ("O_RDWR", libc::O_RDWR as i64),
    ("O_CREAT", libc::O_CREAT as i64),
    ("O_EXCL", libc::O_EXCL as i64),
    ("O_NOCTTY", libc::O_NOCTTY as i64),
    ("O_TRUNC", libc::O_TRUNC as i64),
    ("O_APPEND", libc::O_APPEND as i64),
    ("O_NONBLOCK", libc::O_NONBLOCK as i64),
    ("O_DSYNC", libc::O_DSYNC as i64),
    ("O_SYNC", libc::O_SYNC as i64),
    ("O_ASYNC", libc::O_ASYNC as i64),
    ("O_DIRECT", libc::O_DIRECT as i64),
    ("O_LARGEFILE", libc::O_LARGEFILE as i64),
    ("O_DIRECTORY", libc::O_DIRECTORY as i64),
    ("O_NOFOLLOW", libc::O_NOFOLLOW as i64),
    ("O_NOATIME", libc::O_NOATIME as i64),
    ("O_CLOEXEC", libc::O_CLOEXEC as i64),
    ("O_PATH", libc::O_PATH as i64),
    ("O_TMPFILE", libc::O_TMPFILE as i64),
    ("AT_FDCWD", libc::AT_FDCWD as i64),
    ("AT_SYMLINK_NOFOLLOW", libc::AT_SYMLINK_NOFOLLOW as i64),
    ("AT_SYMLINK_FOLLOW", libc::AT_SYMLINK_FOLLOW as i64),
    ("AT_REMOVEDIR", libc::AT_REMOVEDIR as i64),
    ("AT_EMPTY_PATH", libc::AT_EMPTY_PATH as i64),
    ("RESOLVE_NO_XDEV", 0x01),
    ("RESOLVE_NO_MAGICLINKS", 0x02),
    ("RESOLVE_NO_SYMLINKS", 0x04),
    ("RESOLVE_BENEATH", 0x08),
    ("RESOLVE_IN_ROOT", 0x10),
    ("RESOLVE_CACHED", 0x20),
    ("AF_UNSPEC", libc::AF_UNSPEC as i64),
    ("AF_UNIX", libc::AF_UNIX as i64),
    ("AF_LOCAL", libc::AF_LOCAL as i64),
    ("AF_INET", libc::AF_INET as i64),
    ("AF_INET6", libc::AF_INET6 as i64),
    ("AF_NETLINK", libc::AF_NETLINK as i64),
    ("AF_PACKET", libc::AF_PACKET as i64),
    ("SOCK_STREAM", libc::SOCK_STREAM as i64),
    ("SOCK_DGRAM", libc::SOCK_DGRAM as i64),
    ("SOCK_RAW", libc::SOCK_RAW as i64),
    ("SOCK_SEQPACKET", libc::SOCK_SEQPACKET as i64),
    ("SOCK_NONBLOCK", libc::SOCK_NONBLOCK as i64),
    ("SOCK_CLOEXEC", libc::SOCK_CLOEXEC as i64),
    ("IPPROTO_IP", libc::IPPROTO_IP as i64),
    ("IPPROTO_TCP", libc::IPPROTO_TCP as i64),
    ("IPPROTO_UDP", libc::IPPROTO_UDP as i64),
    ("IPPROTO_ICMP", libc::IPPROTO_ICMP as i64),
    ("IPPROTO_RAW", libc::IPPROTO_RAW as i64),
    // Packet sockets take the protocol in network byte order.
    ("ETH_P_ALL", (libc::ETH_P_ALL as u16).to_be() as i64),
    ("ETH_P_IP", (libc::ETH_P_IP as u16).to_be() as i64),
    ("S_IRWXU", libc::S_IRWXU as i64),
    ("S_IRUSR", libc::S_IRUSR as i64),
    ("S_IWUSR", libc::S_IWUSR as i64),
    ("S_IXUSR", libc::S_IXUSR as i64),
    ("S_IRWXG", libc::S_IRWXG as i64),
    ("S_IRGRP", libc::S_IRGRP as i64),
    ("S_IWGRP", libc::S_IWGRP as i64),
    ("S_IXGRP", libc::S_IXGRP as i64),
    ("S_IRWXO", libc::S_IRWXO as i64),
    ("S_IROTH", libc::S_IROTH as i64),
    ("S_IWOTH", libc::S_IWOTH as i64),
    ("S_IXOTH", libc::S_IXOTH as i64),
    ("S_ISUID", libc::S_ISUID as i64),
    ("S_ISGID", libc::S_ISGID as i64),
    ("S_ISVTX", libc::S_ISVTX as i64),
    ("SIGHUP", libc::SIGHUP as i64),
    ("SIGINT", libc::SIGINT as i64),
    ("SIGKILL", libc::SIGKILL as i64),
    ("SIGTERM", libc::SIGTERM as i64),
    ("SIGUSR1", libc::SIGUSR1 as i64),
    ("SIGUSR2", libc::SIGUSR2 as i64),
    ("SIGSTOP", libc::SIGSTOP as i64),
    ("SIGCONT", libc::SIGCONT as i64),
];

/// One number: decimal, `0x` hexadecimal or `0`-prefixed octal (C's convention, and YAML
/// 1.1's, which the suite files' `mode: 0644` are written for).
fn number(text: &str) -> Option<i64> {
    let (neg, t) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let v = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = t.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if t.len() > 1 && t.starts_with('0') {
        i64::from_str_radix(&t[1..], 8).ok()?
    } else {
        t.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

/// A `|`-separated list of names and numbers, OR-ed together.
pub fn parse_text(text: &str) -> Result<i64> {
    let mut acc = 0i64;
    let mut any = false;
    for part in text.split('|').map(str::trim) {
        if part.is_empty() {
            bail!("empty part in {text:?}");
        }
        let v = match NAMES.iter().find(|(n, _)| *n == part) {
            Some((_, v)) => *v,
            None => match number(part) {
                Some(v) => v,
                None => bail!("unknown constant {part:?} in {text:?}"),
            },
        };
        acc |= v;
        any = true;
    }
    if !any {
        bail!("no value in {text:?}");
    }
    Ok(acc)
}

/// A JSON number or text of names.
pub fn parse(v: &Value) -> Result<i64> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(i),
            None => bail!("{n} is not an integer"),
        },
        Value::String(s) => parse_text(s),
        other => bail!("expected a number or constant names, got {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_octal_modes() {
        assert_eq!(
            parse_text("O_WRONLY|O_CREAT|O_TRUNC").unwrap(),
            (libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC) as i64
        );
        assert_eq!(parse_text("0644").unwrap(), 0o644);
        assert_eq!(parse_text("0").unwrap(), 0);
        assert_eq!(parse_text("AT_FDCWD").unwrap(), -100);
        assert_eq!(parse_text("0x10|1").unwrap(), 17);
        assert_eq!(parse_text("AF_PACKET").unwrap(), 17);
        assert_eq!(parse(&serde_json::json!(420)).unwrap(), 420);
        assert!(parse_text("O_BOGUS").is_err());
        assert!(parse_text("O_RDONLY|").is_err());
    }
}
