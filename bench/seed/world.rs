//! `SEED_SOURCES=world` for `seed`: events as a honeypot on the Internet sees them, for the
//! dashboard's screenshot and its benchmark with countries. Source IPs are public IPv4 addresses
//! the built-in country table (`sentrypeer::countries`) places in a country, picked
//! deterministically over the whole address space (so countries weigh roughly as their
//! allocations do); a few IPs send most events (the heavy scanners) and the rest a handful each.
//! Time is uneven as on a real honeypot: a daily cycle (busiest hours about four times the
//! quietest) and the heaviest senders in campaigns of a few hours each. Each IP uses one tool (a `User-Agent` and its mix of `OPTIONS` scans, `REGISTER`s with and
//! without credentials and `INVITE`s); called numbers carry international dialling prefixes;
//! the destinations are the honeypot's own documentation addresses. Every message goes through
//! the daemon's own parser and classifier (`BadActor::from_probe`). The data is synthetic: an
//! address here is no claim that its holder attacked anyone.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use jiff::Timestamp;
use sentrypeer::countries::Countries;
use sentrypeer::event::{BadActor, Capture, CollectedMethod, Transport};
use uuid::Uuid;

/// A scanning tool: its `User-Agent`, its share of the IPs (relative weight) and the percentage
/// of its messages that are `OPTIONS`, `REGISTER` without credentials, `REGISTER` with them;
/// the rest are `INVITE`s.
struct Tool {
    user_agent: &'static str,
    weight: u64,
    options: u64,
    register: u64,
    register_with_credentials: u64,
}

/// The tools seen most often on SIP honeypots (their user agents as they send them).
const TOOLS: [Tool; 7] = [
    tool("friendly-scanner", 30, 60, 30, 10),
    tool("sipvicious", 15, 40, 40, 20),
    tool("sipcli/v1.8", 15, 0, 0, 0),
    tool("VaxSIPUserAgent/3.1", 12, 0, 20, 80),
    tool("PortSIP VoIP SDK 11.2.1", 10, 10, 0, 10),
    tool("pplsip", 10, 20, 30, 50),
    tool("Cisco-SIPGateway/IOS-12.x", 8, 100, 0, 0),
];

const fn tool(
    user_agent: &'static str,
    weight: u64,
    options: u64,
    register: u64,
    register_with_credentials: u64,
) -> Tool {
    Tool {
        user_agent,
        weight,
        options,
        register,
        register_with_credentials,
    }
}

/// International prefixes and country calling codes of the numbers called (toll fraud aims at
/// premium and far destinations).
const PREFIXES: [&str; 4] = ["00", "011", "9011", "900"];
const CALLING_CODES: [&str; 9] = ["44", "972", "970", "234", "880", "252", "53", "882", "1"];

/// Usernames tried with credentials.
const USERNAMES: [&str; 6] = ["100", "1000", "101", "admin", "200", "1234"];

/// The honeypot's own addresses (documentation ranges) and ports the probes are sent to.
const DESTINATIONS: [&str; 3] = ["192.0.2.10:5060", "192.0.2.10:5080", "[2001:db8::10]:5060"];

/// The source IPs of a world-mix seed.
pub(crate) struct World {
    ips: Vec<Ipv4Addr>,
}

impl World {
    /// `count` distinct public IPv4 addresses with a country, the same ones on every run.
    pub(crate) fn new(count: u64) -> Self {
        let countries = Countries::BuiltIn;
        let mut ips = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut state = 0x5EED_u64;
        while (ips.len() as u64) < count {
            state = splitmix(state);
            let ip = Ipv4Addr::from((state >> 32) as u32);
            let public = !(ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_multicast()
                || ip.is_broadcast()
                || ip.is_documentation()
                || ip.is_unspecified()
                || ip.octets()[0] >= 240
                || ip.octets()[0] == 0);
            if public && countries.code(IpAddr::V4(ip)).is_some() && seen.insert(ip) {
                ips.push(ip);
            }
        }
        Self { ips }
    }

    /// The event number `index`, from a random draw: the IP (skewed: the first IPs send most),
    /// its tool's message to a number of `numbers` (skewed the same way), at `at` (the even
    /// spread's time, no later than `now`) moved by the daily cycle or into its IP's campaign.
    pub(crate) fn event(
        &self,
        node: Uuid,
        at: Timestamp,
        now: Timestamp,
        random: u64,
        index: u64,
        numbers: u64,
    ) -> BadActor {
        let ip_index = skewed(random, self.ips.len() as u64);
        let ip = self.ips[ip_index as usize];
        let tool = tool_of(ip_index);
        // The first NUMBERS events call each number once, so every number exists.
        let number_index = if index < numbers {
            index
        } else {
            skewed(splitmix(random), numbers)
        };
        let number = number(number_index);
        let draw = splitmix(random ^ 0xA5A5) % 100;
        let destination = match splitmix(random ^ 0x5A5A) % 10 {
            0..=6 => DESTINATIONS[0],
            7 | 8 => DESTINATIONS[1],
            _ => DESTINATIONS[2],
        };
        let destination = (destination.parse::<SocketAddr>())
            .unwrap_or_else(|_| SocketAddr::from(([192, 0, 2, 10], 5060)));
        let message = message(tool, draw, ip, &number, destination, index);
        let capture = Capture {
            node_id: node,
            collected_method: CollectedMethod::Responsive,
            transport: Transport::Udp,
            source: SocketAddr::new(IpAddr::V4(ip), 5060 + (ip_index % 7) as u16),
            destination,
        };
        let mut event = BadActor::from_probe(&sentrypeer::sip::parse(message.as_bytes()), &capture);
        event.event_timestamp = when(at, now, ip_index, random);
        event
    }
}

