//! Merging flags and `SENTRYPEER_*` variables over the TOML file into one [`Config`]: the
//! general flags here, each feature's flags in its own file.

use crate::config::{Config, ConfigError};

use super::Cli;

impl Cli {
    /// Loads the TOML file (`-g`, else the default location if it exists) and merges
    /// environment variables and flags over it.
    ///
    /// # Errors
    /// A missing or invalid `-g` file, or an invalid default file. What the values mean is
    /// checked by `app::Settings::from_config`.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let file = match &self.config {
            Some(path) => Config::read(path)?,
            None => Config::load_default_file()?,
        };
        Ok(self.merge(file, |name| std::env::var_os(name).is_some()))
    }

    /// Merges flags (which clap already merged with string env vars) and boolean env vars
    /// (`env_is_set`) over `file`.
    pub fn merge(self, file: Config, env_is_set: impl Fn(&str) -> bool) -> Config {
        let mut config = file;
        config.json_log |= self.json
            || self.json_log_file.is_some()
            || env_is_set("SENTRYPEER_JSON_LOG")
            || env_is_set("SENTRYPEER_JSON_LOG_FILE");
        config.json_log_include_peer_data |=
            self.json_log_include_peer_data || env_is_set("SENTRYPEER_JSON_LOG_INCLUDE_PEER_DATA");
        config.syslog |= self.syslog || env_is_set("SENTRYPEER_SYSLOG");
        config.syslog_include_peer_data |=
            self.syslog_include_peer_data || env_is_set("SENTRYPEER_SYSLOG_INCLUDE_PEER_DATA");
        config.verbose |= self.verbose || env_is_set("SENTRYPEER_VERBOSE");
        config.debug |= self.debug || env_is_set("SENTRYPEER_DEBUG");
        set_if_some(&mut config.db_file, self.db_file);
        set_if_some(&mut config.json_log_file, self.json_log_file);
        set_if_some(&mut config.retention_days, self.retention_days);
        set_if_some(&mut config.source_ipv6_prefix, self.source_ipv6_prefix);
        if self.syslog_address.is_some() {
            config.syslog_address = self.syslog_address;
        }
        self.sip.merge_into(&mut config, &env_is_set);
        self.api.merge_into(&mut config, &env_is_set);
        self.p2p.merge_into(&mut config, &env_is_set);
        self.webhook.merge_into(&mut config, &env_is_set);
        self.opendht.merge_into(&mut config, &env_is_set);
        self.verdicts.merge_into(&mut config, &env_is_set);
        config
    }
}

/// Replaces `slot` with a flag's value when the flag (or its variable) was given.
pub(super) fn set_if_some<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

/// Replaces a list with a repeatable flag's values when the flag (or its variable) was given.
pub(super) fn set_if_not_empty<T>(slot: &mut Vec<T>, values: Vec<T>) {
    if !values.is_empty() {
        *slot = values;
    }
}
