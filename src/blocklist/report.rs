//! The blocklist's counters and sizes in `/api/v1/health` (under `blocklist`) and `/metrics`
//! (`sentrypeer_blocklist_*`), named once here.

use super::Blocklist;
use crate::telemetry::{Readings, Report};

impl Report for Blocklist {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[&["blocklist"]]
    }

    fn report(&self, out: &mut Readings) {
        let stats = self.stats();
        let size = |count: usize| u64::try_from(count).unwrap_or(u64::MAX);
        #[rustfmt::skip]
        let gauges = [
            ("sentrypeer_blocklist_ips", "Source IPs on the live blocklist.", size(stats.ips)),
            ("sentrypeer_blocklist_numbers", "Called numbers on the live blocklist.", size(stats.numbers)),
            ("sentrypeer_blocklist_authors", "Reporting peers and feeds the blocklist knows by name.", size(stats.authors)),
            ("sentrypeer_blocklist_subscribers", "Subscribers to the blocklist's change stream.", size(stats.subscribers)),
        ];
        for (name, help, value) in gauges {
            out.gauge(name, help, value).health_in("blocklist", &[]);
        }
        #[rustfmt::skip]
        let counters = [
            ("sentrypeer_blocklist_evicted_ips_total", "IPs evicted at the cap (least recently seen first).", stats.evicted_ips),
            ("sentrypeer_blocklist_evicted_numbers_total", "Numbers evicted at the cap (least recently seen first).", stats.evicted_numbers),
            ("sentrypeer_blocklist_expired_total", "Keys removed by retention.", stats.expired),
            ("sentrypeer_blocklist_flush_overflow_total", "Events not flushed to the database because the pending tallies were full.", stats.flush_overflow),
            ("sentrypeer_blocklist_authors_refused_total", "Reports whose author could not be named (the author table was full).", stats.authors_refused),
            ("sentrypeer_blocklist_subscribers_dropped_total", "Change-stream subscribers dropped for falling behind.", stats.subscribers_dropped),
        ];
        for (name, help, value) in counters {
            out.counter(name, help, value).health_in("blocklist", &[]);
        }
    }
}
