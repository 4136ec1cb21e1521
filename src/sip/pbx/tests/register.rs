//! REGISTER: the 404/401/403/200 sequence, attempt counting per source and extension, idle
//! expiry, the bound on counters, and the nonces.

use super::*;

#[test]
fn register_is_404_off_plan_401_without_credentials_403_then_200_at_the_nth_attempt() {
    let now = Instant::now();
    let mut pbx = pbx("freepbx", now);
    let unknown = udp(
        &mut pbx,
        &request("REGISTER", "1747613575", "r0", 1, &[], ""),
        now,
    );
    assert_eq!(statuses(&unknown), [Some(404)]);
    let challenge = udp(&mut pbx, &request("REGISTER", "105", "r1", 1, &[], ""), now);
    assert_eq!(statuses(&challenge), [Some(401)]);
    assert!(text(&challenge.immediate[0]).contains("WWW-Authenticate: Digest realm=\"asterisk\""));
    assert_eq!(pbx.registration_counters(), 0, "a challenge keeps no state");
    let auth = auth(&pbx, now);
    let foreign = udp(
        &mut pbx,
        &request("REGISTER", "105", "r1", 2, &[FOREIGN_AUTH], ""),
        now,
    );
    assert_eq!(statuses(&foreign), [Some(401)], "not our nonce: challenged");
    assert!(foreign.screening.foreign_nonce && !foreign.source_proven);
    assert_eq!(pbx.registration_counters(), 0, "not counted as an attempt");
    let attempt = |pbx: &mut Pbx, cseq| {
        let plan = udp(
            pbx,
            &request("REGISTER", "105", "r1", cseq, &[&auth], ""),
            now,
        );
        assert!(plan.source_proven, "our nonce proves the source");
        statuses(&plan)
    };
    assert_eq!(attempt(&mut pbx, 2), [Some(403)]);
    assert_eq!(attempt(&mut pbx, 3), [Some(403)]);
    let cracked = udp(
        &mut pbx,
        &request("REGISTER", "105", "r1", 4, &[&auth, "Expires: 60"], ""),
        now,
    );
    assert_eq!(statuses(&cracked), [Some(200)]);
    let reply = text(&cracked.immediate[0]);
    assert!(
        reply.contains("\r\nFrom: \"105\" <sip:105@192.0.2.1>;tag=tag-r1\r\n"),
        "svcrack reads its tag: {reply}"
    );
    assert!(
        reply.contains("\r\nContact: <sip:105@198.51.100.7:5062>;expires=60\r\nExpires: 60\r\n"),
        "{reply}"
    );
    assert_eq!(attempt(&mut pbx, 5), [Some(200)], "stays cracked");
    let again = udp(&mut pbx, &request("REGISTER", "105", "r1", 6, &[], ""), now);
    assert_eq!(
        statuses(&again),
        [Some(401)],
        "no credentials, a new challenge"
    );
}

#[test]
fn attempts_count_per_source_and_extension_and_expire_when_idle() {
    let now = Instant::now();
    let mut pbx = pbx("freepbx", now);
    let attempt = |pbx: &mut Pbx, user: &str, source: &str, at: Instant| {
        let auth = credentials("Authorization", pbx, source, at);
        let bytes = request("REGISTER", user, "r", 2, &[&auth], "");
        statuses(&handle_from(pbx, &bytes, source, None, at))
    };
    assert_eq!(attempt(&mut pbx, "105", SOURCE, now), [Some(403)]);
    assert_eq!(attempt(&mut pbx, "105", SOURCE, now), [Some(403)]);
    assert_eq!(
        attempt(&mut pbx, "106", SOURCE, now),
        [Some(403)],
        "other extension"
    );
    assert_eq!(
        attempt(&mut pbx, "105", "203.0.113.9:5060", now),
        [Some(403)],
        "other source"
    );
    assert_eq!(pbx.registration_counters(), 3);
    let later = now + REGISTRATION_IDLE_EXPIRY;
    assert_eq!(
        attempt(&mut pbx, "105", SOURCE, later),
        [Some(403)],
        "forgotten when idle"
    );
    assert_eq!(pbx.registration_counters(), 1, "idle counters dropped");
    assert_eq!(attempt(&mut pbx, "105", SOURCE, later), [Some(403)]);
    assert_eq!(attempt(&mut pbx, "105", SOURCE, later), [Some(200)]);
}

#[test]
fn registration_counters_are_bounded_and_evict_the_least_recent() {
    let now = Instant::now();
    let limits = StateLimits {
        registrations: NonZeroUsize::new(4).expect("non-zero"),
        dialogs: NonZeroUsize::new(4).expect("non-zero"),
        proven_sources: NonZeroUsize::new(4).expect("non-zero"),
    };
    let personality = Personality {
        auth_attempts: 2,
        ..Personality::default()
    };
    let mut pbx = Pbx::with_limits(personality, KEY, now, limits);
    let auth = auth(&pbx, now);
    let attempt = |pbx: &mut Pbx, user: u32| {
        let bytes = request("REGISTER", &user.to_string(), "r", 2, &[&auth], "");
        statuses(&udp(pbx, &bytes, now))
    };
    assert_eq!(attempt(&mut pbx, 100), [Some(403)]);
    for user in 101..=199 {
        attempt(&mut pbx, user);
        assert!(pbx.registration_counters() <= 4);
    }
    assert_eq!(pbx.registration_counters(), 4);
    assert_eq!(
        attempt(&mut pbx, 100),
        [Some(403)],
        "evicted, counts from 1 again"
    );
    assert_eq!(attempt(&mut pbx, 199), [Some(200)], "recent one kept");
}

#[test]
fn nonces_differ_per_source_window_and_key() {
    let now = Instant::now();
    let pbx_a = pbx("freepbx", now);
    let other_key = Pbx::new(Personality::default(), [1; 16], now);
    let ip: IpAddr = "198.51.100.7".parse().expect("ip");
    let nonce = pbx_a.nonce(ip, now);
    assert_eq!(nonce.len(), 16);
    assert_eq!(nonce, pbx_a.nonce(ip, now + Duration::from_secs(299)));
    assert_ne!(nonce, pbx_a.nonce(ip, now + Duration::from_secs(300)));
    assert_ne!(nonce, pbx_a.nonce("198.51.100.8".parse().expect("ip"), now));
    assert_ne!(nonce, other_key.nonce(ip, now));
}
