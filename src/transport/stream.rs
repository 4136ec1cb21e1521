//! One TCP or TLS connection: frame messages out of the byte stream (several per connection,
//! `Content-Length` honoured), hand each to the probe handler, write replies back, and send the
//! later parts of reply plans (final responses, our `BYE`) while the connection is open. A
//! connection ends when it sends no message for too long (idle timeout; CRLF keep-alives do not
//! count as messages, so a connection sending only those still ends) or when a message is not
//! complete in time after its first byte (message timeout, against slowloris).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::connections::ConnectionCounters;
use super::pending::{self, PendingTimers};
use super::{ProbeHandler, ReplyLimit, StreamLimits};
use crate::event::{MAX_RECORDED_MESSAGE_BYTES, Transport};
use crate::sip::{FrameCheck, Outgoing, ReplyPlan, StreamFramer};

/// Who is at each end of a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionInfo {
    pub(crate) transport: Transport,
    pub(crate) source: SocketAddr,
    pub(crate) destination: SocketAddr,
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    PeerClosed,
    IdleTimeout,
    MessageTimeout,
    Shutdown,
    ReadError,
    WriteFailed,
    Oversized,
}

/// One accepted connection and what serving it needs.
pub(crate) struct Connection<'a> {
    /// Its transport and addresses.
    pub(crate) info: ConnectionInfo,
    pub(crate) handler: &'a ProbeHandler,
    pub(crate) limits: &'a StreamLimits,
    pub(crate) counters: &'a ConnectionCounters,
    pub(crate) shutdown: &'a CancellationToken,
}

impl Connection<'_> {
    /// Reads, records and answers SIP messages on `stream` until it ends.
    pub(crate) async fn serve<S>(self, stream: S)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        serve(
            stream,
            self.info,
            self.handler,
            self.limits,
            self.counters,
            self.shutdown,
        )
        .await;
    }
}

/// Serves one connection until the peer closes it, it stays idle too long, takes too long to
/// finish a message, sends an oversized message, or the daemon shuts down. Bytes that never
/// formed a whole message are recorded as one last event; a connection that sent nothing at all
/// is recorded as one empty probe.
pub(crate) async fn serve<S>(
    mut stream: S,
    info: ConnectionInfo,
    handler: &ProbeHandler,
    limits: &StreamLimits,
    counters: &ConnectionCounters,
    shutdown: &CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buffer = BytesMut::with_capacity(4096);
    let mut framer = StreamFramer::default();
    let mut messages = 0u64;
    let mut timers = PendingTimers::default();
    // When the first byte of the message now in `buffer` arrived.
    let mut message_deadline: Option<Instant> = None;
    // When the connection last made progress: it opened, or a message completed. Keep-alives
    // (CRLFs between messages) are skipped without moving it.
    let mut idle_since = Instant::now();
    let ending = 'connection: loop {
        loop {
            match framer.check(&buffer, limits.max_message_bytes) {
                FrameCheck::Skip(count) => buffer.advance(count.min(buffer.len())),
                FrameCheck::Complete(length) => {
                    let message = buffer.split_to(length.min(buffer.len()));
                    messages += 1;
                    // The next message's clock starts now.
                    message_deadline = None;
                    idle_since = Instant::now();
                    let plan = handle(handler, &message, info, ReplyLimit::Unbounded);
                    if !send_plan(&mut stream, plan, &mut timers, info, handler, limits).await {
                        break 'connection Ending::WriteFailed;
                    }
                }
                FrameCheck::Incomplete => break,
                FrameCheck::TooLarge => {
                    let cut = buffer.len().min(MAX_RECORDED_MESSAGE_BYTES);
                    handle(handler, &buffer[..cut], info, ReplyLimit::Never);
                    buffer.clear();
                    messages += 1;
                    break 'connection Ending::Oversized;
                }
            }
        }
        let (wait, on_timeout) =
            next_read_deadline(&buffer, &mut message_deadline, idle_since, limits);
        if wait.is_zero() {
            // Without reading: a peer with bytes always waiting would otherwise win every race.
            break on_timeout;
        }
        let read = tokio::select! {
            () = shutdown.cancelled() => break Ending::Shutdown,
            () = pending::sleep_until(timers.next_due()) => {
                for timer in timers.take_due(Instant::now()) {
                    let plan = handler.fire(&timer, info.transport);
                    if !send_plan(&mut stream, plan, &mut timers, info, handler, limits).await {
                        break 'connection Ending::WriteFailed;
                    }
                }
                continue 'connection;
            }
            read = tokio::time::timeout(wait, stream.read_buf(&mut buffer)) => read,
        };
        match read {
            Ok(Ok(0)) => break Ending::PeerClosed,
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::debug!(%error, source = %info.source, "connection read failed");
                break Ending::ReadError;
            }
            Err(_elapsed) => break on_timeout,
        }
    };
    match ending {
        Ending::IdleTimeout => counters.idle_timeout(info.transport),
        Ending::MessageTimeout => counters.message_timeout(info.transport),
        _ => {}
    }
    if !buffer.is_empty() {
        let cut = buffer.len().min(MAX_RECORDED_MESSAGE_BYTES);
        handle(handler, &buffer[..cut], info, ReplyLimit::Never);
    } else if messages == 0 {
        handle(handler, &[], info, ReplyLimit::Never);
    }
    tracing::debug!(transport = info.transport.as_str(), source = %info.source, ?ending, messages, "connection closed");
    if ending != Ending::WriteFailed {
        // Best effort: the peer may be gone already.
        let _ = tokio::time::timeout(limits.idle_timeout, stream.shutdown()).await;
    }
}

