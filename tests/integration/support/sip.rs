//! Raw SIP on loopback sockets: the probes the tests send, and sending them over UDP and TCP from
//! chosen loopback addresses.

use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};

use super::daemon::WAIT;

/// An OPTIONS probe like T-Pot's smoke test sends.
pub(crate) fn options(to_user: &str, transport: &str, user_agent: &str, call_id: &str) -> String {
    format!(
        "OPTIONS sip:{to_user}@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 127.0.0.1:5099;branch=z9hG4bK-{call_id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"tester\" <sip:tester@127.0.0.1>;tag={call_id}\r\n\
         To: <sip:{to_user}@127.0.0.1>\r\n\
         Call-ID: {call_id}@127.0.0.1\r\n\
         CSeq: 1 OPTIONS\r\n\
         User-Agent: {user_agent}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// An INVITE with SDP from a scanner to `target`, about 900 bytes (a record of it is near 2 KB
/// once escaped inside a gossip batch); `sequence` numbers the called number and the Call-ID.
pub(crate) fn invite_with_sdp(sequence: usize, target: SocketAddr) -> String {
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 8000 RTP/AVP 0 8 18 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
               a=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
    format!(
        "INVITE sip:00972{sequence:07}@{target} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-{sequence};rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"1000\" <sip:1000@{target}>;tag={sequence}\r\n\
         To: <sip:00972{sequence:07}@{target}>\r\n\
         Call-ID: burst-{sequence}@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:1000@127.0.0.1:5070>\r\n\
         User-Agent: \"friendly-scanner\"\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// A UDP socket on loopback with a receive timeout of [`WAIT`].
pub(crate) fn udp_client() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind client");
    socket
        .set_read_timeout(Some(WAIT))
        .expect("set read timeout");
    socket
}

/// Sends a datagram and returns the reply (which must come from where the datagram went).
pub(crate) fn udp_exchange(socket: &UdpSocket, to: SocketAddr, message: &[u8]) -> Vec<u8> {
    socket.send_to(message, to).expect("send datagram");
    let mut buffer = vec![0u8; 65_536];
    let (length, from) = loop {
        match socket.recv_from(&mut buffer) {
            Ok(received) => break received,
            // A signal for the test process (a child exiting) interrupts the wait; wait again.
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => panic!("reply datagram: {error}"),
        }
    };
    assert_eq!(
        from, to,
        "reply comes from the address the probe was sent to"
    );
    buffer.truncate(length);
    buffer
}

/// Sends `message` to `to` from a socket bound to `from` (any loopback address).
pub(crate) fn send_from(from: &str, to: SocketAddr, message: &[u8]) {
    let socket = UdpSocket::bind(format!("{from}:0")).expect("bind a loopback address");
    socket.send_to(message, to).expect("send");
}

/// Probes `count` times over UDP (each answered `200 OK`), numbering the called numbers from
/// `first`.
pub(crate) fn probe_answered(udp: SocketAddr, first: u64, count: u64) {
    let client = udp_client();
    for number in first..first + count {
        let probe = options(&number.to_string(), "UDP", "outage", &format!("o-{number}"));
        let reply = udp_exchange(&client, udp, probe.as_bytes());
        assert!(
            reply.starts_with(b"SIP/2.0 200 OK"),
            "probe {number} answered"
        );
    }
}

/// A TCP connection to `to` from the loopback address `from` (any port).
pub(crate) fn connect_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::new(from, 0).into())
        .expect("bind the source address");
    socket.connect(&to.into()).expect("connect");
    socket.into()
}

/// A request from a caller at 127.0.0.1:5099 to extension 105, `Call-ID` `call`; `to` is the
/// `To` value (default: no tag, as a first request or a blind attacker sends it), `extra` one
/// more header line (or empty), `sdp` adds an offer.
pub(crate) fn sip_request(
    method: &str,
    call: &str,
    cseq: u32,
    to: Option<&str>,
    extra: &str,
    sdp: bool,
) -> String {
    let body = if sdp {
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n"
    } else {
        ""
    };
    let to = to.unwrap_or("<sip:105@127.0.0.1>");
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!("{extra}\r\n")
    };
    let content_type = if sdp {
        "Content-Type: application/sdp\r\n"
    } else {
        ""
    };
    format!(
        "{method} sip:105@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-{call}-{cseq}-{method};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:caller@127.0.0.1>;tag=f-{call}\r\nTo: {to}\r\n\
         Call-ID: {call}\r\nCSeq: {cseq} {method}\r\nContact: <sip:caller@127.0.0.1:5099>\r\n\
         User-Agent: hostile-test\r\n{extra}{content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// [`sip_request`] as a blind attacker sends it: it never learns our `To` tag.
pub(crate) fn blind_request(method: &str, call: &str, cseq: u32, extra: &str, sdp: bool) -> String {
    sip_request(method, call, cseq, None, extra, sdp)
}

/// The value of the first header `name` in a SIP message.
pub(crate) fn header_value(message: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}: ");
    message
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .map(str::to_owned)
}

/// Sends one datagram.
pub(crate) fn send_bytes(socket: &UdpSocket, to: SocketAddr, bytes: &[u8]) {
    socket.send_to(bytes, to).expect("send datagram");
}

/// Receives one datagram within [`WAIT`], as text.
fn receive_text(socket: &UdpSocket) -> String {
    let mut buffer = vec![0u8; 65_536];
    loop {
        match socket.recv_from(&mut buffer) {
            Ok((length, _)) => return String::from_utf8_lossy(&buffer[..length]).into_owned(),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => panic!("datagram: {error}"),
        }
    }
}

/// A call from a caller that shows it receives our replies (it answers our challenge with our
/// nonce and ACKs with our `To` tag), played to its end: our `BYE` (for `canned`, which keeps no
/// calls, one answered OPTIONS). What it waits for comes after every reply the responder owes
/// anyone for earlier requests, so tests use it as their "everything has been sent" signal.
pub(crate) fn proven_call(udp: SocketAddr, personality: &str) {
    let socket = udp_client();
    if personality == "canned" {
        let padding = format!("X-Padding: {}", "p".repeat(800));
        let options = sip_request("OPTIONS", "proven", 1, None, &padding, false);
        let reply = udp_exchange(&socket, udp, options.as_bytes());
        assert!(
            reply.starts_with(b"SIP/2.0 200 OK"),
            "canned answers a big OPTIONS"
        );
        return;
    }
    let mut cseq = 1;
    send_bytes(
        &socket,
        udp,
        sip_request("INVITE", "proven", cseq, None, "", true).as_bytes(),
    );
    loop {
        let reply = receive_text(&socket);
        let to = header_value(&reply, "To").or_else(|| header_value(&reply, "t"));
        if reply.starts_with("SIP/2.0 407") {
            let challenge = header_value(&reply, "Proxy-Authenticate").unwrap_or_default();
            let nonce = challenge
                .split("nonce=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_default()
                .to_owned();
            let ack = sip_request("ACK", "proven", cseq, to.as_deref(), "", false);
            send_bytes(&socket, udp, ack.as_bytes());
            cseq += 1;
            let credentials = format!(
                "Proxy-Authorization: Digest username=\"105\",realm=\"asterisk\",\
                 nonce=\"{nonce}\",uri=\"sip:105@127.0.0.1\",\
                 response=\"00000000000000000000000000000000\",algorithm=MD5"
            );
            let invite = sip_request("INVITE", "proven", cseq, None, &credentials, true);
            send_bytes(&socket, udp, invite.as_bytes());
        } else if reply.starts_with("SIP/2.0 200 OK") {
            let ack = sip_request("ACK", "proven", cseq, to.as_deref(), "", false);
            send_bytes(&socket, udp, ack.as_bytes());
        } else if reply.starts_with("BYE ") {
            return;
        }
    }
}

/// The `Call-ID` of a SIP message, in its long or compact (`i`) form.
pub(crate) fn call_id_of(message: &str) -> Option<String> {
    header_value(message, "Call-ID").or_else(|| header_value(message, "i"))
}
