//! The SIP listeners (UDP, TCP, TLS) and the probe handler they share; the first parts to stop.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::{TcpListener, UdpSocket};

use super::Wiring;
use crate::app::bind::TlsConfig;
use crate::app::services::{Grace, Stage};
use crate::blocklist::Intake;
use crate::transport::tcp::TlsAcceptor;
use crate::transport::udp_drops::UdpDropMonitor;
use crate::transport::{self, ConnectionCounters, ProbeHandler, TransportCounters};

/// Time a listener has to stop once asked (it stops at its next turn; pending replies are
/// cancelled).
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How often rate-limit state of quiet sources is forgotten. Short, so a flood from spoofed
/// random sources holds at most about a second's worth of them in memory (a source's state is
/// forgotten as soon as it could send a full burst again).
const RATE_LIMIT_CLEANUP_INTERVAL: Duration = Duration::from_secs(1);

/// Starts the listeners that are on, with the handler that records and answers their probes.
///
/// # Errors
/// No randomness for the responder's key; a listener thread that cannot start.
pub(in crate::app) fn start(
    wiring: &mut Wiring<'_>,
    intake: &Intake,
    sip: Option<(UdpSocket, TcpListener)>,
    tls: Option<(TcpListener, TlsConfig)>,
) -> anyhow::Result<()> {
    let settings = &wiring.settings.capture;
    let Some((udp, tcp)) = sip else {
        tracing::info!("SIP listeners disabled (-R)");
        wiring.report::<UdpDropMonitor>(None);
        wiring.report::<TransportCounters>(None);
        wiring.report::<ConnectionCounters>(None);
        return Ok(());
    };
    let mut responder_key = [0u8; 16];
    getrandom::fill(&mut responder_key)
        .map_err(|error| anyhow::anyhow!("no randomness for the responder key: {error}"))?;
    if settings.responsive {
        tracing::info!(personality = %settings.personality.name, "responsive mode");
    }
    let handler = Arc::new(ProbeHandler::new(
        wiring.node_id,
        settings.responsive,
        settings.personality.clone(),
        responder_key,
        intake.clone(),
        settings.reply_rate_limit,
    ));
    let limits = settings.stream_limits;
    transport::raise_open_file_limit(1 + u64::from(tls.is_some()), limits.max_connections);
    let connections = Arc::new(ConnectionCounters::default());
    // Kernel drops on the UDP socket are the one loss the listener cannot count itself.
    let udp_drops = UdpDropMonitor::new(&udp)
        .inspect_err(|error| tracing::warn!(%error, "cannot watch UDP kernel drops"))
        .ok();
    wiring.summary.udp_drops.clone_from(&udp_drops);
    wiring.report(udp_drops.map(Arc::new));
    wiring.report(Some(handler.shared_counters()));
    wiring.report(Some(Arc::clone(&connections)));

    tracing::info!("listening for UDP on {}", udp.local_addr()?);
    tracing::info!("listening for TCP on {}", tcp.local_addr()?);
    start_udp(wiring, udp, Arc::clone(&handler))?;
    let tls = match tls {
        #[cfg_attr(not(feature = "tls"), expect(unreachable_code))]
        Some((listener, config)) => {
            tracing::info!("listening for TLS on {}", listener.local_addr()?);
            Some((listener, acceptor(config)))
        }
        None if cfg!(feature = "tls") => {
            tracing::info!("TLS listener disabled (-N)");
            None
        }
        None => {
            tracing::info!("TLS listener off: built without the tls feature");
            None
        }
    };
    let streams = std::iter::once(("tcp", tcp, None))
        .chain(tls.map(|(listener, acceptor)| ("tls", listener, Some(acceptor))));
    for (name, listener, acceptor) in streams {
        let handler = Arc::clone(&handler);
        let connections = Arc::clone(&connections);
        wiring
            .services
            .spawn(name, Stage::Intake, Grace::Within(STOP_GRACE), |stop| {
                Ok(async move {
                    transport::tcp::run(listener, acceptor, handler, limits, connections, stop)
                        .await
                        .with_context(|| format!("{name} listener"))
                })
            })?;
    }
    wiring.services.spawn(
        "rate-limit-cleanup",
        Stage::Intake,
        Grace::Within(STOP_GRACE),
        |stop| Ok(forget_quiet_sources(handler, stop)),
    )
}

/// The TLS listener's handshake over its configuration.
#[cfg(feature = "tls")]
fn acceptor(config: TlsConfig) -> TlsAcceptor {
    TlsAcceptor::from(config)
}

#[cfg(not(feature = "tls"))]
fn acceptor(config: TlsConfig) -> TlsAcceptor {
    match config {}
}

/// Runs the UDP listener on a thread of its own, in a single-threaded runtime. On the shared
/// runtime the listener's task, yielding every few receives under a flood, kept waking the other
/// worker to steal it and moved between cores at each turn; measured on 2 cores, that cost more
/// CPU than receiving and parsing. A dedicated core for capture is also what the machine's
/// limits suggest (one receiving core drains ~600k datagrams/s).
fn start_udp(
    wiring: &mut Wiring<'_>,
    socket: UdpSocket,
    handler: Arc<ProbeHandler>,
) -> anyhow::Result<()> {
    // Leaves this runtime's reactor; registered again with the thread's own.
    let socket = socket.into_std().context("UDP socket")?;
    wiring.services.spawn_thread(
        "udp-listener",
        Stage::Intake,
        Grace::Within(STOP_GRACE),
        move |stop| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("UDP listener runtime")?;
            runtime.block_on(async move {
                let socket = UdpSocket::from_std(socket).context("UDP socket")?;
                transport::udp::run(socket, handler, stop)
                    .await
                    .context("UDP listener")
            })
        },
    )
}

/// Forgets the reply-rate state of quiet sources every [`RATE_LIMIT_CLEANUP_INTERVAL`].
async fn forget_quiet_sources(
    handler: Arc<ProbeHandler>,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let mut interval = tokio::time::interval(RATE_LIMIT_CLEANUP_INTERVAL);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = interval.tick() => handler.forget_quiet_sources(),
        }
    }
}
