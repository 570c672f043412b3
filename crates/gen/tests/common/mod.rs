//! Helpers of the write-path tests: scratch trees, two inputs (A and B) and their outputs.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

pub const README: &str =
    "# t\n\nThe diagram:\n\n<!-- gen graph dev -->\n<!-- end gen graph -->\nend\n";

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A fresh folder under the temp dir with envs/ (copies of the repo's) and a small README;
/// removed on drop (after lifting any `chattr +i` a test left).
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("gen-writes-{}-{tag}-{nanos:x}", std::process::id()));
        fs::create_dir_all(dir.join("envs")).unwrap();
        for e in ["dev", "prod", "bootstrap"] {
            fs::copy(
                repo().join(format!("envs/{e}.toml")),
                dir.join(format!("envs/{e}.toml")),
            )
            .unwrap();
            // The committed provider lock file: `--check` wants it (the generator never writes it).
            let lock = format!("generated/{e}/.terraform.lock.hcl");
            fs::create_dir_all(dir.join(format!("generated/{e}"))).unwrap();
            fs::copy(repo().join(&lock), dir.join(&lock)).unwrap();
        }
        fs::write(dir.join("README.md"), README).unwrap();
        Scratch(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = Command::new("chattr")
            .args(["-R", "-i"])
            .arg(&self.0)
            .output();
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn gen_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gen"))
        .current_dir(dir)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

pub fn gen(dir: &Path, args: &[&str]) -> Output {
    gen_env(dir, args, &[])
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every file under `dir` (links as `-> target`), by path.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let (p, t) = (e.path(), e.file_type().unwrap());
            if t.is_dir() {
                stack.push(p);
            } else if t.is_symlink() {
                let to = fs::read_link(&p).unwrap();
                out.insert(p, format!("-> {}", to.display()).into_bytes());
            } else {
                out.insert(p.clone(), fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Write envs-<v>/ in `dir`: dev differs between `a` and `b` in main.tf.json, user_data.sh,
/// the README diagram, and moved.tf.json (only `a` has one).
pub fn variant(dir: &Path, v: &str) -> PathBuf {
    let envs = dir.join(format!("envs-{v}"));
    fs::create_dir_all(&envs).unwrap();
    for e in ["prod", "bootstrap"] {
        fs::copy(
            dir.join(format!("envs/{e}.toml")),
            envs.join(format!("{e}.toml")),
        )
        .unwrap();
    }
    let dev = fs::read_to_string(dir.join("envs/dev.toml")).unwrap();
    let dev = match v {
        "a" => format!(
            "{dev}\n[[moved]]\nfrom = \"aws_s3_bucket.media\"\nto = \"aws_s3_bucket.content\"\n"
        ),
        _ => {
            let changed = dev
                .replace("root_volume_gb = 20", "root_volume_gb = 21")
                .replace("\"203.0.113.0/24\"", "\"203.0.113.0/25\"")
                .replace("health_path = \"/health\"", "health_path = \"/healthz\"");
            assert_ne!(changed, dev);
            changed
        }
    };
    fs::write(envs.join("dev.toml"), dev).unwrap();
    envs
}

/// The files a run of one input decides: generated/dev/* and the README, by relative path.
pub type State = BTreeMap<String, Option<Vec<u8>>>;

pub fn state(dir: &Path, keys: &[String]) -> State {
    keys.iter()
        .map(|k| {
            let p = dir.join(k);
            let v = match fs::symlink_metadata(&p) {
                // A file removed between the two calls (a run removed it) is absent, not empty.
                Ok(m) if m.is_file() => match fs::read(&p) {
                    Ok(bytes) => Some(bytes),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => Some(format!("<read error: {e}>").into_bytes()),
                },
                Ok(_) => Some(b"<not a regular file>".to_vec()),
                Err(_) => None,
            };
            (k.clone(), v)
        })
        .collect()
}

/// What input `envs` writes: generated in a folder of its own.
pub fn reference(dir: &Path, envs: &Path, tag: &str) -> State {
    let r = dir.join(format!("ref-{tag}"));
    fs::create_dir_all(&r).unwrap();
    fs::write(r.join("README.md"), README).unwrap();
    let o = gen(&r, &["--all", "--envs-dir", envs.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut keys: Vec<String> = fs::read_dir(r.join("generated/dev"))
        .unwrap()
        .flatten()
        .map(|e| format!("generated/dev/{}", e.file_name().to_string_lossy()))
        .collect();
    keys.push("README.md".into());
    let s = state(&r, &keys);
    fs::remove_dir_all(&r).unwrap();
    s
}

/// Which input each file matches: `Ok(set of "a"/"b")` over the files that differ between
/// them, `Err` naming a file that matches neither (partial, empty, foreign).
pub fn classify(now: &State, a: &State, b: &State) -> Result<Vec<&'static str>, String> {
    let mut seen = Vec::new();
    for (k, v) in now {
        let (va, vb) = (a.get(k).cloned().flatten(), b.get(k).cloned().flatten());
        let tag = if *v == va && *v == vb {
            continue;
        } else if *v == va {
            "a"
        } else if *v == vb {
            "b"
        } else {
            return Err(format!(
                "{k}: neither input's file ({} bytes)",
                v.as_ref().map(|x| x.len() as i64).unwrap_or(-1)
            ));
        };
        if !seen.contains(&tag) {
            seen.push(tag);
        }
    }
    seen.sort();
    Ok(seen)
}

/// Temp files and journals anywhere under `dir`.
pub fn leftovers(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir)
        .into_keys()
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".gen-tmp") || n == ".gen-journal"
        })
        .collect()
}

/// A small xorshift generator (the tests print its seed).
pub struct Rng(pub u64);

impl Rng {
    pub fn seeded() -> Rng {
        let s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1;
        Rng(s)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}
