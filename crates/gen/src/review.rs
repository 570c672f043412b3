//! Review: what a change to the generated files does, by Terraform address.
//!
//! `gen diff` compares what would be generated with what is committed (the output folder, or a
//! git revision), flags changes that destroy or replace data-bearing resources, and finds
//! renames (the same bucket, database or role under a new address) that need a `moved` block.
//! `gen diff --envs A B` shows how two environments differ.
//!
//! Both sides are generated files read back into [`tf::Document`]s: items keyed by address,
//! bodies as `tf` values. What a change costs comes from the provider's [`Schema`].

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde::Serialize;
use serde_json::Value as J;
use tf::{Address, Document, File, Key, Schema, Value};

use crate::config::InputError;
use crate::error::Error;

/// The generated files of one environment, read back.
pub fn read_rendered(files: &[File]) -> Result<Document, InputError> {
    read_files(files.iter().map(|f| (f.name.as_str(), f.contents.as_str())))
}

fn is_generated(name: &str) -> bool {
    (name.ends_with(".tf.json")
        || name == aws::user_data::FILE_NAME
        || name == aws::contract::FILE_NAME)
        && !name.contains("_override.")
}

/// Files read back, by name and text: `.tf.json` files as Terraform JSON, the others as they are.
pub fn read_files<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Document, InputError> {
    tf::json::parse(files).map_err(|e| InputError(e.to_string()))
}

/// The committed files of an environment folder; an empty document when it does not exist.
pub fn read_dir(dir: &Path) -> Result<Document, Error> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if is_generated(&name) {
            let text = std::fs::read_to_string(e.path())
                .map_err(|err| Error::io(e.path(), "read", err))?;
            files.push((name, text));
        }
    }
    tf::json::parse(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .map_err(|e| Error::Input(InputError(format!("{}/{e}", dir.display()))))
}

