//! `--check` of each environment's provider lock file (`.terraform.lock.hcl`): committed, made by
//! `terraform providers lock` (`make lock ENV=<env>`), and in agreement with the
//! `versions.tf.json` that would be written. The generator never writes it.

use std::path::Path;

use tf::File;

use crate::output::Drift;

/// The command that makes or refreshes the lock file of `env`.
pub fn fix(env: &str) -> String {
    format!(
        "fix: run `make lock ENV={env}` and commit generated/{env}/{}",
        tf::lock::FILE_NAME
    )
}

/// Drift of the lock file in `dir` against the rendered `files` (JSON format only).
pub fn check(env: &str, dir: &Path, files: &[File]) -> Vec<Drift> {
    let Some(versions) = files.iter().find(|f| f.name == "versions.tf.json") else {
        return Vec::new();
    };
    let path = dir.join(tf::lock::FILE_NAME);
    let drift = |what: String| {
        vec![Drift {
            path: path.clone(),
            what: format!("{what}; {}", fix(env)),
        }]
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return drift("missing".into());
    };
    let lock = match tf::lock::parse(&text) {
        Ok(l) => l,
        Err(e) => return drift(format!("unreadable: {e}")),
    };
    let required = match tf::lock::required(&versions.contents) {
        Ok(r) => r,
        Err(e) => return drift(format!("versions.tf.json: {e}")),
    };
    let d = tf::lock::disagreements(&lock, &required);
    if d.is_empty() {
        Vec::new()
    } else {
        drift(format!("disagrees with versions.tf.json: {}", d.join("; ")))
    }
}
