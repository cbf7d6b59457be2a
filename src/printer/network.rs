//! A network printer on raw TCP (port 9100, "JetDirect"): the [`Transport`]
//! owns one connection, opens it with a connect timeout, writes with a
//! write timeout, asks `DLE EOT` over the same socket, and after a lost
//! connection reconnects (at once the first time, then backing off while
//! the printer cannot be reached).

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::transport::{Transport, TransportError};
use super::usb::{drain, read_within, write_within};
use crate::config::NetworkAddr;
use antrean_core::backoff::Backoff;

/// First and longest wait between failed connection attempts.
const RECONNECT_MIN: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// A printer at `tcp://host:port`.
pub struct NetworkTransport {
    addr: NetworkAddr,
    connect_timeout: Duration,
    write_timeout: Duration,
    stream: Option<TcpStream>,
    backoff: Backoff,
    /// No connection attempt before this instant (after a failed one).
    not_before: Option<Instant>,
}

impl NetworkTransport {
    pub fn new(addr: &NetworkAddr, connect_timeout: Duration, write_timeout: Duration) -> Self {
        NetworkTransport {
            addr: addr.clone(),
            connect_timeout,
            write_timeout,
            stream: None,
            backoff: Backoff::new(RECONNECT_MIN, RECONNECT_MAX),
            not_before: None,
        }
    }

    fn unavailable(&self, reason: String) -> TransportError {
        TransportError::Unavailable {
            port: self.addr.to_string(),
            reason,
        }
    }

    fn connect(&mut self) -> Result<&mut TcpStream, TransportError> {
        if self.stream.is_none() {
            if let Some(at) = self.not_before {
                let now = Instant::now();
                if now < at {
                    return Err(self.unavailable(format!(
                        "not reachable; trying again in {} ms",
                        (at - now).as_millis()
                    )));
                }
            }
            match self.try_connect() {
                Ok(stream) => {
                    self.backoff.reset();
                    self.not_before = None;
                    tracing::info!(printer = %self.addr, "network printer connected");
                    self.stream = Some(stream);
                }
                Err(reason) => {
                    self.not_before =
                        Some(Instant::now() + self.backoff.next_delay(rand::random()));
                    return Err(self.unavailable(reason));
                }
            }
        }
        self.stream
            .as_mut()
            .ok_or_else(|| TransportError::Unavailable {
                port: String::new(),
                reason: "not connected".into(),
            })
    }

    fn try_connect(&self) -> Result<TcpStream, String> {
        let addrs = (self.addr.host.as_str(), self.addr.port)
            .to_socket_addrs()
            .map_err(|e| format!("{} not found: {e}", self.addr.host))?;
        let mut last = format!("{} has no address", self.addr.host);
        for a in addrs {
            match TcpStream::connect_timeout(&a, self.connect_timeout) {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    s.set_nonblocking(true).map_err(|e| e.to_string())?;
                    return Ok(s);
                }
                Err(e) => last = format!("connecting to {a}: {e}"),
            }
        }
        Err(last)
    }

    /// Drops a connection that failed; the next use reconnects at once.
    fn lost(&mut self) {
        if self.stream.take().is_some() {
            tracing::warn!(printer = %self.addr, "network printer connection lost; reconnecting");
        }
    }
}

impl Transport for NetworkTransport {
    fn send(&mut self, bytes: &[u8], _label: &str) -> Result<(), TransportError> {
        let limit = self.write_timeout;
        let stream = self.connect()?;
        let result = drain(stream)
            .map_err(|e| (0, e))
            .and_then(|()| write_within(stream, bytes, limit));
        result.map_err(|(written, reason)| {
            self.lost();
            TransportError::Write {
                port: self.addr.to_string(),
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
        let stream = self.connect()?;
        let result = drain(stream)
            .and_then(|()| {
                write_within(stream, query, limit).map_err(|(_, e)| format!("query not sent: {e}"))
            })
            .and_then(|()| {
                read_within(stream, reply, deadline).map_err(|e| format!("reply not read: {e}"))
            });
        result.map_err(|reason| {
            self.lost();
            TransportError::Exchange {
                port: self.addr.to_string(),
                reason,
            }
        })
    }

    fn probe(&mut self) -> Result<(), TransportError> {
        let stream = self.connect()?;
        if let Err(reason) = drain(stream) {
            self.lost();
            return Err(self.unavailable(reason));
        }
        Ok(())
    }

    fn resends_after_lost_connection(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!("{} (network printer)", self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> NetworkAddr {
        NetworkAddr {
            host: "127.0.0.1".into(),
            port,
        }
    }

    #[test]
    fn a_printer_that_is_not_there_is_retried_after_a_backoff_and_found_when_back() {
        // A port nobody listens on (bound, then closed).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut t = NetworkTransport::new(
            &addr(port),
            Duration::from_millis(500),
            Duration::from_millis(500),
        );
        let first = t.send(b"x", "t").unwrap_err().to_string();
        assert!(first.contains("connecting to 127.0.0.1"), "{first}");
        // At once again: not even tried, the backoff holds it.
        let second = t.send(b"x", "t").unwrap_err().to_string();
        assert!(second.contains("trying again in"), "{second}");
        // The printer comes back on that port: found after the backoff.
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        t.not_before = Some(Instant::now());
        t.send(b"hello", "t").unwrap();
        let (mut s, _) = listener.accept().unwrap();
        let mut got = [0u8; 5];
        std::io::Read::read_exact(&mut s, &mut got).unwrap();
        assert_eq!(&got, b"hello");
        // The printer closes the connection: the next exchange says so.
        drop(s);
        let mut reply = [0u8; 4];
        let e = t
            .exchange(&[0x10, 0x04, 1], &mut reply, Duration::from_millis(500))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("closed") || e.contains("reset") || e.contains("Broken pipe"),
            "{e}"
        );
        assert!(t.stream.is_none(), "a lost connection is dropped");
    }
}
