//! What the packages install, checked against the program they install: the commented
//! configuration file (rendered from `Config::default()` and the doc comments of the `Config`
//! struct, so it cannot drift), the logrotate rule (the real `logrotate` on a running daemon's
//! JSON log), and the sysusers/tmpfiles snippets (the real `systemd-sysusers` and
//! `systemd-tmpfiles` in a scratch root).
//!
//! `UPDATE_PACKAGING=1 cargo test packaged_config` rewrites `contrib/config/sentrypeer.toml` after
//! an option was added or changed; review the diff.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use sentrypeer::config::Config;

use crate::support::daemon::{Daemon, WAIT};
use crate::support::sip::{options, udp_client};

/// The packaged configuration file, installed as `/etc/sentrypeer/sentrypeer.toml`.
const CONFIG_FILE: &str = "contrib/config/sentrypeer.toml";
/// Set to rewrite [`CONFIG_FILE`] instead of comparing with it.
const UPDATE_ENV: &str = "UPDATE_PACKAGING";
/// Set to make missing prerequisites a test failure instead of a skip.
const REQUIRE_ENV: &str = "SENTRYPEER_REQUIRE_ROOT";

/// The keys the package sets (state under `/var/lib`, the JSON log under `/var/log`, the original
/// unit's choices), as TOML values; every other key stays commented out at its default.
const PACKAGE_SETTINGS: [(&str, &str); 8] = [
    ("sip_responsive", "true"),
    ("cert", "\"/var/lib/sentrypeer/cert.pem\""),
    ("key", "\"/var/lib/sentrypeer/key.pem\""),
    ("db_file", "\"/var/lib/sentrypeer/sentrypeer.db\""),
    ("json_log", "true"),
    ("json_log_file", "\"/var/log/sentrypeer/sentrypeer.json\""),
    ("api", "true"),
    ("api_listen_address", "\"127.0.0.1:8082\""),
];

const HEADER: &str = "\
# SentryPeer configuration, read by sentrypeer.service
# (`sentrypeer --config /etc/sentrypeer/sentrypeer.toml $OPTIONS`).
#
# Every key the program knows is listed with what it means. A commented-out key shows its
# default; the keys that are set are the package's choices: database, node id, P2P key and TLS
# files in /var/lib/sentrypeer, the JSON log in /var/log/sentrypeer, responsive mode, and the
# REST API on loopback only.
#
# Precedence: this file < SENTRYPEER_* variables < flags. Both of the latter can go in
# /etc/default/sentrypeer (read by the unit): `SENTRYPEER_API_TOKEN=...`, `OPTIONS='-s'`.
# Check a change with `sentrypeer --config /etc/sentrypeer/sentrypeer.toml --check-config`,
# then `systemctl restart sentrypeer`.
#
# Generated from the program's defaults (tests/integration/packaging.rs).
";

/// Under the `[personality]` header.
const PERSONALITY_NOTE: &str = "\
# Its keys follow the header (put top-level keys above it); a key not set
# takes the named personality's own value.";

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Whether the prerequisites are there; says why not (or panics under [`REQUIRE_ENV`]).
fn ready(what: &str, missing: &[&str]) -> bool {
    if missing.is_empty() {
        return true;
    }
    let why = format!("{what} skipped, missing: {}", missing.join(", "));
    assert!(std::env::var_os(REQUIRE_ENV).is_none(), "{why}");
    eprintln!("{why}");
    false
}

/// A field of a configuration struct as its source declares it.
struct Field {
    key: String,
    /// Its type as written (`u32`, `PersonalitySettings`, ...).
    ty: String,
    docs: Vec<String>,
}

