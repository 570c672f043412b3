//! Reading `envs/<name>.toml` into typed environments, with errors that name the file, the key
//! and the fix.

use std::fmt;
use std::path::Path;

use aws::env::{AppEnv, BootstrapEnv, Env, Kind, Name, StateKey};
use serde::Deserialize;

/// Bad input: exit status 2.
#[derive(Debug)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

fn err<T>(msg: impl Into<String>) -> Result<T, InputError> {
    Err(InputError(msg.into()))
}

/// The environment names found in `dir` (files `<name>.toml`), sorted.
pub fn list(dir: &Path) -> Result<Vec<String>, InputError> {
    let rd = std::fs::read_dir(dir).map_err(|e| {
        InputError(format!(
            "{}: cannot read the environments folder ({e}); fix: run from the repository root or pass --envs-dir",
            dir.display()
        ))
    })?;
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".toml"))
                .map(str::to_string)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Levenshtein distance, for "did you mean" hints.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(2))
        .min()
        .map(|(_, c)| c)
}

/// Where a byte offset is: 1-based line and column, and the dotted key at that place.
fn locate(text: &str, offset: usize) -> (usize, usize, String) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    let lines: Vec<&str> = text.lines().collect();
    // The key: the nearest `key =` at or above this line; the table: the nearest `[table]` above.
    let mut key = String::new();
    let mut table = String::new();
    for l in lines[..line.min(lines.len())].iter().rev() {
        let t = l.trim();
        if key.is_empty() {
            if let Some((k, _)) = t.split_once('=') {
                if !t.starts_with('#') && !t.starts_with('[') {
                    key = k.trim().to_string();
                }
            }
        }
        if t.starts_with('[') {
            table = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            break;
        }
    }
    let path = match (table.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    };
    (line, col, path)
}

fn parse<'de, T: Deserialize<'de>>(file: &str, text: &'de str) -> Result<T, InputError> {
    toml::from_str::<T>(text).map_err(|e| {
        let (line, col, key) = e.span().map(|s| locate(text, s.start)).unwrap_or((1, 1, String::new()));
        let msg = e.message().trim().to_string();
        if let Some(rest) = msg.strip_prefix("unknown field `") {
            let (field, rest) = rest.split_once('`').unwrap_or((rest, ""));
            let known: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
            let table = key.rsplit_once('.').map(|(t, _)| format!("{t}.")).unwrap_or_default();
            let key = format!("{table}{field}");
            if let Some((_, to, why)) = aws::env::MOVED_KEYS.iter().find(|(from, ..)| *from == key) {
                return InputError(format!(
                    "{file}:{line}:{col}: key `{key}` is now `{to}` ({why}); fix: move it to `{to}`{}",
                    if to.contains('.') { "" } else { " (top level, above the first `[table]`)" }
                ));
            }
            return match closest(field, known.iter().copied()) {
                Some(c) => InputError(format!(
                    "{file}:{line}:{col}: unknown key `{key}`; fix: did you mean `{c}`? (known keys here: {})",
                    known.join(", ")
                )),
                None => InputError(format!(
                    "{file}:{line}:{col}: unknown key `{key}`; fix: remove it (known keys here: {})",
                    known.join(", ")
                )),
            };
        } else if let Some(rest) = msg.strip_prefix("missing field `") {
            let field = rest.split('`').next().unwrap_or(rest);
            let where_ = if key.is_empty() { String::new() } else { format!(" in `[{}]`", key.split('.').next().unwrap_or("")) };
            return InputError(format!("{file}: missing key `{field}`{where_}; fix: add `{field} = ...` (see envs/dev.toml for an example)"));
        }
        // The rest is shown as it is: the env file's validators (aws::env) say how to fix the
        // value, serde and toml say what they expected.
        InputError(format!("{file}:{line}:{col}: key `{key}`: {msg}"))
    })
}

#[derive(Deserialize)]
struct KindOnly {
    #[serde(default)]
    kind: Kind,
}

