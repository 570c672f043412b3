//! Hostile values fed straight into the user_data template, past the env-file checks
//! (issue 10, item 4, defence in depth). For each value, placed in every field at once:
//! - the script passes `bash -n`, and its comment header stays comments;
//! - its settings, SSM (step 3), unit (step 6) and health-check (step 7) parts, run by bash with
//!   stub python3, systemctl, curl, journalctl and chown on PATH and the files redirected into a
//!   temporary folder, run no marker command and hand each stub exactly the value;
//! - the unit file it writes parses (strictly, as systemd.syntax(7) reads it) to exactly the
//!   intended directives, ExecStart= to exactly the intended argv, and `systemd-analyze verify`
//!   (when installed) reports no unknown or invalid setting.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws::user_data::UserData;

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!(
            "fastapi-infra-ud-{}-{n}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn hostile(marker: &Path) -> Vec<String> {
    let m = format!("touch {}", marker.display());
    vec![
        format!("$({m})"),
        format!("`{m}`"),
        format!("'; {m}; '"),
        format!("\"; {m}; \""),
        format!("app.main:app\nUser=root\nExecStartPre=/bin/sh -c '{m}'"),
        format!("x\n[Service]\nUser=root\nExecStart=/bin/sh -c \"{m}\""),
        format!("x\n{m}\n"),
        format!("x\nUNIT\n{m}\nPY\n{m}"),
        "%h%u%%%".into(),
        format!("a;{m}"),
        format!("a ; {m}"),
        format!("x \\\n{m}"),
        "trailing\\".into(),
        "$HOME ${PATH} $$ $".into(),
        "#not a comment".into(),
        "tab\there\rcr\x0bvt\x7fdel\u{85}nel".into(),
        "-oops --host 0.0.0.0".into(),
        // Long, but each environment string of the stubs stays under Linux's 128 KiB.
        format!("{}{m}", "a".repeat(30_000)),
    ]
}

/// A numbered step of the script (`# N. Title...` up to the next `# M.`), found by its title.
fn step<'a>(script: &'a str, title: &str) -> &'a str {
    let is_header = |l: &str| {
        let digits = l
            .strip_prefix("# ")
            .map_or("", |r| r.split('.').next().unwrap_or(""));
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    };
    let lines: Vec<&str> = script.split_inclusive('\n').collect();
    let start = lines
        .iter()
        .position(|l| is_header(l) && l.contains(title))
        .unwrap_or_else(|| panic!("no step `{title}` in the script"));
    let end = (start + 1..lines.len())
        .find(|&i| is_header(lines[i]))
        .unwrap_or(lines.len());
    let from: usize = lines[..start].iter().map(|l| l.len()).sum();
    let len: usize = lines[start..end].iter().map(|l| l.len()).sum();
    &script[from..from + len]
}

/// The parts of the script the test runs, in order: the settings, the SSM step, the unit and the
/// health check.
fn runnable(script: &str, dir: &Path) -> String {
    let a = script.find("\nAPP_NAME=").expect("the settings block");
    let b = a + script[a..].find("# end of settings").expect("its end");
    let d = dir.display();
    [
        "set -euo pipefail",
        &script[a..b],
        // Only the files move into the test's folder; the values stay what the script made.
        &format!(
            "CONF_DIR='{d}/conf'; ENV_FILE='{d}/conf/env'; DEPLOY_FILE='{d}/conf/deploy'; UNIT_FILE='{d}/unit.service'"
        ),
        step(script, "Settings from SSM"),
        step(script, "The systemd unit"),
        step(script, "for the health endpoint"),
    ]
    .join("\n")
}

const STUB: &str = r#"#!/bin/bash
# Records its argv (NUL-separated) in $STUB_DIR/<name>.argv; python3 also records its environment.
name="$(basename "$0")"
printf '%s\0' "$@" >> "${STUB_DIR}/${name}.argv"
printf '\n' >> "${STUB_DIR}/${name}.calls"
case "${name}" in
  python3) env -0 > "${STUB_DIR}/python3.env"; cat > /dev/null; : > "${DEPLOY_OUT}" ;;
esac
exit 0
"#;

