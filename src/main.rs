//! The `sentrypeer` binary: command line → configuration → logging → runtime → `app::run`.
//! Exit codes: 0 clean stop, 1 runtime failure, 2 bad command line or configuration; lookups
//! (`--query-ip` ...) exit 0 when found, 1 when not, 2 on error; `--print-shared-stats` exits 0
//! once it printed, 2 on error.
#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use sentrypeer::app::Settings;
use sentrypeer::config::Config;
use sentrypeer::config::cli::{Cli, Lookup};
use sentrypeer::shutdown::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The process's allocator with the `mimalloc` feature (Cargo.toml says why).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let check_only = cli.check_config;
    let health_check = cli.health_check;
    let print_shared_stats = cli.print_shared_stats;
    let lookup = cli.lookup.requested();
    let config = match cli.into_config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("sentrypeer: {error}");
            return ExitCode::from(2);
        }
    };
    if health_check {
        return match sentrypeer::app::probe_health(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("sentrypeer: {error}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(lookup) = lookup {
        return look_up(&config, &lookup);
    }
    if print_shared_stats {
        return match sentrypeer::app::shared_stats(&config) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("sentrypeer: {}", sentrypeer::app::one_line(&error));
                ExitCode::from(2)
            }
        };
    }
    // Before the settings, so what they warn about is logged.
    init_logging(&config);
    let settings = match Settings::from_config(&config) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("sentrypeer: {error}");
            return ExitCode::from(2);
        }
    };
    if check_only {
        println!("{config:#?}");
        return ExitCode::SUCCESS;
    }
    let runtime = match runtime_builder().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sentrypeer: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(sentrypeer::app::run(settings, CancellationToken::new())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let message = sentrypeer::app::one_line(&error);
            tracing::error!("{message}");
            eprintln!("sentrypeer: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The async runtime: one worker per core, or one thread for every task when built without the
/// `multi-thread` feature (the small build: the UDP listener and the store writer still have
/// threads of their own).
#[cfg(feature = "multi-thread")]
fn runtime_builder() -> tokio::runtime::Builder {
    tokio::runtime::Builder::new_multi_thread()
}

#[cfg(not(feature = "multi-thread"))]
fn runtime_builder() -> tokio::runtime::Builder {
    tokio::runtime::Builder::new_current_thread()
}

/// A command-line lookup in the local database: exit 0 when found, 1 when not, 2 on error.
fn look_up(config: &Config, lookup: &Lookup) -> ExitCode {
    match sentrypeer::app::run_lookup(&config.db_file, lookup, &mut std::io::stdout().lock()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("sentrypeer: {}", sentrypeer::app::one_line(&error));
            ExitCode::from(2)
        }
    }
}

/// Operational logs to stderr: `info` by default, `debug` with `-v`, `trace` with `-d`;
/// `RUST_LOG` overrides.
fn init_logging(config: &Config) {
    // libp2p-gossipsub warns once per message it cannot queue for a slow peer, quoting the
    // message: a peer that reads slowly on purpose would fill the log. Those are counted
    // instead (`p2p.unsent_to_slow_peers`); RUST_LOG can still ask for them.
    let level = if config.debug {
        "sentrypeer=trace,info,libp2p_gossipsub=error"
    } else if config.verbose {
        "sentrypeer=debug,info,libp2p_gossipsub=error"
    } else {
        "info,libp2p_gossipsub=error"
    };
    let terminal = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        // Every level reaches the filter below, which decides.
        .with_max_level(tracing::level_filters::LevelFilter::TRACE)
        .with_writer(sentrypeer::logging::OneLineStderr {
            keep_ansi: terminal,
        })
        .with_ansi(terminal)
        .finish()
        .with(log_filter(level))
        .init();
}

/// `RUST_LOG` in tracing-subscriber's whole directive syntax, or `default` when unset or invalid.
#[cfg(feature = "log-filter")]
fn log_filter(default: &str) -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default))
}

/// `RUST_LOG` as a list of `target=level` and a bare default level (no span or field filters:
/// built without the `log-filter` feature), or `default` when unset or invalid.
#[cfg(not(feature = "log-filter"))]
fn log_filter(default: &str) -> tracing_subscriber::filter::Targets {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse().ok())
        .or_else(|| default.parse().ok())
        .unwrap_or_default()
}
