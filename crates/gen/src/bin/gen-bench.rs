//! Benchmark: the time and peak memory to generate every environment.
//!
//! 1. In process: build and render every env in envs/ (no writes), many times.
//! 2. As a process: run the release `gen --all --out <tmp>` many times, with its wall time and
//!    peak resident memory (from wait4's rusage).
//!
//! Run with `make bench` (or `cargo run --release -p gen --bin gen-bench`) from the repo root.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    format!(
        "min {:.3} ms, median {:.3} ms, mean {:.3} ms, max {:.3} ms",
        v[0].as_secs_f64() * 1e3,
        v[v.len() / 2].as_secs_f64() * 1e3,
        mean.as_secs_f64() * 1e3,
        v[v.len() - 1].as_secs_f64() * 1e3
    )
}

/// Run a command and return its wall time and peak RSS in KiB.
fn run_measured(cmd: &mut Command) -> (Duration, i64) {
    let start = Instant::now();
    let child = cmd.spawn().expect("spawn gen");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain old data, zero is a valid value for every field.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and usage point to valid memory.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let took = start.elapsed();
    assert_eq!(r, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "gen failed"
    );
    std::mem::forget(child);
    (took, usage.ru_maxrss)
}

fn main() {
    let envs = PathBuf::from("envs");
    let names = gen::config::list(&envs).expect("run from the repository root");
    let n_inproc = 200;
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..n_inproc {
        let t = Instant::now();
        bytes = 0;
        for name in &names {
            let files = gen::build(&envs, name, gen::Format::Json).unwrap();
            bytes += files.iter().map(|f| f.contents.len()).sum::<usize>();
        }
        times.push(t.elapsed());
    }
    println!(
        "environments: {} ({}), {} bytes of output",
        names.len(),
        names.join(", "),
        bytes
    );
    println!("in process, all envs, {n_inproc} runs: {}", stats(times));

    let exe = std::env::current_exe().unwrap().with_file_name("gen");
    assert!(
        exe.exists(),
        "build the gen binary first: cargo build --release -p gen"
    );
    let out = std::env::temp_dir().join(format!("gen-bench-{}", std::process::id()));
    let n_proc = 50;
    let (mut fresh, mut current) = (Vec::new(), Vec::new());
    let mut peak = 0;
    for i in 0..2 * n_proc {
        let writes_all = i % 2 == 0;
        if writes_all {
            let _ = std::fs::remove_dir_all(&out);
        }
        let (t, rss) = run_measured(
            Command::new(&exe)
                .args(["--all", "--out"])
                .arg(&out)
                .stdout(std::process::Stdio::null()),
        );
        if writes_all {
            fresh.push(t)
        } else {
            current.push(t)
        }
        peak = peak.max(rss);
    }
    let _ = std::fs::remove_dir_all(Path::new(&out));
    println!(
        "process `gen --all`, every file written, {n_proc} runs: {}",
        stats(fresh)
    );
    println!(
        "process `gen --all`, files already current, {n_proc} runs: {}",
        stats(current)
    );
    println!(
        "process `gen --all` peak RSS: {:.1} MiB",
        peak as f64 / 1024.0
    );
}