/// Senders with campaigns of their own (the heaviest ones), and a campaign's length in seconds.
const CAMPAIGNERS: u64 = 20;
const CAMPAIGN_SECONDS: i64 = 4 * 3600;
/// The daily cycle moves an event from `t` to `t - C (1 - sin(ωt))`: earlier, never later, by up
/// to `2C` (4.6 h), and with `Cω = 0.6` the density swings between 1/1.6 and 1/0.4 of the mean.
const CYCLE_SECONDS: f64 = 0.6 * 86_400.0 / std::f64::consts::TAU;

/// When event `at` of IP `ip_index` happens: inside its campaign for the heaviest senders, else
/// moved along the daily cycle; never after `now` (nor after `at`, for the others).
fn when(at: Timestamp, now: Timestamp, ip_index: u64, random: u64) -> Timestamp {
    let second = if ip_index < CAMPAIGNERS {
        let span = 6 * 86_400 - CAMPAIGN_SECONDS;
        let start = now.as_second() - CAMPAIGN_SECONDS - (splitmix(ip_index) % span as u64) as i64;
        start + (splitmix(random ^ 0xCA) % CAMPAIGN_SECONDS as u64) as i64
    } else {
        let t = at.as_second();
        let phase = (t % 86_400) as f64 / 86_400.0 * std::f64::consts::TAU;
        t - (CYCLE_SECONDS * (1.0 - phase.sin())) as i64
    };
    Timestamp::from_second(second.min(now.as_second()))
        .map(|moved| moved + jiff::SignedDuration::from_nanos(i64::from(at.subsec_nanosecond())))
        .unwrap_or(at)
        .min(now)
}

/// The SIP message `tool` sends for `draw` (0–99).
fn message(
    tool: &Tool,
    draw: u64,
    ip: Ipv4Addr,
    number: &str,
    destination: SocketAddr,
    index: u64,
) -> String {
    let host = destination.ip();
    let host = if host.is_ipv6() {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let user_agent = tool.user_agent;
    let via = format!("Via: SIP/2.0/UDP {ip}:5060;branch=z9hG4bK-{index}\r\n");
    let common =
        format!("Call-ID: {index}@{ip}\r\nMax-Forwards: 70\r\nUser-Agent: {user_agent}\r\n");
    let extension = USERNAMES[(index % USERNAMES.len() as u64) as usize];
    if draw < tool.options {
        format!(
            "OPTIONS sip:{number}@{host} SIP/2.0\r\n{via}From: <sip:{extension}@{ip}>;tag=1\r\n\
             To: <sip:{number}@{host}>\r\n{common}CSeq: 1 OPTIONS\r\nAccept: application/sdp\r\n\
             Content-Length: 0\r\n\r\n"
        )
    } else if draw < tool.options + tool.register + tool.register_with_credentials {
        let credentials = if draw >= tool.options + tool.register {
            format!(
                "Authorization: Digest username=\"{extension}\", realm=\"{host}\", \
                 nonce=\"{index:x}\", uri=\"sip:{host}\", response=\"{:032x}\"\r\n",
                splitmix(index)
            )
        } else {
            String::new()
        };
        format!(
            "REGISTER sip:{host} SIP/2.0\r\n{via}From: <sip:{extension}@{host}>;tag=1\r\n\
             To: <sip:{extension}@{host}>\r\n{common}CSeq: 1 REGISTER\r\n{credentials}\
             Contact: <sip:{extension}@{ip}:5060>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
        )
    } else {
        format!(
            "INVITE sip:{number}@{host} SIP/2.0\r\n{via}From: <sip:{extension}@{ip}>;tag=1\r\n\
             To: <sip:{number}@{host}>\r\n{common}CSeq: 1 INVITE\r\n\
             Contact: <sip:{extension}@{ip}:5060>\r\nContent-Length: 0\r\n\r\n"
        )
    }
}

/// The tool IP number `ip_index` uses, by the tools' weights.
fn tool_of(ip_index: u64) -> &'static Tool {
    let total: u64 = TOOLS.iter().map(|tool| tool.weight).sum();
    let mut pick = splitmix(ip_index ^ 0x7001) % total;
    for tool in &TOOLS {
        if pick < tool.weight {
            return tool;
        }
        pick -= tool.weight;
    }
    &TOOLS[0]
}

/// Called number `index`: an international prefix, a calling code and ten digits.
fn number(index: u64) -> String {
    let prefix = PREFIXES[(index % PREFIXES.len() as u64) as usize];
    let code = CALLING_CODES[(index / 4 % CALLING_CODES.len() as u64) as usize];
    format!("{prefix}{code}{:010}", splitmix(index) % 10_000_000_000)
}

/// An index below `count` from `random`, the low ones far likelier (the cube of a uniform draw).
fn skewed(random: u64, count: u64) -> u64 {
    let uniform = (splitmix(random) >> 11) as f64 / (1u64 << 53) as f64;
    ((uniform.powi(3) * count as f64) as u64).min(count.saturating_sub(1))
}

/// SplitMix64: a well-mixed deterministic hash of `x`.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
