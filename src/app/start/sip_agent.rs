//! The SIP verdict agent (`--sip-agent-listen-address`): its UDP loop on a thread of its own
//! (dips never wait behind the API or the P2P node on the shared runtime) and its TCP listener;
//! stopped with the serving parts, after capture.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::{TcpListener, UdpSocket};

use super::Wiring;
use crate::app::services::{Grace, Stage};
use crate::blocklist::Policy;
use crate::sip_agent::{self, Agent, AgentCounters};

/// Time the agent's listeners have to stop once asked.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Starts the agent when it has an address.
///
/// # Errors
/// No randomness for its key; its thread cannot start; a bound socket's address cannot be read.
pub(in crate::app) fn start(
    wiring: &mut Wiring<'_>,
    sockets: Option<(UdpSocket, TcpListener)>,
) -> anyhow::Result<()> {
    let (Some(settings), Some((udp, tcp))) = (&wiring.settings.sip_agent, sockets) else {
        wiring.report::<AgentCounters>(None);
        return Ok(());
    };
    let mut key = [0u8; 16];
    getrandom::fill(&mut key)
        .map_err(|error| anyhow::anyhow!("no randomness for the SIP agent key: {error}"))?;
    let policy = Policy::new(
        &wiring.verdicts,
        &wiring.settings.verdicts.sip_agent,
        &wiring.blocklist,
    );
    let agent = Arc::new(Agent::new(
        settings.options.clone(),
        Arc::clone(&wiring.blocklist),
        policy,
        key,
    ));
    wiring.report(Some(agent.counters()));
    tracing::info!("listening for SIP agent UDP on {}", udp.local_addr()?);
    tracing::info!("listening for SIP agent TCP on {}", tcp.local_addr()?);
    // Leaves this runtime's reactor; registered again with the thread's own.
    let udp = udp.into_std().context("SIP agent UDP socket")?;
    let udp_agent = Arc::clone(&agent);
    wiring.services.spawn_thread(
        "sip-agent-udp",
        Stage::Serving,
        Grace::Within(STOP_GRACE),
        move |stop| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("SIP agent runtime")?;
            runtime.block_on(async move {
                let socket = UdpSocket::from_std(udp).context("SIP agent UDP socket")?;
                sip_agent::udp::run(socket, udp_agent, stop)
                    .await
                    .context("SIP agent UDP")
            })
        },
    )?;
    wiring.services.spawn(
        "sip-agent-tcp",
        Stage::Serving,
        Grace::Within(STOP_GRACE),
        move |stop| {
            Ok(async move {
                sip_agent::tcp::run(tcp, agent, stop)
                    .await
                    .context("SIP agent TCP")
            })
        },
    )
}
