//! Command-line lookups (`--query-ip`, `--query-phonenumber`, `--list-ip-addresses`,
//! `--list-phonenumbers`, `--stats`): the local database opened read-only, so they work while
//! the daemon writes it. One line per result, its fields separated by a tab: for an IP or a
//! number its key, events and newest event (UTC, the store's text); for `--stats` a total's
//! name and count (`events`, `ip_addresses`, `called_numbers`), then a column, a value and its
//! count (`method`, `transport`, `attack_type`). `--print-shared-stats` prints the signed
//! community summary the node would publish now.

use std::io::{self, Write};
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::path::Path;

use anyhow::Context;

use crate::config::Config;
use crate::config::cli::Lookup;
#[cfg(feature = "p2p")]
use crate::countries::Countries;
use crate::event::canonical_ip;
#[cfg(feature = "p2p")]
use crate::p2p;
use crate::store::query::{self, CountBy, ListFilter, OriginFilter, SeenRecord};
use crate::store::{self, is_phone_number};

/// `--print-shared-stats`: the signed community summary this node would publish now, exactly as
/// it would be sent (one JSON line), read from its database and signed with its P2P key.
///
/// # Errors
/// No P2P key yet, a `--geoip-db` that cannot be read, an unreadable database.
#[cfg(feature = "p2p")]
pub fn shared_stats(config: &Config) -> anyhow::Result<String> {
    let key_file = config
        .p2p_key_file
        .clone()
        .unwrap_or_else(|| p2p::identity::key_path_for_database(&config.db_file));
    let countries = Countries::open(config.geoip_db.as_deref())?;
    Ok(p2p::community::shared_stats_text(
        &config.db_file,
        &key_file,
        &config.p2p_network,
        &countries,
    )?)
}

/// `--print-shared-stats` in a binary built without the `p2p` feature.
///
/// # Errors
/// Always: there is no P2P key or community summary to print.
#[cfg(not(feature = "p2p"))]
pub fn shared_stats(_config: &Config) -> anyhow::Result<String> {
    anyhow::bail!("built without the p2p feature: --print-shared-stats needs it")
}

/// Most values per column `--stats` prints.
const STATS_TOP: usize = 10;

/// Runs `lookup` on the database at `db_file`, writing its lines to `out`; whether anything was
/// found.
///
/// # Errors
/// A missing or unreadable database, an argument that is not an IP or a number, a failed query
/// or write (a closed pipe just ends the listing).
pub fn run_lookup(db_file: &Path, lookup: &Lookup, out: &mut impl Write) -> anyhow::Result<bool> {
    let conn = store::open_read_only(db_file).context("cannot read the database")?;
    let found = match lookup {
        Lookup::Ip(text) => {
            let ip: IpAddr = text
                .parse()
                .with_context(|| format!("{text:?} is not an IP address"))?;
            let key = canonical_ip(ip).to_string();
            let record = query::ip_seen(&conn, &key, OriginFilter::Any)?;
            print_record(out, record.as_ref())?
        }
        Lookup::Number(number) => {
            anyhow::ensure!(
                is_phone_number(number),
                "{number:?} is not a phone number (digits, optional leading +)"
            );
            let record = query::number_seen(&conn, number, OriginFilter::Any)?;
            print_record(out, record.as_ref())?
        }
        Lookup::Ips => list(out, |f| {
            query::each_ip(&conn, &ListFilter::default(), None, None, f)
        })?,
        Lookup::Numbers => list(out, |f| {
            query::each_number(&conn, &ListFilter::default(), None, None, f)
        })?,
        Lookup::Stats => {
            print_stats(out, &query::stats(&conn, None, STATS_TOP)?)?;
            true
        }
    };
    match out.flush() {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(found),
    }
}

/// One record's line; whether there was one.
fn print_record(out: &mut impl Write, record: Option<&SeenRecord>) -> anyhow::Result<bool> {
    let Some(record) = record else {
        return Ok(false);
    };
    write_line(out, record)?;
    Ok(true)
}

