//! The store's one error type, [`StoreError`]: what can go wrong opening, migrating, writing or
//! pruning the SQLite database. Errors about a file always name it.

use std::path::PathBuf;

use rusqlite::ErrorCode;

/// Everything that can fail in [`crate::store`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open database {}: {cause}{}", path.display(), writable_hint(cause))]
    Open {
        /// The file.
        path: PathBuf,
        /// What SQLite said (shown in the message, not chained, so it is said once).
        cause: rusqlite::Error,
    },
    /// The file exists but is not an SQLite database; it was left untouched.
    #[error("{} is not an SQLite database; refusing to use or overwrite it", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file is an SQLite database but damaged (cut short, or SQLite reports corruption); it
    /// was left untouched.
    #[error("database {} is damaged ({reason}); refusing to use or change it: restore a backup or move it away", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file is an SQLite database of another program; it was left untouched.
    #[error("{} is not a SentryPeer database ({reason}); refusing to use or change it", path.display())]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What gives it away.
        reason: String,
    },
    /// Setting the connection's pragmas (WAL, synchronous, busy timeout) failed.
    #[error("cannot configure database {}: {cause}{}", path.display(), writable_hint(cause))]
    Configure {
        /// The file.
        path: PathBuf,
        /// What SQLite said (shown in the message, not chained, so it is said once).
        cause: rusqlite::Error,
    },
    /// A schema migration failed; the database stays at its previous version.
    #[error("cannot migrate database {}: {cause}", path.display())]
    Migrate {
        /// The file.
        path: PathBuf,
        /// What the migration library said (shown in the message, not chained).
        cause: rusqlite_migration::Error,
    },
    /// The schema is older than this program needs (only the writer's connection migrates).
    #[error(
        "database {} has schema version {found}, this program needs {expected}; open it read-write once to migrate it",
        path.display()
    )]
    SchemaTooOld {
        /// The file.
        path: PathBuf,
        /// `PRAGMA user_version` of the file.
        found: u32,
        /// The version this program writes.
        expected: u32,
    },
    /// The schema was written by a newer version of this program.
    #[error(
        "database {} has schema version {found}, newer than the {expected} this program knows",
        path.display()
    )]
    SchemaTooNew {
        /// The file.
        path: PathBuf,
        /// `PRAGMA user_version` of the file.
        found: u32,
        /// The newest version this program knows.
        expected: u32,
    },
    /// The database path is a symbolic link that cannot be followed (unreadable, or a loop).
    #[error("cannot follow database path {}: {source}", path.display())]
    Path {
        /// The path given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An SQL statement on an open connection failed.
    #[error("sqlite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A read did not finish (it panicked, or the runtime is stopping).
    #[error("read task failed: {0}")]
    Task(String),
    /// A read was stopped because whoever asked for it stopped waiting.
    #[error("read abandoned by its caller")]
    Abandoned,
    /// A read ran longer than the read pool allows and was interrupted.
    #[error("read stopped at its time limit")]
    ReadTimeLimit,
    /// Too many reads were waiting; this one was refused.
    #[error("too many reads waiting")]
    Busy,
}

/// A hint for errors that come from a file or directory this user cannot write.
fn writable_hint(error: &rusqlite::Error) -> &'static str {
    match error.sqlite_error_code() {
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => {
            " (the database file and its directory must be writable: SQLite creates -wal and -shm files beside it)"
        }
        _ => "",
    }
}

/// Whether SQLite found the file damaged (`SQLITE_CORRUPT`).
pub(crate) fn is_corrupt(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(ErrorCode::DatabaseCorrupt)
}

/// Whether SQLite refused the file because it is not a database (`SQLITE_NOTADB`).
pub(crate) fn is_not_a_database(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(ErrorCode::NotADatabase)
}
