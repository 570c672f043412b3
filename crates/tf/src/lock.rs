//! Terraform's dependency lock file (`.terraform.lock.hcl`), checked against the
//! `required_providers` of a configuration's `versions.tf.json`.
//!
//! The lock file is made by `terraform providers lock` (never by the generator): it records,
//! per provider, the exact version chosen, the constraints it was chosen under, and the
//! checksums `terraform init` verifies. A lock that misses a required provider, keeps one that
//! is no longer required, or was made under other constraints is out of date.

use hcl::expr::Expression;

/// The file name, in each configuration folder.
pub const FILE_NAME: &str = ".terraform.lock.hcl";

/// One `provider` block of a lock file.
#[derive(Debug, Clone, PartialEq)]
pub struct Locked {
    /// Full source address: `registry.terraform.io/hashicorp/aws`.
    pub address: String,
    pub version: String,
    pub constraints: Option<String>,
    pub hashes: Vec<String>,
}

/// One entry of `terraform.required_providers`.
#[derive(Debug, Clone, PartialEq)]
pub struct Required {
    /// Full source address.
    pub address: String,
    /// The version constraint, as written.
    pub version: String,
}

/// `hashicorp/aws` -> `registry.terraform.io/hashicorp/aws` (Terraform's default registry).
pub fn full_address(source: &str) -> String {
    if source.matches('/').count() == 2 {
        source.to_lowercase()
    } else {
        format!("registry.terraform.io/{}", source.to_lowercase())
    }
}