fn stubs(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    for name in ["python3", "systemctl", "curl", "journalctl", "chown"] {
        let p = bin.join(name);
        fs::write(&p, STUB).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

/// Every argument a stub was called with, all its calls one after the other.
fn argv(dir: &Path, name: &str) -> Vec<String> {
    let text = fs::read_to_string(dir.join(format!("{name}.argv"))).unwrap_or_default();
    let mut words: Vec<String> = text.split('\0').map(String::from).collect();
    words.pop(); // after the last NUL
    words
}

/// A settings spec (JSON, as the contract makes it) holding the hostile value as a key, a
/// variable name and a value.
fn spec(v: &str) -> String {
    serde_json::json!({ "ssm": [v, "db_host"], "env": [[v, "value", v], ["APP_ENV", "ssm", v]] })
        .to_string()
}

fn render(v: &str) -> String {
    UserData {
        project: v,
        env: v,
        app_name: v,
        app_user: v,
        region: v,
        ssm_prefix: v.to_string(),
        settings_spec: spec(v),
        app_port: 8000,
        asgi_app: v,
        health_path: v,
        regenerate: v,
    }
    .render()
}

/// systemd.syntax(7), strictly: `[Section]`, `Key=Value` (both trimmed), `#`/`;` comments, and
/// no line continuation at all (a line ending in an unescaped `\`): our unit has none.
fn parse_unit(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = vec![];
    for line in text.lines() {
        let trailing = line.len() - line.trim_end_matches('\\').len();
        assert!(
            trailing % 2 == 0,
            "line continuation in the unit: {line:.200}"
        );
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if l.starts_with('[') && l.ends_with(']') {
            section = l[1..l.len() - 1].to_string();
            continue;
        }
        let (k, v) = l
            .split_once('=')
            .unwrap_or_else(|| panic!("not Key=Value in the unit: {l:.200}"));
        out.push((section.clone(), k.trim().to_string(), v.trim().to_string()));
    }
    out
}

/// Specifiers (systemd.unit(5)): only `%%` may appear, and it means `%`.
fn specifiers(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '%' {
            assert_eq!(it.next(), Some('%'), "a specifier is expanded in {s:.200}");
        }
        out.push(c);
    }
    out
}

/// A command line (systemd.syntax(7) "Quoting", systemd.service(5) "Command lines"): words,
/// each double-quoted with C escapes or bare; then `%%` -> `%` and `$$` -> `$`, and no other
/// specifier or variable.
fn exec_argv(line: &str) -> Vec<String> {
    let mut words = vec![];
    let mut it = line.chars().peekable();
    loop {
        while it.peek().is_some_and(|c| c.is_whitespace()) {
            it.next();
        }
        let Some(&first) = it.peek() else { break };
        let mut w = String::new();
        if first == '"' {
            it.next();
            loop {
                match it.next().expect("unterminated quote in ExecStart") {
                    '"' => break,
                    '\\' => w.push(cunescape(&mut it)),
                    c => w.push(c),
                }
            }
            assert!(
                it.peek().is_none_or(|c| c.is_whitespace()),
                "a closing quote must end the word"
            );
        } else {
            while let Some(&c) = it.peek() {
                if c.is_whitespace() {
                    break;
                }
                assert!(c != '\\' && c != '\'', "unquoted escape in ExecStart");
                w.push(c);
                it.next();
            }
        }
        let w = specifiers(&w);
        assert!(
            !w.replace("$$", "").contains('$'),
            "an environment variable is expanded in {w:.200}"
        );
        words.push(w.replace("$$", "$"));
    }
    words
}

fn cunescape(it: &mut impl Iterator<Item = char>) -> char {
    let hex = |it: &mut dyn Iterator<Item = char>, n: usize| {
        let s: String = it.take(n).collect();
        char::from_u32(u32::from_str_radix(&s, 16).expect("hex escape")).expect("a char")
    };
    match it.next().expect("a lone backslash") {
        '\\' => '\\',
        '"' => '"',
        '\'' => '\'',
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'x' => hex(it, 2),
        'u' => hex(it, 4),
        c => panic!("an escape systemd does not know: \\{c}"),
    }
}

fn unit_text_decoded(v: &str) -> Option<String> {
    // Settings without quoting keep what we wrote: only `%%` is resolved. A value with `\` or
    // control characters shows them escaped (no unescaping there), so compare only the others.
    (!v.contains('\\') && !v.chars().any(char::is_control)).then(|| v.to_string())
}

fn check(v: &str, dir: &Path) {
    let script = render(v);
    fs::write(dir.join("user_data.sh"), &script).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(dir.join("user_data.sh"))
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    let header: Vec<&str> = script
        .lines()
        .take_while(|l| *l != "set -euo pipefail")
        .collect();
    assert!(header.len() < 12 && header.iter().all(|l| l.starts_with('#')));

    let bin = stubs(dir);
    fs::create_dir_all(dir.join("conf")).unwrap();
    fs::write(dir.join("run.sh"), runnable(&script, dir)).unwrap();
    let run = Command::new("bash")
        .arg(dir.join("run.sh"))
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("STUB_DIR", dir)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "the script's parts failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!dir.join("MARKER").exists(), "a marker command ran");

    // Each stub got exactly the value.
    let unit = format!("{v}.service");
    assert_eq!(
        argv(dir, "systemctl"),
        ["daemon-reload", "enable", &unit, "restart", &unit].map(String::from)
    );
    assert_eq!(
        argv(dir, "curl"),
        ["-fsS", "--", &format!("http://127.0.0.1:8000{v}")].map(String::from)
    );
    let env = fs::read_to_string(dir.join("python3.env")).unwrap();
    let env: Vec<&str> = env.split('\0').collect();
    let get = |k: &str| {
        env.iter()
            .find_map(|e| e.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} not passed to python3"))
            .to_string()
    };
    assert_eq!(get("SETTINGS_SPEC"), spec(v));
    assert_eq!(get("SSM_PREFIX"), v);
    assert_eq!(get("AWS_REGION"), v);

    // The unit: exactly the intended directives, in order.
    let text = fs::read_to_string(dir.join("unit.service")).unwrap();
    let parsed = parse_unit(&text);
    let keys: Vec<(&str, &str)> = parsed
        .iter()
        .map(|(s, k, _)| (s.as_str(), k.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("Unit", "Description"),
            ("Unit", "Wants"),
            ("Unit", "After"),
            ("Service", "Type"),
            ("Service", "User"),
            ("Service", "Group"),
            ("Service", "WorkingDirectory"),
            ("Service", "EnvironmentFile"),
            ("Service", "ExecStart"),
            ("Service", "Restart"),
            ("Service", "RestartSec"),
            ("Service", "NoNewPrivileges"),
            ("Service", "ProtectSystem"),
            ("Service", "ProtectHome"),
            ("Service", "PrivateTmp"),
            ("Install", "WantedBy"),
        ]
    );
    let value = |k: &str| {
        parsed
            .iter()
            .find(|(_, key, _)| key == k)
            .unwrap()
            .2
            .clone()
    };
    let exec = exec_argv(&value("ExecStart"));
    assert_eq!(
        exec,
        [
            &format!("/opt/{v}/venv/bin/uvicorn"),
            v,
            "--host",
            "0.0.0.0",
            "--port",
            "8000"
        ]
        .map(String::from)
    );
    for (k, want) in [
        ("User", v.to_string()),
        ("Group", v.to_string()),
        ("WorkingDirectory", format!("/opt/{v}/src")),
        ("EnvironmentFile", format!("/etc/{v}/env")),
        ("Description", format!("{v} FastAPI service ({v})")),
    ] {
        let got = specifiers(&value(k));
        if let Some(want) = unit_text_decoded(&want) {
            assert_eq!(got, want.trim(), "{k}");
        }
    }
    for fixed in ["Type=simple", "NoNewPrivileges=true", "ProtectSystem=full"] {
        let (k, want) = fixed.split_once('=').unwrap();
        assert_eq!(value(k), want);
    }
    systemd_analyze(dir, &text, v);
}

/// `systemd-analyze verify` on the unit, when installed: no unknown or unparsable setting; and
/// a User= that is not exactly the value (escaped control characters, `\`) makes systemd refuse
/// the unit (rather than run it as root).
fn systemd_analyze(dir: &Path, text: &str, v: &str) {
    let Ok(out) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: the strict parse above stands alone");
        return;
    };
    assert!(out.status.success());
    let unit = dir.join("app.service");
    fs::write(&unit, text).unwrap();
    let out = Command::new("timeout")
        .args(["60", "systemd-analyze", "verify", "--man=no"])
        .arg(&unit)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    for bad in [
        "Unknown key",
        "Unknown section",
        "Missing '='",
        "Assignment outside of section",
        "quot",
        "escape",
        "too long",
        "Failed to parse",
    ] {
        assert!(!err.contains(bad), "systemd-analyze verify: {err:.2000}");
    }
    if unit_text_decoded(v).is_none() {
        assert!(
            err.contains("Unit configuration has fatal error, unit will not be started"),
            "systemd must refuse the unit: {err:.2000}"
        );
    }
}

#[test]
fn hostile_values_stay_inert_in_user_data() {
    let cases = hostile(Path::new("/nonexistent")).len();
    for i in 0..cases {
        let dir = TempDir::new();
        let v = hostile(&dir.0.join("MARKER")).swap_remove(i);
        check(&v, &dir.0);
    }
}

#[test]
fn the_parser_of_this_test_sees_what_it_should() {
    // The checks above are only as good as the parser: it must catch the old template's faults.
    let old = "ExecStart=/opt/a/venv/bin/uvicorn app.main:app\nUser=root\n";
    assert_eq!(parse_unit(old).len(), 2, "a newline adds a directive");
    assert!(std::panic::catch_unwind(|| exec_argv("/bin/x $(touch m)")).is_err());
    assert!(std::panic::catch_unwind(|| exec_argv("\"%h\"")).is_err());
    assert!(std::panic::catch_unwind(|| parse_unit("Description=a\\\nUser=root")).is_err());
    assert_eq!(
        exec_argv(r#""a b" "c\"\\d" "50%%" "$$x""#),
        ["a b", "c\"\\d", "50%", "$x"]
    );
}
