//! The bind phase: the TLS certificate first (a bad one stops start-up before anything is opened
//! or bound), then every socket, so a busy port or a bad address stops start-up before the
//! database is touched.

use std::net::SocketAddr;

#[cfg(any(feature = "tls", feature = "api", feature = "sip-agent"))]
use anyhow::Context;
use tokio::net::{TcpListener, UdpSocket};

use super::settings::{Settings, TlsListener};
use crate::transport::{self, TransportError};

/// The TLS listener's server configuration.
#[cfg(feature = "tls")]
pub(super) type TlsConfig = std::sync::Arc<tokio_rustls::rustls::ServerConfig>;
/// Built without the `tls` feature, the settings never ask for a TLS listener.
#[cfg(not(feature = "tls"))]
pub(super) type TlsConfig = super::settings::NotBuilt;

/// Every socket the daemon listens on, bound.
pub(super) struct Bound {
    /// UDP and TCP SIP sockets; `None` with `-R`.
    pub sip: Option<(UdpSocket, TcpListener)>,
    /// The TLS SIP socket and its configuration; `None` with `-R` or `-N`.
    pub tls: Option<(TcpListener, TlsConfig)>,
    /// The REST API socket; `None` without `-a`.
    #[cfg(feature = "api")]
    pub api: Option<TcpListener>,
    /// The SIP agent's UDP and TCP sockets; `None` without its address.
    #[cfg(feature = "sip-agent")]
    pub sip_agent: Option<(UdpSocket, TcpListener)>,
    /// The BGP socket for passive peers; `None` without `--bgp` or `bgp.listen_address`.
    #[cfg(feature = "bgp")]
    pub bgp: Option<TcpListener>,
}

/// Loads (or generates) the certificate and binds every socket `settings` asks for.
///
/// # Errors
/// A certificate that cannot be loaded or generated; a socket that cannot be bound, with how to
/// allow a port below 1024 when that is why.
pub(super) fn bind(settings: &Settings) -> anyhow::Result<Bound> {
    let listeners = settings.capture.listeners.as_ref();
    let tls_config = listeners
        .and_then(|listeners| listeners.tls.as_ref())
        .map(tls_config)
        .transpose()?;
    let sip = listeners
        .map(|listeners| {
            transport::bind_udp_and_tcp(listeners.sip_address)
                .map_err(|error| explain_privileged_port(error, listeners.sip_address))
        })
        .transpose()?;
    let tls = match (listeners.and_then(|l| l.tls.as_ref()), tls_config) {
        (Some(tls), Some(config)) => Some((
            transport::bind_tcp(tls.address, "TLS")
                .map_err(|error| explain_privileged_port(error, tls.address))?,
            config,
        )),
        _ => None,
    };
    Ok(Bound {
        sip,
        tls,
        #[cfg(feature = "api")]
        api: (settings.api.as_ref())
            .map(|api| {
                let address = api.listen_address;
                transport::bind_tcp(address, "API")
                    .map_err(|error| explain_privileged_port(error, address))
                    .with_context(|| format!("Failed to start HTTP server on {address}"))
            })
            .transpose()?,
        #[cfg(feature = "sip-agent")]
        sip_agent: (settings.sip_agent.as_ref())
            .map(|agent| {
                let address = agent.listen_address;
                transport::bind_udp_and_tcp(address)
                    .map_err(|error| explain_privileged_port(error, address))
                    .with_context(|| format!("Failed to start the SIP agent on {address}"))
            })
            .transpose()?,
        #[cfg(feature = "bgp")]
        bgp: (settings.bgp.as_ref())
            .and_then(|bgp| bgp.listen_address)
            .map(|address| {
                transport::bind_tcp(address, "BGP")
                    .map_err(|error| explain_privileged_port(error, address))
            })
            .transpose()?,
    })
}

/// The TLS listener's configuration, from its files or generated (and said so).
#[cfg(feature = "tls")]
fn tls_config(tls: &TlsListener) -> anyhow::Result<TlsConfig> {
    use crate::transport::certs::{self, CertSource};
    let (config, source) =
        certs::load_or_generate(&tls.cert, &tls.key).context("TLS certificate")?;
    match source {
        CertSource::Loaded => {}
        CertSource::GeneratedAndSaved => tracing::warn!(
            cert = %tls.cert.display(),
            key = %tls.key.display(),
            "generated a self-signed TLS certificate for localhost"
        ),
        CertSource::GeneratedInMemory { reason } => tracing::error!(
            %reason,
            "cannot save the generated TLS certificate; TLS uses an in-memory certificate that changes on every start"
        ),
    }
    Ok(config)
}

/// Never called: the settings hold no TLS listener without the `tls` feature.
#[cfg(not(feature = "tls"))]
fn tls_config(_: &TlsListener) -> anyhow::Result<TlsConfig> {
    anyhow::bail!("built without the tls feature: no TLS listener")
}

/// How to allow a port below 1024 on this system.
#[cfg(target_os = "linux")]
const PRIVILEGED_PORT_HINT: &str =
    "run as root or with CAP_NET_BIND_SERVICE (see contrib/systemd/sentrypeer.service)";
#[cfg(target_os = "freebsd")]
const PRIVILEGED_PORT_HINT: &str =
    "run as root or let users bind it (sysctl net.inet.ip.portrange.reservedhigh=0)";
#[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
const PRIVILEGED_PORT_HINT: &str = "run as root or listen on a port above 1023";

/// A bind refused for lack of privilege on a port below 1024, with how to allow it.
fn explain_privileged_port(error: TransportError, address: SocketAddr) -> anyhow::Error {
    let denied = matches!(
        &error,
        TransportError::Bind { source, .. }
            if source.kind() == std::io::ErrorKind::PermissionDenied
    );
    if denied && address.port() < 1024 {
        anyhow::Error::new(error).context(format!(
            "port {} is below 1024: {PRIVILEGED_PORT_HINT}",
            address.port()
        ))
    } else {
        error.into()
    }
}
