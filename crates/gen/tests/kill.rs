//! `kill -9` at random points of `gen --all` (many of them mid-commit), on a scratch tree with
//! two inputs: every file is always a whole file of one input, and the next run leaves the
//! output wholly one input's, with no temp file.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
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

/// Kill `child` at a random moment within `span`, or (`at_commit`) just after its journal
/// appears, with a random delay of up to 150 µs. True when the kill landed (it had not exited).
fn kill_somewhere(
    child: &mut std::process::Child,
    journal: &Path,
    span: Duration,
    at_commit: bool,
    rng: &mut Rng,
) -> bool {
    if at_commit {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !journal.exists() {
            if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                break;
            }
        }
        let jitter = Duration::from_micros(rng.below(150));
        let t = Instant::now();
        while t.elapsed() < jitter {}
    } else {
        std::thread::sleep(Duration::from_micros(rng.below(span.as_micros() as u64)));
    }
    let _ = child.kill();
    child.wait().unwrap().signal() == Some(9)
}

#[test]
fn kill_9_at_random_points_leaves_whole_runs() {
    let t = Scratch::new("kill");
    let envs = [variant(&t, "a"), variant(&t, "b")];
    let refs = [reference(&t, &envs[0], "a"), reference(&t, &envs[1], "b")];
    let keys = keys(&refs[0], &refs[1]);
    let journal = t.join("generated/.gen-journal");
    let mut rng = Rng::seeded();
    eprintln!("kill test seed {}", rng.0);
    // Start from input a; time a few whole runs to spread the random kills over one.
    let mut times = Vec::new();
    for i in 0..5 {
        let s = Instant::now();
        assert!(spawn(&t, &envs[(i + 1) % 2]).wait().unwrap().success());
        times.push(s.elapsed());
    }
    times.sort();
    let span = times[2];
    let mut cur = 0; // the input the output is wholly from
    let (mut kills, mut in_commit, mut mixed, mut tries) = (0, 0, 0, 0);
    let start = Instant::now();
    // The loop stops at 205 kills; the time bound only matters on a loaded machine, where one
    // run takes a second instead of milliseconds (KILL_TEST_SECONDS, default 600).
    let budget: u64 = std::env::var("KILL_TEST_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    while (kills < 205 || in_commit < 20)
        && tries < 3000
        && start.elapsed() < Duration::from_secs(budget)
    {
        tries += 1;
        let next = 1 - cur;
        let mut child = spawn(&t, &envs[next]);
        if !kill_somewhere(&mut child, &journal, span, tries % 2 == 0, &mut rng) {
            cur = next; // it finished before the kill
            continue;
        }
        kills += 1;
        // Right after the kill: every file whole, the README never empty.
        let pending = journal.exists();
        let now = state(&t, &keys);
        let tags = classify(&now, &refs[0], &refs[1])
            .unwrap_or_else(|e| panic!("after kill {kills} (try {tries}): {e}"));
        assert!(
            now["README.md"].as_ref().is_some_and(|r| !r.is_empty()),
            "README empty or missing after kill {kills}"
        );
        if tags.len() > 1 {
            assert!(
                pending,
                "kill {kills}: files of both inputs and no journal to finish the run"
            );
            mixed += 1;
        }
        in_commit += usize::from(pending);
        // The next run (it writes nothing of dev) finishes or undoes the killed one, and says so.
        let o = gen(
            &t,
            &[
                "--env",
                "bootstrap",
                "--envs-dir",
                envs[next].to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            stderr(&o).contains("finished the commit of an interrupted run"),
            pending,
            "{}",
            stderr(&o)
        );
        let tags = classify(&state(&t, &keys), &refs[0], &refs[1]).unwrap();
        assert_eq!(
            tags.len(),
            1,
            "kill {kills}: not one whole run after recovery: {tags:?}"
        );
        if pending {
            assert_eq!(
                tags,
                [["a", "b"][next]],
                "kill {kills}: a journaled run is finished"
            );
        }
        cur = if tags == ["a"] { 0 } else { 1 };
        let left = leftovers(&t);
        assert!(left.is_empty(), "kill {kills}: left behind: {left:?}");
    }
    eprintln!(
        "kill test: {kills} kill -9 in {tries} runs ({:.1} s, one run {:.1} ms): {in_commit} mid-commit (journal present), {mixed} with files of both inputs; all recovered whole",
        start.elapsed().as_secs_f64(),
        times[2].as_secs_f64() * 1e3
    );
    assert!(kills >= 200, "only {kills} kills landed in {tries} runs");
    assert!(in_commit >= 20, "only {in_commit} kills landed mid-commit");
}
