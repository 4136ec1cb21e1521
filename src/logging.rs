//! Where operational logs go: stderr (journald under systemd), one line per event whatever the
//! event holds. Attacker-controlled text is logged as `?` fields (Debug-escaped where it is
//! logged), and [`OneLineStderr`] escapes every control byte left in a formatted event besides
//! its final newline (CR, LF, ESC, ...), so no value can end a line early, forge a second one
//! or move a terminal's cursor. A leaf utility: imports no feature module.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

/// Writes each formatted event to stderr as one line: control bytes escaped (`\r`, `\n`, `\t`,
/// the others as `\xNN`), except the event's final newline. With `keep_ansi`, ESC passes through
/// for the formatter's colours (the formatter escapes ESC inside values itself); use it only when
/// stderr is a terminal.
#[derive(Debug, Clone, Copy)]
pub struct OneLineStderr {
    /// Let ESC through (colours on a terminal).
    pub keep_ansi: bool,
}

impl<'a> MakeWriter<'a> for OneLineStderr {
    type Writer = OneLineWriter<io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        OneLineWriter {
            inner: io::stderr(),
            keep_ansi: self.keep_ansi,
        }
    }
}

/// One event's writer (see [`OneLineStderr`]); the formatter hands it a whole event at once.
#[derive(Debug)]
pub struct OneLineWriter<W> {
    inner: W,
    keep_ansi: bool,
}

impl<W: Write> OneLineWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W, keep_ansi: bool) -> Self {
        Self { inner, keep_ansi }
    }
}

impl<W: Write> Write for OneLineWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_all(&one_line(buf, self.keep_ansi))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `event` with every control byte but a final newline (and ESC, with `keep_ansi`) escaped.
pub fn one_line(event: &[u8], keep_ansi: bool) -> Vec<u8> {
    let (body, newline) = match event.strip_suffix(b"\n") {
        Some(body) => (body, true),
        None => (event, false),
    };
    let mut line = Vec::with_capacity(event.len() + 8);
    for &byte in body {
        match byte {
            b'\r' => line.extend_from_slice(b"\\r"),
            b'\n' => line.extend_from_slice(b"\\n"),
            b'\t' => line.extend_from_slice(b"\\t"),
            0x1b if keep_ansi => line.push(byte),
            0x00..=0x1f | 0x7f => line.extend_from_slice(format!("\\x{byte:02x}").as_bytes()),
            _ => line.push(byte),
        }
    }
    if newline {
        line.push(b'\n');
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_stays_one_line_whatever_its_values_hold() {
        let forged = b"probe recorded to=\"x\r\n2026-01-01 INFO forged\x1b[2J\x07\" done\n";
        assert_eq!(
            one_line(forged, false),
            b"probe recorded to=\"x\\r\\n2026-01-01 INFO forged\\x1b[2J\\x07\" done\n"
        );
        assert_eq!(
            one_line(b"\x1b[32mINFO\x1b[0m a\rb", true),
            b"\x1b[32mINFO\x1b[0m a\\rb",
            "colours kept on a terminal, no final newline added"
        );
    }

    #[test]
    fn the_writer_passes_whole_events_through_escaped() {
        let mut writer = OneLineWriter::new(Vec::new(), false);
        writer.write_all(b"a\nb\n").expect("write");
        assert_eq!(writer.inner, b"a\\nb\n");
    }
}
