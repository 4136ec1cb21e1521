//! Thread priorities: background work (the store writer, and below it database readers) gives
//! way to capture when the CPU is short. Under a flood the UDP listener, the writer and the sender compete for the cores;
//! capture goes first, and what the writer cannot keep up with is dropped from its queue and
//! counted. When the CPU is not short, priorities change nothing.

/// Nice steps the store writer thread runs below the rest of the process.
pub const BACKGROUND_NICENESS: i32 = 10;
/// Nice steps database readers (API queries, peers' catch-up) run below the rest of the
/// process: five below the writer, so readers never take the CPU the writer needs to keep up.
pub const READER_NICENESS: i32 = BACKGROUND_NICENESS + 5;
/// Nice steps point lookups (one key's row: the original's `/ip-addresses/{ip}` and
/// `/numbers/{number}`) run below the rest of the process: none. Someone waits on each (a PBX
/// before a call), each costs tens of microseconds, and at [`READER_NICENESS`] a writer busy
/// with a flood's backlog kept them waiting: p99 14-26 ms against 4.8-7.7 ms at the process's
/// priority, with as many raw rows stored (README "Lossless aggregates under floods").
pub const LOOKUP_NICENESS: i32 = 0;

/// Lowers the calling thread's scheduling priority by `steps` nice steps (at most to 19). On
/// Linux the nice value belongs to each thread, so the rest of the process is unaffected;
/// elsewhere it would apply to the whole process, so this does nothing. Best effort: a failure
/// is logged at debug level.
pub fn lower_current_thread(steps: i32) {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let lowered = getpriority_process(None)
            .and_then(|nice| setpriority_process(None, nice.saturating_add(steps).min(19)));
        if let Err(error) = lowered {
            tracing::debug!(%error, "cannot lower this thread's priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = steps;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use rustix::process::getpriority_process;

    #[test]
    fn only_the_calling_thread_is_lowered() {
        let before = getpriority_process(None).expect("nice");
        let lowered = std::thread::spawn(|| {
            let own = getpriority_process(None).expect("nice");
            lower_current_thread(3);
            (own, getpriority_process(None).expect("nice"))
        })
        .join()
        .expect("thread");
        assert_eq!(lowered.1, (lowered.0 + 3).min(19));
        assert_eq!(
            getpriority_process(None).expect("nice"),
            before,
            "this thread unchanged"
        );
    }
}