/// How long the next read may wait, and why the connection ends if it times out: what is left
/// of the idle timeout since `idle_since` between messages, or what is left of the message
/// timeout once a message has begun (whichever is sooner). Starts the message clock at a
/// message's first byte and stops it when the buffer is empty again.
fn next_read_deadline(
    buffer: &[u8],
    message_deadline: &mut Option<Instant>,
    idle_since: Instant,
    limits: &StreamLimits,
) -> (Duration, Ending) {
    if buffer.is_empty() {
        *message_deadline = None;
        let left = (idle_since + limits.idle_timeout).saturating_duration_since(Instant::now());
        return (left, Ending::IdleTimeout);
    }
    let deadline = *message_deadline.get_or_insert_with(|| Instant::now() + limits.message_timeout);
    let left = deadline.saturating_duration_since(Instant::now());
    if left < limits.idle_timeout {
        (left, Ending::MessageTimeout)
    } else {
        (limits.idle_timeout, Ending::IdleTimeout)
    }
}

fn handle(
    handler: &ProbeHandler,
    message: &[u8],
    info: ConnectionInfo,
    limit: ReplyLimit,
) -> ReplyPlan {
    handler.handle(
        message,
        info.transport,
        info.source,
        info.destination,
        limit,
    )
}

/// Writes the plan's messages and keeps its timers; false when a write failed.
async fn send_plan<S>(
    stream: &mut S,
    plan: ReplyPlan,
    timers: &mut PendingTimers,
    info: ConnectionInfo,
    handler: &ProbeHandler,
    limits: &StreamLimits,
) -> bool
where
    S: AsyncWrite + Unpin,
{
    for outgoing in &plan.immediate {
        if !write_reply(stream, outgoing, info, handler, limits).await {
            return false;
        }
    }
    for _ in 0..timers.add(plan.timers, Instant::now()) {
        handler.counters().delayed_skipped(info.transport);
    }
    true
}

/// Writes a reply under the idle timeout, so a peer that never reads cannot hold the task.
async fn write_reply<S>(
    stream: &mut S,
    reply: &Outgoing,
    info: ConnectionInfo,
    handler: &ProbeHandler,
    limits: &StreamLimits,
) -> bool
where
    S: AsyncWrite + Unpin,
{
    let written = tokio::time::timeout(limits.idle_timeout, async {
        stream.write_all(&reply.bytes).await?;
        stream.flush().await
    })
    .await;
    if matches!(written, Ok(Ok(()))) {
        handler.counters().reply_sent(info.transport, reply.status);
        true
    } else {
        handler.counters().reply_failed(info.transport);
        false
    }
}
