//! Faults on the write path: planted links, unwritable files and folders mid-run, broken and
//! foreign files, the README's markers, the lock, and what interrupted runs leave.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn change_dev_and_prod(t: &Path) {
    for (env, from, to) in [
        ("dev", "root_volume_gb = 20", "root_volume_gb = 21"),
        ("dev", "\"203.0.113.0/24\"", "\"203.0.113.0/25\""), // the README diagram changes too
        (
            "prod",
            "backup_retention_days = 7",
            "backup_retention_days = 8",
        ),
    ] {
        let p = t.join(format!("envs/{env}.toml"));
        let text = fs::read_to_string(&p).unwrap();
        assert!(text.contains(from));
        fs::write(&p, text.replace(from, to)).unwrap();
    }
}

/// `chattr +i` (root, or CAP_LINUX_IMMUTABLE); false when this machine cannot.
fn immutable(p: &Path, on: bool) -> bool {
    Command::new("chattr")
        .arg(if on { "+i" } else { "-i" })
        .arg(p)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn an_unwritable_folder_mid_run_changes_nothing() {
    let t = Scratch::new("ro-dir");
    assert!(gen(&t, &["--all"]).status.success());
    change_dev_and_prod(&t);
    let prod = t.join("generated/prod");
    // dev is staged first, then prod fails.
    let locked = immutable(&prod, true) || {
        // Without chattr: a read-only folder (does not stop root).
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&prod, fs::Permissions::from_mode(0o555)).unwrap();
        fs::File::create(prod.join(".probe")).is_err()
    };
    if !locked {
        eprintln!("skipped: cannot make a folder unwritable here (root without chattr)");
        return;
    }
    let before = snapshot(&t);
    let o = gen(&t, &["--all"]);
    immutable(&prod, false);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("generated/prod") && stderr(&o).contains("fix:"),
        "{}",
        stderr(&o)
    );
    assert_eq!(before, snapshot(&t), "a failed run changed files");
}

#[test]
fn an_unwritable_file_mid_commit_is_put_back() {
    let t = Scratch::new("ro-file");
    assert!(gen(&t, &["--all"]).status.success());
    change_dev_and_prod(&t);
    // dev's files and the README are renamed before prod/main.tf.json, which cannot be replaced.
    let main = t.join("generated/prod/main.tf.json");
    if !immutable(&main, true) {
        eprintln!("skipped: chattr +i is not allowed here (needs CAP_LINUX_IMMUTABLE)");
        return;
    }
    let before = snapshot(&t);
    let o = gen(&t, &["--all"]);
    immutable(&main, false);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("generated/prod/main.tf.json: cannot replace") && err.contains("put back"),
        "{err}"
    );
    assert_eq!(before, snapshot(&t), "a failed run changed files");
    assert!(gen(&t, &["--all"]).status.success());
}

