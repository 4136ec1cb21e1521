//! Checks made before anything is written to an existing database file: is it whole (not cut
//! short), and is it ours (empty, the original SentryPeer's, or this program's) rather than
//! another program's? A file that fails is refused and left byte for byte as it was.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// The columns of the original `honey` table, in order; every later schema starts with them.
const ORIGINAL_HONEY_COLUMNS: [&str; 12] = [
    "honey_id",
    "event_timestamp",
    "event_uuid",
    "collected_method",
    "source_ip",
    "called_number",
    "transport_type",
    "method",
    "user_agent",
    "sip_message",
    "created_by_node_id",
    "created_at",
];

/// Tables this program's migrations create.
const OUR_TABLES: [&str; 7] = [
    "honey",
    "ip_addresses",
    "called_numbers",
    "event_counts_minute",
    "event_counts_hour",
    "key_counts_minute",
    "key_counts_hour",
];

/// Length of the SQLite file header.
const HEADER_BYTES: usize = 100;

/// Refuses a database file shorter than its header says it is (a truncated copy, a partial
/// download, a disk that filled during a copy). A file with a WAL beside it is left to SQLite,
/// whose recovery may legitimately complete it. Missing, empty or unreadable files pass (SQLite
/// creates or reports them).
///
/// # Errors
/// [`StoreError::Corrupt`].
pub(super) fn check_not_truncated(path: &Path) -> Result<(), StoreError> {
    let Ok(mut file) = File::open(path) else {
        return Ok(());
    };
    let Ok(metadata) = file.metadata() else {
        return Ok(());
    };
    let size = metadata.len();
    if size == 0 {
        return Ok(());
    }
    let corrupt = |reason: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let mut header = [0u8; HEADER_BYTES];
    if file.read_exact(&mut header).is_err() {
        return Err(corrupt(format!(
            "{size} bytes, shorter than an SQLite header"
        )));
    }
    if wal_path(path).metadata().is_ok_and(|wal| wal.len() > 0) {
        return Ok(());
    }
    let expected = expected_size(&header);
    match expected {
        Some(expected) if size < expected => Err(corrupt(format!(
            "{size} bytes, but its header says {expected}: the file was cut short"
        ))),
        _ => Ok(()),
    }
}

/// The file size the header announces (page size × page count), when the header's page count is
/// valid (its "version-valid-for" equals its change counter, as every SQLite since 3.7.0 writes).
fn expected_size(header: &[u8; HEADER_BYTES]) -> Option<u64> {
    let be32 = |at: usize| -> Option<u32> {
        let bytes: [u8; 4] = header.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_be_bytes(bytes))
    };
    let raw_page_size = u16::from_be_bytes([header[16], header[17]]);
    // 1 encodes 65536.
    let page_size = if raw_page_size == 1 {
        65_536
    } else {
        u64::from(raw_page_size)
    };
    let change_counter = be32(24)?;
    let page_count = be32(28)?;
    let valid_for = be32(92)?;
    // Anything else is not a valid header; SQLite itself then reports "not a database".
    let valid_page_size = page_size.is_power_of_two() && (512..=65_536).contains(&page_size);
    (valid_for == change_counter && page_count > 0 && valid_page_size)
        .then(|| page_size * u64::from(page_count))
}

fn wal_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

/// Refuses an SQLite database that belongs to another program: one with tables this program
/// never creates, or whose `honey` table does not have the original's columns. Only reads.
///
/// # Errors
/// [`StoreError::Foreign`], or [`StoreError::Sqlite`] when the schema cannot be read.
pub(super) fn check_ours(conn: &Connection, path: &Path, version: u32) -> Result<(), StoreError> {
    let foreign = |reason: String| StoreError::Foreign {
        path: path.to_path_buf(),
        reason,
    };
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    if let Some(other) = tables
        .iter()
        .find(|table| !OUR_TABLES.contains(&table.as_str()))
    {
        return Err(foreign(format!("it has a table {other:?}")));
    }
    if !tables.iter().any(|table| table == "honey") {
        // Nothing yet (a new file), or version 0 without the table: the migrations create it.
        return if version == 0 && tables.is_empty() {
            Ok(())
        } else {
            Err(foreign(format!(
                "schema version {version} without a honey table"
            )))
        };
    }
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('honey') ORDER BY cid")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let starts_like_the_original = columns.len() >= ORIGINAL_HONEY_COLUMNS.len()
        && columns
            .iter()
            .zip(ORIGINAL_HONEY_COLUMNS)
            .all(|(found, expected)| found.eq_ignore_ascii_case(expected));
    let shape_fits_version = if version == 0 {
        columns.len() == ORIGINAL_HONEY_COLUMNS.len()
    } else {
        true
    };
    if starts_like_the_original && shape_fits_version {
        Ok(())
    } else {
        Err(foreign(format!(
            "its honey table has other columns ({})",
            columns.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_size_is_read_only_when_valid() {
        let mut header = [0u8; HEADER_BYTES];
        header[16..18].copy_from_slice(&4096u16.to_be_bytes());
        header[24..28].copy_from_slice(&7u32.to_be_bytes());
        header[28..32].copy_from_slice(&3u32.to_be_bytes());
        header[92..96].copy_from_slice(&7u32.to_be_bytes());
        assert_eq!(expected_size(&header), Some(3 * 4096));
        header[92..96].copy_from_slice(&6u32.to_be_bytes());
        assert_eq!(expected_size(&header), None, "stale page count");
        header[92..96].copy_from_slice(&7u32.to_be_bytes());
        header[16..18].copy_from_slice(&1u16.to_be_bytes());
        assert_eq!(expected_size(&header), Some(3 * 65_536));
    }
}