/// The files of `<folder>` at a git revision.
pub fn read_git(rev: &str, folder: &str) -> Result<Document, Error> {
    let git = |args: &[&str]| -> Result<String, Error> {
        let failed = |problem: String, fix: &str| Error::Git {
            args: args.iter().map(|a| a.to_string()).collect(),
            problem,
            fix: fix.into(),
        };
        let o = Command::new("git").args(args).output().map_err(|e| {
            failed(
                format!("cannot run git ({e})"),
                "install git or drop --base",
            )
        })?;
        if !o.status.success() {
            return Err(failed(
                String::from_utf8_lossy(&o.stderr).trim().to_string(),
                "name a revision that exists (see `git log`)",
            ));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let listing = git(&["ls-tree", "--name-only", rev, &format!("{folder}/")])?;
    let mut files = Vec::new();
    for path in listing.lines() {
        let name = path.rsplit('/').next().unwrap_or(path).to_string();
        if is_generated(&name) {
            files.push((name, git(&["show", &format!("{rev}:{path}")])?));
        }
    }
    tf::json::parse(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .map_err(|e| Error::Input(InputError(format!("{rev}:{folder}/{e}"))))
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

/// A resource under a new address: the same object, by its name or by following another rename.
#[derive(Debug, PartialEq, Clone)]
pub struct Rename {
    pub from: Address,
    pub to: Address,
    pub why: String,
}

impl Rename {
    /// The lines to add to the env file.
    pub fn toml(&self) -> String {
        moved_toml(&self.from.to_string(), &self.to.to_string())
    }
}

fn moved_toml(from: &str, to: &str) -> String {
    format!("[[moved]]\nfrom = \"{from}\"\nto = \"{to}\"")
}

/// The values inside a block, compared: objects by key, lists of blocks by position (one block
/// and a list of blocks are the same thing in JSON), anything else as a whole. A block present
/// on one side only is shown attribute by attribute.
fn diff_values(path: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<AttrChange>) {
    if old == new {
        return;
    }
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (blocks(old), blocks(new)) {
        (Some(Blocks::One(a)), Some(Blocks::One(b))) => {
            let keys: BTreeSet<&String> = [a, b]
                .into_iter()
                .flatten()
                .flat_map(|v| match v {
                    Value::Object(kv) => kv.iter().map(|(k, _)| k).collect(),
                    _ => Vec::new(),
                })
                .collect();
            for k in keys {
                diff_values(
                    &join(k),
                    old.and_then(|v| v.get(k)),
                    new.and_then(|v| v.get(k)),
                    out,
                );
            }
        }
        (Some(a), Some(b)) => {
            for (i, x, y) in align(&a.list(), &b.list()) {
                diff_values(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ => out.push(AttrChange {
            path: path.to_string(),
            old: old.map(tf::json::value),
            new: new.map(tf::json::value),
        }),
    }
}

/// Pair the blocks of two lists: equal blocks with each other wherever they are (a statement
/// inserted in the middle is one added block), then the others in order. Each pair carries
/// the new list's position, or the old one's for a block only the old list has.
fn align<'a>(
    a: &[&'a Value],
    b: &[&'a Value],
) -> Vec<(usize, Option<&'a Value>, Option<&'a Value>)> {
    let mut taken = vec![false; b.len()];
    let mut rest_a = Vec::new();
    for (i, x) in a.iter().enumerate() {
        match (0..b.len()).find(|&j| !taken[j] && b[j] == *x) {
            Some(j) => taken[j] = true,
            None => rest_a.push(i),
        }
    }
    let rest_b: Vec<usize> = (0..b.len()).filter(|&j| !taken[j]).collect();
    let mut pairs: Vec<_> = (0..rest_a.len().max(rest_b.len()))
        .map(|k| {
            let (i, j) = (rest_a.get(k).copied(), rest_b.get(k).copied());
            let at = j.or(i).unwrap_or_default();
            (at, i.map(|i| a[i]), j.map(|j| b[j]))
        })
        .collect();
    pairs.sort_by_key(|p| p.0);
    pairs
}

/// A value seen as blocks: one (an object, or none when absent) or a list of objects.
enum Blocks<'a> {
    One(Option<&'a Value>),
    Many(&'a [Value]),
}

fn blocks(v: Option<&Value>) -> Option<Blocks<'_>> {
    match v {
        None | Some(Value::Object(_)) => Some(Blocks::One(v)),
        Some(Value::List(vs))
            if !vs.is_empty() && vs.iter().all(|v| matches!(v, Value::Object(_))) =>
        {
            Some(Blocks::Many(vs))
        }
        Some(_) => None,
    }
}

impl<'a> Blocks<'a> {
    fn list(&self) -> Vec<&'a Value> {
        match self {
            Blocks::One(v) => v.iter().copied().collect(),
            Blocks::Many(vs) => vs.iter().collect(),
        }
    }
}

/// What changed inside one item, and which of its top-level attributes changed.
fn item_changes<'a>(old: &'a Value, new: &'a Value) -> (Vec<AttrChange>, Vec<&'a str>) {
    let mut out = Vec::new();
    let (Value::Object(a), Value::Object(b)) = (old, new) else {
        diff_values("", Some(old), Some(new), &mut out);
        return (out, Vec::new());
    };
    let mut top = Vec::new();
    let keys: BTreeSet<&String> = a.iter().chain(b).map(|(k, _)| k).collect();
    for k in keys {
        let before = out.len();
        diff_values(k, old.get(k), new.get(k), &mut out);
        if out.len() > before {
            top.push(k.as_str());
        }
    }
    (out, top)
}

/// The name the real object of a resource has, as the schema says where to find it.
fn identity(schema: &Schema, a: &Address, body: &Value) -> Option<String> {
    let id = schema.get(a.kind()?)?.identity?;
    match body.at(id.path)? {
        Value::Str(s) => Some(format!("{} `{s}`", id.label)),
        _ => None,
    }
}

/// Renames between two documents: removed and added resources that are the same object.
pub fn renames(old: &Document, new: &Document, schema: &Schema) -> Vec<Rename> {
    let only_in = |d: &'_ Document, other: &Document| -> Vec<(Address, Value)> {
        d.blocks()
            .filter(|(a, _)| matches!(a, Address::Resource { .. }) && other.block(a).is_none())
            .map(|(a, v)| (a.clone(), v.clone()))
            .collect()
    };
    let removed = only_in(old, new);
    let mut added = only_in(new, old);
    let mut found: Vec<Rename> = Vec::new();
    // First the resources with a name of their own...
    for (r, body) in &removed {
        let Some(id) = identity(schema, r, body) else {
            continue;
        };
        let hit = added.iter().position(|(a, b)| {
            a.kind() == r.kind() && identity(schema, a, b).as_ref() == Some(&id)
        });
        if let Some(i) = hit {
            let (to, _) = added.remove(i);
            found.push(Rename {
                from: r.clone(),
                to,
                why: format!("same {id}"),
            });
        }
    }
    // ...then the ones that only follow them (a bucket's versioning follows the bucket), as
    // long as that finds more.
    for _ in 0..removed.len() {
        let before = found.len();
        for (r, body) in &removed {
            if found.iter().any(|f| &f.from == r) {
                continue;
            }
            let mut moved = body.clone();
            for f in &found {
                moved.replace_address(&f.from, &f.to);
            }
            if let Some(i) = added
                .iter()
                .position(|(a, b)| a.kind() == r.kind() && *b == moved)
            {
                let (to, _) = added.remove(i);
                let why = "same settings, following a renamed resource".to_string();
                found.push(Rename {
                    from: r.clone(),
                    to,
                    why,
                });
            }
        }
        if found.len() == before {
            break;
        }
    }
    found.sort_by(|a, b| a.from.cmp(&b.from));
    found
}

fn has_moved(doc: &Document, r: &Rename) -> bool {
    doc.moved.iter().any(|(f, t)| f == &r.from && t == &r.to)
}

/// Renames with no `moved` block in the new document.
pub fn unmoved_renames(old: &Document, new: &Document, schema: &Schema) -> Vec<Rename> {
    renames(old, new, schema)
        .into_iter()
        .filter(|r| !has_moved(new, r))
        .collect()
}

fn resource_kind(key: &Key) -> Option<&str> {
    match key {
        Key::Block(Address::Resource { kind, .. }) => Some(kind),
        _ => None,
    }
}

/// What a change of `attr` of a resource costs, with the command that applies it when it only
/// reaches a new object.
fn change_note(schema: &Schema, key: &Key, attr: &str) -> Option<String> {
    let c = schema.change(resource_kind(key)?, attr)?;
    Some(match c.applies_on_replace {
        true => format!("{} (terraform apply -replace={key})", c.note),
        false => c.note.to_string(),
    })
}

fn removed(key: &Key, renamed: &[Rename], new: &Document, schema: &Schema) -> Change {
    let rename = renamed
        .iter()
        .find(|r| matches!(key, Key::Block(a) if *a == r.from));
    let moved = rename.is_some_and(|r| has_moved(new, r));
    let mut danger = Vec::new();
    let destroy = resource_kind(key).and_then(|k| schema.get(k)?.destroy);
    if let (Some(d), false) = (destroy, moved) {
        danger.push(d.to_string());
    }
    if let (Some(r), false) = (rename, moved) {
        danger.push(format!(
            "renamed to {} ({}) without a moved block: the next apply destroys and recreates it",
            r.to, r.why
        ));
    }
    Change {
        address: key.to_string(),
        kind: if moved {
            ChangeKind::Moved
        } else {
            ChangeKind::Removed
        },
        attributes: Vec::new(),
        danger,
        renamed_to: rename.map(|r| r.to.to_string()),
    }
}

/// Whether the block's `lifecycle { ignore_changes }` names `attr` (or is `all`): Terraform then
/// leaves the real object as it is.
fn ignores(body: &Value, attr: &str) -> bool {
    let named =
        |v: &Value| matches!(v, Value::Str(s) | Value::Keyword(s) if s == attr || s == "all");
    match body.at(&["lifecycle", "ignore_changes"]) {
        Some(Value::List(items)) => items.iter().any(named),
        Some(one) => named(one),
        None => false,
    }
}

fn changed(key: &Key, old: &Value, new: &Value, schema: &Schema) -> Change {
    let (attributes, top) = item_changes(old, new);
    let note = |a: &&str| {
        if !ignores(new, a) {
            return change_note(schema, key, a);
        }
        let why = "the real object keeps its old value until it is replaced";
        Some(format!(
            "`{a}` is in lifecycle.ignore_changes: {why} (terraform apply -replace={key})"
        ))
    };
    let mut danger: Vec<String> = top.iter().filter_map(note).collect();
    danger.dedup();
    danger.extend(maintenance_window_note(key, new, &attributes));
    Change {
        address: key.to_string(),
        kind: ChangeKind::Changed,
        attributes,
        danger,
        renamed_to: None,
    }
}

/// A database change that RDS queues for the maintenance window when `apply_immediately` is
/// off (which changes: `aws::rds`): until the window passes, every plan shows it again.
fn maintenance_window_note(key: &Key, new: &Value, changes: &[AttrChange]) -> Option<String> {
    let immediate = new.get("apply_immediately") == Some(&Value::Bool(true));
    if resource_kind(key) != Some("aws_db_instance") || immediate {
        return None;
    }
    let num = |v: &Option<J>| v.as_ref().and_then(J::as_i64);
    let waiting: Vec<&str> = changes
        .iter()
        .filter(|c| aws::rds::waits_for_maintenance_window(&c.path, num(&c.old), num(&c.new)))
        .map(|c| c.path.as_str())
        .collect();
    (!waiting.is_empty()).then(|| {
        format!(
            "{} wait(s) for the maintenance window (apply_immediately = false): plans show the change again until it has passed",
            waiting.join(", ")
        )
    })
}

/// Files beside the document (user_data.sh) that changed, as changes of the attributes that
/// read them.
fn file_changes(old: &Document, new: &Document, schema: &Schema, out: &mut Vec<Change>) {
    for (name, n) in &new.files {
        let Some(o) = old.files.get(name).filter(|o| *o != n) else {
            continue;
        };
        if name == aws::contract::FILE_NAME {
            out.extend(contract_change(o, n));
            continue;
        }
        let added = n.lines().filter(|l| !o.lines().any(|x| x == *l)).count();
        let removed = o.lines().filter(|l| !n.lines().any(|x| x == *l)).count();
        let what = format!("{name}: +{added} -{removed} lines");
        let readers = new.readers_of(name);
        if readers.is_empty() {
            out.push(Change {
                address: what.clone(),
                kind: ChangeKind::Changed,
                attributes: Vec::new(),
                danger: Vec::new(),
                renamed_to: None,
            });
        }
        for (a, attr) in readers {
            let key = Key::Block(a.clone());
            out.push(Change {
                address: format!("{a} ({what})"),
                kind: ChangeKind::Changed,
                attributes: Vec::new(),
                danger: change_note(schema, &key, attr).into_iter().collect(),
                renamed_to: None,
            });
        }
    }
}

/// The app contract's change: what the app must follow is flagged like a host restart.
fn contract_change(old: &str, new: &str) -> Option<Change> {
    let (must_follow, values) = match aws::contract::compare(old, new) {
        Ok(c) => (c.must_follow, c.values),
        Err(e) => (
            vec![format!("cannot compare the app contract: {e}")],
            Vec::new(),
        ),
    };
    if must_follow.is_empty() && values.is_empty() {
        return None;
    }
    Some(Change {
        address: format!("app contract ({})", aws::contract::FILE_NAME),
        kind: ChangeKind::Changed,
        attributes: values
            .into_iter()
            .map(|(path, old, new)| AttrChange { path, old, new })
            .collect(),
        danger: must_follow
            .into_iter()
            .map(|m| format!("a change the app must follow: {m}"))
            .collect(),
        renamed_to: None,
    })
}

/// Everything that changes between two versions of one environment.
pub fn diff(old: &Document, new: &Document, schema: &Schema) -> Vec<Change> {
    let renamed = renames(old, new, schema);
    let mut out = Vec::new();
    let all: BTreeSet<&Key> = old.items.keys().chain(new.items.keys()).collect();
    for key in all {
        match (old.items.get(key), new.items.get(key)) {
            (Some(_), None) => out.push(removed(key, &renamed, new, schema)),
            (None, Some(_))
                if renamed
                    .iter()
                    .any(|r| matches!(key, Key::Block(a) if *a == r.to)) =>
            {
                // shown with its old address
            }
            (None, Some(_)) => out.push(Change {
                address: key.to_string(),
                kind: ChangeKind::Added,
                attributes: Vec::new(),
                danger: Vec::new(),
                renamed_to: None,
            }),
            (Some(x), Some(y)) if x != y => out.push(changed(key, x, y, schema)),
            _ => {}
        }
    }
    file_changes(old, new, schema, &mut out);
    out
}

/// A value as the review shows it: strings quoted, everything else as compact JSON, never cut.
fn show(v: &Option<J>) -> String {
    match v {
        None => "(absent)".into(),
        Some(J::String(s)) => format!("\"{s}\""),
        Some(v) => v.to_string(),
    }
}

/// A change as text: `old SEP new`; for two lists, the items only one of them has (`-"a" +"b"`).
fn show_change(old: &Option<J>, new: &Option<J>, sep: &str) -> String {
    if let (Some(J::Array(a)), Some(J::Array(b))) = (old, new) {
        let gone = a
            .iter()
            .filter(|x| !b.contains(x))
            .map(|x| format!("-{}", show(&Some(x.clone()))));
        let came = b
            .iter()
            .filter(|x| !a.contains(x))
            .map(|x| format!("+{}", show(&Some(x.clone()))));
        let items: Vec<String> = gone.chain(came).collect();
        if !items.is_empty() {
            return items.join(" ");
        }
    }
    format!("{} {sep} {}", show(old), show(new))
}

/// Text rendering of an environment's changes; `env_file` is where a `moved` block goes.
pub fn render_text(env: &str, env_file: &str, changes: &[Change], out: &mut String) {
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
                show(&a.old),
                show(&a.new)
            );
        }
        for d in &c.danger {
            let _ = writeln!(out, "      !! {d}");
        }
        if let (ChangeKind::Removed, Some(to)) = (&c.kind, &c.renamed_to) {
            let _ = writeln!(out, "      fix: add to {env_file}:");
            for l in moved_toml(&c.address, to).lines() {
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
    pub differ: std::collections::BTreeMap<String, Vec<AttrChange>>,
}

pub fn diff_envs(a_name: &str, a: &Document, b_name: &str, b: &Document) -> EnvsDiff {
    let only = |x: &Document, y: &Document| {
        x.items
            .keys()
            .filter(|k| !y.items.contains_key(*k))
            .map(Key::to_string)
            .collect()
    };
    let mut differ = std::collections::BTreeMap::new();
    for (k, va) in &a.items {
        if let Some(vb) = b.items.get(k) {
            let (changes, _) = item_changes(va, vb);
            if !changes.is_empty() {
                differ.insert(k.to_string(), changes);
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
                let _ = writeln!(s, "      {}: {}", c.path, show_change(&c.old, &c.new, "|"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tf::schema::{Change as Note, Identity, ResourceType};
    use tf::{Body, Expr, Piece, Stack};

    const SCHEMA: Schema = Schema {
        types: &[
            ResourceType {
                changes: &[Note {
                    attrs: &["bucket"],
                    note: "replaces the bucket",
                    applies_on_replace: false,
                }],
                destroy: Some("destroys the bucket"),
                identity: Some(Identity {
                    path: &["bucket"],
                    label: "bucket",
                }),
                ..ResourceType::new("aws_s3_bucket")
            },
            ResourceType {
                changes: &[Note {
                    attrs: &["user_data"],
                    note: "restarts the host",
                    applies_on_replace: true,
                }],
                identity: Some(Identity {
                    path: &["tags", "Name"],
                    label: "Name tag",
                }),
                ..ResourceType::new("aws_instance")
            },
        ],
    };

    /// A bucket under `role`, its versioning, a host that waits for it and reads user_data.sh.
    fn stack(role: &str, bucket: &str, user_data: &str) -> Stack {
        let mut s = Stack::new(">= 1.11");
        let b = s.resource("aws_s3_bucket", role, Body::new().attr("bucket", bucket));
        s.resource(
            "aws_s3_bucket_versioning",
            role,
            Body::new().attr("bucket", b.attr("id")),
        );
        let file = Expr::call(
            "file",
            [Value::template([
                Piece::Expr(Expr::PathModule),
                Piece::Lit("/user_data.sh".into()),
            ])],
        );
        s.resource(
            "aws_instance",
            "app",
            Body::new()
                .attr("user_data", file)
                .attr("tags", Value::object([("Name", "app")]))
                .depends_on([b]),
        );
        s.file("user_data.sh", user_data.to_string());
        s
    }

    fn doc(s: &Stack) -> Document {
        read_rendered(&tf::json::render(s, "test")).unwrap()
    }

    fn addr(kind: &str, name: &str) -> Address {
        Address::resource(kind, name)
    }

    #[test]
    fn a_rename_is_found_by_name_then_by_following_it() {
        let old = doc(&stack("media", "b-1", "x"));
        let new = doc(&stack("content", "b-1", "x"));
        let found = renames(&old, &new, &SCHEMA);
        assert_eq!(
            found,
            vec![
                Rename {
                    from: addr("aws_s3_bucket", "media"),
                    to: addr("aws_s3_bucket", "content"),
                    why: "same bucket `b-1`".into(),
                },
                Rename {
                    from: addr("aws_s3_bucket_versioning", "media"),
                    to: addr("aws_s3_bucket_versioning", "content"),
                    why: "same settings, following a renamed resource".into(),
                },
            ]
        );
        // The host only changed its depends_on: a change, not a rename.
        let changes = diff(&old, &new, &SCHEMA);
        let host = changes
            .iter()
            .find(|c| c.address == "aws_instance.app")
            .unwrap();
        assert_eq!(host.kind, ChangeKind::Changed);
        assert_eq!(host.attributes[0].path, "depends_on");
        // Another bucket name is another bucket: destroyed and created, not renamed.
        let other = doc(&stack("content", "b-2", "x"));
        assert_eq!(renames(&old, &other, &SCHEMA), Vec::new());
    }

    #[test]
    fn a_moved_block_turns_a_rename_into_a_move() {
        let old = doc(&stack("media", "b-1", "x"));
        let mut s = stack("content", "b-1", "x");
        let new = doc(&s);
        assert_eq!(unmoved_renames(&old, &new, &SCHEMA).len(), 2);
        let gone = diff(&old, &new, &SCHEMA);
        let media = gone
            .iter()
            .find(|c| c.address == "aws_s3_bucket.media")
            .unwrap();
        assert_eq!(media.kind, ChangeKind::Removed);
        assert_eq!(media.danger[0], "destroys the bucket");
        assert!(
            media.danger[1].contains("without a moved block"),
            "{:?}",
            media.danger
        );
        let mut text = String::new();
        render_text("dev", "elsewhere/dev.toml", &gone, &mut text);
        assert!(
            text.contains("fix: add to elsewhere/dev.toml:\n        [[moved]]\n        from = \"aws_s3_bucket.media\"\n        to = \"aws_s3_bucket.content\""),
            "{text}"
        );
        for kind in ["aws_s3_bucket", "aws_s3_bucket_versioning"] {
            s.moved.push((addr(kind, "media"), addr(kind, "content")));
        }
        let new = doc(&s);
        assert_eq!(unmoved_renames(&old, &new, &SCHEMA), Vec::new());
        let moved = diff(&old, &new, &SCHEMA);
        let media = moved
            .iter()
            .find(|c| c.address == "aws_s3_bucket.media")
            .unwrap();
        assert_eq!(media.kind, ChangeKind::Moved);
        assert!(media.danger.is_empty(), "{:?}", media.danger);
        assert!(!moved.iter().any(|c| c.address == "aws_s3_bucket.content"));
    }

    #[test]
    fn the_diff_says_what_a_change_costs() {
        let old = doc(&stack("media", "b-1", "echo 1\n"));
        let new = doc(&stack("media", "b-2", "echo 2\n"));
        let changes = diff(&old, &new, &SCHEMA);
        let bucket = changes
            .iter()
            .find(|c| c.address == "aws_s3_bucket.media")
            .unwrap();
        assert_eq!(
            bucket.attributes,
            vec![AttrChange {
                path: "bucket".into(),
                old: Some(J::from("b-1")),
                new: Some(J::from("b-2")),
            }]
        );
        assert_eq!(bucket.danger, vec!["replaces the bucket"]);
        let host = changes.last().unwrap();
        assert_eq!(host.address, "aws_instance.app (user_data.sh: +1 -1 lines)");
        assert_eq!(
            host.danger,
            vec!["restarts the host (terraform apply -replace=aws_instance.app)"]
        );
        assert_eq!(diff(&old, &old, &SCHEMA).len(), 0);
    }

    #[test]
    fn an_ignored_change_says_so_instead_of_replacing() {
        let host = |ami: &str, ignore: bool| {
            let mut s = Stack::new(">= 1.11");
            let mut body = Body::new().attr("user_data", ami);
            if ignore {
                let names = Value::list([Value::Keyword("user_data".into())]);
                body = body.block("lifecycle", Body::new().attr("ignore_changes", names));
            }
            s.resource("aws_instance", "app", body);
            doc(&s)
        };
        let changes = diff(&host("a", true), &host("b", true), &SCHEMA);
        assert_eq!(
            changes[0].danger,
            ["`user_data` is in lifecycle.ignore_changes: the real object keeps its old value until it is replaced (terraform apply -replace=aws_instance.app)"]
        );
        // Terraform reads the new configuration's lifecycle: dropping it applies the change.
        let changes = diff(&host("a", true), &host("b", false), &SCHEMA);
        assert_eq!(
            changes[0].danger,
            ["restarts the host (terraform apply -replace=aws_instance.app)"]
        );
    }

    #[test]
    fn a_data_source_is_not_the_resource_of_the_same_type() {
        let mut s = Stack::new(">= 1.11");
        s.data("aws_s3_bucket", "shared", Body::new().attr("bucket", "b"));
        let old = doc(&s);
        let new = doc(&Stack::new(">= 1.11"));
        let changes = diff(&old, &new, &SCHEMA);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].address, "data.aws_s3_bucket.shared");
        assert!(
            changes[0].danger.is_empty(),
            "reading a bucket destroys nothing"
        );
    }

    fn policy(statements: &[(&str, &str)]) -> Document {
        let mut s = Stack::new(">= 1.11");
        let mut b = Body::new();
        for (sid, action) in statements {
            b.push_block(
                "statement",
                Body::new()
                    .attr("sid", *sid)
                    .attr("actions", Value::list([*action])),
            );
        }
        s.data("aws_iam_policy_document", "app", b);
        doc(&s)
    }

    #[test]
    fn one_block_and_a_list_of_blocks_compare_statement_by_statement() {
        let one = policy(&[("Read", "ssm:GetParameter")]);
        let three = policy(&[
            ("Read", "ssm:GetParameter"),
            ("List", "s3:ListBucket"),
            ("Ünïcode", &"é".repeat(60)),
        ]);
        let d = diff_envs("dev", &one, "prod", &three);
        let changes = &d.differ["data.aws_iam_policy_document.app"];
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "statement[1].actions",
                "statement[1].sid",
                "statement[2].actions",
                "statement[2].sid"
            ]
        );
        let text = d.render_text();
        assert!(
            text.contains("      statement[1].sid: (absent) | \"List\"\n"),
            "{text}"
        );
        // A block inserted in the middle is one added block, not a shift of the others.
        let two = policy(&[("Read", "ssm:GetParameter"), ("Deny", "s3:*")]);
        let inserted = policy(&[
            ("Read", "ssm:GetParameter"),
            ("List", "s3:ListBucket"),
            ("Deny", "s3:*"),
        ]);
        let text = diff_envs("dev", &two, "prod", &inserted).render_text();
        assert!(
            text.ends_with("      statement[1].actions: (absent) | [\"s3:ListBucket\"]\n      statement[1].sid: (absent) | \"List\"\n"),
            "{text}"
        );
        // Two lists show what only one side has.
        let more = policy(&[("Read", "s3:GetObject")]);
        let text = diff_envs("dev", &one, "prod", &more).render_text();
        assert!(
            text.contains("      statement.actions: -\"ssm:GetParameter\" +\"s3:GetObject\"\n"),
            "{text}"
        );
        let text = d.render_text();
        // Long and non-ASCII values are shown whole, never cut mid-character or mid-JSON.
        let long = format!(
            "      statement[2].actions: (absent) | [\"{}\"]\n",
            "é".repeat(60)
        );
        assert!(text.contains(&long), "{text}");
    }
}
