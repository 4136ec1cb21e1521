//! One peer's session, for as long as the speaker runs: connect (or wait for the peer to
//! connect, when passive), run rustbgpd's RFC 4271 state machine over the connection (OPEN with
//! 4-octet AS, MP-BGP IPv4 and IPv6 unicast, route refresh; hold and keepalive timers), send the
//! whole table once established and every change after, and after the connection ends start
//! again with back-off (1 s doubling to 60 s; back to 1 s after a session was established).
//!
//! The state machine is created anew for each connection and never initiates one itself: this
//! task owns connecting, back-off and timers, the machine owns the protocol. Writing happens in a
//! task of its own (`writer`), so a peer that stops reading never stalls the timers.

mod timers;
mod writer;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rustbgpd_fsm::{Action, Event, PeerConfig, Session, SessionState};
use rustbgpd_wire::{Afi, Message, Safi, encode_message};
use socket2::SockRef;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::inbound::{Framer, Inbound, interpret};
use super::stats::PeerStatus;
use super::table::Outbox;
use super::update::UpdateEncoder;
use timers::Timers;
use writer::{Outgoing, RouteFeed};

/// Time a TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// First wait before connecting again; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait before connecting again.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Messages (OPEN, KEEPALIVE, NOTIFICATION) queued for the writer; more means the peer stopped
/// reading, and the connection is closed.
const CONTROL_QUEUE: usize = 32;
/// Time the writer has to send what is queued (a NOTIFICATION) after the session ends.
const WRITER_GRACE: Duration = Duration::from_secs(2);
/// The Cease reason sent at shutdown (RFC 9003).
const SHUTDOWN_REASON: &str = "SentryPeer is shutting down";

/// Runs `peer`'s session until `stop`. A passive peer's connections come through `accepted`.
pub(crate) async fn run_peer(
    shared: Arc<Shared>,
    peer: Arc<PeerStatus>,
    mut accepted: mpsc::Receiver<TcpStream>,
    stop: CancellationToken,
) {
    let options = &peer.options;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let connection = if options.passive {
            peer.set_state(SessionState::Active);
            tokio::select! {
                () = stop.cancelled() => return,
                stream = accepted.recv() => match stream {
                    Some(stream) => Ok((stream, true)),
                    None => return,
                },
            }
        } else {
            peer.set_state(SessionState::Connect);
            tokio::select! {
                () = stop.cancelled() => return,
                connected = connect(options.address, options.port, options.multihop_ttl) => {
                    connected.map(|stream| (stream, false))
                }
            }
        };
        match connection {
            Ok((stream, inbound)) => {
                let established = Connection::run(&shared, &peer, stream, inbound, &stop).await;
                if established {
                    backoff = FIRST_BACKOFF;
                }
            }
            Err(error) => {
                tracing::debug!(peer = %options.address, %error, "BGP connect failed");
                peer.set_last_error(format!("connect: {error}"));
                peer.set_state(SessionState::Active);
            }
        }
        if stop.is_cancelled() {
            return;
        }
        if !options.passive {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// Connects to `address:port` with our packets' TTL (hop limit) set to `ttl`.
async fn connect(address: std::net::IpAddr, port: u16, ttl: u8) -> io::Result<TcpStream> {
    let target = SocketAddr::new(address, port);
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    set_ttl(&SockRef::from(&socket), target, ttl)?;
    tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(target))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
}

fn set_ttl(socket: &SockRef<'_>, peer: SocketAddr, ttl: u8) -> io::Result<()> {
    if peer.is_ipv4() {
        socket.set_ttl_v4(u32::from(ttl))
    } else {
        socket.set_unicast_hops_v6(u32::from(ttl))
    }
}

/// One TCP connection's session.
struct Connection<'a> {
    shared: &'a Arc<Shared>,
    peer: &'a Arc<PeerStatus>,
    fsm: Session,
    timers: Timers,
    framer: Framer,
    control: mpsc::Sender<Outgoing>,
    /// The state machine asked to close (or the writer cannot keep up).
    closing: bool,
    /// While established: what this session announced and has yet to.
    outbox: Option<Arc<Outbox>>,
    four_octet_as: bool,
    established: bool,
}

