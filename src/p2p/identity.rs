//! The node's persistent ed25519 identity (its PeerId), kept in a file next to the database.

use std::path::{Path, PathBuf};

use libp2p::identity::Keypair;

use super::P2pError;
use crate::store::sidecar;

/// The key file that belongs to a database file: `sentrypeer.db` → `sentrypeer.p2p_key`.
pub fn key_path_for_database(db_file: &Path) -> PathBuf {
    db_file.with_extension("p2p_key")
}

/// Reads the key at `path`, or creates it (mode 0600) with a new ed25519 key.
///
/// # Errors
/// [`P2pError::Key`] when the file cannot be read, is not a key, or cannot be written.
pub fn load_or_create(path: &Path) -> Result<Keypair, P2pError> {
    let key_error = |reason: String| P2pError::Key {
        path: path.to_owned(),
        reason,
    };
    let new_key = || {
        Keypair::generate_ed25519()
            .to_protobuf_encoding()
            .map_err(std::io::Error::other)
    };
    let bytes =
        sidecar::read_or_create(path, new_key).map_err(|error| key_error(error.to_string()))?;
    Keypair::from_protobuf_encoding(&bytes)
        .map_err(|_| key_error("not a libp2p private key".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_survives_a_restart_and_garbage_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = key_path_for_database(&dir.path().join("sentrypeer.db"));
        let first = load_or_create(&path).expect("created");
        let again = load_or_create(&path).expect("read back");
        assert_eq!(first.public().to_peer_id(), again.public().to_peer_id());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let garbage = dir.path().join("garbage.p2p_key");
        std::fs::write(&garbage, b"nope").expect("write");
        assert!(matches!(
            load_or_create(&garbage),
            Err(P2pError::Key { .. })
        ));
    }
}
