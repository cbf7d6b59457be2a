//! A USB printer-class device (the kernel's `usblp`, `/dev/usb/lp0`): the
//! [`Transport`] opens the device for reading and writing, so `DLE EOT`
//! status works where the printer answers on its back channel. Writes and
//! status reads are bounded by `poll(2)` deadlines; the device is reopened
//! after it vanished or became another device (unplugged, plugged in again).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::transport::{Transport, TransportError};

/// A USB printer-class device.
pub struct UsbClassTransport {
    path: PathBuf,
    write_timeout: Duration,
    file: Option<File>,
    /// The device number the open file belongs to.
    device: Option<u64>,
}

/// The device number behind a path (following symlinks), if any.
pub(crate) fn device_id(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.rdev())
}

/// Waits until `file` is ready for `events` (`POLLIN`, `POLLOUT`), at most
/// `wait`; false when the time ran out.
pub(crate) fn ready(
    file: &impl AsRawFd,
    events: libc::c_short,
    wait: Duration,
) -> std::io::Result<bool> {
    let mut fds = libc::pollfd {
        fd: file.as_raw_fd(),
        events,
        revents: 0,
    };
    let ms = libc::c_int::try_from(wait.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut fds, 1, ms) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(e);
    }
    if n > 0 && fds.revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
        return Err(std::io::Error::other("the device reported an error"));
    }
    Ok(n > 0)
}

impl UsbClassTransport {
    pub fn new(path: &Path, write_timeout: Duration) -> UsbClassTransport {
        UsbClassTransport {
            path: path.to_path_buf(),
            write_timeout,
            file: None,
            device: None,
        }
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn open(&mut self) -> Result<&mut File, TransportError> {
        if self.file.is_some() && device_id(&self.path) != self.device {
            tracing::warn!(port = %self.path.display(), "printer device changed or vanished; reopening");
            self.file = None;
        }
        if self.file.is_none() {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
                .open(&self.path)
                .map_err(|e| TransportError::Unavailable {
                    port: self.name(),
                    reason: if e.kind() == std::io::ErrorKind::PermissionDenied {
                        format!("{e} (the kiosk's user must be in the lp group: the .deb adds it)")
                    } else {
                        e.to_string()
                    },
                })?;
            self.device = device_id(&self.path);
            self.file = Some(file);
        }
        self.file
            .as_mut()
            .ok_or_else(|| TransportError::Unavailable {
                port: self.path.display().to_string(),
                reason: "not open".into(),
            })
    }
}

/// Writes every byte of `bytes` to a non-blocking `out` within `limit`;
/// on failure, how far it got.
pub(crate) fn write_within(
    out: &mut (impl Write + AsRawFd),
    bytes: &[u8],
    limit: Duration,
) -> Result<(), (usize, String)> {
    let started = Instant::now();
    let mut written = 0;
    while written < bytes.len() {
        match out.write(&bytes[written..]) {
            Ok(0) => return Err((written, "the device accepted no bytes".into())),
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let left = limit.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err((
                        written,
                        format!("no progress within {} ms", limit.as_millis()),
                    ));
                }
                ready(out, libc::POLLOUT, left).map_err(|e| (written, e.to_string()))?;
            }
            Err(e) => return Err((written, e.to_string())),
        }
    }
    Ok(())
}

/// Reads into `reply` from a non-blocking `input` until it is full or
/// `deadline` passed; `Ok(0)` from the device (closed) is an error.
pub(crate) fn read_within(
    input: &mut (impl Read + AsRawFd),
    reply: &mut [u8],
    deadline: Duration,
) -> Result<usize, String> {
    let started = Instant::now();
    let mut got = 0;
    while got < reply.len() {
        let left = deadline.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        if !ready(input, libc::POLLIN, left).map_err(|e| e.to_string())? {
            break;
        }
        match input.read(&mut reply[got..]) {
            Ok(0) => return Err("the printer closed the connection".into()),
            Ok(n) => got += n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(got)
}

/// Reads and drops whatever waits on a non-blocking `input` (late replies
/// of an earlier query); an error when the other end is gone.
pub(crate) fn drain(input: &mut impl Read) -> Result<(), String> {
    let mut sink = [0u8; 256];
    for _ in 0..64 {
        match input.read(&mut sink) {
            Ok(0) => return Err("the printer closed the connection".into()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

impl Transport for UsbClassTransport {
    fn send(&mut self, bytes: &[u8], _label: &str) -> Result<(), TransportError> {
        let limit = self.write_timeout;
        let file = self.open()?;
        write_within(file, bytes, limit).map_err(|(written, reason)| {
            self.file = None;
            TransportError::Write {
                port: self.name(),
                written,
                total: bytes.len(),
                reason,
            }
        })
    }

    fn exchange(
        &mut self,
        query: &[u8],
        reply: &mut [u8],
        deadline: Duration,
    ) -> Result<usize, TransportError> {
        let limit = self.write_timeout;
        let file = self.open()?;
        // usblp has no "closed" read: an idle device reads as no data.
        let mut sink = [0u8; 256];
        while matches!(file.read(&mut sink), Ok(n) if n > 0) {}
        let result = write_within(file, query, limit)
            .map_err(|(_, e)| format!("query not sent: {e}"))
            .and_then(|()| {
                read_within(file, reply, deadline).map_err(|e| format!("reply not read: {e}"))
            });
        result.map_err(|reason| {
            self.file = None;
            TransportError::Exchange {
                port: self.name(),
                reason,
            }
        })
    }

    fn probe(&mut self) -> Result<(), TransportError> {
        self.open().map(|_| ())
    }

    fn describe(&self) -> String {
        format!("{} (USB printer)", self.path.display())
    }
}
