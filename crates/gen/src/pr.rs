//! `gen review`: the pull request comment of one environment, in Markdown (or JSON).
//!
//! Built on `gen diff`'s changes and flags; with a plan (`terraform show -json`), the plan's own
//! actions are cross-checked against the flags: a replacement `gen` predicted that the plan does
//! not do, or a replace or destroy the plan does that `gen` did not show, is a mismatch. The
//! comment carries the base and head commits, and never exceeds GitHub's 65,536 characters.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use serde_json::Value as J;

use crate::config::InputError;
use crate::review::{Change, ChangeKind};

/// GitHub's limit on a comment body, in characters.
pub const LIMIT: usize = 65_536;

/// The marker that finds this env's sticky comment again.
pub fn marker(env: &str) -> String {
    format!("<!-- gen review: {env} -->")
}

/// What the plan does to one address.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct PlannedAction {
    pub address: String,
    /// `create`, `update`, `delete`, `replace`, `read`, `no-op`.
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_address: Option<String>,
}

/// The managed resources' actions of a plan (`terraform show -json`). Values are never read:
/// the plan holds sensitive values in clear.
pub fn plan_actions(plan_json: &str) -> Result<Vec<PlannedAction>, InputError> {
    let v: J = serde_json::from_str(plan_json).map_err(|e| {
        InputError(format!(
            "--plan: not JSON ({e}); fix: pass the output of `terraform show -json tfplan`"
        ))
    })?;
    let Some(rcs) = v.get("resource_changes").and_then(J::as_array) else {
        if v.get("format_version").is_some() {
            return Ok(Vec::new()); // a plan without changes has no resource_changes
        }
        return Err(InputError(
            "--plan: no `format_version`: not a Terraform JSON plan; fix: pass the output of `terraform show -json tfplan`".into(),
        ));
    };
    let mut out = Vec::new();
    for rc in rcs {
        if rc.get("mode").and_then(J::as_str) != Some("managed") {
            continue;
        }
        let address = rc
            .get("address")
            .and_then(J::as_str)
            .unwrap_or("")
            .to_string();
        let actions: Vec<&str> = rc
            .pointer("/change/actions")
            .and_then(J::as_array)
            .map(|a| a.iter().filter_map(J::as_str).collect())
            .unwrap_or_default();
        let action = match actions.as_slice() {
            ["delete", "create"] | ["create", "delete"] => "replace",
            [one] => one,
            _ => "unknown",
        };
        out.push(PlannedAction {
            address,
            action: action.to_string(),
            previous_address: rc
                .get("previous_address")
                .and_then(J::as_str)
                .map(str::to_string),
        });
    }
    Ok(out)
}

/// A disagreement between `gen`'s flags and the plan.
#[derive(Debug, Serialize, Clone, PartialEq)]
pub struct Mismatch {
    pub address: String,
    /// What `gen` showed for the address.
    pub gen: String,
    /// What the plan does.
    pub plan: String,
}

fn predicts_replacement(c: &Change) -> bool {
    c.kind == ChangeKind::Changed && c.danger.iter().any(|d| d.starts_with("replaces"))
}

/// The address a change is about (`gen diff` writes user_data changes with a note after it).
fn address(c: &Change) -> &str {
    c.address.split(" (").next().unwrap_or(&c.address)
}

/// Resources of `doc` that reference a resource `gen` predicts replaced, directly or through
/// another such resource: the new id is known only after apply, so Terraform replaces any of
/// them whose reference is in an argument that forces a new resource (a bucket's versioning,
/// encryption, policy...). They may be replaced with it; the comment lists them.
pub fn dependents(doc: &tf::Document, changes: &[Change]) -> Vec<String> {
    // Roots: predicted replacements, and the new address of a rename without a moved block
    // (the resource is created anew there).
    let mut replaced: Vec<String> = changes
        .iter()
        .filter_map(|c| match (&c.kind, &c.renamed_to) {
            (ChangeKind::Removed, Some(to)) => Some(to.clone()),
            _ => predicts_replacement(c).then(|| address(c).to_string()),
        })
        .collect();
    let mut out = Vec::new();
    loop {
        let found: Vec<String> = doc
            .blocks()
            .map(|(a, body)| (a.to_string(), body))
            .filter(|(a, _)| a.starts_with("aws_") && !replaced.contains(a))
            .filter(|(_, body)| {
                let mut refs = Vec::new();
                body.refs(&mut refs);
                refs.iter().any(|r| replaced.contains(&r.addr.to_string()))
            })
            .map(|(a, _)| a)
            .collect();
        if found.is_empty() {
            return out;
        }
        replaced.extend(found.iter().cloned());
        out.extend(found);
    }
}