impl<'a> Connection<'a> {
    /// Runs the session over `stream` until it ends; whether it was established.
    async fn run(
        shared: &'a Arc<Shared>,
        peer: &'a Arc<PeerStatus>,
        stream: TcpStream,
        inbound: bool,
        stop: &CancellationToken,
    ) -> bool {
        let options = &peer.options;
        if let Ok(remote) = stream.peer_addr() {
            let _ = set_ttl(&SockRef::from(&stream), remote, options.multihop_ttl);
        }
        let _ = stream.set_nodelay(true);
        let (mut reader, writer) = stream.into_split();
        let (control, control_rx) = mpsc::channel(CONTROL_QUEUE);
        let write_failed = CancellationToken::new();
        let writer: JoinHandle<()> = tokio::spawn(writer::run(
            writer,
            control_rx,
            Arc::clone(peer),
            write_failed.clone(),
        ));
        let mut config = PeerConfig::new(
            shared.options.local_as,
            options.remote_as,
            shared.options.router_id,
        );
        config.hold_time = options.hold_time;
        config.families = vec![(Afi::Ipv4, Safi::Unicast), (Afi::Ipv6, Safi::Unicast)];
        let mut connection = Connection {
            shared,
            peer,
            fsm: Session::new(config),
            timers: Timers::default(),
            framer: Framer::default(),
            control,
            closing: false,
            outbox: None,
            four_octet_as: false,
            established: false,
        };
        connection.handle(Event::ManualStart);
        connection.handle(if inbound {
            Event::TcpConnectionAcknowledged
        } else {
            Event::TcpConnectionConfirmed
        });
        connection.drive(&mut reader, &write_failed, stop).await;
        connection.end(writer).await
    }

    /// Reads, times and handles events until the state machine closes the connection.
    async fn drive(
        &mut self,
        reader: &mut tokio::net::tcp::OwnedReadHalf,
        write_failed: &CancellationToken,
        stop: &CancellationToken,
    ) {
        let mut buffer = vec![0_u8; 4096];
        while !self.closing {
            tokio::select! {
                () = stop.cancelled() => self.handle(Event::ManualStop {
                    reason: Some(Bytes::from_static(SHUTDOWN_REASON.as_bytes())),
                }),
                read = reader.read(&mut buffer[..self.framer.wanted().min(4096)]) => match read {
                    Ok(0) => self.fail("the peer closed the connection".to_owned()),
                    Ok(read) => self.received(&buffer[..read]),
                    Err(error) => self.fail(format!("read: {error}")),
                },
                event = self.timers.expired() => self.handle(event),
                () = write_failed.cancelled() => self.fail("write failed".to_owned()),
            }
        }
    }

    fn received(&mut self, bytes: &[u8]) {
        self.framer.extend(bytes);
        while let Some(decoded) = self.framer.next_message() {
            if let Err(error) = &decoded {
                tracing::warn!(peer = %self.peer.options.address, %error, "bad BGP message");
                self.peer.set_last_error(format!("bad message: {error}"));
            }
            self.inbound(interpret(decoded, self.four_octet_as));
            if self.closing {
                return;
            }
        }
    }

    fn inbound(&mut self, inbound: Inbound) {
        let peer = self.peer;
        match inbound {
            Inbound::Event(event) => {
                if let Event::NotificationReceived(notification) = &event {
                    peer.notifications_received.fetch_add(1, RELAXED);
                    let reason = format!(
                        "received NOTIFICATION {}/{}",
                        notification.code.as_u8(),
                        notification.subcode
                    );
                    tracing::warn!(peer = %peer.options.address, %reason, "BGP peer closed the session");
                    peer.set_last_error(reason);
                }
                self.handle(event);
            }
            Inbound::Update(prefixes) => {
                match prefixes {
                    Ok(count) => {
                        peer.prefixes_received.fetch_add(count as u64, RELAXED);
                    }
                    Err(error) => malformed_update(peer, &error),
                }
                self.handle(Event::UpdateReceived);
            }
            Inbound::RouteRefresh { event, resend } => {
                self.handle(event);
                if let (true, Some(outbox)) = (resend, &self.outbox) {
                    outbox.resync(true);
                }
            }
            Inbound::Ignored => {}
        }
    }

    fn fail(&mut self, why: String) {
        tracing::debug!(peer = %self.peer.options.address, %why, "BGP connection ended");
        self.peer.set_last_error(why);
        self.handle(Event::TcpConnectionFails);
        self.closing = true;
    }

