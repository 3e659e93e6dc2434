//! Writes to a child's pipe that can never block the destination's thread: the pipe is
//! non-blocking and a full pipe is waited on with short sleeps, so a delivery timeout or the
//! drain deadline always gets control back.

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::process::{Child, ChildStdin};
use std::time::Duration;

/// Makes our end of the pipe non-blocking (the child's end is another file description).
pub fn set_nonblocking(stdin: &ChildStdin) -> io::Result<()> {
    let fd = stdin.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Bytes written to the pipe that the reader has not read yet.
pub fn unread(stdin: &ChildStdin) -> io::Result<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD stores one c_int at the pointer, which is valid for the call.
    if unsafe { libc::ioctl(stdin.as_raw_fd(), libc::FIONREAD, &mut n) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n.max(0) as usize)
}

/// The pause between looks at a pipe or a process, growing from 1 ms to 50 ms.
pub struct Poll(Duration);

impl Poll {
    pub fn new() -> Poll {
        Poll(Duration::from_millis(1))
    }

    pub async fn sleep(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_millis(50));
    }
}

/// Writes all of `buf`; fails if the child ends first.
pub async fn write_all(
    stdin: &mut ChildStdin,
    child: &mut Child,
    mut buf: &[u8],
) -> io::Result<()> {
    let mut poll = Poll::new();
    while !buf.is_empty() {
        match stdin.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = &buf[n..];
                poll = Poll::new();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if let Some(status) = child.try_wait()? {
                    return Err(io::Error::other(format!("the program exited ({status})")));
                }
                poll.sleep().await;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Waits for the child to exit.
pub async fn wait(child: &mut Child) -> io::Result<std::process::ExitStatus> {
    let mut poll = Poll::new();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        poll.sleep().await;
    }
}

/// A running child, leader of its own process group, that is killed with its whole group
/// (and reaped) when dropped, so that a delivery cut short by its timeout or the drain
/// deadline never leaves the program or what it started behind.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            // SAFETY: signals the process group this child leads (spawned with
            // `process_group(0)` and not yet reaped, so its id is still ours).
            unsafe { libc::kill(-(self.0.id() as libc::pid_t), libc::SIGKILL) };
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}