/// Cross-check the plan's actions against `gen`'s changes; `follows` are the resources that
/// may be replaced with a predicted replacement ([`dependents`]).
pub fn cross_check(
    changes: &[Change],
    follows: &[String],
    plan: &[PlannedAction],
) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let planned = |a: &str| plan.iter().find(|p| p.address == a);
    for c in changes.iter().filter(|c| predicts_replacement(c)) {
        let did = planned(address(c))
            .map(|p| p.action.as_str())
            .unwrap_or("no change");
        if did != "replace" {
            out.push(Mismatch {
                address: address(c).to_string(),
                gen: "replacement predicted".into(),
                plan: did.to_string(),
            });
        }
    }
    for p in plan
        .iter()
        .filter(|p| matches!(p.action.as_str(), "replace" | "delete"))
    {
        let shown = changes.iter().find(|c| address(c) == p.address);
        let expected = match (p.action.as_str(), shown) {
            ("replace", _) if follows.contains(&p.address) => true,
            ("replace", Some(c)) => predicts_replacement(c),
            // A rename without a moved block shows the old address as removed, flagged.
            ("delete", Some(c)) => c.kind == ChangeKind::Removed,
            _ => false,
        };
        if !expected {
            out.push(Mismatch {
                address: p.address.clone(),
                gen: match shown {
                    Some(c) => format!("{:?} without a replacement flag", c.kind).to_lowercase(),
                    None => "no change".into(),
                },
                plan: p.action.clone(),
            });
        }
    }
    for c in changes.iter().filter(|c| c.kind == ChangeKind::Moved) {
        let to = c.renamed_to.as_deref().unwrap_or("");
        let moved = plan
            .iter()
            .any(|p| p.address == to && p.previous_address.as_deref() == Some(address(c)));
        if !plan.is_empty() && !moved {
            out.push(Mismatch {
                address: address(c).to_string(),
                gen: format!("moved to {to}"),
                plan: "no move".into(),
            });
        }
    }
    out
}

/// The review of one environment.
#[derive(Debug, Serialize)]
pub struct Review<'a> {
    pub env: &'a str,
    pub base: String,
    pub head: String,
    pub changes: &'a [Change],
    /// Resources that may be replaced with a predicted replacement.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub follows: Vec<String>,
    /// The plan's actions, when a plan was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Vec<PlannedAction>>,
    pub mismatches: Vec<Mismatch>,
}

fn code(s: &str) -> String {
    // Inline code that no backtick in the value can close.
    let ticks = "`".repeat(s.split(|c| c != '`').map(str::len).max().unwrap_or(0) + 1);
    format!("{ticks}{}{ticks}", s.replace(['\n', '\r'], " "))
}

fn sign(k: ChangeKind) -> &'static str {
    match k {
        ChangeKind::Added => "+",
        ChangeKind::Removed => "-",
        ChangeKind::Changed => "~",
        ChangeKind::Moved => ">",
    }
}

fn short(v: &Option<J>) -> String {
    let s = match v {
        None => "(absent)".to_string(),
        Some(v) => v.to_string(),
    };
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(117).collect::<String>())
    } else {
        s
    }
}

