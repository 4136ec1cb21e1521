//! Child processes: what they printed, line by line, and how they ended (reader threads fill
//! it, tests wait on it with a deadline: a condition variable, no polling); signals by PID.

use std::io::{BufRead, BufReader, Read};
use std::process::ExitStatus;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

#[derive(Default)]
struct State {
    lines: Vec<String>,
    /// Every stream is at its end (and, where known, the exit status is in).
    finished: bool,
    exit: Option<ExitStatus>,
}

/// The lines a process printed, shared with the threads that read them.
#[derive(Default)]
pub(crate) struct Output {
    state: Mutex<State>,
    changed: Condvar,
}

impl Output {
    /// Reads each of `streams` on its own thread into `self`, line by line (echoed on stderr as
    /// `[label] line` when `SENTRYPEER_TEST_ECHO` is set); returns the threads.
    pub(crate) fn read_from(
        self: &Arc<Self>,
        label: &str,
        streams: Vec<Box<dyn Read + Send>>,
    ) -> Vec<JoinHandle<()>> {
        let echo = std::env::var_os("SENTRYPEER_TEST_ECHO").is_some();
        streams
            .into_iter()
            .map(|stream| {
                let output = Arc::clone(self);
                let label = label.to_owned();
                std::thread::spawn(move || {
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { break };
                        if echo {
                            eprintln!("[{label}] {line}");
                        }
                        output.lock().lines.push(line);
                        output.changed.notify_all();
                    }
                })
            })
            .collect()
    }

    /// Marks the output complete (every reader done), with the exit status when known.
    pub(crate) fn finish(&self, exit: Option<ExitStatus>) {
        let mut state = self.lock();
        state.finished = true;
        state.exit = exit;
        self.changed.notify_all();
    }

    /// Every line so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lock().lines.clone()
    }

    /// The exit status, once the process has exited and every line is in.
    pub(crate) fn exit_status(&self) -> Option<ExitStatus> {
        self.lock().exit
    }

    /// Waits until `done` holds for the lines so far; false when the output finished or
    /// `deadline` passed first.
    pub(crate) fn wait_for(&self, deadline: Instant, done: impl Fn(&[String]) -> bool) -> bool {
        let mut state = self.lock();
        loop {
            if done(&state.lines) {
                return true;
            }
            if state.finished {
                return false;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until the output is finished (the process exited); its exit status, or `None` at
    /// `deadline`.
    pub(crate) fn wait_finished(&self, deadline: Instant) -> Option<Option<ExitStatus>> {
        let mut state = self.lock();
        loop {
            if state.finished {
                return Some(state.exit);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sends `SIGname` to `pid` (only ever a process this test started).
pub(crate) fn signal(pid: u32, name: &str) {
    let _ = std::process::Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status();
}
