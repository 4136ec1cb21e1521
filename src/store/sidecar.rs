//! Files kept next to the database (the node id, the P2P key): read when present, otherwise
//! created with mode 0600 (they identify this node) and synced before they are used. A path that
//! is a symbolic link is followed to the file it names ([`resolve_symlinks`]), so a dangling link
//! gets its target created private too, never a file with the umask's mode.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Mode of a file this module creates: owner only.
pub const SIDECAR_MODE: u32 = 0o600;

/// Links followed at most before a path is refused as a loop (Linux's own limit).
const MAX_SYMLINK_HOPS: usize = 40;

/// `path` with every symbolic link in its last component followed: the file a write to `path`
/// would create or change, whether it exists yet or not (a dangling link's target). A relative
/// target is taken from the link's directory.
///
/// # Errors
/// A link that cannot be read, or a chain longer than 40 links (a loop).
pub fn resolve_symlinks(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_owned();
    for _ in 0..MAX_SYMLINK_HOPS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::other(format!(
        "{} is a loop of symbolic links",
        path.display()
    )))
}

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
    let resolved = resolve_symlinks(path).map_err(|source| SidecarError::Read {
        path: path.to_owned(),
        source,
    })?;
    match std::fs::read(&resolved) {
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
                .open(&resolved)
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
        let dangling = dir.path().join("link.node_id");
        std::os::unix::fs::symlink("target.node_id", &dangling).expect("symlink");
        assert_eq!(
            read_or_create(&dangling, || Ok(b"linked".to_vec())).expect("created"),
            b"linked"
        );
        let target = dir.path().join("target.node_id");
        let mode = std::fs::metadata(&target)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            SIDECAR_MODE,
            "the link's target is created private"
        );
        let looped = dir.path().join("loop");
        std::os::unix::fs::symlink("loop", &looped).expect("symlink");
        assert!(read_or_create(&looped, || Ok(Vec::new())).is_err());
        let missing_dir = dir.path().join("no/such/dir/x");
        assert!(matches!(
            read_or_create(&missing_dir, || Ok(Vec::new())),
            Err(SidecarError::Write { .. })
        ));
    }
}
