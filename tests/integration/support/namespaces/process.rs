//! A program running inside one of our namespaces: its stdout and stderr lines and its exit,
//! awaited with a deadline; terminated (SIGTERM, then SIGKILL) on drop.

use std::io::{Read, Write};
use std::marker::PhantomData;
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::NetNs;
use crate::support::daemon::WAIT;
use crate::support::process::{Output, signal};

/// A process started inside a namespace. The borrow of the [`NetNs`] makes the compiler check
/// that the process is dropped before its namespace.
pub(crate) struct NsProcess<'ns> {
    pid: u32,
    label: String,
    output: Arc<Output>,
    stdin: Option<ChildStdin>,
    _ns: PhantomData<&'ns NetNs>,
}

impl<'ns> NsProcess<'ns> {
    /// Starts `command` (from [`NetNs::command`]) with stdout and stderr piped, and stdin piped
    /// too if `with_stdin`.
    pub(crate) fn spawn(
        _ns: &'ns NetNs,
        label: &str,
        mut command: Command,
        with_stdin: bool,
    ) -> NsProcess<'ns> {
        command
            .stdin(if with_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {label}: {e}"));
        let output = Arc::new(Output::default());
        let streams: Vec<Box<dyn Read + Send>> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        .collect();
        let readers = output.read_from(label, streams);
        let stdin = child.stdin.take();
        let pid = child.id();
        let waiter = Arc::clone(&output);
        std::thread::spawn(move || {
            let status = child.wait().expect("wait for child");
            // Every line is in before the exit is seen.
            for reader in readers {
                let _ = reader.join();
            }
            waiter.finish(Some(status));
        });
        NsProcess {
            pid,
            label: label.to_owned(),
            output,
            stdin,
            _ns: PhantomData,
        }
    }

    /// The process id (the program's own: `ip netns exec` execs it).
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Everything it printed so far, stdout and stderr interleaved.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.output.lines()
    }

    /// The lines as one text, for failure messages.
    pub(crate) fn log_text(&self) -> String {
        format!("--- {} output ---\n{}", self.label, self.lines().join("\n"))
    }

    /// Its exit status, if it has exited.
    pub(crate) fn exit_status(&self) -> Option<ExitStatus> {
        self.output.exit_status()
    }

    /// Waits until `done` holds for the lines so far; false if the process exited first or
    /// the deadline passed.
    pub(crate) fn wait_for_lines(
        &self,
        deadline: Instant,
        done: impl Fn(&[String]) -> bool,
    ) -> bool {
        self.output.wait_for(deadline, done)
    }

    /// Waits until some line contains `needle`.
    pub(crate) fn wait_for_line(&self, needle: &str, deadline: Instant) -> bool {
        self.wait_for_lines(deadline, |lines| lines.iter().any(|l| l.contains(needle)))
    }

    /// Waits for the exit, up to `deadline`.
    pub(crate) fn wait_exit(&self, deadline: Instant) -> Option<ExitStatus> {
        self.output.wait_finished(deadline).flatten()
    }

    /// Writes one line to its stdin.
    pub(crate) fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("process started with stdin");
        writeln!(stdin, "{line}").expect("write to child stdin");
        stdin.flush().expect("flush child stdin");
    }

    /// SIGTERM, then waits for the exit (SIGKILL after `grace`); returns the status.
    pub(crate) fn terminate(&mut self, grace: Duration) -> ExitStatus {
        drop(self.stdin.take());
        if self.exit_status().is_none() {
            signal(self.pid, "TERM");
        }
        if let Some(status) = self.wait_exit(Instant::now() + grace) {
            return status;
        }
        signal(self.pid, "KILL");
        self.wait_exit(Instant::now() + WAIT)
            .unwrap_or_else(|| panic!("{} did not die after SIGKILL", self.label))
    }
}

impl Drop for NsProcess<'_> {
    fn drop(&mut self) {
        if self.exit_status().is_none() {
            self.terminate(Duration::from_secs(5));
        }
    }
}
