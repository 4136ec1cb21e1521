//! The agent over TCP: accept under a connection cap, one task per connection with its own
//! small transaction table (only to match `CANCEL`s and `ACK`s: streams never retransmit).
//! A source not allowed to ask gets `403 Forbidden` to its first request and the connection is
//! closed; a request over its source's rate gets `503 Service Unavailable`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use jiff::Timestamp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Admission, Agent, AgentError, AgentTransport};
use crate::sip::redirect::{RedirectServer, Request};
use crate::sip::{FrameCheck, StreamFramer};

/// How long a refused source has to send the request its `403` answers.
const REFUSED_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts connections until `stop` is cancelled, then ends the open ones.
///
/// # Errors
/// [`AgentError::Socket`] when the listening socket fails for good.
pub async fn run(
    listener: TcpListener,
    agent: Arc<Agent>,
    stop: CancellationToken,
) -> Result<(), AgentError> {
    let slots = Arc::new(Semaphore::new(agent.options().max_connections.max(1)));
    let tasks = TaskTracker::new();
    let mut backoff = Duration::from_millis(10);
    let result = loop {
        let permit = tokio::select! {
            () = stop.cancelled() => break Ok(()),
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break Ok(()),
            },
        };
        let accepted = tokio::select! {
            () = stop.cancelled() => break Ok(()),
            accepted = listener.accept() => accepted,
        };
        let (stream, source) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors or a connection reset before accept: wait and go on.
                tracing::debug!(%error, "SIP agent accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(10);
        let agent = Arc::clone(&agent);
        let stop = stop.clone();
        tasks.spawn(async move {
            agent.counters.connection(true);
            serve(stream, source, &agent, &stop).await;
            agent.counters.connection(false);
            drop(permit);
        });
    };
    tasks.close();
    tasks.wait().await;
    result
}

/// What ended reading a connection.
enum Read {
    /// Bytes arrived.
    More,
    /// The peer closed, the read failed, the connection idled out, or shutdown.
    End,
}

/// Serves one connection until the peer closes it, it idles out, sends an oversized message,
/// or the daemon shuts down.
async fn serve(mut stream: TcpStream, source: SocketAddr, agent: &Agent, stop: &CancellationToken) {
    let refused = !agent.is_allowed(source.ip());
    if refused {
        agent.counters.refused(AgentTransport::Tcp);
    }
    let idle = if refused {
        REFUSED_READ_TIMEOUT
    } else {
        agent.options().idle_timeout
    };
    let max_bytes = agent.options().max_message_bytes;
    let mut server = agent.redirect_server(true);
    let mut buffer = BytesMut::with_capacity(4096);
    let mut framer = StreamFramer::default();
    loop {
        match framer.check(&buffer, max_bytes) {
            FrameCheck::Skip(count) => buffer.advance(count.min(buffer.len())),
            FrameCheck::Complete(length) => {
                let message = buffer.split_to(length.min(buffer.len()));
                let replies = answer(agent, &mut server, source, refused, &message);
                if !write_all(&mut stream, &replies, idle).await || refused {
                    break;
                }
            }
            FrameCheck::TooLarge => break,
            FrameCheck::Incomplete => match read(&mut stream, &mut buffer, idle, stop).await {
                Read::More => {}
                Read::End => break,
            },
        }
    }
    // Best effort: the peer may be gone already.
    let _ = tokio::time::timeout(idle, stream.shutdown()).await;
}

/// The replies to one framed message (`403` for a `refused` source).
fn answer(
    agent: &Agent,
    server: &mut RedirectServer,
    source: SocketAddr,
    refused: bool,
    message: &[u8],
) -> Vec<Vec<u8>> {
    let probe = crate::sip::parse(message);
    let request = Request {
        probe: &probe,
        source,
        max_reply_bytes: None,
    };
    let refusal = if refused {
        Some(403)
    } else {
        match agent.admit(source, AgentTransport::Tcp) {
            Admission::Answer => None,
            Admission::Refused => Some(403),
            Admission::RateLimited => Some(503),
        }
    };
    if let Some(code) = refusal {
        return server.refuse(&request, code).into_iter().collect();
    }
    let started = Instant::now();
    let handled = server.handle(&request, started, |dip| agent.decide(dip, Timestamp::now()));
    agent.counters.handled(handled.outcome);
    handled
        .replies
        .into_iter()
        .map(|reply| reply.bytes)
        .collect()
}

/// Reads more bytes within `idle`; `End` on close, error, timeout or shutdown.
async fn read(
    stream: &mut TcpStream,
    buffer: &mut BytesMut,
    idle: Duration,
    stop: &CancellationToken,
) -> Read {
    let read = tokio::select! {
        () = stop.cancelled() => return Read::End,
        read = tokio::time::timeout(idle, stream.read_buf(buffer)) => read,
    };
    match read {
        Ok(Ok(0)) | Ok(Err(_)) | Err(_) => Read::End,
        Ok(Ok(_)) => Read::More,
    }
}

/// Writes every reply within `idle` (a peer that never reads cannot hold the task).
async fn write_all(stream: &mut TcpStream, replies: &[Vec<u8>], idle: Duration) -> bool {
    let written = tokio::time::timeout(idle, async {
        for reply in replies {
            stream.write_all(reply).await?;
        }
        stream.flush().await
    })
    .await;
    matches!(written, Ok(Ok(())))
}