/// Read and check one environment file.
pub fn load(dir: &Path, name: &str) -> Result<Env, InputError> {
    let path = dir.join(format!("{name}.toml"));
    let file = crate::env_file(dir, name);
    if let Err(e) = Name::parse(name) {
        return err(format!("environment name `{name}`: {e}"));
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let known = list(dir)?;
            let hint = match closest(name, known.iter().map(String::as_str)) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("create {file} (copy envs/dev.toml)"),
            };
            return err(format!(
                "unknown environment `{name}`: {} does not exist; fix: {hint} (known: {})",
                path.display(),
                known.join(", ")
            ));
        }
        Err(e) => return err(format!("{}: cannot read ({e})", path.display())),
    };
    // The kind decides the schema; a typo in `kind` itself is reported by the first parse.
    let kind = parse::<KindOnly>(&file, &text)
        .map(|k| k.kind)
        .or_else(|e| {
            if text.lines().any(|l| l.trim_start().starts_with("kind")) {
                Err(e)
            } else {
                Ok(Kind::App)
            }
        })?;
    let env = match kind {
        Kind::App => {
            let cfg: AppEnv = parse(&file, &text)?;
            check_app(&file, &crate::env_file(dir, "bootstrap"), &cfg)?;
            Env::App(Box::new(cfg))
        }
        Kind::Bootstrap => Env::Bootstrap(parse::<BootstrapEnv>(&file, &text)?),
    };
    Ok(env)
}

/// Checks that span several keys.
fn check_app(file: &str, boot_file: &str, cfg: &AppEnv) -> Result<(), InputError> {
    if let Err(e) = cfg.topology() {
        return err(format!("{file}: key `{}`: {}", e.key, e.message));
    }
    if !cfg.app.ssh_open_to_world {
        if let Some(c) = cfg.app.ssh_ingress_cidrs.iter().find(|c| c.is_anywhere()) {
            return err(format!(
                "{file}: key `app.ssh_ingress_cidrs`: `{c}` opens SSH to the whole internet; fix: name your own range, or set `app.ssh_open_to_world = true` if you mean it"
            ));
        }
    }
    check_ssh_user(file, &cfg.app)?;
    let b = &cfg.buckets;
    let names = [
        ("logs", b.logs.as_str()),
        ("artifacts", b.artifacts.as_str()),
        ("content", b.content.as_str()),
        ("state", cfg.state.bucket.as_str()),
    ];
    for (i, (ka, a)) in names.iter().enumerate() {
        if let Some((kb, _)) = names[i + 1..].iter().find(|(_, n)| n == a) {
            let kb = if *kb == "state" {
                "state.bucket".to_string()
            } else {
                format!("buckets.{kb}")
            };
            return err(format!("{file}: key `{kb}`: bucket name `{a}` is also used by `buckets.{ka}`; fix: give every bucket its own name"));
        }
    }
    if cfg.state.lock.dynamodb() && cfg.state.dynamodb_table.is_none() {
        return err(format!(
            "{file}: key `state.dynamodb_table` is missing but `state.lock` uses DynamoDB; fix: add the table name from {boot_file} or set `lock = \"lockfile\"`"
        ));
    }
    Ok(())
}

/// The AMI's login user is known (a pinned AMI names it) and is not the app's user.
fn check_ssh_user(file: &str, app: &aws::env::AppHost) -> Result<(), InputError> {
    use aws::env::{Ami, UBUNTU_LOGIN_USER};
    match (&app.ami, &app.ssh_user) {
        (Ami::Pinned(id), None) => {
            return err(format!(
                "{file}: key `app.ssh_user` is missing but `app.ami` pins `{id}`, whose login user gen cannot know; fix: add `ssh_user = \"...\"` to `[app]` (`ubuntu` on Ubuntu, `admin` on Debian)"
            ))
        }
        (Ami::Ubuntu2404, Some(u)) if u.as_str() != UBUNTU_LOGIN_USER => {
            return err(format!(
                "{file}: key `app.ssh_user` is `{}` but the Ubuntu 24.04 AMI's login user is `{UBUNTU_LOGIN_USER}`; fix: remove `ssh_user` (or set it to `{UBUNTU_LOGIN_USER}`)",
                u
            ))
        }
        _ => {}
    }
    if app.ssh_user() == Some(app.user.as_str()) {
        return err(format!(
            "{file}: key `app.user` is `{}`, the AMI's login user (it has sudo); fix: run the app as a user of its own, e.g. `fastapi`",
            app.user
        ));
    }
    Ok(())
}