fn string(e: &Expression) -> Option<String> {
    match e {
        Expression::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// The provider blocks of a lock file.
pub fn parse(text: &str) -> Result<Vec<Locked>, String> {
    let body = hcl::parse(text).map_err(|e| format!("not HCL ({e})"))?;
    let mut out = Vec::new();
    for block in body.blocks() {
        if block.identifier() != "provider" {
            return Err(format!("unexpected block `{}`", block.identifier()));
        }
        let [label] = block.labels() else {
            return Err("a provider block needs exactly one label".into());
        };
        let attr = |name: &str| {
            block
                .body()
                .attributes()
                .find(|a| a.key() == name)
                .map(|a| a.expr().clone())
        };
        let address = label.as_str().to_string();
        let version = attr("version")
            .as_ref()
            .and_then(string)
            .ok_or_else(|| format!("provider `{address}` has no version"))?;
        let hashes = match attr("hashes") {
            Some(Expression::Array(items)) => items.iter().filter_map(string).collect(),
            _ => Vec::new(),
        };
        out.push(Locked {
            address,
            version,
            constraints: attr("constraints").as_ref().and_then(string),
            hashes,
        });
    }
    Ok(out)
}

/// The `required_providers` of a `versions.tf.json`.
pub fn required(versions_json: &str) -> Result<Vec<Required>, String> {
    let v: serde_json::Value =
        serde_json::from_str(versions_json).map_err(|e| format!("not JSON ({e})"))?;
    let providers = v
        .pointer("/terraform/required_providers")
        .and_then(|p| p.as_object())
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for (name, p) in providers {
        let source = p
            .get("source")
            .and_then(|s| s.as_str())
            .map(str::to_string)
            .unwrap_or(format!("hashicorp/{name}"));
        let version = p.get("version").and_then(|s| s.as_str()).unwrap_or("");
        out.push(Required {
            address: full_address(&source),
            version: version.to_string(),
        });
    }
    Ok(out)
}

fn parse_version(v: &str) -> Option<Vec<u64>> {
    let core = v.split(['-', '+']).next()?;
    core.split('.').map(|p| p.parse().ok()).collect()
}

fn cmp(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let n = a.len().max(b.len());
    let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    (0..n)
        .map(|i| at(a, i).cmp(&at(b, i)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// Whether `version` meets a Terraform version constraint (`~> 5.0`, `>= 1.2, < 2.0`, `= 5.1.0`).
pub fn satisfies(version: &str, constraint: &str) -> Result<bool, String> {
    use std::cmp::Ordering::*;
    let v = parse_version(version).ok_or_else(|| format!("`{version}` is not a version"))?;
    for part in constraint
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (op, rest) = ["~>", ">=", "<=", "!=", ">", "<", "="]
            .iter()
            .find_map(|op| part.strip_prefix(op).map(|r| (*op, r.trim())))
            .unwrap_or(("=", part));
        let c = parse_version(rest).ok_or_else(|| format!("`{part}` is not a constraint"))?;
        let o = cmp(&v, &c);
        let ok = match op {
            "~>" => {
                // The last given part may grow; the ones before it are fixed.
                let fixed = &c[..c.len().saturating_sub(1).max(1)];
                o != Less && v.len() >= fixed.len() && v[..fixed.len()] == *fixed
            }
            ">=" => o != Less,
            "<=" => o != Greater,
            "!=" => o != Equal,
            ">" => o == Greater,
            "<" => o == Less,
            _ => o == Equal,
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn normalized(c: &str) -> String {
    c.split(',')
        .map(|p| p.split_whitespace().collect::<String>())
        .collect::<Vec<_>>()
        .join(",")
}

/// What makes a lock file disagree with the required providers; empty when it is current.
pub fn disagreements(lock: &[Locked], required: &[Required]) -> Vec<String> {
    let mut out = Vec::new();
    for r in required {
        let Some(l) = lock.iter().find(|l| l.address == r.address) else {
            out.push(format!("`{}` is required but not locked", r.address));
            continue;
        };
        if l.constraints.as_deref().map(normalized) != Some(normalized(&r.version)) {
            out.push(format!(
                "`{}` was locked under constraints `{}`, but versions.tf.json requires `{}`",
                r.address,
                l.constraints.as_deref().unwrap_or("(none)"),
                r.version
            ));
        }
        match satisfies(&l.version, &r.version) {
            Ok(true) => {}
            Ok(false) => out.push(format!(
                "`{}` is locked at {}, outside `{}`",
                r.address, l.version, r.version
            )),
            Err(e) => out.push(format!("`{}`: {e}", r.address)),
        }
        if l.hashes.is_empty() {
            out.push(format!("`{}` has no checksums", r.address));
        }
    }
    for l in lock {
        if !required.iter().any(|r| r.address == l.address) {
            out.push(format!("`{}` is locked but no longer required", l.address));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
# This file is maintained automatically by "terraform init".
provider "registry.terraform.io/hashicorp/aws" {
  version     = "5.100.0"
  constraints = "~> 5.0"
  hashes = [
    "h1:edXOJWE4ORX8Fm+dpVpICzMZJat4AX0VRCAy/xkcOc0=",
  ]
}
"#;

    fn req(version: &str) -> Vec<Required> {
        vec![Required {
            address: full_address("hashicorp/aws"),
            version: version.into(),
        }]
    }

    #[test]
    fn a_current_lock_agrees() {
        let lock = parse(LOCK).unwrap();
        assert_eq!(lock[0].version, "5.100.0");
        assert_eq!(lock[0].hashes.len(), 1);
        assert!(disagreements(&lock, &req("~> 5.0")).is_empty());
        assert!(disagreements(&lock, &req("~>5.0")).is_empty());
    }

    #[test]
    fn constraints_or_providers_that_changed_disagree() {
        let lock = parse(LOCK).unwrap();
        let d = disagreements(&lock, &req("~> 6.0"));
        assert!(d[0].contains("locked under constraints `~> 5.0`"), "{d:?}");
        assert!(
            d[1].contains("locked at 5.100.0, outside `~> 6.0`"),
            "{d:?}"
        );
        let d = disagreements(&lock, &[]);
        assert_eq!(
            d,
            ["`registry.terraform.io/hashicorp/aws` is locked but no longer required"]
        );
        let d = disagreements(&[], &req("~> 5.0"));
        assert_eq!(
            d,
            ["`registry.terraform.io/hashicorp/aws` is required but not locked"]
        );
        let no_hash =
            parse(&LOCK.replace("\"h1:edXOJWE4ORX8Fm+dpVpICzMZJat4AX0VRCAy/xkcOc0=\",", ""))
                .unwrap();
        assert_eq!(disagreements(&no_hash, &req("~> 5.0")).len(), 1);
    }

    #[test]
    fn version_constraints_follow_terraform() {
        for (v, c, ok) in [
            ("5.100.0", "~> 5.0", true),
            ("6.0.0", "~> 5.0", false),
            ("4.9.0", "~> 5.0", false),
            ("5.0.3", "~> 5.0.1", true),
            ("5.1.0", "~> 5.0.1", false),
            ("5.9.9", "~> 5", true),
            ("1.11.4", ">= 1.11", true),
            ("1.10.9", ">= 1.11", false),
            ("5.1.0", ">= 5.0, < 5.1", false),
            ("5.0.9", ">= 5.0, < 5.1", true),
            ("5.1.0", "5.1.0", true),
            ("5.1.0", "!= 5.1.0", false),
        ] {
            assert_eq!(satisfies(v, c), Ok(ok), "{v} {c}");
        }
        assert!(satisfies("x", "~> 5.0").is_err());
    }

    #[test]
    fn required_reads_versions_tf_json() {
        let r = required(
            r#"{"terraform": {"required_providers": {"aws": {"source": "hashicorp/aws", "version": "~> 5.0"}}}}"#,
        )
        .unwrap();
        assert_eq!(r, req("~> 5.0"));
        assert!(parse("provider {").is_err());
    }
}