#[test]
fn links_planted_at_temp_lock_and_journal_paths_are_never_followed() {
    let t = Scratch::new("links");
    assert!(gen(&t, &["--all"]).status.success());
    change_dev_and_prod(&t);
    let victim = t.join("victim");
    fs::write(&victim, "precious").unwrap();
    // The temp names of older releases, for every file and the README.
    let mut planted = vec![t.join(".README.md.gen-tmp")];
    for e in ["dev", "prod"] {
        for f in fs::read_dir(t.join("generated").join(e)).unwrap().flatten() {
            let n = f.file_name().to_string_lossy().into_owned();
            planted.push(t.join(format!("generated/{e}/.{n}.gen-tmp")));
        }
    }
    for p in &planted {
        std::os::unix::fs::symlink(&victim, p).unwrap();
    }
    let o = gen(&t, &["--all"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    for e in ["dev", "prod"] {
        for f in fs::read_dir(t.join("generated").join(e)).unwrap().flatten() {
            let n = f.file_name().to_string_lossy().into_owned();
            if !n.starts_with('.') {
                assert!(
                    f.file_type().unwrap().is_file(),
                    "{n} is not a regular file"
                );
            }
        }
    }
    // A link where the lock or the journal goes stops the run, naming it.
    for name in [".gen.lock", ".gen-journal"] {
        let p = t.join("generated").join(name);
        let _ = fs::remove_file(&p);
        std::os::unix::fs::symlink(&victim, &p).unwrap();
        let o = gen(&t, &["--all"]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(name), "{}", stderr(&o));
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        fs::remove_file(&p).unwrap();
    }
}

#[test]
fn a_truncated_or_emptied_generated_file_is_regenerated() {
    let t = Scratch::new("truncated");
    assert!(gen(&t, &["--all"]).status.success());
    let main = t.join("generated/dev/main.tf.json");
    let good = fs::read(&main).unwrap();
    for cut in [good.len() / 2, 0] {
        fs::write(&main, &good[..cut]).unwrap();
        let o = gen(&t, &["--all", "--check"]);
        assert_eq!(o.status.code(), Some(1));
        let o = gen(&t, &["--env", "dev"]);
        assert!(o.status.success(), "cut at {cut}: {}", stderr(&o));
        assert_eq!(fs::read(&main).unwrap(), good);
    }
}

#[test]
fn a_foreign_file_in_our_place_stops_the_run_naming_folder_file_and_fix() {
    let t = Scratch::new("foreign");
    assert!(gen(&t, &["--all"]).status.success());
    change_dev_and_prod(&t);
    fs::write(
        t.join("generated/dev/outputs.tf.json"),
        "my notes, not JSON\n",
    )
    .unwrap();
    let before = snapshot(&t);
    let o = gen(&t, &["--all"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("generated/dev: `outputs.tf.json`")
            && err.contains("not JSON")
            && err.contains("fix: move `outputs.tf.json` out of generated/dev"),
        "{err}"
    );
    assert_eq!(before, snapshot(&t));
}

#[test]
fn only_files_with_our_exact_header_line_are_removed() {
    let t = Scratch::new("owner");
    assert!(gen(&t, &["--all"]).status.success());
    let dev = t.join("generated/dev");
    let header = gen::header("dev");
    let json_header = format!("  \"//\": {},", serde_json::to_string(&header).unwrap());
    let keep = [
        (
            "custom.sh",
            "# Generated by fastapi-infra, and then by me\necho mine\n".to_string(),
        ),
        (
            "notes.tf.json",
            format!("{{\n  \"//\": \"{} (copied)\"\n}}\n", header),
        ),
        (
            "from-prod.tf.json",
            format!(
                "{{\n  \"//\": {}\n}}\n",
                serde_json::to_string(&gen::header("prod")).unwrap()
            ),
        ),
        (
            "main.tf.json.bak",
            format!("{{\n{json_header}\n  \"x\": 1\n}}\n"),
        ),
    ];
    for (n, text) in &keep {
        fs::write(dev.join(n), text).unwrap();
    }
    fs::write(
        dev.join("old.tf.json"),
        format!("{{\n{json_header}\n  \"x\": 1\n}}\n"),
    )
    .unwrap();
    let o = gen(&t, &["--all"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !dev.join("old.tf.json").exists(),
        "a stale file of ours is removed"
    );
    for (n, text) in &keep {
        assert_eq!(
            &fs::read_to_string(dev.join(n)).unwrap(),
            text,
            "{n} was touched"
        );
    }
}

#[test]
fn the_readme_is_replaced_whole_and_bad_markers_stop_the_run() {
    let t = Scratch::new("readme");
    let readme = t.join("README.md");
    let ino = fs::metadata(&readme).unwrap().ino();
    assert!(gen(&t, &["--all"]).status.success());
    let current = fs::read_to_string(&readme).unwrap();
    assert!(current.contains("```mermaid\nflowchart LR\n"), "{current}");
    assert_ne!(
        fs::metadata(&readme).unwrap().ino(),
        ino,
        "written in place, not renamed"
    );
    change_dev_and_prod(&t);
    for (text, needle) in [
        ("", "README.md: no graph block"),
        ("# t\nno diagram here\n", "README.md: no graph block"),
        (
            "# t\n<!-- gen graph dev -->\nx\n",
            "README.md:2: `<!-- gen graph dev -->` has no `<!-- end gen graph -->`",
        ),
        (
            "# t\n<!-- gen graph dev --\nx\n<!-- end gen graph -->\n",
            "README.md:2: `<!-- gen graph dev --` is not a graph marker",
        ),
        (
            "# t\n<!-- gen graph nope -->\n<!-- end gen graph -->\n",
            "names no environment",
        ),
    ] {
        fs::write(&readme, text).unwrap();
        let before = snapshot(&t);
        for args in [&["--all"][..], &["--all", "--check"]] {
            let o = gen(&t, args);
            assert_eq!(o.status.code(), Some(2), "{text:?} {args:?}");
            assert!(
                stderr(&o).contains(needle) && stderr(&o).contains("fix:"),
                "{}",
                stderr(&o)
            );
            assert_eq!(before, snapshot(&t), "{text:?}: files changed");
        }
    }
    // --no-readme leaves it alone; --readme names another one, also with --out.
    fs::write(&readme, "# no diagram\n").unwrap();
    assert!(gen(&t, &["--all", "--no-readme"]).status.success());
    assert_eq!(fs::read_to_string(&readme).unwrap(), "# no diagram\n");
    fs::write(t.join("DOC.md"), README).unwrap();
    let o = gen(&t, &["--all", "--out", "elsewhere", "--readme", "DOC.md"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(fs::read_to_string(t.join("DOC.md"))
        .unwrap()
        .contains("flowchart LR"));
    let o = gen(&t, &["--all", "--readme", "MISSING.md"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("MISSING.md"), "{}", stderr(&o));
}

#[test]
fn a_held_lock_makes_a_run_wait_its_bound_then_exit_2_naming_the_holder() {
    let t = Scratch::new("lock");
    assert!(gen(&t, &["--all"]).status.success());
    change_dev_and_prod(&t);
    let lock = fs::File::open(t.join("generated/.gen.lock")).unwrap();
    // SAFETY: flock on a descriptor we own.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    let before = snapshot(&t);
    for args in [&["--all"][..], &["--all", "--check"]] {
        let s = Instant::now();
        let o = gen_env(&t, args, &[("GEN_LOCK_TIMEOUT", "0.4")]);
        let took = s.elapsed();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!("another gen run (pid {})", std::process::id()))
                && err.contains("GEN_LOCK_TIMEOUT"),
            "{err}"
        );
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_secs(20),
            "{took:?}"
        );
    }
    assert_eq!(before, snapshot(&t));
    let o = gen_env(&t, &["--all"], &[("GEN_LOCK_TIMEOUT", "soon")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("GEN_LOCK_TIMEOUT=soon"),
        "{}",
        stderr(&o)
    );
    drop(lock);
    assert!(gen_env(&t, &["--all"], &[("GEN_LOCK_TIMEOUT", "0")])
        .status
        .success());
}

#[test]
fn leftover_temp_files_are_reported_removed_and_ignored_by_git() {
    let t = Scratch::new("leftovers");
    assert!(gen(&t, &["--all"]).status.success());
    let left = [
        "generated/dev/.main.tf.json.gen-tmp",
        "generated/dev/.main.tf.json.0123456789abcdef.gen-tmp",
        "generated/.gen-journal.0123456789abcdef.gen-tmp",
        ".README.md.0123456789abcdef.gen-tmp",
    ];
    for l in left {
        fs::write(t.join(l), "{").unwrap();
    }
    fs::write(t.join(".other.gen-tmp"), "not the README's: left alone").unwrap();
    // A journal of a commit with nothing left to do (a kill after its last rename).
    let journal = t.join("generated/.gen-journal");
    fs::write(&journal, "{\"renames\":[],\"removes\":[]}").unwrap();
    let o = gen(&t, &["--all", "--check"]);
    assert_eq!(o.status.code(), Some(1));
    for l in left {
        assert!(stdout(&o).contains(l), "{l} not in {}", stdout(&o));
        assert!(t.join(l).exists(), "--check removed {l}");
    }
    let said = "generated/.gen-journal: the commit of an interrupted run";
    assert!(stdout(&o).contains(said), "{}", stdout(&o));
    assert!(journal.exists());
    let o = gen(&t, &["--all"]);
    assert!(o.status.success());
    let said = "finished the commit of an interrupted run";
    assert!(stderr(&o).contains(said), "{}", stderr(&o));
    assert!(!journal.exists());
    assert!(
        stderr(&o).contains("removed 4 temp file(s) left by an interrupted run"),
        "{}",
        stderr(&o)
    );
    assert!(left.iter().all(|l| !t.join(l).exists()));
    assert!(t.join(".other.gen-tmp").exists());
    assert_eq!(gen(&t, &["--all", "--check"]).status.code(), Some(0));
    // The repository ignores them, the lock and the journal.
    for p in [
        "generated/dev/.main.tf.json.0123456789abcdef.gen-tmp",
        ".README.md.0123456789abcdef.gen-tmp",
        "generated/.gen.lock",
        "generated/.gen-journal",
    ] {
        let o = Command::new("git")
            .current_dir(repo())
            .args(["check-ignore", "-q", "--no-index", p])
            .output()
            .unwrap();
        assert!(o.status.success(), "{p} is not gitignored");
    }
}