/// Every record a listing streams, one line each; whether there was any.
fn list(
    out: &mut impl Write,
    each: impl FnOnce(&mut dyn FnMut(SeenRecord) -> ControlFlow<()>) -> Result<(), store::StoreError>,
) -> anyhow::Result<bool> {
    let mut found = false;
    let mut failed = None;
    each(&mut |record| {
        found = true;
        match write_line(out, &record) {
            Ok(()) => ControlFlow::Continue(()),
            Err(error) => {
                failed = Some(error);
                ControlFlow::Break(())
            }
        }
    })?;
    match failed {
        Some(error) if error.kind() != io::ErrorKind::BrokenPipe => Err(error.into()),
        _ => Ok(found),
    }
}

fn write_line(out: &mut impl Write, record: &SeenRecord) -> io::Result<()> {
    writeln!(
        out,
        "{}\t{}\t{}",
        record.key, record.seen_count, record.seen_last
    )
}

/// Totals, then counts by method, transport and attack type.
fn print_stats(out: &mut impl Write, stats: &query::Stats) -> io::Result<()> {
    let totals = &stats.totals;
    writeln!(out, "events\t{}", totals.events)?;
    writeln!(out, "ip_addresses\t{}", totals.ip_addresses)?;
    writeln!(out, "called_numbers\t{}", totals.called_numbers)?;
    let columns: [(&str, &[CountBy]); 3] = [
        ("method", &stats.by_method),
        ("transport", &stats.by_transport),
        ("attack_type", &stats.by_attack_type),
    ];
    for (column, counts) in columns {
        for count in counts {
            writeln!(out, "{column}\t{}\t{}", count.value, count.count)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::event::test_support::EventBuilder;

    fn database() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut conn = store::open(&dir.path().join("db")).expect("create");
        let events = [
            EventBuilder::new()
                .source_ip("203.0.113.7")
                .number("+441234")
                .seconds_ago(60)
                .build(),
            EventBuilder::new()
                .source_ip("203.0.113.7")
                .number("100")
                .seconds_ago(30)
                .build(),
        ];
        let events: Vec<_> = events.into_iter().map(Arc::new).collect();
        store::writer::insert_events(&mut conn, &events).expect("insert");
        dir
    }

    fn run(dir: &tempfile::TempDir, lookup: Lookup) -> (anyhow::Result<bool>, String) {
        let mut out = Vec::new();
        let result = run_lookup(&dir.path().join("db"), &lookup, &mut out);
        (result, String::from_utf8(out).expect("UTF-8"))
    }

    #[test]
    fn point_lookups_print_one_line_and_say_whether_found() {
        let dir = database();
        let (found, text) = run(&dir, Lookup::Ip("203.0.113.7".into()));
        assert!(found.expect("ran"));
        let fields: Vec<&str> = text.trim_end().split('\t').collect();
        assert_eq!(fields[..2], ["203.0.113.7", "2"], "{text}");
        let (found, text) = run(&dir, Lookup::Ip("::ffff:203.0.113.7".into()));
        assert!(found.expect("ran") && text.starts_with("203.0.113.7\t"));
        let (found, text) = run(&dir, Lookup::Number("+441234".into()));
        assert!(
            found.expect("ran") && text.starts_with("+441234\t1\t"),
            "{text}"
        );
        let (found, text) = run(&dir, Lookup::Number("441234".into()));
        assert!(!found.expect("ran") && text.is_empty());
        assert!(run(&dir, Lookup::Ip("not-an-ip".into())).0.is_err());
        assert!(run(&dir, Lookup::Number("12a".into())).0.is_err());
    }

    #[test]
    fn listings_and_stats_print_a_line_each() {
        let dir = database();
        let (found, text) = run(&dir, Lookup::Numbers);
        assert!(found.expect("ran"));
        let keys: Vec<&str> = text
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default())
            .collect();
        assert_eq!(keys, ["100", "+441234"], "newest first");
        let (found, text) = run(&dir, Lookup::Stats);
        assert!(found.expect("ran"));
        assert!(text.lines().any(|line| line == "events\t2"), "{text}");
        assert!(text.lines().any(|line| line == "ip_addresses\t1"), "{text}");
    }

    #[test]
    fn a_missing_database_is_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(run(&dir, Lookup::Ips).0.is_err());
    }
}
