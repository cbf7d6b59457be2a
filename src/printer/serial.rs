//! A printer on a serial line (USB-serial or RS-232): the [`Transport`]
//! that owns the port, opens it on demand and reopens it after the device
//! vanished or became another device (a USB-serial adapter unplugged and
//! plugged in again).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::transport::{Transport, TransportError};
use crate::config::PrinterConfig;

/// A serial printer port.
pub struct SerialTransport {
    path: String,
    baud: u32,
    write_timeout: Duration,
    flow_control: bool,
    port: Option<Box<dyn serialport::SerialPort>>,
    /// The device number the open port belongs to.
    device: Option<u64>,
}

/// The device number behind a path (following symlinks), if any.
fn device_id(path: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.rdev())
}

impl SerialTransport {
    pub fn new(path: &std::path::Path, config: &PrinterConfig) -> SerialTransport {
        SerialTransport {
            path: path.display().to_string(),
            baud: config.baud,
            write_timeout: Duration::from_millis(config.write_timeout_ms),
            flow_control: config.flow_control,
            port: None,
            device: None,
        }
    }

    fn open(&mut self) -> Result<&mut Box<dyn serialport::SerialPort>, TransportError> {
        // A USB-serial adapter that was unplugged leaves a dead descriptor;
        // its device node is gone or belongs to another device now.
        if self.port.is_some() && device_id(&self.path) != self.device {
            tracing::warn!(port = %self.path, "printer device changed or vanished; reopening");
            self.port = None;
        }
        if self.port.is_none() {
            let flow = if self.flow_control {
                serialport::FlowControl::Hardware
            } else {
                serialport::FlowControl::None
            };
            let port = serialport::new(&self.path, self.baud)
                .timeout(self.write_timeout)
                .flow_control(flow)
                .open()
                .map_err(|e| TransportError::Unavailable {
                    port: self.path.clone(),
                    reason: e.to_string(),
                })?;
            self.port = Some(port);
            self.device = device_id(&self.path);
        }
        match self.port.as_mut() {
            Some(port) => Ok(port),
            None => Err(TransportError::Unavailable {
                port: self.path.clone(),
                reason: "not open".into(),
            }),
        }
    }
}

impl Transport for SerialTransport {
    fn send(&mut self, bytes: &[u8], _label: &str) -> Result<(), TransportError> {
        let path = self.path.clone();
        let port = self.open()?;
        let mut written = 0;
        let result = loop {
            if written == bytes.len() {
                break port.flush().map_err(|e| e.to_string());
            }
            match port.write(&bytes[written..]) {
                Ok(0) => break Err("the port accepted no bytes".to_string()),
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e.to_string()),
            }
        };
        result.map_err(|reason| {
            // The device may have vanished: reopen on the next ticket.
            self.port = None;
            TransportError::Write {
                port: path,
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
        let write_timeout = self.write_timeout;
        let path = self.path.clone();
        let port = self.open()?;
        let failed = |reason: String| TransportError::Exchange {
            port: path.clone(),
            reason,
        };
        let _ = port.clear(serialport::ClearBuffer::Input);
        if let Err(e) = port.write_all(query).and_then(|_| port.flush()) {
            self.port = None;
            return Err(failed(format!("query not sent: {e}")));
        }
        let _ = port.set_timeout(deadline);
        let started = Instant::now();
        let mut got = 0;
        let mut error = None;
        while got < reply.len() && started.elapsed() < deadline {
            match port.read(&mut reply[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let _ = port.set_timeout(write_timeout);
        if let Some(e) = error {
            self.port = None;
            return Err(failed(format!("reply not read: {e}")));
        }
        Ok(got)
    }

    fn probe(&mut self) -> Result<(), TransportError> {
        self.open().map(|_| ())
    }

    fn describe(&self) -> String {
        format!("{} at {} baud", self.path, self.baud)
    }
}
