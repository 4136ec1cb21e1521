//! Zero-configuration discovery of our P2P nodes through OpenDHT (`-p` with `--opendht-proxy`):
//! each node puts its libp2p addresses, signed with its P2P key, under the key
//! `sentrypeer-libp2p-<network>`, again before OpenDHT's 10 minutes expire them, and reads the
//! others' entries, handing each valid one (signed by the PeerId it names, not ours, of our
//! network, not expired, capped) to the P2P node to dial. The entry is a signed record like a
//! P2P record: `{"body": "<JSON text>", "signature": "<hex>"}`, the body
//! `{"v": 1, "network", "peer_id", "addrs": [multiaddr...], "expires": unix seconds}`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::Timestamp;
use libp2p::identity::{Keypair, PublicKey};
use libp2p::{Multiaddr, PeerId};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::proxy::Proxy;
use super::stats::BridgeStats;

/// Version of the entry.
pub const VERSION: u8 = 1;
/// Largest entry accepted.
pub const MAX_ENTRY_BYTES: usize = 4096;
/// Most addresses one entry may carry.
pub const MAX_ADDRESSES: usize = 8;
/// Most peers handed to the node from one read.
pub const MAX_PEERS_PER_READ: usize = 16;
/// How long an entry says it holds: OpenDHT keeps a value 10 minutes.
pub const ENTRY_LIFETIME: Duration = Duration::from_secs(600);
/// How often our entry is put again (well before it expires).
pub const REFRESH: Duration = Duration::from_secs(240);
/// How often the others' entries are read: often while the node is young, then rarely.
pub const READ_EARLY: Duration = Duration::from_secs(2);
/// See [`READ_EARLY`].
pub const READ_LATER: Duration = Duration::from_secs(60);
/// How long the node reads at [`READ_EARLY`].
pub const EARLY_PERIOD: Duration = Duration::from_secs(60);

/// The DHT key of `network`'s entries.
pub fn key(network: &str) -> String {
    format!("sentrypeer-libp2p-{network}")
}

/// What discovery needs: our key, our network, the addresses the node announces (watched), and
/// where to send the peers found.
#[derive(Debug)]
pub struct DiscoveryLink {
    /// The node's key (signs our entry; its PeerId is ours).
    pub key: Keypair,
    /// `--p2p-network`.
    pub network: String,
    /// The addresses the node announces (empty until it listens).
    pub addresses: watch::Receiver<Vec<Multiaddr>>,
    /// Peers to dial.
    pub dial: mpsc::Sender<(PeerId, Vec<Multiaddr>)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Signed {
    body: String,
    signature: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Body {
    v: u8,
    network: String,
    peer_id: String,
    addrs: Vec<String>,
    expires: i64,
}

/// Why an entry was not used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryRefusal {
    /// Ours.
    Own,
    /// Too large, not the shape, another version or network, bad address.
    Malformed,
    /// The signature is not the named PeerId's.
    BadSignature,
    /// Expired, or claiming to hold too long.
    Expired,
}

/// Our signed entry for `addresses`, holding until `now` + [`ENTRY_LIFETIME`].
pub fn sign(key: &Keypair, network: &str, addresses: &[Multiaddr], now: Timestamp) -> Vec<u8> {
    let body = Body {
        v: VERSION,
        network: network.to_owned(),
        peer_id: key.public().to_peer_id().to_base58(),
        addrs: addresses
            .iter()
            .take(MAX_ADDRESSES)
            .map(ToString::to_string)
            .collect(),
        expires: now.as_second() + ENTRY_LIFETIME.as_secs() as i64,
    };
    let body = serde_json::to_string(&body).unwrap_or_default();
    let signature = key.sign(body.as_bytes()).unwrap_or_default();
    serde_json::to_vec(&Signed {
        body,
        signature: hex::encode(signature),
    })
    .unwrap_or_default()
}

/// Checks an entry read from the DHT.
///
/// # Errors
/// Why it is not used.
pub fn verify(
    entry: &[u8],
    network: &str,
    ours: &PeerId,
    now: Timestamp,
) -> Result<(PeerId, Vec<Multiaddr>), EntryRefusal> {
    if entry.len() > MAX_ENTRY_BYTES {
        return Err(EntryRefusal::Malformed);
    }
    let signed: Signed = serde_json::from_slice(entry).map_err(|_| EntryRefusal::Malformed)?;
    let body: Body = serde_json::from_str(&signed.body).map_err(|_| EntryRefusal::Malformed)?;
    if body.v != VERSION || body.network != network || body.addrs.len() > MAX_ADDRESSES {
        return Err(EntryRefusal::Malformed);
    }
    let peer: PeerId = body.peer_id.parse().map_err(|_| EntryRefusal::Malformed)?;
    if peer == *ours {
        return Err(EntryRefusal::Own);
    }
    let key = public_key_of(&peer).ok_or(EntryRefusal::BadSignature)?;
    let signature = hex::decode(&signed.signature).map_err(|_| EntryRefusal::BadSignature)?;
    if !key.verify(signed.body.as_bytes(), &signature) {
        return Err(EntryRefusal::BadSignature);
    }
    let latest = now.as_second() + 2 * ENTRY_LIFETIME.as_secs() as i64;
    if body.expires <= now.as_second() || body.expires > latest {
        return Err(EntryRefusal::Expired);
    }
    let addresses = body
        .addrs
        .iter()
        .map(|text| text.parse::<Multiaddr>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| EntryRefusal::Malformed)?;
    Ok((peer, addresses))
}

/// The ed25519 key a PeerId carries (identity multihash), if it is one.
fn public_key_of(peer: &PeerId) -> Option<PublicKey> {
    let multihash = peer.as_ref();
    (multihash.code() == 0)
        .then(|| PublicKey::try_decode_protobuf(multihash.digest()).ok())
        .flatten()
        .filter(|key| key.to_peer_id() == *peer)
}

/// Publishes and reads entries until `stop`.
pub async fn run(
    proxy: Proxy,
    mut link: DiscoveryLink,
    stats: Arc<BridgeStats>,
    stop: CancellationToken,
) {
    let key = key(&link.network);
    let ours = link.key.public().to_peer_id();
    let started = tokio::time::Instant::now();
    let mut next_put = tokio::time::Instant::now();
    let mut next_read = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            changed = link.addresses.changed() => {
                if changed.is_err() {
                    return;
                }
                next_put = tokio::time::Instant::now();
            }
            () = tokio::time::sleep_until(next_put) => {
                let addresses = link.addresses.borrow().clone();
                next_put += REFRESH;
                if addresses.is_empty() {
                    continue;
                }
                let entry = sign(&link.key, &link.network, &addresses, Timestamp::now());
                // A lone proxy node answers 502 yet keeps the value: counted once put.
                match proxy.put(&key, &entry).await {
                    Ok(()) | Err(super::BridgeError::Status(502)) => {
                        stats.discovery_published.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => {
                        tracing::debug!(%error, "discovery entry not put");
                        next_put = tokio::time::Instant::now() + READ_EARLY;
                    }
                }
            }
            () = tokio::time::sleep_until(next_read) => {
                let young = started.elapsed() < EARLY_PERIOD;
                next_read = tokio::time::Instant::now() + if young { READ_EARLY } else { READ_LATER };
                read(&proxy, &key, &link, &ours, &stats).await;
            }
        }
    }
}

