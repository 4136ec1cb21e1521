//! A daemon that has exited: its status, its log and its files.

use std::path::PathBuf;
use std::process::ExitStatus;

use super::stored_total;

/// A daemon that has exited, with its files.
pub(crate) struct Stopped {
    /// Exit status.
    pub(crate) status: ExitStatus,
    /// Everything it printed.
    pub(crate) log: Vec<String>,
    dir: tempfile::TempDir,
}

impl Stopped {
    pub(super) fn new(status: ExitStatus, log: Vec<String>, dir: tempfile::TempDir) -> Self {
        Self { status, log, dir }
    }

    /// A path in its directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The last `stored_total=N` the store writer logged (every event up to it is committed).
    pub(crate) fn stored_total_logged(&self) -> u64 {
        stored_total(&self.log)
    }

    /// Opens its database.
    pub(crate) fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path("sentrypeer.db")).expect("open database")
    }

    /// Runs a query on its database and collects every row.
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Vec<T> {
        let db = self.db();
        let mut statement = db.prepare(sql).expect("prepare");
        statement
            .query_map([], row)
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    /// The JSON log, one value per line.
    pub(crate) fn json_log(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.path("sentrypeer_json.log")).expect("JSON log");
        text.lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect()
    }

    /// The one `sentrypeer: ...` line a failed start prints (asserts there is exactly one).
    pub(crate) fn the_error_line(&self) -> &str {
        let errors: Vec<&String> = self
            .log
            .iter()
            .filter(|line| line.starts_with("sentrypeer: "))
            .collect();
        assert_eq!(errors.len(), 1, "one clear error line: {:?}", self.log);
        errors[0]
    }

    /// Asserts a clean exit.
    pub(crate) fn assert_clean_exit(&self) {
        assert!(
            self.status.success(),
            "daemon exited with {:?}; log:\n{}",
            self.status,
            self.log.join("\n")
        );
    }
}
