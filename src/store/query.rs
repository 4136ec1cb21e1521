//! TEMPORARY stub of the read side (replaced by the real query layer on merge).
#![allow(missing_docs, unused_variables, clippy::unnecessary_wraps)]

use std::ops::ControlFlow;

use rusqlite::Connection;

use super::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OriginFilter {
    #[default]
    Any,
    Local,
    Peer,
}
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeenRecord {
    pub id: i64,
    pub key: String,
    pub seen_last: String,
    pub seen_count: u64,
}
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListFilter {
    pub origin: OriginFilter,
    pub since: Option<String>,
    pub min_seen_count: u64,
}
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cursor {
    pub seen_last: String,
    pub key: String,
}
pub fn is_phone_number(value: &str) -> bool {
    let digits = value.strip_prefix('+').unwrap_or(value);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}
pub fn ip_seen(
    conn: &Connection,
    ip: &str,
    origin: OriginFilter,
) -> Result<Option<SeenRecord>, StoreError> {
    Ok(None)
}
pub fn number_seen(
    conn: &Connection,
    number: &str,
    origin: OriginFilter,
) -> Result<Option<SeenRecord>, StoreError> {
    Ok(None)
}
pub fn count_ips(conn: &Connection, filter: &ListFilter) -> Result<u64, StoreError> {
    Ok(0)
}
pub fn count_numbers(conn: &Connection, filter: &ListFilter) -> Result<u64, StoreError> {
    Ok(0)
}
pub fn each_ip(
    conn: &Connection,
    filter: &ListFilter,
    after: Option<&Cursor>,
    limit: Option<usize>,
    f: impl FnMut(SeenRecord) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    Ok(())
}
pub fn each_number(
    conn: &Connection,
    filter: &ListFilter,
    after: Option<&Cursor>,
    limit: Option<usize>,
    f: impl FnMut(SeenRecord) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    Ok(())
}
pub fn ips_last_seen_between(
    conn: &Connection,
    from_inclusive: &str,
    to_exclusive: &str,
    f: impl FnMut(SeenRecord) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    Ok(())
}
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventFilter {
    pub since: Option<String>,
    pub method: Option<String>,
    pub user_agent: Option<String>,
    pub transport: Option<String>,
    pub origin: OriginFilter,
    pub before_id: Option<i64>,
    pub limit: usize,
}
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventRow {
    pub id: i64,
    pub event_timestamp: Option<String>,
    pub event_uuid: Option<String>,
    pub created_by_node_id: Option<String>,
    pub collected_method: Option<String>,
    pub transport_type: Option<String>,
    pub source_ip: Option<String>,
    pub source_port: Option<i64>,
    pub destination_ip: Option<String>,
    pub destination_port: Option<i64>,
    pub called_number: Option<String>,
    pub request_uri_user: Option<String>,
    pub method: Option<String>,
    pub user_agent: Option<String>,
    pub sip_message: Option<String>,
    pub origin: String,
    pub message_kind: Option<String>,
}
pub fn recent_events(conn: &Connection, filter: &EventFilter) -> Result<Vec<EventRow>, StoreError> {
    Ok(Vec::new())
}
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CountBy {
    pub value: String,
    pub count: u64,
}
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Totals {
    pub events: u64,
    pub ip_addresses: u64,
    pub called_numbers: u64,
}
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stats {
    pub totals: Totals,
    pub by_method: Vec<CountBy>,
    pub by_user_agent: Vec<CountBy>,
    pub by_transport: Vec<CountBy>,
    pub by_message_kind: Vec<CountBy>,
    pub top_ip_addresses: Vec<SeenRecord>,
    pub top_called_numbers: Vec<SeenRecord>,
}
pub fn stats(conn: &Connection, since: Option<&str>, top: usize) -> Result<Stats, StoreError> {
    Ok(Stats::default())
}
pub fn latest_event_timestamp(conn: &Connection) -> Result<Option<String>, StoreError> {
    Ok(None)
}
