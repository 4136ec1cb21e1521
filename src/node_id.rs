//! The node's persistent id (`created_by_node_id`): a UUID kept in a file next to the database,
//! so it survives restarts (the original made a new one on every start).

use std::io::Write;
use std::path::{Path, PathBuf};

use uuid::Uuid;

/// Errors reading or creating the node id file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeIdError {
    /// The file exists but cannot be read.
    #[error("cannot read node id file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file does not hold a UUID.
    #[error("node id file {path} does not hold a UUID")]
    Invalid {
        /// The file.
        path: PathBuf,
    },
    /// A new id could not be written.
    #[error("cannot write node id file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
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
    match std::fs::read_to_string(path) {
        Ok(text) => Uuid::try_parse(text.trim()).map_err(|_| NodeIdError::Invalid {
            path: path.to_owned(),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let id = Uuid::new_v4();
            let write_error = |source| NodeIdError::Write {
                path: path.to_owned(),
                source,
            };
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(write_error)?;
            writeln!(file, "{}", id.hyphenated())
                .and_then(|()| file.sync_all())
                .map_err(write_error)?;
            Ok(id)
        }
        Err(source) => Err(NodeIdError::Read {
            path: path.to_owned(),
            source,
        }),
    }
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
