//! 20 `gen --all` runs at once on one tree, repeated, alternating two inputs, while a reader
//! reads every file: no run fails, no read sees an empty or partial file.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

fn spawn(dir: &Path, envs: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_gen"))
        .current_dir(dir)
        .args(["--all", "--envs-dir", envs.to_str().unwrap()])
        .env("GEN_LOCK_TIMEOUT", "120")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn keys(a: &State, b: &State) -> Vec<String> {
    let mut k: Vec<String> = a.keys().chain(b.keys()).cloned().collect();
    k.sort();
    k.dedup();
    k
}

#[test]
fn twenty_parallel_runs_never_fail_nor_show_a_partial_file() {
    let t = Scratch::new("parallel");
    let envs = [variant(&t, "a"), variant(&t, "b")];
    let refs = [reference(&t, &envs[0], "a"), reference(&t, &envs[1], "b")];
    let keys = keys(&refs[0], &refs[1]);
    assert!(spawn(&t, &envs[0]).wait().unwrap().success());
    // A reader reads every file over and over while the runs go.
    let stop = Arc::new(AtomicBool::new(false));
    let bad = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let (dir, keys, refs) = (t.0.clone(), keys.clone(), refs.clone());
        let (stop, bad) = (stop.clone(), bad.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for k in &keys {
                    let one = state(&dir, std::slice::from_ref(k));
                    reads += 1;
                    if let Err(e) = classify(&one, &refs[0], &refs[1]) {
                        bad.lock().unwrap().push(e);
                    }
                    if k == "README.md" && one[k].as_ref().is_none_or(|r| r.is_empty()) {
                        bad.lock()
                            .unwrap()
                            .push("README.md empty or missing".into());
                    }
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            reads
        })
    };
    let (rounds, mut failures, mut runs) = (6, Vec::new(), 0);
    let start = Instant::now();
    for round in 0..rounds {
        let mut children: Vec<_> = (0..20)
            .map(|i| (i, spawn(&t, &envs[(round + i) % 2])))
            .collect();
        // Two checks per round read a consistent tree: exit 0 or 1, never 2.
        for _ in 0..2 {
            let c = Command::new(env!("CARGO_BIN_EXE_gen"))
                .current_dir(&t.0)
                .args(["--all", "--check", "--envs-dir", envs[0].to_str().unwrap()])
                .env("GEN_LOCK_TIMEOUT", "120")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            children.push((100, c));
        }
        for (i, mut c) in children {
            let s = c.wait().unwrap();
            runs += 1;
            let ok = if i == 100 {
                matches!(s.code(), Some(0 | 1))
            } else {
                s.success()
            };
            if !ok {
                failures.push(format!("round {round} run {i}: {s}"));
            }
        }
    }
    let took = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();
    let bad = bad.lock().unwrap().clone();
    eprintln!(
        "concurrency test: {runs} runs in {rounds} rounds of 20 + 2 checks ({:.1} s): {} failures; {reads} reads, {} bad",
        took.as_secs_f64(),
        failures.len(),
        bad.len()
    );
    assert!(failures.is_empty(), "{failures:?}");
    assert!(
        bad.is_empty(),
        "{} bad reads, first: {:?}",
        bad.len(),
        &bad[..bad.len().min(5)]
    );
    assert!(reads > 1000, "the reader read only {reads} files");
    let tags = classify(&state(&t, &keys), &refs[0], &refs[1]).unwrap();
    assert_eq!(tags.len(), 1, "not one whole run at the end: {tags:?}");
    assert!(leftovers(&t).is_empty(), "{:?}", leftovers(&t));
}
