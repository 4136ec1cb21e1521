//! Integration tests: the real `sentrypeer` binary on loopback ports (and in network namespaces
//! the tests create), driven over real sockets and by real SIP tools. Every test file imports
//! only from `support`.

mod support;

mod api;
mod api_compat;
mod bad_input;
mod bgp;
mod bgp_bad_input;
mod bouncer;
mod calls;
mod capture;
mod classify;
mod cli;
mod community;
mod config_env;
mod container;
mod disk_full;
mod faults;
mod firewall;
mod gui;
mod hostile_api;
mod hostile_files;
mod hostile_udp;
mod idle_connections;
mod limits;
mod lossless;
mod opendht;
mod p2p;
mod p2p_hostile;
mod p2p_load;
mod p2p_scale;
mod p2p_untrusted;
mod packaging;
mod personality;
mod poisoning;
mod privileges;
mod sip_agent;
mod small_build;
mod storage;
mod stream;
mod telemetry;
mod throughput;
mod tls;
mod tools;
mod webhook;