/// Reads the entries once and hands the valid ones to the node.
async fn read(proxy: &Proxy, key: &str, link: &DiscoveryLink, ours: &PeerId, stats: &BridgeStats) {
    let Ok(values) = proxy.get(key).await else {
        return;
    };
    let now = Timestamp::now();
    let mut handed = 0;
    for value in values.iter().filter(|value| !value.expired) {
        let verified = value
            .bytes()
            .ok_or(EntryRefusal::Malformed)
            .and_then(|entry| verify(&entry, &link.network, ours, now));
        match verified {
            Ok(found) if handed < MAX_PEERS_PER_READ => {
                handed += 1;
                stats.discovery_found.fetch_add(1, Ordering::Relaxed);
                let _ = link.dial.try_send(found);
            }
            Ok(_) | Err(EntryRefusal::Own) => {}
            Err(refusal) => {
                tracing::debug!(?refusal, "discovery entry refused");
                stats.discovery_refused.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_verified_by_the_peer_they_name() {
        let theirs = Keypair::generate_ed25519();
        let ours = Keypair::generate_ed25519().public().to_peer_id();
        let now = Timestamp::now();
        let addresses: Vec<Multiaddr> = vec!["/ip4/127.0.0.1/tcp/4222".parse().expect("addr")];
        let entry = sign(&theirs, "sentrypeer", &addresses, now);
        let (peer, found) = verify(&entry, "sentrypeer", &ours, now).expect("valid");
        assert_eq!(peer, theirs.public().to_peer_id());
        assert_eq!(found, addresses);
        assert_eq!(
            verify(&entry, "sentrypeer", &peer, now),
            Err(EntryRefusal::Own)
        );
        assert_eq!(
            verify(&entry, "other", &ours, now),
            Err(EntryRefusal::Malformed)
        );
        let later = now + ENTRY_LIFETIME + Duration::from_secs(1);
        assert_eq!(
            verify(&entry, "sentrypeer", &ours, later),
            Err(EntryRefusal::Expired)
        );
        // Another key's signature over the same body.
        let mut signed: Signed = serde_json::from_slice(&entry).expect("json");
        let forger = Keypair::generate_ed25519();
        signed.signature = hex::encode(forger.sign(signed.body.as_bytes()).expect("sign"));
        let forged = serde_json::to_vec(&signed).expect("json");
        assert_eq!(
            verify(&forged, "sentrypeer", &ours, now),
            Err(EntryRefusal::BadSignature)
        );
        assert_eq!(
            verify(&[b' '; MAX_ENTRY_BYTES + 1], "sentrypeer", &ours, now),
            Err(EntryRefusal::Malformed)
        );
    }
}