/// The fields of `pub struct <name> {` in `source`, in order, with their `///` comments.
fn fields_of(source: &str, name: &str) -> Vec<Field> {
    let start = format!("pub struct {name} {{");
    let body = source
        .split_once(&start)
        .and_then(|(_, rest)| rest.split_once("\n}"))
        .map(|(body, _)| body)
        .unwrap_or_else(|| panic!("`{start}` not found"));
    let mut fields = Vec::new();
    let mut docs = Vec::new();
    for line in body.lines().map(str::trim) {
        if let Some(doc) = line.strip_prefix("///") {
            docs.push(doc.trim().to_owned());
        } else if let Some((key, ty)) = line.strip_prefix("pub ").and_then(|l| l.split_once(':')) {
            fields.push(Field {
                key: key.trim().to_owned(),
                ty: ty.trim().trim_end_matches(',').to_owned(),
                docs: std::mem::take(&mut docs),
            });
        }
    }
    fields
}

/// The keys serde accepts at `table_header` (top level when empty), from its own "unknown field"
/// message: an account of the keys that does not depend on reading the source.
fn accepted_keys(table_header: &str) -> Vec<String> {
    let text = format!("{table_header}\nzz_no_such_key = 1\n");
    let error = Config::from_toml(&text, Path::new("probe.toml"))
        .expect_err("an unknown key is refused")
        .to_string();
    let (_, expected) = error
        .split_once("expected one of")
        .unwrap_or_else(|| panic!("serde lists the keys: {error}"));
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn source(relative: &str) -> String {
    std::fs::read_to_string(repo_path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The source file of the config module (`src/config.rs` or under `src/config/`) that declares
/// `pub struct <name> {`.
fn declaring_file(name: &str) -> String {
    let start = format!("pub struct {name} {{");
    std::fs::read_dir(repo_path("src/config"))
        .expect("src/config")
        .filter_map(|entry| entry.ok()?.path().into_os_string().into_string().ok())
        .chain(
            repo_path("src/config.rs")
                .into_os_string()
                .into_string()
                .ok(),
        )
        .filter(|path| path.ends_with(".rs"))
        .find(|path| std::fs::read_to_string(path).is_ok_and(|text| text.contains(&start)))
        .unwrap_or_else(|| panic!("no file in src/config declares `{start}`"))
}

/// Every configuration struct read from the sources: the top level and each table, with the
/// header serde reads it under (empty for the top level).
fn config_structs() -> Vec<(String, String)> {
    let mut structs = vec![(String::new(), "Config".to_owned())];
    let mut next = 0;
    while let Some((header, name)) = structs.get(next).cloned() {
        next += 1;
        let defaults = toml::Table::try_from(Config::default()).expect("the defaults serialise");
        let table = table_at(&defaults, &header);
        for field in fields_of(
            &std::fs::read_to_string(declaring_file(&name)).expect("read"),
            &name,
        ) {
            if matches!(table.get(&field.key), Some(toml::Value::Table(_))) {
                let inner = if header.is_empty() {
                    field.key
                } else {
                    format!("{header}.{}", field.key)
                };
                structs.push((inner, field.ty));
            }
        }
    }
    structs
}

/// The table at a dotted `header` of `root` (the root itself when empty).
fn table_at(root: &toml::Table, header: &str) -> toml::Table {
    header
        .split('.')
        .filter(|key| !key.is_empty())
        .fold(root.clone(), |table, key| match table.get(key) {
            Some(toml::Value::Table(inner)) => inner.clone(),
            _ => panic!("no table {header}"),
        })
}

/// One key: its doc comment, then `#key = default`, or the package's value set.
fn render_key(out: &mut Vec<String>, field: &Field, default: Option<&toml::Value>) {
    out.push(String::new());
    out.extend(
        field
            .docs
            .iter()
            .map(|doc| format!("# {doc}").trim_end().to_owned()),
    );
    let default = default.map_or_else(|| "(not set)".to_owned(), ToString::to_string);
    match PACKAGE_SETTINGS.iter().find(|(key, _)| *key == field.key) {
        Some((key, value)) => {
            out.push(format!("# Default: {default}. Set by the package:"));
            out.push(format!("{key} = {value}"));
        }
        None => out.push(format!("#{} = {default}", field.key)),
    }
}

/// The packaged configuration file: every key at its default, commented out, but the package's;
/// the top level first, then each table under its header.
fn render_config() -> String {
    let defaults = toml::Table::try_from(Config::default()).expect("the defaults serialise");
    let mut out: Vec<String> = HEADER.lines().map(str::to_owned).collect();
    for (header, name) in config_structs() {
        let table = table_at(&defaults, &header);
        let fields = fields_of(
            &std::fs::read_to_string(declaring_file(&name)).expect("read"),
            &name,
        );
        if !header.is_empty() {
            out.push(String::new());
            let docs = field_docs(&header);
            out.extend(docs.iter().map(|doc| format!("# {doc}")));
            if header == "personality" {
                out.extend(PERSONALITY_NOTE.lines().map(str::to_owned));
            }
            out.push(format!("[{header}]"));
        }
        for field in &fields {
            if !matches!(table.get(&field.key), Some(toml::Value::Table(_))) {
                render_key(&mut out, field, table.get(&field.key));
            }
        }
    }
    out.push(String::new());
    out.join("\n")
}

/// The doc comment of the field a table's `header` names (`verdicts.feeds`: the `feeds` field of
/// the `[verdicts]` struct).
fn field_docs(header: &str) -> Vec<String> {
    let (parent, key) = header.rsplit_once('.').unwrap_or(("", header));
    let parent_struct = config_structs()
        .into_iter()
        .find(|(h, _)| h == parent)
        .map(|(_, name)| name)
        .expect("parent struct");
    let source = std::fs::read_to_string(declaring_file(&parent_struct)).expect("read");
    fields_of(&source, &parent_struct)
        .into_iter()
        .find(|field| field.key == key)
        .map(|field| field.docs)
        .unwrap_or_default()
}

/// `text` with every commented-out `#key = value` line made active.
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest)
                if rest.starts_with(|c: char| c.is_ascii_lowercase())
                    && rest.contains(" = ")
                    && !rest.ends_with("(not set)") =>
            {
                rest
            }
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `Config::default()` with the package's keys set.
fn packaged_defaults() -> Config {
    let text: String = PACKAGE_SETTINGS
        .iter()
        .map(|(key, value)| format!("{key} = {value}\n"))
        .collect();
    Config::from_toml(&text, Path::new("package settings")).expect("package settings parse")
}

#[test]
fn packaged_config_lists_every_key_at_its_default() {
    let rendered = render_config();
    let path = repo_path(CONFIG_FILE);
    if std::env::var_os(UPDATE_ENV).is_some() {
        std::fs::write(&path, &rendered).expect("write the packaged config");
    }
    let checked_in = std::fs::read_to_string(&path).expect("contrib/config/sentrypeer.toml");
    assert!(
        checked_in == rendered,
        "{CONFIG_FILE} is not what the defaults render: run `{UPDATE_ENV}=1 cargo test \
         packaged_config` and review the diff"
    );

    // The fields read from the sources are the keys serde accepts: none missed, none extra.
    for (header, name) in config_structs() {
        let file = declaring_file(&name);
        let mut listed: Vec<String> =
            fields_of(&std::fs::read_to_string(&file).expect("read"), &name)
                .into_iter()
                .map(|field| field.key)
                .collect();
        let table = if header.is_empty() {
            String::new()
        } else {
            format!("[{header}]")
        };
        let mut accepted = accepted_keys(&table);
        listed.sort();
        accepted.sort();
        assert_eq!(
            listed, accepted,
            "{name}: fields in {file}, keys serde accepts"
        );
    }
    for field in fields_of(&source("src/config.rs"), "Config") {
        assert!(
            checked_in.contains(&format!("\n#{} = ", field.key))
                || checked_in.contains(&format!("\n{} = ", field.key))
                || checked_in.contains(&format!("\n[{}]", field.key)),
            "{} is in the file",
            field.key
        );
    }

    // As shipped, it is the defaults plus the package's keys; with every key uncommented, the
    // same: each commented value is the default.
    let expected = packaged_defaults();
    let shipped = Config::from_toml(&checked_in, &path).expect("the shipped file parses");
    assert_eq!(shipped, expected);
    let all_active = Config::from_toml(&uncommented(&checked_in), &path)
        .expect("the file with every key uncommented parses");
    assert_eq!(all_active, expected);
}

#[test]
fn packaged_config_is_valid_and_keeps_state_where_the_unit_may_write() {
    let path = repo_path(CONFIG_FILE);
    let checked = Command::new(env!("CARGO_BIN_EXE_sentrypeer"))
        .arg("--config")
        .arg(&path)
        .arg("--check-config")
        .env_clear()
        .output()
        .expect("run sentrypeer --check-config");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let config = Config::read(&path).expect("packaged config");
    let unit = source("contrib/systemd/sentrypeer.service");
    let writable: Vec<&str> = unit
        .lines()
        .find_map(|line| line.strip_prefix("ReadWritePaths="))
        .expect("ReadWritePaths=")
        .split_whitespace()
        .collect();
    for file in [
        &config.db_file,
        &config.cert,
        &config.key,
        &config.json_log_file,
    ] {
        assert!(
            writable
                .iter()
                .any(|dir| file.parent() == Some(Path::new(dir))),
            "{} is in a ReadWritePaths directory",
            file.display()
        );
    }
    assert!(config.db_file.starts_with("/var/lib/sentrypeer"));
    assert!(config.json_log_file.starts_with("/var/log/sentrypeer"));
    assert!(
        config.api_listen_address.ip().is_loopback(),
        "the packaged API is local"
    );
}

/// The JSON log files a logrotate rule matches in `dir`, sorted.
fn log_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read log dir")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("sentrypeer.json"))
        .collect();
    names.sort();
    names
}

/// Whether `done` holds before the tests' deadline, checking every 20 ms (a file has no event
/// to wait on).
fn poll(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

#[test]
fn the_logrotate_rule_rotates_the_json_log_of_a_running_daemon() {
    if !ready(
        "logrotate test",
        if on_path("logrotate") {
            &[]
        } else {
            &["logrotate (apt-get install logrotate)"]
        },
    ) {
        return;
    }
    let rule = source("contrib/logrotate/sentrypeer");
    let logs = tempfile::tempdir().expect("log dir");
    let daemon = Daemon::builder()
        .args(["-j", "-l"])
        .args([logs.path().join("sentrypeer.json").display().to_string()])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    let client = udp_client();
    let probe = |call_id: &str| {
        client
            .send_to(
                options("100", "UDP", "rotate-test", call_id).as_bytes(),
                udp,
            )
            .expect("send probe");
    };
    probe("before-rotation");
    // Rotated before the line is written, the file would be empty (`notifempty`): wait for it.
    let log = logs.path().join("sentrypeer.json");
    assert!(
        poll(|| json_lines(&log).len() == 1),
        "the first event reaches the JSON log"
    );

    // The packaged rule on this directory; `su` names the package's user, which the test
    // machine need not have (the test's directory belongs to whoever runs it).
    let local_rule: String = rule
        .replace(
            "/var/log/sentrypeer/",
            &format!("{}/", logs.path().display()),
        )
        .lines()
        .filter(|line| !line.trim_start().starts_with("su "))
        .map(|line| format!("{line}\n"))
        .collect();
    let rule_path = logs.path().join("rule.conf");
    std::fs::write(&rule_path, local_rule).expect("write rule");
    std::fs::set_permissions(&rule_path, std::fs::Permissions::from_mode(0o644))
        .expect("rule mode");
    let rotated = Command::new("logrotate")
        .arg("--force")
        .arg("--state")
        .arg(logs.path().join("state"))
        .arg(&rule_path)
        .output()
        .expect("run logrotate");
    assert!(
        rotated.status.success(),
        "logrotate: {}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    daemon.wait_for_logged("reopened rotated JSON log", 1);
    probe("after-rotation");
    daemon.wait_for_stored(2);
    let stopped = daemon.stop();
    stopped.assert_clean_exit();

    // The first event is in the rotated file (kept uncompressed until the next rotation), the
    // second in a new file the daemon created, private like the first.
    assert_eq!(
        log_files(logs.path()),
        ["sentrypeer.json", "sentrypeer.json.1"]
    );
    let call_ids = |name: &str| -> Vec<String> {
        json_lines(&logs.path().join(name))
            .iter()
            .map(|event| event["sip_message"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let old = call_ids("sentrypeer.json.1");
    let new = call_ids("sentrypeer.json");
    assert!(
        old.len() == 1 && old[0].contains("before-rotation"),
        "{old:?}"
    );
    assert!(
        new.len() == 1 && new[0].contains("after-rotation"),
        "{new:?}"
    );
    let mode = std::fs::metadata(logs.path().join("sentrypeer.json"))
        .expect("new log")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
}

#[test]
fn the_sysusers_and_tmpfiles_snippets_create_the_user_and_its_private_directories() {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut missing = Vec::new();
    if !is_root {
        missing.push("root (to create files owned by another user)");
    }
    for tool in ["systemd-sysusers", "systemd-tmpfiles"] {
        if !on_path(tool) {
            missing.push(tool);
        }
    }
    if !ready("sysusers/tmpfiles test", &missing) {
        return;
    }
    // A scratch root: the snippets create the user in its /etc/passwd and the directories in
    // its /var, as the package's postinst does on the real root.
    let root = tempfile::tempdir().expect("scratch root");
    std::fs::create_dir_all(root.path().join("etc")).expect("etc");
    for (tool, snippet) in [
        ("systemd-sysusers", "contrib/systemd/sentrypeer.sysusers"),
        ("systemd-tmpfiles", "contrib/systemd/sentrypeer.tmpfile"),
    ] {
        let mut command = Command::new(tool);
        command.arg(format!("--root={}", root.path().display()));
        if tool == "systemd-tmpfiles" {
            command.arg("--create");
        }
        let ran = command.arg(repo_path(snippet)).output().expect(tool);
        assert!(
            ran.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&ran.stderr)
        );
    }
    let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).expect("passwd");
    let user = passwd
        .lines()
        .find(|line| line.starts_with("sentrypeer:"))
        .unwrap_or_else(|| panic!("sentrypeer in passwd: {passwd}"));
    let fields: Vec<&str> = user.split(':').collect();
    let uid: u32 = fields[2].parse().expect("uid");
    assert!(uid > 0 && uid < 1000, "a system user: {user}");
    assert_eq!(fields[5], "/var/lib/sentrypeer", "home: {user}");
    assert!(fields[6].ends_with("nologin"), "no login shell: {user}");

    // The unit's StateDirectoryMode and LogsDirectoryMode, owned by the user.
    let unit = source("contrib/systemd/sentrypeer.service");
    let unit_value = |key: &str| {
        unit.lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key}= in the unit"))
            .to_owned()
    };
    for (dir, mode_key) in [
        ("var/lib/sentrypeer", "StateDirectoryMode"),
        ("var/log/sentrypeer", "LogsDirectoryMode"),
    ] {
        let meta = std::fs::metadata(root.path().join(dir)).expect(dir);
        let expected = u32::from_str_radix(&unit_value(mode_key), 8).expect("octal mode");
        assert_eq!(meta.permissions().mode() & 0o7777, expected, "{dir}");
        assert_eq!(meta.uid(), uid, "{dir} owner");
    }
}
