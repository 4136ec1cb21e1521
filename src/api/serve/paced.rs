//! A connection that must keep reading what the API writes to it: a write that waits for the
//! client longer than its time credit fails, and the connection with it. The credit starts at
//! the write timeout, is spent while writes wait, and is earned back at the minimum transfer
//! rate by the bytes the client takes (never above the write timeout). A client that stops
//! reading is cut after the write timeout; one that reads slower than the minimum rate runs out
//! of credit too, however it spaces its reads; an idle keep-alive connection spends nothing.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::ServerStats;

/// How fast a client must take what it is sent, and how long it may pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WritePace {
    /// Longest a write may wait for the client (and the most credit a connection holds).
    pub timeout: Duration,
    /// Bytes per second a client must take on average while writes wait for it.
    pub min_bytes_per_second: u64,
}

/// `S` with its writes paced by a [`WritePace`].
pub(crate) struct Paced<S> {
    inner: S,
    pace: WritePace,
    /// Time the client may still make writes wait.
    credit: Duration,
    /// When the write now waiting started to wait.
    waiting_since: Option<Instant>,
    timer: Pin<Box<Sleep>>,
    stats: Arc<ServerStats>,
}

impl<S> Paced<S> {
    pub(crate) fn new(inner: S, pace: WritePace, stats: Arc<ServerStats>) -> Self {
        Self {
            inner,
            pace,
            credit: pace.timeout,
            waiting_since: None,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            stats,
        }
    }

    /// Credit earned by `bytes` taken, less the time spent waiting for them.
    fn took(&mut self, bytes: usize) {
        let rate = self.pace.min_bytes_per_second.max(1);
        let earned = Duration::from_secs_f64(bytes as f64 / rate as f64);
        let waited = self
            .waiting_since
            .take()
            .map_or(Duration::ZERO, |since| since.elapsed());
        self.credit = (self.credit + earned)
            .saturating_sub(waited)
            .min(self.pace.timeout);
    }

    /// A write waits: fails once the wait has used the credit up.
    fn wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let since = *self.waiting_since.get_or_insert_with(|| {
            let now = Instant::now();
            self.timer.as_mut().reset(now + self.credit);
            now
        });
        if self.timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.stats.slow_clients_cut.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(waited = ?since.elapsed(), "API client reads too slowly; closing");
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client reads too slowly",
        )))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Paced<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Paced<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Ready(Ok(written)) => {
                this.took(written);
                Poll::Ready(Ok(written))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => this.wait(cx),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(written)) => {
                this.took(written);
                Poll::Ready(Ok(written))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => this.wait(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    const PACE: WritePace = WritePace {
        timeout: Duration::from_secs(2),
        min_bytes_per_second: 1000,
    };

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_is_cut_after_the_timeout() {
        let (client, server) = tokio::io::duplex(64);
        let stats = Arc::new(ServerStats::default());
        let mut paced = Paced::new(server, PACE, Arc::clone(&stats));
        let started = Instant::now();
        let error = paced
            .write_all(&[0; 4096])
            .await
            .expect_err("the client never reads");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), PACE.timeout);
        assert_eq!(stats.slow_clients_cut.load(Ordering::Relaxed), 1);
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_reading_slower_than_the_minimum_rate_runs_out_of_credit() {
        let (mut client, server) = tokio::io::duplex(100);
        let stats = Arc::new(ServerStats::default());
        let mut paced = Paced::new(server, PACE, stats);
        // 100 bytes every second: a tenth of the minimum rate.
        let drip = tokio::spawn(async move {
            let mut buffer = [0u8; 100];
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if tokio::io::AsyncReadExt::read(&mut client, &mut buffer)
                    .await
                    .unwrap_or(0)
                    == 0
                {
                    break;
                }
            }
        });
        let started = Instant::now();
        let error = paced.write_all(&[0; 100_000]).await.expect_err("too slow");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        let took = started.elapsed();
        assert!(
            took > PACE.timeout && took < Duration::from_secs(5),
            "{took:?}"
        );
        drop(paced);
        drip.await.expect("drip");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_at_the_minimum_rate_gets_everything_and_idle_costs_nothing() {
        let (mut client, server) = tokio::io::duplex(1000);
        let stats = Arc::new(ServerStats::default());
        let mut paced = Paced::new(server, PACE, Arc::clone(&stats));
        let reader = tokio::spawn(async move {
            let mut buffer = [0u8; 1000];
            let mut total = 0;
            while total < 20_000 {
                tokio::time::sleep(Duration::from_millis(500)).await;
                total += tokio::io::AsyncReadExt::read(&mut client, &mut buffer)
                    .await
                    .expect("read");
            }
            client
        });
        paced.write_all(&[0; 10_000]).await.expect("first response");
        tokio::time::sleep(Duration::from_secs(3600)).await;
        paced
            .write_all(&[0; 10_000])
            .await
            .expect("after an idle hour");
        reader.await.expect("reader");
        assert_eq!(stats.slow_clients_cut.load(Ordering::Relaxed), 0);
    }
}