/// No two env files may take the same name in the account (a copied env file would deploy onto
/// the other environment's buckets). Every env file in `dir` is read for this.
pub fn check_unique(dir: &Path, name: &str, cfg: &AppEnv) -> Result<(), InputError> {
    let file = crate::env_file(dir, name);
    let mine = aws::stacks::claims(name, cfg);
    let mut lines = Vec::new();
    let mut keys: Vec<&str> = Vec::new();
    for other in list(dir)?.into_iter().filter(|o| o != name) {
        let env = load(dir, &other).map_err(|e| {
            InputError(format!(
                "{e} (every env file is read to check that environments do not collide)"
            ))
        })?;
        let Env::App(theirs) = env else { continue };
        for t in aws::stacks::claims(&other, &theirs) {
            for m in mine
                .iter()
                .filter(|m| m.what == t.what && m.value == t.value)
            {
                lines.push(format!(
                    "  {} `{}`: {file} key `{}` and {} key `{}`",
                    m.what,
                    m.value,
                    m.key,
                    crate::env_file(dir, &other),
                    t.key
                ));
                if !keys.contains(&m.key) {
                    keys.push(m.key);
                }
            }
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    err(format!(
        "{file} takes names another environment already has (an apply would take over its resources):\n{}\nfix: give {file} its own values for: {} (or change the other file's keys named above)",
        lines.join("\n"),
        keys.join(", ")
    ))
}

/// An app environment's `[state]` must name the bootstrap environment's bucket, region and table.
pub fn check_against_bootstrap(
    envs_dir: &Path,
    name: &str,
    app: &AppEnv,
    boot: &BootstrapEnv,
) -> Result<(), InputError> {
    let file = crate::env_file(envs_dir, name);
    let boot_file = crate::env_file(envs_dir, "bootstrap");
    let s = &app.state;
    if s.bucket != boot.state.bucket {
        return err(format!(
            "{file}: key `state.bucket` is `{}` but {boot_file} creates `{}`; fix: use the bootstrap bucket",
            s.bucket, boot.state.bucket
        ));
    }
    if s.region != boot.region {
        return err(format!(
            "{file}: key `state.region` is `{}` but {boot_file} creates the state backend in `{}`; fix: use `{}`",
            s.region, boot.region, boot.region
        ));
    }
    if let StateKey::Arn(key) = &s.kms_key_id {
        if key.region() != boot.region.as_str() {
            return err(format!(
                "{file}: key `state.kms_key_id` is in region `{}` but envs/bootstrap.toml creates the state key in `{}`; fix: use `{}`",
                key.region(), boot.region, boot.state.kms_key_alias
            ));
        }
    }
    if let Some(a) = s.kms_key_id.alias() {
        if *a != boot.state.kms_key_alias {
            return err(format!(
                "{file}: key `state.kms_key_id` names the alias `{a}` but envs/bootstrap.toml creates `{}`; fix: use `{}`",
                boot.state.kms_key_alias, boot.state.kms_key_alias
            ));
        }
    }
    if s.lock.dynamodb() {
        if let Some(t) = &s.dynamodb_table {
            if *t != boot.state.dynamodb_table {
                return err(format!(
                    "{file}: key `state.dynamodb_table` is `{t}` but {boot_file} creates `{}`; fix: use the bootstrap table",
                    boot.state.dynamodb_table
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_key() {
        assert_eq!(
            closest("instnce_type", ["instance_type", "ami", "user"]),
            Some("instance_type")
        );
        assert_eq!(closest("zzz", ["instance_type", "ami"]), None);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn locates_keys_in_tables() {
        let text = "project = \"x\"\n[app]\nroot_volume_gb = 5\n";
        let off = text.find('5').unwrap();
        assert_eq!(locate(text, off), (3, 18, "app.root_volume_gb".to_string()));
    }
}
