//! The SDP of our `183`/`200`: one audio stream at our address with a codec the caller offered
//! (PCMU, else PCMA) and telephone-event when offered; an offer of our own when the INVITE had none.

use std::net::IpAddr;

use crate::sip::respond::Body;

/// First RTP port we claim; ports are even, in `10000..20000` (Asterisk's default range).
const RTP_PORT_BASE: u64 = 10_000;
/// Number of even ports in the range.
const RTP_PORT_SLOTS: u64 = 5_000;
/// Payload type we use for telephone-event when the caller offered none.
const OUR_TELEPHONE_EVENT: u8 = 101;

/// The answer to `offer` (the INVITE body). `seed` picks the RTP port and session id.
pub(super) fn answer(offer: &[u8], local: IpAddr, session_name: &str, seed: u64) -> Body {
    let offered = offered_audio(offer);
    let (codec, codec_name) = if offered.formats.contains(&8) && !offered.formats.contains(&0) {
        (8, "PCMA")
    } else {
        (0, "PCMU")
    };
    let telephone_event = if offered.formats.is_empty() {
        Some(OUR_TELEPHONE_EVENT)
    } else {
        offered.telephone_event
    };
    let port = RTP_PORT_BASE + 2 * (seed % RTP_PORT_SLOTS);
    let session = 1_000_000 + (seed >> 20) % 1_000_000_000;
    let family = if local.is_ipv4() { "IP4" } else { "IP6" };
    let mut formats = codec.to_string();
    if let Some(event) = telephone_event {
        formats.push_str(&format!(" {event}"));
    }
    let head = format!(
        "v=0\r\no=- {session} {session} IN {family} {local}\r\ns={session_name}\r\n\
         c=IN {family} {local}\r\nt=0 0\r\n"
    );
    let mut full =
        format!("{head}m=audio {port} RTP/AVP {formats}\r\na=rtpmap:{codec} {codec_name}/8000\r\n");
    if let Some(event) = telephone_event {
        full.push_str(&format!(
            "a=rtpmap:{event} telephone-event/8000\r\na=fmtp:{event} 0-16\r\n"
        ));
    }
    full.push_str("a=ptime:20\r\na=maxptime:150\r\na=sendrecv\r\n");
    let short = format!("{head}m=audio {port} RTP/AVP {codec}\r\n");
    Body {
        content_type: "application/sdp",
        full: full.into_bytes(),
        short: short.into_bytes(),
    }
}

/// What the caller's SDP offers for audio.
#[derive(Debug, Default, PartialEq, Eq)]
struct OfferedAudio {
    /// Payload types of the first `m=audio` line (at most 32).
    formats: Vec<u8>,
    /// The payload type mapped to `telephone-event/8000`, when offered.
    telephone_event: Option<u8>,
}

fn offered_audio(offer: &[u8]) -> OfferedAudio {
    let text = String::from_utf8_lossy(offer);
    let lines = text.lines().map(str::trim);
    let mut audio = OfferedAudio::default();
    for line in lines {
        if let Some(media) = line.strip_prefix("m=audio ")
            && audio.formats.is_empty()
        {
            audio.formats = media
                .split_whitespace()
                .skip(2)
                .filter_map(|format| format.parse().ok())
                .take(32)
                .collect();
        } else if let Some(map) = line.strip_prefix("a=rtpmap:")
            && let Some((payload, encoding)) = map.split_once(' ')
            && encoding
                .to_ascii_lowercase()
                .starts_with("telephone-event/8000")
        {
            audio.telephone_event = audio.telephone_event.or(payload.trim().parse().ok());
        }
    }
    if let Some(event) = audio.telephone_event
        && !audio.formats.contains(&event)
    {
        audio.telephone_event = None;
    }
    audio
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sipp_offer_gets_pcmu_without_telephone_event() {
        let offer = b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.1.1\r\ns=-\r\nc=IN IP4 127.0.1.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
        let body = answer(offer, "127.0.0.1".parse().expect("ip"), "Asterisk", 7);
        let full = String::from_utf8(body.full).expect("UTF-8");
        assert!(full.contains("\r\nm=audio 10014 RTP/AVP 0\r\n"), "{full}");
        assert!(full.contains("\r\nc=IN IP4 127.0.0.1\r\n") && full.contains("\r\ns=Asterisk\r\n"));
        assert!(!full.contains("telephone-event"));
        assert!(full.ends_with("a=sendrecv\r\n"));
        let short = String::from_utf8(body.short).expect("UTF-8");
        assert!(short.len() < full.len() && short.ends_with("RTP/AVP 0\r\n"));
    }

    #[test]
    fn pcma_and_dynamic_telephone_event_are_answered_in_kind() {
        let offer = b"v=0\nm=audio 4000 RTP/AVP 8 96\na=rtpmap:96 telephone-event/8000\n";
        let body = answer(offer, "2001:db8::5".parse().expect("ip"), "FreeSWITCH", 0);
        let full = String::from_utf8(body.full).expect("UTF-8");
        assert!(
            full.contains("m=audio 10000 RTP/AVP 8 96\r\na=rtpmap:8 PCMA/8000\r\n"),
            "{full}"
        );
        assert!(full.contains("a=fmtp:96 0-16") && full.contains("c=IN IP6 2001:db8::5"));
    }

    #[test]
    fn no_offer_gets_our_offer_and_garbage_never_panics() {
        let body = answer(b"", "192.0.2.1".parse().expect("ip"), "Asterisk", 1);
        let full = String::from_utf8(body.full).expect("UTF-8");
        assert!(full.contains("RTP/AVP 0 101\r\n"), "{full}");
        let odd = answer(
            b"m=audio x y 999 -1 0\na=rtpmap:\xff",
            "192.0.2.1".parse().expect("ip"),
            "s",
            1,
        );
        assert!(
            String::from_utf8(odd.full)
                .expect("UTF-8")
                .contains("RTP/AVP 0\r\n")
        );
    }
}
