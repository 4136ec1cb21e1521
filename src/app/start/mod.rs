//! The start phase: one file per service, each with the function that starts it; `app::run`
//! calls them in start order. [`Wiring`] is what they share while starting.

pub(super) mod api;
pub(super) mod json_log;
pub(super) mod p2p;
pub(super) mod sip;
pub(super) mod store;
pub(super) mod syslog;
pub(super) mod webhook;

use std::sync::Arc;

use uuid::Uuid;

use super::services::Services;
use super::settings::Settings;
use crate::api::Telemetry;
use crate::store::{ReadPool, StoreStats};

/// What the services share while they start.
pub(super) struct Wiring<'a> {
    /// Every module's options.
    pub settings: &'a Settings,
    /// The services started so far.
    pub services: Services,
    /// This node's persistent id.
    pub node_id: Uuid,
    /// Read-only database connections, for the API and the P2P node's catch-up. It opens its
    /// first connection when first read, after the writer has created and migrated the
    /// database.
    pub reader: ReadPool,
    /// The counters of the parts started so far, for the API and the final summary.
    pub telemetry: Telemetry,
}

impl<'a> Wiring<'a> {
    /// Nothing started yet.
    pub(super) fn new(
        settings: &'a Settings,
        services: Services,
        database: &store::Database,
    ) -> Self {
        Self {
            settings,
            services,
            node_id: database.node_id,
            reader: ReadPool::new(settings.store.db_file.clone()),
            telemetry: Telemetry {
                pipeline: None,
                transport: None,
                connections: None,
                store: Arc::new(StoreStats::default()),
                p2p: None,
                webhook: None,
                udp_drops: None,
            },
        }
    }
}
