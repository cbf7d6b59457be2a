//! Connection hygiene of the central service: a bounded number of open
//! connections (a semaphore around `accept`), hyper's header-read timeout
//! (idle and half-open sockets are closed), per-token rate limits on
//! writes (`governor`), a cap on event streams per office, and the process's
//! file-descriptor limit raised so that the connection limit, not the fd
//! limit, is what bites. The request timeout and body limit are tower-http
//! layers on the routes (`routes.rs`).

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;

/// The limits (`[server]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open connections at most; more wait in the listen backlog.
    pub max_connections: usize,
    /// A connection that does not send a whole request head within this
    /// is closed (also between requests on a kept-alive connection).
    pub header_read_timeout: Duration,
    /// A request (not an event stream) that takes longer gets `408`.
    pub request_timeout: Duration,
    /// Largest request body (`413` beyond).
    pub max_body_bytes: usize,
    /// Event streams open at once per office (`503` beyond).
    pub max_streams_per_office: usize,
    /// Writes per token per minute, sustained (`429` beyond).
    pub writes_per_minute: u32,
    /// Writes a token may make at once before the rate applies.
    pub write_burst: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 64 * 1024,
            max_streams_per_office: 100,
            writes_per_minute: 600,
            write_burst: 120,
        }
    }
}

/// Per-token rate limits on writes.
pub struct WriteLimiter {
    limiter: DefaultKeyedRateLimiter<i64>,
}

impl WriteLimiter {
    pub fn new(limits: &Limits) -> WriteLimiter {
        WriteLimiter {
            limiter: WriteLimiter::keyed_quota(limits),
        }
    }

    /// A keyed limiter at the writes' rate and burst (the public pages
    /// use it per client address).
    pub fn keyed_quota<K: std::hash::Hash + Eq + Clone>(
        limits: &Limits,
    ) -> DefaultKeyedRateLimiter<K> {
        let per_minute =
            NonZeroU32::new(limits.writes_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.write_burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(Duration::from_secs(60) / per_minute.get())
            .unwrap_or(Quota::per_minute(per_minute))
            .allow_burst(burst);
        DefaultKeyedRateLimiter::keyed(quota)
    }

    /// `Ok` when token `id` may write now, else how long it should wait.
    pub fn check(&self, id: i64) -> Result<(), Duration> {
        use governor::clock::{Clock, DefaultClock};
        self.limiter
            .check_key(&id)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets tokens that have not written lately (bounded memory).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}

/// Event streams open per office, capped.
pub struct StreamSlots {
    max: usize,
    open: Mutex<HashMap<String, usize>>,
}

/// One open event stream; gives its slot back when dropped.
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    office: String,
}

impl StreamSlots {
    pub fn new(max: usize) -> Arc<StreamSlots> {
        Arc::new(StreamSlots {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more stream of `office`, unless it has `max` already.
    pub fn take(self: &Arc<Self>, office: &str) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(office.to_string()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            slots: self.clone(),
            office: office.to_string(),
        })
    }

    /// Streams open now for `office`.
    pub fn open(&self, office: &str) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(office).copied().unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.office) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.office);
            }
        }
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft
/// limit now in force.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        lim.rlim_cur = lim.rlim_max;
    }
    Ok(lim.rlim_cur)
}

/// The soft `RLIMIT_NOFILE` in force.
pub fn fd_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0).then_some(lim.rlim_cur)
}

/// File descriptors kept free of connections: the database, its WAL and
/// SHM, key files, logs, the listener, blocking threads' files.
const FD_RESERVE: u64 = 64;

/// The connection limit that the fd limit allows.
pub fn effective_max_connections(configured: usize, fd_limit: Option<u64>) -> usize {
    match fd_limit {
        Some(fds) => configured.min(fds.saturating_sub(FD_RESERVE).max(1) as usize),
        None => configured,
    }
    .max(1)
}

/// Accepts connections on `listener` and serves `app` on each (HTTP/1.1),
/// at most `limits.max_connections` at once, until `shutdown` resolves;
/// then stops accepting, calls `closing` (which must end long-lived
/// responses such as event streams) and waits (bounded) for open requests.
pub async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    closing: impl FnOnce(),
) -> std::io::Result<()> {
    let max = effective_max_connections(limits.max_connections, fd_limit());
    if max < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            allowed = max,
            "the file-descriptor limit allows fewer connections than [server] max_connections; raise LimitNOFILE"
        );
    }
    let permits = Arc::new(Semaphore::new(max));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    let mut full_logged = false;
    loop {
        let permit = if let Ok(p) = permits.clone().try_acquire_owned() {
            full_logged = false;
            p
        } else {
            if !full_logged {
                tracing::warn!(
                    max,
                    "connection limit reached; new connections wait until others close"
                );
                full_logged = true;
            }
            tokio::select! {
                p = permits.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
                _ = &mut shutdown => break,
            }
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors or memory: wait, do not spin.
                    tracing::error!(error = %e, "cannot accept connections; retrying in 1 s");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = &mut shutdown => break,
                    }
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // The peer's address for the public pages' per-client rate.
        let service = tower_http::add_extension::AddExtension::new(
            app.clone(),
            axum::extract::ConnectInfo(peer),
        );
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Errors here are the peer's (closed early, header timeout).
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    closing();
    let within = crate::shutdown::DRAIN_WITHIN;
    if tokio::time::timeout(within, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            ?within,
            "some connections were still open after the stop; closing them"
        );
    }
    Ok(())
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_slots_are_capped_per_office_and_given_back() {
        let slots = StreamSlots::new(2);
        let a = slots.take("kota-bogor").unwrap();
        let _b = slots.take("kota-bogor").unwrap();
        assert!(slots.take("kota-bogor").is_none());
        assert!(slots.take("kota-bekasi").is_some(), "per office");
        drop(a);
        assert_eq!(slots.open("kota-bogor"), 1);
        assert!(slots.take("kota-bogor").is_some());
    }

    #[test]
    fn writes_are_limited_per_token() {
        let l = WriteLimiter::new(&Limits {
            writes_per_minute: 60,
            write_burst: 2,
            ..Limits::default()
        });
        assert!(l.check(1).is_ok());
        assert!(l.check(1).is_ok());
        let wait = l.check(1).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(l.check(2).is_ok(), "another token has its own budget");
    }

    #[test]
    fn the_fd_limit_caps_connections() {
        for (configured, fds, want) in [
            (1024, Some(20000), 1024),
            (1024, Some(1024), 960),
            (1024, Some(10), 1),
            (1024, None, 1024),
        ] {
            assert_eq!(effective_max_connections(configured, fds), want);
        }
    }
}