    fn handle(&mut self, event: Event) {
        for action in self.fsm.handle_event(event) {
            self.apply(action);
        }
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::SendOpen(open) => self.send(&Message::Open(open)),
            Action::SendKeepalive => self.send(&Message::Keepalive),
            Action::SendNotification(notification) => {
                let reason = format!(
                    "sent NOTIFICATION {}/{}",
                    notification.code.as_u8(),
                    notification.subcode
                );
                tracing::info!(peer = %self.peer.options.address, %reason, "BGP session closed");
                self.peer.set_last_error(reason);
                self.send(&Message::Notification(notification));
            }
            Action::StartTimer(timer, seconds) => self.timers.start(timer, seconds),
            Action::StopTimer(timer) => self.timers.stop(timer),
            Action::CloseTcpConnection => self.closing = true,
            Action::StateChanged { old, new } => {
                tracing::debug!(peer = %self.peer.options.address, ?old, ?new, "BGP state");
                self.peer.set_state(new);
            }
            Action::SessionEstablished(negotiated) => self.established(&negotiated),
            Action::SessionDown => self.session_down(),
            // The connection is ours to make; other actions are only for telemetry.
            _ => {}
        }
    }

    fn established(&mut self, negotiated: &rustbgpd_fsm::NegotiatedSession) {
        let peer = self.peer;
        self.established = true;
        self.four_octet_as = negotiated.four_octet_as;
        if negotiated.peer_extended_message {
            self.framer.allow_extended_messages();
        }
        let families = &negotiated.negotiated_families;
        let outbox = self.shared.table.open_outbox();
        peer.set_established(Some(Arc::clone(&outbox)));
        tracing::info!(
            peer = %peer.options.address,
            remote_as = negotiated.peer_asn,
            ?families,
            "BGP session established"
        );
        let feed = RouteFeed {
            outbox: Arc::clone(&outbox),
            table: Arc::clone(&self.shared.table),
            encoder: UpdateEncoder::new(
                &self.shared.options,
                peer.options.remote_as,
                negotiated.four_octet_as,
            ),
            ipv4: families.contains(&(Afi::Ipv4, Safi::Unicast)),
            ipv6: families.contains(&(Afi::Ipv6, Safi::Unicast)),
            end_of_rib_sent: false,
        };
        self.outbox = Some(outbox);
        self.queue(Outgoing::Routes(Box::new(feed)));
    }

    fn session_down(&mut self) {
        if let Some(outbox) = self.outbox.take() {
            self.shared.table.close_outbox(&outbox);
            self.peer.set_established(None);
            tracing::info!(peer = %self.peer.options.address, "BGP session down");
        }
    }

    fn send(&mut self, message: &Message) {
        match encode_message(message) {
            Ok(bytes) => self.queue(Outgoing::Message(bytes.to_vec())),
            Err(error) => tracing::error!(%error, "cannot encode a BGP message"),
        }
    }

    fn queue(&mut self, outgoing: Outgoing) {
        if self.control.try_send(outgoing).is_err() {
            self.peer
                .set_last_error("the peer stopped reading".to_owned());
            self.closing = true;
        }
    }

    /// Ends the connection: the outbox closed, what is queued written within a grace.
    async fn end(mut self, writer: JoinHandle<()>) -> bool {
        self.session_down();
        self.peer.set_state(SessionState::Idle);
        let Connection {
            control,
            established,
            ..
        } = self;
        drop(control);
        let mut writer = writer;
        if tokio::time::timeout(WRITER_GRACE, &mut writer)
            .await
            .is_err()
        {
            writer.abort();
        }
        established
    }
}

/// Counts an UPDATE that did not parse; the first of a peer is a warning, the rest (a router
/// that keeps sending them) only debug lines.
fn malformed_update(peer: &PeerStatus, error: &rustbgpd_wire::DecodeError) {
    if peer.malformed_updates.fetch_add(1, RELAXED) == 0 {
        tracing::warn!(peer = %peer.options.address, %error, "malformed BGP UPDATE ignored (counted from now on)");
    } else {
        tracing::debug!(peer = %peer.options.address, %error, "malformed BGP UPDATE ignored");
    }
}

const RELAXED: std::sync::atomic::Ordering = std::sync::atomic::Ordering::Relaxed;
