//! Review: what a change to the generated files does, by Terraform address.
//!
//! `gen diff` compares what would be generated with what is committed (the output folder, or a
//! git revision), flags changes that destroy or replace data-bearing resources, and finds
//! renames (the same bucket, database or role under a new address) that need a `moved` block.
//! `gen diff --envs A B` shows how two environments differ.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde::Serialize;
use serde_json::Value as J;
use tf::File;

use crate::config::InputError;

/// One environment's generated files, indexed by address.
#[derive(Debug, Default)]
pub struct Doc {
    /// `type.name`, `data.type.name`, `var.x`, `output.x`, `local.x`, `provider.aws`, `terraform`.
    pub blocks: BTreeMap<String, J>,
    /// `moved` blocks: (from, to).
    pub moved: Vec<(String, String)>,
    /// Files that are not Terraform JSON (user_data.sh): name to contents.
    pub files: BTreeMap<String, String>,
}

impl Doc {
    pub fn from_files<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Doc, InputError> {
        let mut doc = Doc::default();
        for (name, text) in files {
            if !name.ends_with(".tf.json") {
                doc.files.insert(name.to_string(), text.to_string());
                continue;
            }
            let v: J = serde_json::from_str(text)
                .map_err(|e| InputError(format!("{name}: not JSON ({e})")))?;
            let Some(root) = v.as_object() else { continue };
            for (section, body) in root {
                match section.as_str() {
                    "resource" | "data" => {
                        let prefix = if section == "data" { "data." } else { "" };
                        for (kind, blocks) in body.as_object().into_iter().flatten() {
                            for (n, b) in blocks.as_object().into_iter().flatten() {
                                doc.blocks.insert(format!("{prefix}{kind}.{n}"), b.clone());
                            }
                        }
                    }
                    "variable" | "output" | "locals" | "provider" => {
                        let prefix = match section.as_str() {
                            "variable" => "var",
                            "locals" => "local",
                            s => s,
                        };
                        for (n, b) in body.as_object().into_iter().flatten() {
                            doc.blocks.insert(format!("{prefix}.{n}"), b.clone());
                        }
                    }
                    "terraform" => {
                        for (k, b) in body.as_object().into_iter().flatten() {
                            doc.blocks.insert(format!("terraform.{k}"), b.clone());
                        }
                    }
                    "moved" => {
                        for m in body.as_array().into_iter().flatten() {
                            let s =
                                |k: &str| m.get(k).and_then(J::as_str).unwrap_or("").to_string();
                            doc.moved.push((s("from"), s("to")));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(doc)
    }

    pub fn from_rendered(files: &[File]) -> Result<Doc, InputError> {
        Doc::from_files(files.iter().map(|f| (f.name.as_str(), f.contents.as_str())))
    }

    /// The committed files of an environment folder; an empty document when it does not exist.
    pub fn from_dir(dir: &Path) -> Result<Doc, InputError> {
        let mut files = Vec::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = name.ends_with(".tf.json") || name == aws::user_data::FILE_NAME;
            if ours && !name.contains("_override.") {
                let text = std::fs::read_to_string(e.path()).map_err(|err| {
                    InputError(format!("{}: cannot read ({err})", e.path().display()))
                })?;
                files.push((name, text));
            }
        }
        Doc::from_files(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
    }

    /// The files of `<folder>` at a git revision.
    pub fn from_git(rev: &str, folder: &str) -> Result<Doc, InputError> {
        let git = |args: &[&str]| -> Result<String, InputError> {
            let o = Command::new("git").args(args).output().map_err(|e| {
                InputError(format!(
                    "cannot run git ({e}); fix: install git or drop --base"
                ))
            })?;
            if !o.status.success() {
                return Err(InputError(format!(
                    "git {}: {}; fix: name a revision that exists (see `git log`)",
                    args.join(" "),
                    String::from_utf8_lossy(&o.stderr).trim()
                )));
            }
            Ok(String::from_utf8_lossy(&o.stdout).into_owned())
        };
        let listing = git(&["ls-tree", "--name-only", rev, &format!("{folder}/")])?;
        let mut files = Vec::new();
        for path in listing.lines() {
            let name = path.rsplit('/').next().unwrap_or(path).to_string();
            if name.ends_with(".tf.json") || name == aws::user_data::FILE_NAME {
                files.push((name, git(&["show", &format!("{rev}:{path}")])?));
            }
        }
        Doc::from_files(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
    }
}

/// A changed value at a path inside a block.
#[derive(Debug, Serialize, PartialEq)]
pub struct AttrChange {
    pub path: String,
    pub old: Option<J>,
    pub new: Option<J>,
}

#[derive(Debug, Serialize, PartialEq, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
    Moved,
}

/// What happens to one address.
#[derive(Debug, Serialize)]
pub struct Change {
    pub address: String,
    pub kind: ChangeKind,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<AttrChange>,
    /// Why this change needs care: it destroys or replaces data, or restarts the host.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub danger: Vec<String>,
    /// For a removed address that is the same thing as an added one: the moved block to add.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_to: Option<String>,
}

/// A rename that has no `moved` block: the next apply would destroy and recreate the resource.
#[derive(Debug, Serialize, PartialEq, Clone)]
pub struct Rename {
    pub from: String,
    pub to: String,
    pub why: String,
}

impl Rename {
    /// The lines to add to the env file.
    pub fn toml(&self) -> String {
        format!("[[moved]]\nfrom = \"{}\"\nto = \"{}\"", self.from, self.to)
    }
}

fn diff_json(path: &str, old: &J, new: &J, out: &mut Vec<AttrChange>) {
    match (old, new) {
        (J::Object(a), J::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff_json(&p, x, y, out),
                    (x, y) => out.push(AttrChange {
                        path: p,
                        old: x.cloned(),
                        new: y.cloned(),
                    }),
                }
            }
        }
        (J::Array(a), J::Array(b)) if a.len() == b.len() && a.iter().all(J::is_object) => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_json(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (a, b) if a != b => out.push(AttrChange {
            path: path.to_string(),
            old: Some(a.clone()),
            new: Some(b.clone()),
        }),
        _ => {}
    }
}

fn kind_of(address: &str) -> &str {
    address.split('.').next().unwrap_or("")
}

/// Attributes whose change makes Terraform replace a data-bearing resource.
fn replaces(kind: &str, path: &str) -> Option<&'static str> {
    let top = path.split(['.', '[']).next().unwrap_or(path);
    match (kind, top) {
        (
            "aws_db_instance",
            "identifier"
            | "engine"
            | "db_name"
            | "storage_encrypted"
            | "kms_key_id"
            | "availability_zone"
            | "character_set_name"
            | "snapshot_identifier",
        ) => Some("replaces the database: its data is lost unless restored from a snapshot"),
        ("aws_s3_bucket", "bucket") => {
            Some("replaces the bucket: a new empty bucket, the old one destroyed with its objects")
        }
        ("aws_dynamodb_table", "name" | "hash_key") => Some("replaces the table and its items"),
        ("aws_instance", "ami" | "subnet_id" | "availability_zone" | "root_block_device") => {
            Some("replaces the app host (a new instance, new public IP)")
        }
        _ => None,
    }
}

/// A database change that RDS queues for the maintenance window when `apply_immediately` is
/// off: until the window passes, every plan shows it again.
fn maintenance_window_note(kind: &str, new: &J, changes: &[AttrChange]) -> Option<String> {
    if kind != "aws_db_instance" || new.get("apply_immediately").and_then(J::as_bool) == Some(true)
    {
        return None;
    }
    let waiting: Vec<&str> = changes
        .iter()
        .filter(|c| !c.path.contains(['.', '[']))
        .filter(|c| {
            let num = |v: &Option<J>| v.as_ref().and_then(J::as_i64);
            aws::rds::waits_for_maintenance_window(&c.path, num(&c.old), num(&c.new))
        })
        .map(|c| c.path.as_str())
        .collect();
    (!waiting.is_empty()).then(|| {
        format!(
            "{} wait(s) for the maintenance window (apply_immediately = false): plans show the change again until it has passed",
            waiting.join(", ")
        )
    })
}

fn destroys(kind: &str) -> Option<&'static str> {
    match kind {
        "aws_db_instance" => Some("destroys the database and its data"),
        "aws_s3_bucket" => Some("destroys the bucket and its objects"),
        "aws_dynamodb_table" => Some("destroys the table and its items"),
        "aws_instance" => Some("terminates the app host"),
        "aws_ssm_parameter" => Some("deletes an app setting"),
        _ => None,
    }
}

fn identity(kind: &str, body: &J) -> Option<String> {
    let attr = match kind {
        "aws_s3_bucket" => "bucket",
        "aws_db_instance" => "identifier",
        "aws_security_group"
        | "aws_iam_role"
        | "aws_iam_instance_profile"
        | "aws_ssm_parameter"
        | "aws_dynamodb_table"
        | "aws_db_subnet_group"
        | "aws_iam_role_policy" => "name",
        "aws_instance" => {
            return body
                .get("tags")
                .and_then(|t| t.get("Name"))
                .and_then(J::as_str)
                .map(|s| format!("Name tag `{s}`"))
        }
        _ => return None,
    };
    body.get(attr)
        .and_then(J::as_str)
        .map(|v| format!("{attr} `{v}`"))
}

/// Renames between two documents: removed and added resources that are the same thing.
pub fn renames(old: &Doc, new: &Doc) -> Vec<Rename> {
    let is_resource =
        |a: &str| !a.contains("data.") && a.matches('.').count() == 1 && a.starts_with("aws_");
    let removed: Vec<&String> = old
        .blocks
        .keys()
        .filter(|a| is_resource(a) && !new.blocks.contains_key(*a))
        .collect();
    let mut added: Vec<&String> = new
        .blocks
        .keys()
        .filter(|a| is_resource(a) && !old.blocks.contains_key(*a))
        .collect();
    let mut found: Vec<Rename> = Vec::new();
    // First the resources with a name of their own, then the ones that only follow them.
    for pass in 0..2 {
        for r in &removed {
            if found.iter().any(|f| &f.from == *r) {
                continue;
            }
            let kind = kind_of(r);
            let old_body = &old.blocks[*r];
            let hit = added.iter().position(|a| {
                if kind_of(a) != kind {
                    return false;
                }
                let new_body = &new.blocks[*a];
                match pass {
                    0 => {
                        identity(kind, old_body).is_some()
                            && identity(kind, old_body) == identity(kind, new_body)
                    }
                    _ => {
                        let mut text = old_body.to_string();
                        for f in &found {
                            text = text.replace(&format!("{}.", f.from), &format!("{}.", f.to));
                            text =
                                text.replace(&format!("\"{}\"", f.from), &format!("\"{}\"", f.to));
                        }
                        serde_json::from_str::<J>(&text).ok().as_ref() == Some(new_body)
                    }
                }
            });
            if let Some(i) = hit {
                let a = added.remove(i);
                let why = match pass {
                    0 => format!("same {}", identity(kind, old_body).unwrap_or_default()),
                    _ => "same settings, following a renamed resource".into(),
                };
                found.push(Rename {
                    from: (*r).clone(),
                    to: a.clone(),
                    why,
                });
            }
        }
    }
    found.sort_by(|a, b| a.from.cmp(&b.from));
    found
}

/// Renames with no `moved` block in the new document.
pub fn unmoved_renames(old: &Doc, new: &Doc) -> Vec<Rename> {
    renames(old, new)
        .into_iter()
        .filter(|r| !new.moved.iter().any(|(f, t)| f == &r.from && t == &r.to))
        .collect()
}

/// Everything that changes between two versions of one environment.
pub fn diff(old: &Doc, new: &Doc) -> Vec<Change> {
    let renamed = renames(old, new);
    let mut out = Vec::new();
    let all: BTreeSet<&String> = old.blocks.keys().chain(new.blocks.keys()).collect();
    for a in all {
        let kind = kind_of(a);
        match (old.blocks.get(a), new.blocks.get(a)) {
            (Some(_), None) => {
                let rename = renamed.iter().find(|r| &r.from == a);
                let moved = rename
                    .is_some_and(|r| new.moved.iter().any(|(f, t)| f == &r.from && t == &r.to));
                let mut danger = Vec::new();
                if let (Some(d), false) = (destroys(kind), moved) {
                    danger.push(d.to_string());
                }
                if let (Some(r), false) = (rename, moved) {
                    danger.push(format!("renamed to {} ({}) without a moved block: the next apply destroys and recreates it", r.to, r.why));
                }
                out.push(Change {
                    address: a.to_string(),
                    kind: if moved {
                        ChangeKind::Moved
                    } else {
                        ChangeKind::Removed
                    },
                    attributes: Vec::new(),
                    danger,
                    renamed_to: rename.map(|r| r.to.clone()),
                });
            }
            (None, Some(_)) => {
                if renamed.iter().any(|r| &r.to == a) {
                    continue; // shown with its old address
                }
                out.push(Change {
                    address: a.to_string(),
                    kind: ChangeKind::Added,
                    attributes: Vec::new(),
                    danger: Vec::new(),
                    renamed_to: None,
                });
            }
            (Some(x), Some(y)) if x != y => {
                let mut attributes = Vec::new();
                diff_json("", x, y, &mut attributes);
                let mut danger: Vec<String> = attributes
                    .iter()
                    .filter_map(|c| replaces(kind, &c.path))
                    .map(str::to_string)
                    .collect();
                danger.dedup();
                danger.extend(maintenance_window_note(kind, y, &attributes));
                out.push(Change {
                    address: a.to_string(),
                    kind: ChangeKind::Changed,
                    attributes,
                    danger,
                    renamed_to: None,
                });
            }
            _ => {}
        }
    }
    // user_data lives in its own file: a change restarts the host and does not rerun cloud-init.
    let ud = aws::user_data::FILE_NAME;
    if old.files.get(ud) != new.files.get(ud)
        && old.files.contains_key(ud)
        && new.files.contains_key(ud)
    {
        let (o, n) = (&old.files[ud], &new.files[ud]);
        let added = n.lines().filter(|l| !o.lines().any(|x| x == *l)).count();
        let removed = o.lines().filter(|l| !n.lines().any(|x| x == *l)).count();
        out.push(Change {
            address: format!("aws_instance.app (user_data.sh: +{added} -{removed} lines)"),
            kind: ChangeKind::Changed,
            attributes: Vec::new(),
            danger: vec!["user_data changes stop and start the app host, and cloud-init does not run the new script on an existing instance: replace the instance (terraform apply -replace=aws_instance.app) to run it".into()],
            renamed_to: None,
        });
    }
    out
}

fn short(v: &Option<J>) -> String {
    match v {
        None => "(absent)".into(),
        Some(J::String(s)) => format!("\"{s}\""),
        Some(v) => {
            let s = v.to_string();
            if s.len() > 80 {
                format!("{}...", &s[..77])
            } else {
                s
            }
        }
    }
}

/// Text rendering of an environment's changes.
pub fn render_text(env: &str, changes: &[Change], out: &mut String) {
    use std::fmt::Write;
    let count = |k: ChangeKind| changes.iter().filter(|c| c.kind == k).count();
    let _ = writeln!(
        out,
        "{env}: {} to add, {} to change, {} to remove, {} moved",
        count(ChangeKind::Added),
        count(ChangeKind::Changed),
        count(ChangeKind::Removed),
        count(ChangeKind::Moved)
    );
    for c in changes {
        let sign = match c.kind {
            ChangeKind::Added => "+",
            ChangeKind::Removed => "-",
            ChangeKind::Changed => "~",
            ChangeKind::Moved => ">",
        };
        match (&c.kind, &c.renamed_to) {
            (ChangeKind::Moved, Some(to)) => {
                let _ = writeln!(out, "  {sign} {} -> {to} (moved block present)", c.address);
            }
            _ => {
                let _ = writeln!(out, "  {sign} {}", c.address);
            }
        }
        for a in &c.attributes {
            let _ = writeln!(
                out,
                "      {}: {} -> {}",
                a.path,
                short(&a.old),
                short(&a.new)
            );
        }
        for d in &c.danger {
            let _ = writeln!(out, "      !! {d}");
        }
        if let (ChangeKind::Removed, Some(to)) = (&c.kind, &c.renamed_to) {
            let r = Rename {
                from: c.address.clone(),
                to: to.clone(),
                why: String::new(),
            };
            let _ = writeln!(out, "      fix: add to envs/{env}.toml:");
            for l in r.toml().lines() {
                let _ = writeln!(out, "        {l}");
            }
        }
    }
}

/// How two environments differ: addresses only in one, and values that differ.
#[derive(Debug, Serialize)]
pub struct EnvsDiff {
    pub a: String,
    pub b: String,
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
    pub differ: BTreeMap<String, Vec<AttrChange>>,
}

pub fn diff_envs(a_name: &str, a: &Doc, b_name: &str, b: &Doc) -> EnvsDiff {
    let only = |x: &Doc, y: &Doc| {
        x.blocks
            .keys()
            .filter(|k| !y.blocks.contains_key(*k))
            .cloned()
            .collect()
    };
    let mut differ = BTreeMap::new();
    for (k, va) in &a.blocks {
        if let Some(vb) = b.blocks.get(k) {
            let mut changes = Vec::new();
            diff_json("", va, vb, &mut changes);
            if !changes.is_empty() {
                differ.insert(k.clone(), changes);
            }
        }
    }
    EnvsDiff {
        a: a_name.into(),
        b: b_name.into(),
        only_in_a: only(a, b),
        only_in_b: only(b, a),
        differ,
    }
}

impl EnvsDiff {
    pub fn is_empty(&self) -> bool {
        self.only_in_a.is_empty() && self.only_in_b.is_empty() && self.differ.is_empty()
    }

    pub fn render_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} vs {}: {} only in {}, {} only in {}, {} differ",
            self.a,
            self.b,
            self.only_in_a.len(),
            self.a,
            self.only_in_b.len(),
            self.b,
            self.differ.len()
        );
        for a in &self.only_in_a {
            let _ = writeln!(s, "  < {a}");
        }
        for b in &self.only_in_b {
            let _ = writeln!(s, "  > {b}");
        }
        for (k, changes) in &self.differ {
            let _ = writeln!(s, "  ~ {k}");
            for c in changes {
                let _ = writeln!(s, "      {}: {} | {}", c.path, short(&c.old), short(&c.new));
            }
        }
        s
    }
}