impl Review<'_> {
    fn header(&self, out: &mut String) {
        let count = |k| self.changes.iter().filter(|c| c.kind == k).count();
        let _ = writeln!(out, "{}", marker(self.env));
        let _ = writeln!(
            out,
            "### `{}`: {} to add, {} to change, {} to remove, {} moved\n",
            self.env,
            count(ChangeKind::Added),
            count(ChangeKind::Changed),
            count(ChangeKind::Removed),
            count(ChangeKind::Moved)
        );
        let _ = writeln!(
            out,
            "Base `{}`, head `{}`. A comment whose base is not the pull request's base is stale: rerun the workflow.\n",
            self.base, self.head
        );
    }

    fn flags(&self, out: &mut String, limit: usize) -> usize {
        let flagged: Vec<&Change> = self
            .changes
            .iter()
            .filter(|c| !c.danger.is_empty())
            .collect();
        if flagged.is_empty() {
            return 0;
        }
        let _ = writeln!(out, "**Needs care** ({}):\n", flagged.len());
        let mut shown = 0;
        for c in &flagged {
            let mut line = format!("- {} {}", sign(c.kind), code(&c.address));
            for d in &c.danger {
                let _ = write!(line, "<br>⚠️ {d}");
            }
            if out.len() + line.len() > limit {
                break;
            }
            let _ = writeln!(out, "{line}");
            shown += 1;
        }
        if shown < flagged.len() {
            let _ = writeln!(
                out,
                "- … and {} more flagged changes",
                flagged.len() - shown
            );
        }
        if !self.follows.is_empty() {
            let list: Vec<String> = self.follows.iter().take(50).map(|a| code(a)).collect();
            let more = self.follows.len().saturating_sub(50);
            let _ = writeln!(
                out,
                "- Replaced with them when the plan says so (they reference a replaced resource): {}{}",
                list.join(", "),
                if more > 0 { format!(" and {more} more") } else { String::new() }
            );
        }
        out.push('\n');
        shown
    }

    fn cross_check_text(&self, out: &mut String) {
        let Some(plan) = &self.plan else {
            let _ = writeln!(
                out,
                "No plan given: the flags are `gen`'s prediction only.\n"
            );
            return;
        };
        let risky = plan
            .iter()
            .filter(|p| matches!(p.action.as_str(), "replace" | "delete"))
            .count();
        if self.mismatches.is_empty() {
            let _ = writeln!(
                out,
                "**Plan cross-check:** ✅ the plan's {} resource changes ({risky} replace or destroy) agree with these flags.\n",
                plan.iter().filter(|p| p.action != "no-op" && p.action != "read").count()
            );
            return;
        }
        let _ = writeln!(
            out,
            "**Plan cross-check:** ❌ {} mismatch(es) between `gen`'s flags and the plan:\n",
            self.mismatches.len()
        );
        let _ = writeln!(out, "| address | gen | plan |\n|---|---|---|");
        for m in &self.mismatches {
            let _ = writeln!(out, "| {} | {} | **{}** |", code(&m.address), m.gen, m.plan);
        }
        out.push('\n');
    }

    fn details(&self) -> String {
        let mut body = String::new();
        for c in self.changes {
            match (&c.kind, &c.renamed_to) {
                (ChangeKind::Moved, Some(to)) => {
                    let _ = writeln!(body, "{} {} -> {to} (moved block)", sign(c.kind), c.address);
                }
                (_, Some(to)) => {
                    let _ = writeln!(body, "{} {} (renamed to {to})", sign(c.kind), c.address);
                }
                _ => {
                    let _ = writeln!(body, "{} {}", sign(c.kind), c.address);
                }
            }
            for a in &c.attributes {
                let _ = writeln!(
                    body,
                    "    {}: {} -> {}",
                    a.path,
                    short(&a.old),
                    short(&a.new)
                );
            }
        }
        let fence = "`".repeat(
            body.split(|c| c != '`')
                .map(str::len)
                .max()
                .unwrap_or(0)
                .max(2)
                + 1,
        );
        format!(
            "<details><summary>Changes by address ({})</summary>\n\n{fence}diff\n{body}{fence}\n\n</details>\n",
            self.changes.len()
        )
    }

    /// Changes counted by resource type and kind: what is left when the details do not fit.
    fn by_type(&self) -> String {
        let mut counts: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
        for c in self.changes {
            let kind = address(c).split('.').next().unwrap_or("");
            let i = match c.kind {
                ChangeKind::Added => 0,
                ChangeKind::Changed => 1,
                ChangeKind::Removed => 2,
                ChangeKind::Moved => 3,
            };
            counts.entry(kind).or_default()[i] += 1;
        }
        let mut s =
            String::from("| type | add | change | remove | moved |\n|---|---|---|---|---|\n");
        for (k, [a, c, r, m]) in counts {
            let _ = writeln!(s, "| {} | {a} | {c} | {r} | {m} |", code(k));
        }
        s
    }

    /// The comment, at most [`LIMIT`] characters.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        self.header(&mut out);
        self.cross_check_text(&mut out);
        // Leave room for the summary and the note on what was cut.
        let budget = LIMIT - 8_000;
        let shown = self.flags(&mut out, budget);
        let details = self.details();
        if out.chars().count() + details.chars().count() <= LIMIT - 200 {
            out.push_str(&details);
        } else {
            let _ = writeln!(out, "{}", self.by_type());
            let flagged = self.changes.iter().filter(|c| !c.danger.is_empty()).count();
            let _ = writeln!(
                out,
                "_Cut to stay under GitHub's {LIMIT} characters: the attribute changes of all {} addresses{}. Run `cargo run -p gen -- diff --env {} --base {}` for everything._",
                self.changes.len(),
                if shown < flagged {
                    format!(" and {} of {flagged} flagged changes", flagged - shown)
                } else {
                    String::new()
                },
                self.env,
                self.base
            );
        }
        if out.chars().count() > LIMIT {
            // The by-type table of a change to thousands of types: keep the head, say so.
            let note = "\n\n_Truncated at GitHub's limit; run `gen diff` for the rest._\n";
            out = out.chars().take(LIMIT - note.chars().count()).collect();
            out.push_str(note);
        }
        out
    }
}
