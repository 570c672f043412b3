//! One insta snapshot per environment file (insta's glob!): the inventory a reviewer reads
//! first (every address, variable and output, and the backend), so adding `staging` is one
//! new env file plus one new snapshot. The full files are in generated/, checked by --check.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The command that accepts a new environment's snapshot (or a reviewed change). It needs
/// nothing but cargo: cargo-insta is not required.
const ACCEPT: &str = "INSTA_UPDATE=always cargo test -p gen --test environments";

/// insta's glob! keeps its state in a process-wide stack: one glob at a time.
static GLOB: Mutex<()> = Mutex::new(());

fn inventory(envs: &Path, name: &str) -> String {
    let files = gen::build(envs, name, gen::Format::Json).unwrap();
    let mut inv = Vec::new();
    for f in &files {
        if !f.name.ends_with(".tf.json") {
            inv.push(format!(
                "file {} ({} lines)",
                f.name,
                f.contents.lines().count()
            ));
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(&f.contents).unwrap();
        for (section, body) in v.as_object().unwrap() {
            match section.as_str() {
                "resource" | "data" => {
                    for (kind, blocks) in body.as_object().unwrap() {
                        for name in blocks.as_object().unwrap().keys() {
                            let prefix = if section == "data" { "data." } else { "" };
                            inv.push(format!("{prefix}{kind}.{name}"));
                        }
                    }
                }
                "variable" | "output" => {
                    for (n, b) in body.as_object().unwrap() {
                        let mut marks = Vec::new();
                        for m in ["sensitive", "ephemeral"] {
                            if b.get(m) == Some(&serde_json::Value::Bool(true)) {
                                marks.push(m);
                            }
                        }
                        let s = if marks.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", marks.join(", "))
                        };
                        inv.push(format!("{section}.{n}{s}"));
                    }
                }
                "terraform" => inv.push(format!("terraform {}", body)),
                _ => {}
            }
        }
    }
    inv.join("\n")
}

/// Snapshot every `*.toml` of `envs`; on a new or changed inventory, fail with the command that
/// accepts it.
fn check_every_environment(envs: &Path) {
    let _one = GLOB.lock().unwrap_or_else(|e| e.into_inner());
    let result = catch_unwind(AssertUnwindSafe(|| {
        insta::glob!(envs, "*.toml", |path| {
            let name = path.file_stem().unwrap().to_str().unwrap();
            let inv = inventory(envs, name);
            insta::assert_snapshot!("inventory_of_every_environment", inv);
        });
    }));
    if let Err(panic) = result {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!(
            "{msg}\n\nAn environment's inventory snapshot is new or has changed (a new env file needs one).\nIf that is what you meant, accept it with:\n\n    {ACCEPT}\n\nthen review `git diff crates/gen/tests/snapshots/` and commit the .snap files."
        );
    }
}

#[test]
fn inventory_of_every_environment() {
    let envs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../envs");
    check_every_environment(&envs.canonicalize().unwrap());
}

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("gen-envs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("envs")).unwrap();
    d
}

/// A new env file without a snapshot fails with the command that accepts it (or, run with that
/// command, gets its snapshot written).
#[test]
fn a_new_environment_is_told_how_to_accept_its_snapshot() {
    let repo_envs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../envs");
    let d = scratch();
    let envs = d.join("envs");
    std::fs::copy(
        repo_envs.join("bootstrap.toml"),
        envs.join("bootstrap.toml"),
    )
    .unwrap();
    let dev = std::fs::read_to_string(repo_envs.join("dev.toml")).unwrap();
    std::fs::write(envs.join("staging.toml"), dev.replace("-dev-", "-staging-")).unwrap();
    let snaps = d.join("snapshots");
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(&snaps);
    let result = catch_unwind(AssertUnwindSafe(|| {
        settings.bind(|| check_every_environment(&envs));
    }));
    let snap = snaps.join("environments__inventory_of_every_environment@staging.toml.snap");
    if std::env::var("INSTA_UPDATE").as_deref() == Ok("always") {
        assert!(
            result.is_ok() && snap.exists(),
            "{ACCEPT} must write {}",
            snap.display()
        );
    } else {
        let panic = result.expect_err("a new env without a snapshot must fail");
        let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains(ACCEPT), "{msg}");
        assert!(!snap.exists());
    }
    let _ = std::fs::remove_dir_all(&d);
}
