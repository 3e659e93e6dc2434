//! A minimal HTTP/1.1 `GET` over a unix socket, with one deadline for the whole exchange:
//! what talking to a Docker-compatible API socket needs, and nothing more.
//!
//! The request asks for `Connection: close`, so the body ends where the stream does (or at
//! `Content-Length`); chunked bodies (Go servers send them) are decoded. Responses are
//! bounded in size; anything that does not parse is an error naming the socket and path.

use super::RuntimeError;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// The largest response accepted (an inspect body is a few KiB; labels can make it more).
pub const MAX_RESPONSE: usize = 4 << 20;

/// A response: status, the headers as (lower-case name, value), body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on the socket; the whole exchange must finish within `timeout`.
pub fn get(socket: &Path, path: &str, timeout: Duration) -> Result<Response, RuntimeError> {
    let deadline = Instant::now() + timeout;
    let err = |what: &'static str| {
        let (socket, path) = (socket.to_path_buf(), path.to_string());
        move |source: std::io::Error| {
            if matches!(source.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                RuntimeError::Timeout {
                    socket,
                    path,
                    timeout,
                }
            } else {
                RuntimeError::Io {
                    socket,
                    path,
                    what,
                    source,
                }
            }
        }
    };
    let mut stream = UnixStream::connect(socket).map_err(|source| RuntimeError::Connect {
        socket: socket.to_path_buf(),
        source,
    })?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(err("setting a timeout"))?;
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: peregrine\r\nAccept: application/json\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(err("sending the request"))?;
    let mut raw = Vec::with_capacity(8192);
    let mut buf = [0u8; 16384];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RuntimeError::Timeout {
                socket: socket.to_path_buf(),
                path: path.to_string(),
                timeout,
            });
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(err("setting a timeout"))?;
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(err("reading the response")(e)),
        };
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() > MAX_RESPONSE {
            return Err(malformed(socket, path, "response larger than 4 MiB"));
        }
        // Stop early once a Content-Length body is complete (some servers keep the
        // connection open despite `Connection: close`).
        if let Some(done) = complete_len(&raw) {
            if raw.len() >= done {
                raw.truncate(done);
                break;
            }
        }
    }
    parse(&raw).map_err(|what| malformed(socket, path, what))
}

fn malformed(socket: &Path, path: &str, what: &'static str) -> RuntimeError {
    RuntimeError::Malformed {
        socket: socket.to_path_buf(),
        path: path.to_string(),
        what,
    }
}

fn head_end(raw: &[u8]) -> Option<usize> {
    memchr::memmem::find(raw, b"\r\n\r\n").map(|i| i + 4)
}

/// Total length of head + body when the head is in and gives a Content-Length.
fn complete_len(raw: &[u8]) -> Option<usize> {
    let end = head_end(raw)?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let len = head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    })?;
    // A length no response can have (near usize::MAX) is no total: read to the end and let
    // `parse` refuse the short body.
    end.checked_add(len)
}

/// Parses a complete response.
pub(crate) fn parse(raw: &[u8]) -> Result<Response, &'static str> {
    let end = head_end(raw).ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "headers are not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("empty response")?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err("not an HTTP/1 response");
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..600).contains(s))
        .ok_or("no status code")?;
    let mut headers = Vec::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (n, v) = line.split_once(':').ok_or("header line without ':'")?;
        headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let rest = &raw[end..];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(len) = header("content-length") {
        let len: usize = len.parse().map_err(|_| "bad Content-Length")?;
        rest.get(..len)
            .ok_or("body shorter than Content-Length")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut body = Vec::with_capacity(rest.len());
    loop {
        let line_end = memchr::memmem::find(rest, b"\r\n").ok_or("truncated chunk size")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = rest.get(..size).ok_or("truncated chunk")?;
        body.extend_from_slice(chunk);
        rest = rest.get(size + 2..).ok_or("truncated chunk")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_chunked_and_eof_bodies() {
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\n{}").unwrap();
        assert_eq!(
            (r.status, &r.body[..], r.header("x-a")),
            (200, &b"{}"[..], Some("b"))
        );
        let r = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;ext\r\n\":1}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(&r.body[..], br#"{"a":1}"#);
        let r = parse(b"HTTP/1.0 404 Not Found\r\n\r\nno such container").unwrap();
        assert_eq!((r.status, &r.body[..]), (404, &b"no such container"[..]));
        assert_eq!(
            complete_len(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"),
            Some(43)
        );
    }

    /// Seen while writing tests/fuzz.rs (its tokens hold this header): a Content-Length near
    /// `usize::MAX` overflowed the expected total length (a panic in debug builds).
    #[test]
    fn a_huge_content_length_is_no_complete_length() {
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n{}";
        assert_eq!(complete_len(raw), None);
        assert!(parse(raw).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for raw in [
            &b""[..],
            b"garbage",
            b"\r\n\r\n",
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nbroken header\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab",
            b"HTTP/1.1 200 \xff\r\n\r\n",
        ] {
            assert!(parse(raw).is_err(), "{:?}", String::from_utf8_lossy(raw));
        }
    }
}
