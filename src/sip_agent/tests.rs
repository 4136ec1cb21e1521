//! Tests of the agent's decisions from a live blocklist (number forms, caller IP, policy
//! refusals, the emergency never-list, the block answer), who may ask and the per-source rate.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::blocklist::{
    BlocklistOptions, ConsumerOptions, Observation, ObservedOrigin, VerdictOptions,
};
use crate::event::Transport;
use crate::sip::AttackType;
use crate::sip::redirect::Dip;

/// A live list that saw `numbers` and `ips` from a local TCP scanner a minute ago.
fn blocklist(numbers: &[&str], ips: &[&str]) -> Arc<Blocklist> {
    let blocklist = Arc::new(Blocklist::new(&BlocklistOptions::default()));
    let at = Timestamp::now() - SignedDuration::from_secs(60);
    for number in numbers {
        blocklist.observe(&seen(at, None, Some(number)));
    }
    for ip in ips {
        blocklist.observe(&seen(at, Some(ip.parse().expect("ip")), None));
    }
    blocklist
}

fn seen<'a>(
    at: Timestamp,
    source: Option<IpAddr>,
    called_number: Option<&'a str>,
) -> Observation<'a> {
    Observation {
        at,
        source,
        called_number,
        attack_type: AttackType::default(),
        origin: ObservedOrigin::Local {
            transport: Transport::Tcp,
            proven: true,
        },
    }
}

fn agent_with(options: AgentOptions, consumer: &ConsumerOptions, list: Arc<Blocklist>) -> Agent {
    let policy = Policy::new(&VerdictOptions::default(), consumer, &list);
    Agent::new(options, list, policy, [3; 16])
}

fn agent(list: Arc<Blocklist>) -> Agent {
    agent_with(AgentOptions::default(), &ConsumerOptions::sip_agent(), list)
}

/// The agent's counters as `/api/v1/health` shows them.
fn health(agent: &Agent) -> serde_json::Value {
    let counters = agent.counters();
    serde_json::Value::Object(crate::telemetry::Readings::of(&*counters).health_details())
}

fn dip(numbers: &[&str], caller_ip: Option<&str>) -> Dip {
    Dip {
        numbers: numbers.iter().map(|n| (*n).to_owned()).collect(),
        caller_ip: caller_ip.map(|ip| ip.parse().expect("ip")),
    }
}

#[test]
fn a_captured_number_is_declined_saying_why() {
    let agent = agent(blocklist(&["+441234"], &[]));
    let answer = agent.decide(&dip(&["0044", "+441234"], None), Timestamp::now());
    assert_eq!(answer.code, 603);
    assert_eq!(answer.contact, None);
    assert!(
        answer
            .verdict
            .starts_with("blocked; key=number; value=+441234; first_seen="),
        "{}",
        answer.verdict
    );
    assert!(
        answer.verdict.ends_with("; count=1; origin=local"),
        "{}",
        answer.verdict
    );
}

#[test]
fn a_captured_caller_ip_is_declined_and_a_clean_call_is_not_found() {
    let agent = agent(blocklist(&[], &["45.134.26.5"]));
    let blocked = agent.decide(&dip(&["100"], Some("45.134.26.5")), Timestamp::now());
    assert_eq!(blocked.code, 603);
    assert!(blocked.verdict.contains("key=ip; value=45.134.26.5"));
    let clean = agent.decide(&dip(&["100"], Some("45.134.26.6")), Timestamp::now());
    assert_eq!((clean.code, clean.verdict.as_str()), (404, "clean"));
    let health = health(&agent);
    assert_eq!(health["sip_agent"]["verdicts"]["blocked_ip"], 1);
    assert_eq!(health["sip_agent"]["verdicts"]["clean"], 1);
}

#[test]
fn emergency_numbers_are_never_blocked_even_when_captured() {
    let agent = agent(blocklist(&["112", "911", "999"], &[]));
    for number in ["112", "911", "999"] {
        let answer = agent.decide(&dip(&[number], None), Timestamp::now());
        assert_eq!(answer.code, 404, "{number}");
        assert_eq!(
            answer.verdict,
            format!("clean; key=number; value={number}; refused=never-listed")
        );
    }
}

#[test]
fn the_policy_counts_and_age_are_applied() {
    let list = blocklist(&["5551234"], &[]);
    let strict = ConsumerOptions {
        min_count: 2,
        ..ConsumerOptions::sip_agent()
    };
    let agent = agent_with(AgentOptions::default(), &strict, Arc::clone(&list));
    let answer = agent.decide(&dip(&["5551234"], None), Timestamp::now());
    assert_eq!(answer.code, 404);
    assert!(answer.verdict.ends_with("refused=below-min-count"));
    let recent_only = ConsumerOptions {
        max_age: Some(std::time::Duration::from_secs(10)),
        ..ConsumerOptions::sip_agent()
    };
    let agent = agent_with(AgentOptions::default(), &recent_only, list);
    let answer = agent.decide(&dip(&["5551234"], None), Timestamp::now());
    assert!(
        answer.verdict.ends_with("refused=too-old"),
        "{}",
        answer.verdict
    );
}

#[test]
fn block_and_clean_answers_follow_the_options() {
    let list = blocklist(&["5551234"], &[]);
    let options = AgentOptions {
        block: BlockAnswer::RedirectTo("sip:fraud@192.0.2.10".into()),
        default_destination: Some("sip:route@192.0.2.20".into()),
        ..AgentOptions::default()
    };
    let agent = agent_with(options, &ConsumerOptions::sip_agent(), list);
    let blocked = agent.decide(&dip(&["5551234"], None), Timestamp::now());
    assert_eq!(
        (blocked.code, blocked.contact.as_deref()),
        (302, Some("sip:fraud@192.0.2.10"))
    );
    let clean = agent.decide(&dip(&["5550000"], None), Timestamp::now());
    assert_eq!(
        (clean.code, clean.contact.as_deref()),
        (302, Some("sip:route@192.0.2.20"))
    );
    let busy = AgentOptions {
        block: BlockAnswer::Status(486),
        ..AgentOptions::default()
    };
    let agent = agent_with(
        busy,
        &ConsumerOptions::sip_agent(),
        blocklist(&["5551234"], &[]),
    );
    assert_eq!(
        agent
            .decide(&dip(&["5551234"], None), Timestamp::now())
            .code,
        486
    );
}

#[test]
fn only_allowed_sources_within_their_rate_are_answered() {
    let options = AgentOptions {
        allow: vec!["10.0.0.0/8".parse().expect("net")],
        rate_limit: NonZeroU32::new(1),
        ..AgentOptions::default()
    };
    let agent = agent_with(options, &ConsumerOptions::sip_agent(), blocklist(&[], &[]));
    let outsider: SocketAddr = "192.0.2.1:5060".parse().expect("addr");
    assert_eq!(
        agent.admit(outsider, AgentTransport::Udp),
        Admission::Refused
    );
    let mapped: SocketAddr = "[::ffff:10.1.2.3]:5060".parse().expect("addr");
    let admitted = (0..10)
        .filter(|_| agent.admit(mapped, AgentTransport::Udp) == Admission::Answer)
        .count();
    assert_eq!(admitted, 2, "a burst of twice the rate, then limited");
    assert_eq!(
        agent.admit(mapped, AgentTransport::Udp),
        Admission::RateLimited
    );
    let health = health(&agent);
    assert_eq!(health["sip_agent"]["refused_sources"]["udp"], 1);
    assert_eq!(health["sip_agent"]["rate_limited"], 9);
}
