//! The node's persistent id (`created_by_node_id`): a UUID kept in a file next to the database,
//! so it survives restarts (the original made a new one on every start).

use std::path::{Path, PathBuf};

use uuid::Uuid;

use super::sidecar::{SidecarError, read_or_create};

/// Errors reading or creating the node id file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeIdError {
    /// The file cannot be read or created.
    #[error("node id: {0}")]
    File(#[from] SidecarError),
    /// The file does not hold a UUID.
    #[error("node id file {path} does not hold a UUID")]
    Invalid {
        /// The file.
        path: PathBuf,
    },
}

/// The node id file that belongs to a database file: `sentrypeer.db` → `sentrypeer.node_id`.
pub fn path_for_database(db_file: &Path) -> PathBuf {
    db_file.with_extension("node_id")
}

/// Reads the node id from `path`, or creates the file (mode 0600) with a new random (v4) UUID.
///
/// # Errors
/// When the file cannot be read, holds something else, or cannot be created.
pub fn load_or_create(path: &Path) -> Result<Uuid, NodeIdError> {
    let new_id = || Ok(format!("{}\n", Uuid::new_v4().hyphenated()).into_bytes());
    let bytes = read_or_create(path, new_id)?;
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(|text| Uuid::try_parse(text.trim()).ok())
        .ok_or_else(|| NodeIdError::Invalid {
            path: path.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_survives_a_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = path_for_database(&dir.path().join("sentrypeer.db"));
        assert_eq!(
            path.file_name().and_then(|n| n.to_str()),
            Some("sentrypeer.node_id")
        );
        let first = load_or_create(&path).expect("created");
        let second = load_or_create(&path).expect("read back");
        assert_eq!(first, second);
    }

    #[test]
    fn garbage_file_is_a_clear_error_and_is_not_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.node_id");
        std::fs::write(&path, "not a uuid").expect("write");
        assert!(matches!(
            load_or_create(&path),
            Err(NodeIdError::Invalid { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "not a uuid");
    }
}
