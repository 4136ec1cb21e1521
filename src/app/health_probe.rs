//! `--health-check`: asks a running daemon's `/health-check` over plain HTTP/1.1 and tells whether
//! it answered 200, so a container image with no shell, curl or wget can have a `HEALTHCHECK`
//! (the image holds the binary alone). Blocking std I/O with a time limit; no runtime is started.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use crate::config::Config;

/// How long connecting, sending the request and reading the answer may each take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// How much of the answer is read: the status line fits.
const STATUS_LINE_BYTES: u64 = 64;

/// Why the daemon is not healthy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HealthProbeError {
    /// No connection, or no answer in time.
    #[error("health check: no answer from the API at {address}: {source}")]
    Unreachable {
        /// Address asked.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// An answer other than 200.
    #[error("health check: the API at {address} answered {status_line:?}")]
    NotOk {
        /// Address asked.
        address: SocketAddr,
        /// The status line received (or what came instead).
        status_line: String,
    },
}

/// Asks `GET /health-check` at the API listen address of `config` (whether `config` turns the
/// API on does not matter: the daemon asked is another process, started with its own flags).
///
/// # Errors
/// The API is unreachable or answered something other than 200.
pub fn probe_health(config: &Config) -> Result<(), HealthProbeError> {
    let address = address_to_ask(config.api_listen_address);
    let status_line = status_line_of(address)
        .map_err(|source| HealthProbeError::Unreachable { address, source })?;
    if status_line.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(HealthProbeError::NotOk {
            address,
            status_line,
        })
    }
}

/// The listen address, with an unspecified IP (`0.0.0.0`, `[::]`) replaced by the loopback
/// address of the same family: where a listener on all addresses is reached from the same host.
fn address_to_ask(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// The first line of the answer to `GET /health-check` at `address`.
fn status_line_of(address: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&address, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
    write!(
        stream,
        "GET /health-check HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    stream.take(STATUS_LINE_BYTES).read_to_end(&mut answer)?;
    let first_line = answer.split(|byte| *byte == b'\r' || *byte == b'\n').next();
    Ok(String::from_utf8_lossy(first_line.unwrap_or_default()).into_owned())
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    /// A one-shot server on loopback answering `reply` once it has the whole request head (the
    /// probe's request may come in several segments, and closing with some of it unread would
    /// reset the connection under the probe's read); returns its address and the request.
    fn server(reply: &'static [u8]) -> (SocketAddr, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|end| end == b"\r\n\r\n") {
                let read = stream.read(&mut buffer).expect("read request");
                assert!(read > 0, "the probe closed before its request head ended");
                request.extend_from_slice(&buffer[..read]);
            }
            stream.write_all(reply).expect("reply");
            String::from_utf8_lossy(&request).into_owned()
        });
        (address, handle)
    }

    fn config_for(address: SocketAddr) -> Config {
        Config {
            api_listen_address: address,
            ..Config::default()
        }
    }

    #[test]
    fn a_200_is_healthy_and_the_request_is_a_plain_get() {
        let (address, request) = server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        probe_health(&config_for(address)).expect("healthy");
        let request = request.join().expect("server");
        assert!(
            request.starts_with("GET /health-check HTTP/1.1\r\n"),
            "{request}"
        );
    }

    #[test]
    fn another_status_or_garbage_is_unhealthy_with_what_came() {
        for (reply, shown) in [
            (&b"HTTP/1.1 503 Service Unavailable\r\n\r\n"[..], "503"),
            (&b"SSH-2.0-OpenSSH\r\n"[..], "SSH-2.0"),
            (&b""[..], "\"\""),
        ] {
            let (address, _) = server(reply);
            let error = probe_health(&config_for(address)).expect_err("unhealthy");
            assert!(matches!(error, HealthProbeError::NotOk { .. }), "{error}");
            assert!(error.to_string().contains(shown), "{error}");
        }
    }

    #[test]
    fn nobody_listening_is_unhealthy() {
        let free = TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("address");
        let error = probe_health(&config_for(free)).expect_err("nobody listens");
        assert!(matches!(error, HealthProbeError::Unreachable { .. }));
    }

    #[test]
    fn an_unspecified_listen_address_is_asked_on_loopback() {
        let ask = |listen: &str| address_to_ask(listen.parse().expect("address")).to_string();
        assert_eq!(ask("0.0.0.0:8082"), "127.0.0.1:8082");
        assert_eq!(ask("[::]:8082"), "[::1]:8082");
        assert_eq!(ask("192.0.2.1:8082"), "192.0.2.1:8082");
    }
}
