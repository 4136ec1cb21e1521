//! The database: opened (and migrated) before any file next to it, then its writer thread, the
//! one consumer that takes every event.

use std::sync::Arc;

use anyhow::Context;
use rusqlite::Connection;
use uuid::Uuid;

use super::Wiring;
use crate::app::services::{Grace, Stage};
use crate::app::settings::StoreSettings;
use crate::blocklist::Blocklist;
use crate::config::defaults::STORE_QUEUE_BYTES;
use crate::pipeline::{PeerRecords, PipelineBuilder};
use crate::store::{self, AggregateSource, node_id};

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

impl Database {
    /// Fills the live blocklist from the aggregate tables: every key last seen within the
    /// retention window (read on the writer's connection before the writer starts).
    ///
    /// # Errors
    /// The tables cannot be read.
    pub(in crate::app) fn load_blocklist(
        &self,
        blocklist: &Blocklist,
        retention_days: u32,
    ) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let since = store::retention_cutoff(jiff::Timestamp::now(), retention_days);
        let report = blocklist
            .load_from_store(&self.connection, since.as_deref())
            .context("loading the blocklist from the database")?;
        let stats = blocklist.stats();
        tracing::info!(
            ips = stats.ips,
            numbers = stats.numbers,
            skipped = report.skipped,
            evicted = report.evicted,
            millis = started.elapsed().as_millis(),
            "blocklist loaded from the database"
        );
        Ok(())
    }
}

/// Starts the writer thread on the store's queue (it takes peer records too); it writes the
/// aggregate tables from the live blocklist's changes.
///
/// # Errors
/// The thread cannot be started.
pub(in crate::app) fn start(
    wiring: &mut Wiring<'_>,
    pipeline: &mut PipelineBuilder,
    database: Database,
) -> anyhow::Result<()> {
    let settings = &wiring.settings.store;
    let events = pipeline.consumer_with_byte_bound(
        "store",
        settings.queue_capacity,
        STORE_QUEUE_BYTES,
        PeerRecords::Taken,
    );
    let stats = Arc::clone(&wiring.summary.store);
    wiring.report(Some(Arc::clone(&stats)));
    let options = store::WriterOptions {
        aggregate_source: Some(Arc::clone(&wiring.blocklist) as Arc<dyn AggregateSource>),
        ..settings.writer.clone()
    };
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
