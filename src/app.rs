//! Wiring: opens the store, starts the consumers, binds the listeners, waits for the shutdown
//! signal and stops everything in order (listeners, then queues drain, then the store closes).
//! The only module that knows every other one.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use jiff::SignedDuration;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::api::{self, ApiLimits, ApiState, CrowdSecKeys, ReadPool};
use crate::config::Config;
use crate::p2p::{self, P2pConfig, P2pStats};
use crate::pipeline::Pipeline;
use crate::sinks::json_log::{self, JsonLogStats};
use crate::sinks::syslog::{self, SyslogStats, SyslogTarget};
use crate::sinks::webhook::{self, WebhookOptions, WebhookStats};
use crate::store::{self, StoreStats, WriterOptions};
use crate::telemetry::Count;
use crate::transport::certs::{self, CertSource};
use crate::transport::udp_drops::UdpDropMonitor;
use crate::transport::{self, ConnectionCounters, ProbeHandler, StreamLimits};
use crate::{node_id, shutdown, telemetry};

/// How long a new peer has to share records before gossipsub scores it down.
const P2P_FREELOADER_GRACE: Duration = Duration::from_secs(600);
/// How long shutdown waits for API requests in flight (and for the p2p node).
const API_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How often rate-limit state of quiet sources is forgotten. Short, so a flood from spoofed
/// random sources holds at most about a second's worth of them in memory (a source's state is
/// forgotten as soon as it could send a full burst again).
const RATE_LIMIT_CLEANUP_INTERVAL: Duration = Duration::from_secs(1);

