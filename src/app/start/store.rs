//! The database: opened (and migrated) before any file next to it, then its writer thread, the
//! one consumer that takes every event.

use std::sync::Arc;

use anyhow::Context;
use rusqlite::Connection;
use uuid::Uuid;

use super::Wiring;
use crate::app::services::{Grace, Stage};
use crate::app::settings::StoreSettings;
use crate::pipeline::{PeerRecords, PipelineBuilder};
use crate::store::{self, node_id};

/// The opened database and the node id kept next to it.
pub(in crate::app) struct Database {
    /// The writer's connection.
    connection: Connection,
    /// This node's persistent id.
    pub node_id: Uuid,
}

/// Opens the database first (a file that is not ours stops start-up before anything else is
/// written), then the node id next to it.
///
/// # Errors
/// The database cannot be opened or migrated; the node id cannot be read or created.
pub(in crate::app) fn open(settings: &StoreSettings) -> anyhow::Result<Database> {
    let connection = store::open(&settings.db_file).context("database")?;
    let node_id_path = node_id::path_for_database(&settings.db_file);
    let node_id = node_id::load_or_create(&node_id_path).context("node id")?;
    tracing::info!(%node_id, path = %node_id_path.display(), "node id");
    Ok(Database {
        connection,
        node_id,
    })
}

/// Starts the writer thread on the store's queue (it takes peer records too).
///
/// # Errors
/// The thread cannot be started.
pub(in crate::app) fn start(
    wiring: &mut Wiring<'_>,
    pipeline: &mut PipelineBuilder,
    database: Database,
) -> anyhow::Result<()> {
    let settings = &wiring.settings.store;
    let events = pipeline.consumer(
        "store",
        wiring.settings.event_queue_capacity,
        PeerRecords::Taken,
    );
    let stats = Arc::clone(&wiring.summary.store);
    wiring.report(Some(Arc::clone(&stats)));
    let options = settings.writer.clone();
    wiring.services.spawn_thread(
        "store-writer",
        Stage::Draining,
        Grace::Unbounded,
        move |_stop| {
            store::run_writer_in_background(database.connection, &events, &options, &stats)
                .context("database writer")
        },
    )?;
    tracing::info!(
        path = %settings.db_file.display(),
        retention_days = settings.writer.retention_days,
        "database open"
    );
    Ok(())
}
