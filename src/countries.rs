//! [`Countries`]: the country of a source IP, offline, for the dashboard and the community
//! analytics' summaries (a leaf: it imports no other module of the crate). Built in: the
//! `iptocc` crate's table of Regional Internet Registry delegations (embedded in the binary).
//! With `--geoip-db FILE`: an operator's MaxMind-format database (GeoLite2/GeoIP2 Country or
//! City), read into memory once.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use maxminddb::{Reader, geoip2};

/// Why the operator's database could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct CountriesError {
    path: String,
    reason: String,
}

/// Where country codes come from.
pub enum Countries {
    /// The RIR table built into the binary.
    BuiltIn,
    /// A MaxMind-format database.
    MaxMind(Reader<Vec<u8>>),
}

impl fmt::Debug for Countries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.source_name())
    }
}

impl Countries {
    /// The operator's database at `path`, or the built-in table when `path` is `None`.
    ///
    /// # Errors
    /// The file cannot be read or is not a MaxMind database.
    pub fn open(path: Option<&Path>) -> Result<Self, CountriesError> {
        let Some(path) = path else {
            return Ok(Self::BuiltIn);
        };
        let failed = |reason: String| CountriesError {
            path: path.display().to_string(),
            reason,
        };
        let reader = Reader::open_readfile(path).map_err(|error| failed(error.to_string()))?;
        Ok(Self::MaxMind(reader))
    }

    /// The ISO 3166-1 alpha-2 code of `ip`'s country; `None` when unknown (private, reserved
    /// or unassigned addresses, or not in the database). Borrowed from the table or the
    /// database in memory: a lookup allocates nothing (the dashboard makes one per source IP).
    pub fn code(&self, ip: IpAddr) -> Option<&str> {
        match self {
            Self::BuiltIn => iptocc::country_code(ip),
            Self::MaxMind(reader) => {
                reader
                    .lookup(ip)
                    .ok()?
                    .decode::<geoip2::Country<'_>>()
                    .ok()
                    .flatten()?
                    .country
                    .iso_code
            }
        }
    }

    /// What the codes come from, for the health page.
    pub fn source_name(&self) -> &'static str {
        match self {
            Self::BuiltIn => "built-in RIR delegation table (iptocc)",
            Self::MaxMind(_) => "MaxMind-format database (--geoip-db)",
        }
    }
}