/// Runs the daemon until SIGINT/SIGTERM or until `shutdown` is cancelled.
///
/// # Errors
/// Start-up failures (database, files, binding) with context; a listener that dies unexpectedly.
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    // The webhook reads its options (URL, OAuth2, batching, ...) from the whole configuration.
    let webhook_options = WebhookOptions::from_config(&config).context("webhook")?;
    let Config {
        sip_listen_address,
        tls_listen_address,
        cert,
        key,
        sip_disable,
        tls_disable,
        sip_responsive,
        sip_reply_rate_limit,
        max_message_bytes,
        tcp_idle_timeout_secs,
        tls_handshake_timeout_secs,
        sip_header_timeout_secs,
        max_connections,
        sip_max_connections_per_source,
        event_queue_capacity,
        db_file,
        retention_days,
        json_log,
        json_log_file,
        syslog,
        syslog_address,
        verbose: _,
        debug: _,
        api,
        api_listen_address,
        api_token,
        crowdsec_api_key,
        crowdsec_ban_duration,
        peer_to_peer,
        bootstrap_node,
        p2p_listen_address,
        p2p_mdns,
        p2p_network,
        p2p_key_file,
        p2p_receive_only_from,
        p2p_deny,
        p2p_min_contribution,
        p2p_max_records_per_second,
        webhook_url: _,
        oauth2_client_id,
        oauth2_client_secret: _,
        oauth2_token_url: _,
        oauth2_audience: _,
        webhook_batch: _,
        webhook_skip_empty: _,
        webhook_include_peer_data: _,
        webhook_timeout_secs: _,
        webhook_max_attempts: _,
        personality,
    } = config;
    let personality = personality.resolve().context("personality")?;
    let mut responder_key = [0u8; 16];
    getrandom::fill(&mut responder_key)
        .map_err(|error| anyhow::anyhow!("no randomness for the responder key: {error}"))?;
    if webhook_options.is_none() && oauth2_client_id.is_some() {
        tracing::warn!("OAuth2 client credentials (-i, -c) without a webhook URL (-w); ignored");
    }

    shutdown::survive_file_size_limit().context("installing the SIGXFSZ handler")?;
    // Certificates first: a bad one stops start-up before anything is opened or bound.
    let tls_config = if sip_disable || tls_disable {
        None
    } else {
        let (tls_config, source) =
            certs::load_or_generate(&cert, &key).context("TLS certificate")?;
        match source {
            CertSource::Loaded => {}
            CertSource::GeneratedAndSaved => tracing::warn!(
                cert = %cert.display(),
                key = %key.display(),
                "generated a self-signed TLS certificate for localhost"
            ),
            CertSource::GeneratedInMemory { reason } => tracing::error!(
                %reason,
                "cannot save the generated TLS certificate; TLS uses an in-memory certificate that changes on every start"
            ),
        }
        Some(tls_config)
    };

    // Then every socket, so a busy port or a bad address stops start-up before the database is
    // touched.
    let (sip_sockets, tls_listener) = if sip_disable {
        (None, None)
    } else {
        let sockets = transport::bind_udp_and_tcp(sip_listen_address)
            .map_err(|error| explain_privileged_port(error, sip_listen_address))?;
        let tls = match tls_config {
            Some(_) => Some(
                transport::bind_tcp(tls_listen_address, "TLS")
                    .map_err(|error| explain_privileged_port(error, tls_listen_address))?,
            ),
            None => None,
        };
        (Some(sockets), tls)
    };
    let api_listener = if api {
        Some(
            transport::bind_tcp(api_listen_address, "API")
                .map_err(|error| explain_privileged_port(error, api_listen_address))
                .with_context(|| format!("Failed to start HTTP server on {api_listen_address}"))?,
        )
    } else {
        None
    };
    let crowdsec_ban =
        api::parse_duration(&crowdsec_ban_duration).context("crowdsec_ban_duration")?;

    let p2p_config = if peer_to_peer {
        let key_file =
            p2p_key_file.unwrap_or_else(|| p2p::identity::key_path_for_database(&db_file));
        let key = p2p::identity::load_or_create(&key_file)?;
        tracing::info!(peer_id = %key.public().to_peer_id(), path = %key_file.display(), "p2p identity");
        let parse_all = |texts: &[String]| -> Result<Vec<_>, p2p::P2pError> {
            texts.iter().map(|text| p2p::parse_address(text)).collect()
        };
        Some(P2pConfig {
            network: p2p_network,
            listen: parse_all(&p2p_listen_address)?,
            bootstrap: parse_all(&bootstrap_node)?,
            mdns: p2p_mdns,
            key,
            retention: (retention_days > 0)
                .then(|| SignedDuration::from_hours(24 * i64::from(retention_days))),
            min_contribution: p2p_min_contribution,
            freeloader_grace: P2P_FREELOADER_GRACE,
            receive_only_from: p2p::parse_peer_ids(&p2p_receive_only_from)?,
            deny: p2p::parse_peer_ids(&p2p_deny)?,
            max_records_per_second: p2p_max_records_per_second,
            db_file: db_file.clone(),
        })
    } else {
        None
    };

    // The database before any file next to it: a file that is not ours stops start-up first.
    let connection = store::open(&db_file).context("database")?;
    let node_id_path = node_id::path_for_database(&db_file);
    let node_id = node_id::load_or_create(&node_id_path).context("node id")?;
    tracing::info!(%node_id, path = %node_id_path.display(), "node id");

    // Consumers first, so nothing a listener accepts has nowhere to go.
    let mut pipeline = Pipeline::builder();
    let mut consumers: Vec<(&'static str, JoinHandle<()>)> = Vec::new();
    let store_stats = Arc::new(StoreStats::default());
    let store_thread = store::spawn_writer(
        connection,
        pipeline.consumer("store", event_queue_capacity),
        WriterOptions {
            retention_days,
            ..WriterOptions::default()
        },
        Arc::clone(&store_stats),
    )
    .context("starting the database writer")?;
    tracing::info!(path = %db_file.display(), retention_days, "database open");
    if json_log {
        let stats = Arc::new(JsonLogStats::default());
        let events = pipeline.consumer("json_log", event_queue_capacity);
        consumers.push(("json_log", json_log::spawn(&json_log_file, events, stats)?));
        tracing::info!(path = %json_log_file.display(), "JSON log on");
    }
    if syslog {
        let target = SyslogTarget::parse(syslog_address.as_deref())?;
        let events = pipeline.consumer("syslog", event_queue_capacity);
        consumers.push((
            "syslog",
            syslog::spawn(target, events, Arc::new(SyslogStats::default()))?,
        ));
        tracing::info!("syslog on");
    }
    let p2p_events = p2p_config
        .as_ref()
        .map(|_| pipeline.async_consumer("p2p", event_queue_capacity));
    // Cancelled once the pipeline is dropped: the webhook then has its grace to deliver.
    let webhook_drain = CancellationToken::new();
    let webhook = match webhook_options {
        Some(options) => {
            let stats = Arc::new(WebhookStats::default());
            let events = pipeline.async_consumer("webhook", event_queue_capacity);
            let task = webhook::spawn(options, events, Arc::clone(&stats), webhook_drain.clone())
                .context("webhook")?;
            Some((task, stats))
        }
        None => None,
    };
    let pipeline = pipeline.build();
    let p2p_stats = Arc::new(P2pStats::default());
    if let Some(config) = &p2p_config {
        let _ = p2p_stats
            .peer_id
            .set(config.key.public().to_peer_id().to_base58());
    }
    let p2p_node = match (p2p_config, p2p_events) {
        (Some(config), Some(events)) => Some(tokio::spawn(p2p::run(
            config,
            events,
            pipeline.clone(),
            Arc::clone(&p2p_stats),
            shutdown.clone(),
        ))),
        _ => None,
    };
    if sip_responsive {
        tracing::info!(personality = %personality.name, "responsive mode");
    }
    let handler = Arc::new(ProbeHandler::new(
        node_id,
        sip_responsive,
        personality,
        responder_key,
        pipeline.clone(),
        sip_reply_rate_limit,
    ));

    let limits = StreamLimits {
        max_message_bytes,
        idle_timeout: Duration::from_secs(tcp_idle_timeout_secs),
        message_timeout: Duration::from_secs(sip_header_timeout_secs),
        handshake_timeout: Duration::from_secs(tls_handshake_timeout_secs),
        max_connections,
        max_connections_per_source: sip_max_connections_per_source,
    };
    let stream_listeners = u64::from(sip_sockets.is_some()) + u64::from(tls_listener.is_some());
    transport::raise_open_file_limit(stream_listeners, max_connections);
    let connection_counters = Arc::new(ConnectionCounters::default());
    // Kernel drops on the UDP socket are the one loss the listener cannot count itself.
    let udp_drops = sip_sockets.as_ref().and_then(|(udp, _)| {
        UdpDropMonitor::new(udp)
            .inspect_err(|error| tracing::warn!(%error, "cannot watch UDP kernel drops"))
            .ok()
    });
    let mut listeners = JoinSet::new();
    match sip_sockets {
        None => tracing::info!("SIP listeners disabled (-R)"),
        Some((udp_socket, tcp_listener)) => {
            tracing::info!("listening for UDP on {}", udp_socket.local_addr()?);
            tracing::info!("listening for TCP on {}", tcp_listener.local_addr()?);
            listeners.spawn(run_udp_on_own_thread(
                udp_socket,
                Arc::clone(&handler),
                shutdown.clone(),
            )?);
            listeners.spawn(transport::tcp::run(
                tcp_listener,
                Arc::clone(&handler),
                limits,
                Arc::clone(&connection_counters),
                shutdown.clone(),
            ));
        }
    }
    match (tls_listener, tls_config) {
        (Some(tls_listener), Some(tls_config)) => {
            tracing::info!("listening for TLS on {}", tls_listener.local_addr()?);
            listeners.spawn(transport::tls::run(
                tls_listener,
                TlsAcceptor::from(tls_config),
                Arc::clone(&handler),
                limits,
                Arc::clone(&connection_counters),
                shutdown.clone(),
            ));
        }
        _ if !sip_disable => tracing::info!("TLS listener disabled (-N)"),
        _ => {}
    }
    let api_server = match api_listener {
        Some(listener) => {
            let state = ApiState {
                reader: ReadPool::new(db_file.clone()),
                // In the order they show in the health details.
                telemetry: telemetry::Registry::default()
                    .with(Some(Arc::new(pipeline.monitor())))
                    .with(Some(Arc::clone(&store_stats)))
                    .with(udp_drops.clone().map(Arc::new))
                    .with(p2p_node.as_ref().map(|_| Arc::clone(&p2p_stats)))
                    .with(webhook.as_ref().map(|(_, stats)| Arc::clone(stats)))
                    .with(Some(handler.shared_counters()))
                    .with(Some(Arc::clone(&connection_counters))),
                node_id,
                started: Instant::now(),
                token: api_token,
                crowdsec: CrowdSecKeys::new(crowdsec_api_key),
                crowdsec_ban,
            };
            tracing::info!("listening for API on {}", listener.local_addr()?);
            let router = api::router(Arc::new(state), ApiLimits::default());
            Some(tokio::spawn(api::serve(
                listener,
                router,
                api::ServeLimits::default(),
                shutdown.clone(),
            )))
        }
        None => None,
    };
    spawn_rate_limit_cleanup(Arc::clone(&handler), shutdown.clone());
    shutdown::cancel_on_signal(shutdown.clone()).context("installing signal handlers")?;
    tracing::info!(version = crate::event::APP_VERSION, "sentrypeer ready");

    let mut failure = Ok(());
    tokio::select! {
        () = shutdown.cancelled() => {}
        Some(ended) = listeners.join_next() => {
            // A listener that returns before shutdown was asked for is a failure, even if Ok.
            if !shutdown.is_cancelled() {
                failure = flatten(ended)
                    .and_then(|()| Err(anyhow::anyhow!("a listener stopped unexpectedly")));
            }
            shutdown.cancel();
        }
    }
    while let Some(ended) = listeners.join_next().await {
        if let Err(error) = flatten(ended) {
            tracing::error!(error = %one_line(&error), "listener stopped with an error");
        }
    }

    if let Some(server) = api_server {
        match tokio::time::timeout(API_SHUTDOWN_GRACE, server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::error!(%error, "API server failed"),
            Ok(Err(error)) => tracing::error!(%error, "API server task failed"),
            Err(_) => tracing::warn!("API requests still running at shutdown were cut off"),
        }
    }

    if let Some(node) = p2p_node {
        match tokio::time::timeout(API_SHUTDOWN_GRACE, node).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => {
                tracing::error!(%error, "p2p node failed");
                if failure.is_ok() {
                    failure = Err(anyhow::Error::new(error).context("peer-to-peer"));
                }
            }
            Ok(Err(error)) => tracing::error!(%error, "p2p node task failed"),
            Err(_) => tracing::warn!("p2p node did not stop in time"),
        }
    }

    // Listeners are gone: dropping the last pipeline handles closes every queue; consumers drain.
    let stats = pipeline.stats();
    drop(handler);
    drop(pipeline);
    webhook_drain.cancel();
    let written = tokio::task::spawn_blocking(move || {
        let store = store_thread.join();
        for (name, consumer) in consumers {
            if consumer.join().is_err() {
                tracing::error!(consumer = name, "consumer thread panicked");
            }
        }
        store
    })
    .await
    .context("waiting for consumers")?;
    if let Some((task, _)) = webhook {
        // The task stops by itself within its grace; the margin only guards against a bug.
        let limit = webhook::SHUTDOWN_GRACE + Duration::from_secs(2);
        match tokio::time::timeout(limit, task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "webhook task failed"),
            Err(_) => tracing::error!("webhook task did not stop in time"),
        }
    }
    match written {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "database writer stopped with an error"),
        Err(_) => tracing::error!("database writer panicked"),
    }
    tracing::info!(
        received = stats.received.iter().sum::<u64>(),
        stored = store_stats.events_stored.count(),
        dropped = stats.consumers.iter().map(|c| c.dropped).sum::<u64>(),
        kernel_dropped = udp_drops.as_ref().and_then(UdpDropMonitor::dropped),
        "stopped"
    );
    failure
}

