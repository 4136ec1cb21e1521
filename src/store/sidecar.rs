//! Files kept next to the database (the node id, the P2P key): read when present, otherwise
//! created with mode 0600 (they identify this node) and synced before they are used.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Mode of a file this module creates: owner only.
pub const SIDECAR_MODE: u32 = 0o600;

/// Errors reading or creating a file next to the database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SidecarError {
    /// The file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is missing and could not be created.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The contents of `path`; when there is no such file, `contents()` written to a new file
/// (mode [`SIDECAR_MODE`], never over an existing one) and returned.
///
/// # Errors
/// [`SidecarError::Read`] when the file exists but cannot be read; [`SidecarError::Write`] when
/// it is missing and its contents cannot be made, or it cannot be created, written or synced.
pub fn read_or_create(
    path: &Path,
    contents: impl FnOnce() -> std::io::Result<Vec<u8>>,
) -> Result<Vec<u8>, SidecarError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            use std::os::unix::fs::OpenOptionsExt;
            let write_error = |source| SidecarError::Write {
                path: path.to_owned(),
                source,
            };
            let bytes = contents().map_err(write_error)?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(SIDECAR_MODE)
                .open(path)
                .map_err(write_error)?;
            file.write_all(&bytes)
                .and_then(|()| file.sync_all())
                .map_err(write_error)?;
            Ok(bytes)
        }
        Err(source) => Err(SidecarError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_missing_file_is_created_private_and_an_existing_one_is_read_not_rewritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.node_id");
        assert_eq!(
            read_or_create(&path, || Ok(b"first".to_vec())).expect("created"),
            b"first"
        );
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, SIDECAR_MODE);
        assert_eq!(
            read_or_create(&path, || Ok(b"second".to_vec())).expect("read"),
            b"first"
        );
        let missing_dir = dir.path().join("no/such/dir/x");
        assert!(matches!(
            read_or_create(&missing_dir, || Ok(Vec::new())),
            Err(SidecarError::Write { .. })
        ));
    }
}
