//! Merging flags and `SENTRYPEER_*` variables over the TOML file into one [`Config`].

use crate::config::{Config, ConfigError, Secret};

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
        config.peer_to_peer |= self.p2p || env_is_set("SENTRYPEER_PEER_TO_PEER");
        config.api |= self.api || env_is_set("SENTRYPEER_API");
        config.sip_responsive |= self.responsive || env_is_set("SENTRYPEER_SIP_RESPONSIVE");
        config.sip_disable |= self.sip_disable || env_is_set("SENTRYPEER_SIP_DISABLE");
        config.tls_disable |= self.tls_disable || env_is_set("SENTRYPEER_TLS_DISABLE");
        config.syslog |= self.syslog || env_is_set("SENTRYPEER_SYSLOG");
        config.verbose |= self.verbose || env_is_set("SENTRYPEER_VERBOSE");
        config.debug |= self.debug || env_is_set("SENTRYPEER_DEBUG");
        config.p2p_mdns |= self.p2p_mdns || env_is_set("SENTRYPEER_P2P_MDNS");
        config.webhook_skip_empty |=
            self.webhook_skip_empty || env_is_set("SENTRYPEER_WEBHOOK_SKIP_EMPTY");
        config.webhook_include_peer_data |=
            self.webhook_include_peer_data || env_is_set("SENTRYPEER_WEBHOOK_INCLUDE_PEER_DATA");
        config.json_log_include_peer_data |=
            self.json_log_include_peer_data || env_is_set("SENTRYPEER_JSON_LOG_INCLUDE_PEER_DATA");
        config.syslog_include_peer_data |=
            self.syslog_include_peer_data || env_is_set("SENTRYPEER_SYSLOG_INCLUDE_PEER_DATA");

        set_if_some(&mut config.db_file, self.db_file);
        set_if_some(&mut config.json_log_file, self.json_log_file);
        set_if_some(&mut config.api_listen_address, self.api_listen_address);
        set_if_some(&mut config.sip_listen_address, self.sip_listen_address);
        set_if_some(&mut config.cert, self.cert);
        set_if_some(&mut config.key, self.key);
        set_if_some(&mut config.tls_listen_address, self.tls_listen_address);
        set_if_some(&mut config.retention_days, self.retention_days);
        set_if_some(&mut config.sip_reply_rate_limit, self.sip_reply_rate_limit);
        set_if_some(&mut config.max_message_bytes, self.max_message_bytes);
        set_if_some(&mut config.personality.name, self.sip_personality);
        set_if_some(&mut config.tcp_idle_timeout_secs, self.tcp_idle_timeout);
        set_if_some(&mut config.max_connections, self.max_connections);
        set_if_some(
            &mut config.sip_max_connections_per_source,
            self.sip_max_connections_per_source,
        );
        set_if_some(&mut config.sip_header_timeout_secs, self.sip_header_timeout);
        set_if_some(
            &mut config.tls_handshake_timeout_secs,
            self.tls_handshake_timeout,
        );
        set_if_some(
            &mut config.crowdsec_ban_duration,
            self.crowdsec_ban_duration,
        );
        if let Some(token) = self.api_token {
            config.api_token = Some(Secret::new(token));
        }
        if !self.crowdsec_api_key.is_empty() {
            config.crowdsec_api_key = self.crowdsec_api_key.into_iter().map(Secret::new).collect();
        }
        if self.syslog_address.is_some() {
            config.syslog_address = self.syslog_address;
        }
        if !self.bootstrap.is_empty() {
            config.bootstrap_node = self.bootstrap;
        }
        if !self.p2p_listen_address.is_empty() {
            config.p2p_listen_address = self.p2p_listen_address;
        }
        if !self.p2p_receive_only_from.is_empty() {
            config.p2p_receive_only_from = self.p2p_receive_only_from;
        }
        if !self.p2p_deny.is_empty() {
            config.p2p_deny = self.p2p_deny;
        }
        set_if_some(&mut config.p2p_network, self.p2p_network);
        set_if_some(&mut config.p2p_min_contribution, self.p2p_min_contribution);
        set_if_some(
            &mut config.p2p_max_records_per_second,
            self.p2p_max_records_per_second,
        );
        set_if_some(
            &mut config.p2p_max_catch_up_records,
            self.p2p_max_catch_up_records,
        );
        set_if_some(&mut config.p2p_max_connections, self.p2p_max_connections);
        set_if_some(
            &mut config.p2p_max_connections_per_address,
            self.p2p_max_connections_per_address,
        );
        if self.p2p_key_file.is_some() {
            config.p2p_key_file = self.p2p_key_file;
        }
        if self.webhook_url.is_some() {
            config.webhook_url = self.webhook_url;
        }
        if self.client_id.is_some() {
            config.oauth2_client_id = self.client_id;
        }
        if let Some(secret) = self.client_secret {
            config.oauth2_client_secret = Some(Secret::new(secret));
        }
        set_if_some(&mut config.oauth2_token_url, self.oauth2_token_url);
        set_if_some(&mut config.oauth2_audience, self.oauth2_audience);
        set_if_some(&mut config.webhook_batch, self.webhook_batch);
        set_if_some(&mut config.webhook_timeout_secs, self.webhook_timeout);
        set_if_some(&mut config.webhook_max_attempts, self.webhook_max_attempts);
        config
    }
}

fn set_if_some<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}