/// Runs the UDP listener on a thread of its own, in a single-threaded runtime; the returned
/// future ends with the listener. On the shared runtime the listener's task, yielding every few
/// receives under a flood, kept waking the other worker to steal it and moved between cores at
/// each turn; measured on 2 cores, that cost more CPU than receiving and parsing. A dedicated
/// core for capture is also what the machine's limits suggest (one receiving core drains
/// ~600k datagrams/s).
fn run_udp_on_own_thread(
    socket: tokio::net::UdpSocket,
    handler: Arc<ProbeHandler>,
    shutdown: CancellationToken,
) -> anyhow::Result<impl Future<Output = Result<(), transport::TransportError>>> {
    let socket_error = |source| transport::TransportError::Socket {
        transport: "UDP",
        source,
    };
    // Leaves this runtime's reactor; registered again with the thread's own.
    let socket = socket.into_std().context("UDP socket")?;
    let (ended, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("udp-listener".to_owned())
        .spawn(move || {
            let outcome = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(socket_error)
                .and_then(|runtime| {
                    runtime.block_on(async move {
                        let socket =
                            tokio::net::UdpSocket::from_std(socket).map_err(socket_error)?;
                        transport::udp::run(socket, handler, shutdown).await
                    })
                });
            let _ = ended.send(outcome);
        })
        .context("starting the UDP listener thread")?;
    Ok(async move {
        result.await.unwrap_or_else(|_| {
            Err(socket_error(std::io::Error::other(
                "the UDP listener thread ended without a result",
            )))
        })
    })
}

fn spawn_rate_limit_cleanup(handler: Arc<ProbeHandler>, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(RATE_LIMIT_CLEANUP_INTERVAL);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = interval.tick() => handler.forget_quiet_sources(),
            }
        }
    });
}

