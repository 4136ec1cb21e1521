//! Writes the files the packages generate from the command-line definition (`config::cli::Cli`):
//! the man page `sentrypeer.1` and the bash, zsh and fish completions. A cargo example, so
//! `clap_mangen` and `clap_complete` stay dev-dependencies and never reach the daemon.
//!
//! `cargo run --example package-assets -- <dir>` (default `target/package-assets`); the Debian
//! package (`contrib/debian/build-deb`) and the container take them from there.

use std::io::Write;
use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::Shell;
use sentrypeer::config::cli::Cli;

/// The man page's sections after the options: files, exit status, examples, see also.
const MAN_TAIL: &str = r#".SH FILES
.TP
\fI/etc/sentrypeer/sentrypeer.toml\fR
The configuration the packaged service reads (\fB\-\-config\fR): every key with its default.
.TP
\fI~/.config/sentrypeer/default\-config.toml\fR
The configuration read when \fB\-\-config\fR is not given and the file exists.
.TP
\fI/etc/default/sentrypeer\fR
SENTRYPEER_* variables and extra flags (OPTIONS=) for the packaged service.
.TP
\fI/var/lib/sentrypeer/\fR
The packaged service's database, node id, peer-to-peer key, TLS certificate and key.
.TP
\fI/var/log/sentrypeer/sentrypeer.json\fR
The packaged service's JSON log (one event per line).
.SH ENVIRONMENT
Every option with an environment variable above can be set with it instead; a boolean
variable that is set turns its feature on whatever its value.
Precedence: configuration file < environment < flags.
\fBRUST_LOG\fR overrides the level of the operational log (stderr).
.SH EXIT STATUS
0 after a clean stop (SIGINT or SIGTERM), 1 on a runtime failure (a port that cannot be bound,
an unwritable database), 2 for a bad command line or configuration.
.SH EXAMPLES
.TP
\fBsentrypeer \-r \-j \-\-sip\-listen\-address 127.0.0.1:5060 \-z 127.0.0.1:5061\fR
Answer probes on loopback, recording them in \fIsentrypeer.db\fR and the JSON log.
.TP
\fBsentrypeer \-\-config /etc/sentrypeer/sentrypeer.toml \-\-check\-config\fR
Check a configuration and print it.
.SH SEE ALSO
\fBsystemctl\fR(1), \fBfail2ban\-client\fR(1); the README at
https://github.com/SentryPeer/SentryPeer and /usr/share/doc/sentrypeer/.
"#;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/package-assets"), PathBuf::from);
    std::fs::create_dir_all(&dir)?;

    let man = clap_mangen::Man::new(Cli::command()).manual("SentryPeer");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    page.write_all(MAN_TAIL.as_bytes())?;
    man.render_version_section(&mut page)?;
    std::fs::write(dir.join("sentrypeer.1"), page)?;

    for (shell, name) in [
        (Shell::Bash, "sentrypeer.bash"),
        (Shell::Zsh, "_sentrypeer"),
        (Shell::Fish, "sentrypeer.fish"),
    ] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "sentrypeer", &mut script);
        std::fs::write(dir.join(name), script)?;
    }
    println!("{}", dir.display());
    Ok(())
}
