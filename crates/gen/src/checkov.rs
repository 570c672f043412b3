//! The README's checkov block: the checks prod must pass and the table of skipped checks, both
//! generated from the one file of each (`tests/checkov/must_pass.toml`, `tests/checkov/skips.toml`
//! next to the README), between a line `<!-- gen checkov -->` and a line `<!-- end gen checkov -->`.
//! The block is optional; when present it is strict, like the graph blocks.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::config::InputError;

/// The block's start marker.
pub const START: &str = "<!-- gen checkov -->";
/// The block's end marker.
pub const END: &str = "<!-- end gen checkov -->";
/// Where the skips are, from the README's folder.
pub const SKIPS: &str = "tests/checkov/skips.toml";
/// Where the must-pass list is, from the README's folder.
pub const MUST_PASS: &str = "tests/checkov/must_pass.toml";

/// One entry of `skips.toml`: a check skipped in `envs`, or (with `resources`) expected to fail
/// on exactly those resources.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Skip {
    envs: Vec<String>,
    #[serde(default)]
    resources: Vec<String>,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MustPass {
    prod: Vec<String>,
    #[serde(default)]
    single_host_prod: Vec<String>,
    #[serde(default)]
    load_balanced_prod: Vec<String>,
    #[serde(default)]
    load_balanced: Vec<String>,
}

fn read<T: for<'de> Deserialize<'de>>(dir: &Path, rel: &str) -> Result<T, InputError> {
    let path = dir.join(rel);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        InputError(format!(
            "{}: cannot read ({e}); fix: restore it (git checkout), or remove the README's `{START}` block",
            path.display()
        ))
    })?;
    toml::from_str(&text).map_err(|e| {
        InputError(format!(
            "{}: {}; fix: see the comment at the top of the file",
            path.display(),
            e.message().trim()
        ))
    })
}

/// A table cell: one line, `|` escaped.
fn cell(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// The block's content: the must-pass sentence and the skips table.
pub fn render(dir: &Path) -> Result<String, InputError> {
    let must: MustPass = read(dir, MUST_PASS)?;
    let skips: BTreeMap<String, Skip> = read(dir, SKIPS)?;
    let mut out = format!(
        "An env with `protection = \"prod\"` must pass {}",
        must.prod.join(", ")
    );
    let also = |label: &str, checks: &[String]| match checks.is_empty() {
        true => String::new(),
        false => format!("; {label} also {}", checks.join(", ")),
    };
    out.push_str(&also("a single-host one", &must.single_host_prod));
    out.push_str(&also("a load-balanced one", &must.load_balanced_prod));
    if !must.load_balanced.is_empty() {
        out.push_str(&format!(
            ". Every load-balanced env must pass {}",
            must.load_balanced.join(", ")
        ));
    }
    out.push_str(&format!(
        " (`{MUST_PASS}`).\n\n| check | envs | reason |\n|---|---|---|\n"
    ));
    for (check, s) in &skips {
        let mut envs = s.envs.join(", ");
        if !s.resources.is_empty() {
            let named: Vec<String> = s.resources.iter().map(|r| format!("`{r}`")).collect();
            envs = format!("{envs}: {} only (expected to fail)", named.join(", "));
        }
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            cell(check),
            cell(&envs),
            cell(&s.reason)
        ));
    }
    Ok(out)
}

/// The lines (0-based) of the block's markers, if the README has the block.
fn markers(path: &Path, text: &str) -> Result<Option<(usize, usize)>, InputError> {
    let err = |n: usize, what: &str| {
        InputError(format!(
            "{}:{}: {what}; fix: the checkov block is a line `{START}`, the table, and a line `{END}` (or pass --no-readme)",
            path.display(),
            n + 1
        ))
    };
    let (mut start, mut end) = (None, None);
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if !(line.contains("<!--") && line.contains("gen checkov")) {
            continue;
        }
        match (line, start, end) {
            (START, None, _) => start = Some(n),
            (END, Some(_), None) => end = Some(n),
            (START, Some(_), _) | (END, _, Some(_)) => {
                return Err(err(n, "a second checkov marker"))
            }
            (END, None, _) => return Err(err(n, &format!("`{END}` before `{START}`"))),
            _ => return Err(err(n, &format!("`{line}` is not a checkov marker"))),
        }
    }
    match (start, end) {
        (Some(s), Some(e)) => Ok(Some((s, e))),
        (Some(s), None) => Err(err(s, &format!("`{START}` has no `{END}` after it"))),
        _ => Ok(None),
    }
}

/// The README with its checkov block regenerated from the files next to it (`dir`: the README's
/// folder); unchanged when it has no such block.
pub fn update(path: &Path, dir: &Path, text: &str) -> Result<String, InputError> {
    let Some((start, end)) = markers(path, text)? else {
        return Ok(text.to_string());
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut new: String = lines[..=start].concat();
    new.push_str(&render(dir)?);
    new.push_str(&lines[end..].concat());
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(text: &str) -> Result<Option<(usize, usize)>, String> {
        markers(Path::new("R.md"), text).map_err(|e| e.0)
    }

    #[test]
    fn the_block_is_optional_and_strict() {
        assert_eq!(marks("# x\n"), Ok(None));
        assert_eq!(
            marks(&format!("a\n{START}\nold\n{END}\n")),
            Ok(Some((1, 3)))
        );
        for (text, needle) in [
            (
                format!("{START}\n"),
                "R.md:1: `<!-- gen checkov -->` has no",
            ),
            (
                format!("{END}\n"),
                "R.md:1: `<!-- end gen checkov -->` before",
            ),
            (
                format!("{START}\n{START}\n{END}\n"),
                "R.md:2: a second checkov marker",
            ),
            (
                format!("{START}\n{END}\n{END}\n"),
                "R.md:3: a second checkov marker",
            ),
            (
                "<!--gen checkov-->\n".to_string(),
                "is not a checkov marker",
            ),
        ] {
            let e = marks(&text).expect_err(&text);
            assert!(e.contains(needle) && e.contains("fix:"), "{e}");
        }
    }

    #[test]
    fn the_table_comes_from_the_files() {
        let dir = std::env::temp_dir().join(format!(
            "gen-checkov-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        std::fs::create_dir_all(dir.join("tests/checkov")).unwrap();
        std::fs::write(dir.join(MUST_PASS), "prod = [\"CKV_A\", \"CKV_B\"]\n").unwrap();
        std::fs::write(
            dir.join(SKIPS),
            "[CKV_Z]\nenvs = [\"dev\"]\nreason = \"a | b\\nc\"\n[CKV_Y]\nenvs = [\"dev\", \"prod\"]\nresources = [\"aws_s3_bucket.logs\"]\nreason = \"r\"\n",
        )
        .unwrap();
        let text = format!("# t\n{START}\nstale\n{END}\nafter\n");
        let new = update(Path::new("R.md"), &dir, &text).unwrap();
        assert_eq!(
            new,
            format!("# t\n{START}\nAn env with `protection = \"prod\"` must pass CKV_A, CKV_B (`{MUST_PASS}`).\n\n| check | envs | reason |\n|---|---|---|\n| CKV_Y | dev, prod: `aws_s3_bucket.logs` only (expected to fail) | r |\n| CKV_Z | dev | a \\| b c |\n{END}\nafter\n")
        );
        std::fs::write(dir.join(SKIPS), "[CKV_Z]\nenvs = [\"dev\"]\n").unwrap();
        let e = update(Path::new("R.md"), &dir, &text).unwrap_err().0;
        assert!(
            e.contains("skips.toml: missing field `reason`") && e.contains("fix:"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