type ListenerResult = Result<Result<(), transport::TransportError>, tokio::task::JoinError>;

fn flatten(ended: ListenerResult) -> anyhow::Result<()> {
    ended.context("listener task")?.context("listener")
}

/// `error` and its causes on one line, as `{:#}` writes them, except that a cause whose text
/// the line already ends with is left out: our error types quote their source in their message
/// (so `{}` alone is complete in a log field), and `{:#}` would print it twice.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// A bind refused for lack of privilege on a port below 1024, with how to allow it.
fn explain_privileged_port(
    error: transport::TransportError,
    address: std::net::SocketAddr,
) -> anyhow::Error {
    let denied = matches!(
        &error,
        transport::TransportError::Bind { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied
    );
    if denied && address.port() < 1024 {
        anyhow::Error::new(error).context(format!(
            "port {} is below 1024: run as root or with CAP_NET_BIND_SERVICE \
             (see contrib/systemd/sentrypeer.service)",
            address.port()
        ))
    } else {
        error.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_names_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let bind = transport::TransportError::Bind {
            transport: "TCP",
            address: std::net::SocketAddr::from(([127, 0, 0, 1], 5060)),
            source: io,
        };
        let error = anyhow::Error::new(bind).context("Failed to start SIP listeners");
        assert_eq!(
            one_line(&error),
            "Failed to start SIP listeners: cannot bind TCP on 127.0.0.1:5060: \
             Address already in use"
        );
        // A cause the message does not quote is still written.
        let plain = anyhow::anyhow!("disk full").context("cannot store");
        assert_eq!(one_line(&plain), "cannot store: disk full");
    }
}
