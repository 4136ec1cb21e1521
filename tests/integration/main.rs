//! Integration tests: the real `sentrypeer` binary on loopback ports, driven over real sockets and
//! by real SIP tools.

mod harness;

mod api;
mod api_compat;
mod bad_input;
mod bouncer;
mod calls;
mod capture;
mod classify;
mod cli;
mod config_env;
mod disk_full;
mod faults;
mod firewall;
mod idle_connections;
mod limits;
mod p2p;
mod p2p_hostile;
mod p2p_scale;
mod personality;
mod privileges;
mod storage;
mod throughput;
mod tls;
mod tools;
mod webhook;
