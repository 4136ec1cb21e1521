//! Integration tests: the real `sentrypeer` binary on loopback ports, driven over real sockets and
//! by real SIP tools.

mod harness;

mod api;
mod bad_input;
mod bouncer;
mod capture;
mod cli;
mod config_env;
mod firewall;
mod limits;
mod p2p;
mod storage;
mod throughput;
mod tls;
mod tools;
mod webhook;
