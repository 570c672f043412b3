//! The README's graph blocks: found strictly (a missing or mangled marker is an error, never a
//! silent skip) and regenerated.

use std::path::Path;

use crate::config::InputError;
use crate::graph::{readme_marker, README_END};

/// One graph block: the env it draws and the line of its start marker (1-based).
#[derive(Debug, PartialEq, Eq)]
pub struct Block {
    pub env: String,
    pub line: usize,
}

fn env_of(line: &str) -> Option<&str> {
    let env = line.strip_prefix("<!-- gen graph ")?.strip_suffix(" -->")?;
    let ok = !env.is_empty()
        && env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then_some(env)
}

/// The graph blocks of a README. Every line that looks like a marker (an HTML comment naming
/// `gen graph`) must be exactly a start marker of a known env or the end marker, in pairs; and
/// there must be at least one block.
pub fn blocks(path: &Path, text: &str, known: &[String]) -> Result<Vec<Block>, InputError> {
    let err = |line: usize, what: String| {
        InputError(format!(
            "{}:{line}: {what}; fix: each diagram is a line `{}`, the diagram, and a line `{README_END}` (or pass --no-readme)",
            path.display(),
            readme_marker("ENV")
        ))
    };
    let mut out: Vec<Block> = Vec::new();
    let mut open: Option<Block> = None;
    for (i, raw) in text.lines().enumerate() {
        let (n, line) = (i + 1, raw.trim());
        if !(line.contains("<!--") && line.contains("gen graph")) {
            continue;
        }
        if line == README_END {
            match open.take() {
                Some(b) => out.push(b),
                None => {
                    return Err(err(
                        n,
                        format!("`{README_END}` with no graph marker before it"),
                    ))
                }
            }
        } else if let Some(env) = env_of(line) {
            if let Some(b) = &open {
                return Err(err(n, format!("`{line}` inside the `{}` block started on line {} (no `{README_END}` between)", b.env, b.line)));
            }
            if !known.iter().any(|k| k == env) {
                return Err(err(
                    n,
                    format!(
                        "`{line}` names no environment (known: {})",
                        known.join(", ")
                    ),
                ));
            }
            if let Some(b) = out.iter().find(|b| b.env == env) {
                return Err(err(
                    n,
                    format!(
                        "a second graph block for `{env}` (the first is on line {})",
                        b.line
                    ),
                ));
            }
            open = Some(Block {
                env: env.to_string(),
                line: n,
            });
        } else {
            return Err(err(n, format!("`{line}` is not a graph marker")));
        }
    }
    if let Some(b) = open {
        return Err(err(
            b.line,
            format!("`{}` has no `{README_END}` after it", readme_marker(&b.env)),
        ));
    }
    if out.is_empty() {
        return Err(InputError(format!(
            "{}: no graph block (a line `{}`, then `{README_END}`){}; fix: add one, restore the file (git checkout), or pass --no-readme",
            path.display(),
            readme_marker("ENV"),
            if text.is_empty() { "; the file is empty" } else { "" }
        )));
    }
    Ok(out)
}

/// The README with the graph blocks of `envs` regenerated (`mermaid` draws one env).
pub fn update(
    path: &Path,
    text: &str,
    known: &[String],
    envs: &[String],
    mut mermaid: impl FnMut(&str) -> Result<String, InputError>,
) -> Result<String, InputError> {
    let mut new = text.to_string();
    for b in blocks(path, text, known)? {
        if envs.contains(&b.env) {
            new = crate::graph::update_readme(&new, &b.env, &mermaid(&b.env)?)
                .expect("blocks() found the markers");
        }
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Vec<String> {
        vec!["dev".into(), "prod".into()]
    }

    fn check(text: &str) -> Result<Vec<Block>, String> {
        blocks(Path::new("R.md"), text, &known()).map_err(|e| e.0)
    }

    #[test]
    fn well_formed_blocks_are_found() {
        let t = "# x\n<!-- gen graph dev -->\nold\n<!-- end gen graph -->\n\n<!-- gen graph prod -->\n<!-- end gen graph -->\n";
        let b = check(t).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].env.as_str(), b[0].line), ("dev", 2));
        assert_eq!((b[1].env.as_str(), b[1].line), ("prod", 6));
    }

    #[test]
    fn missing_or_mangled_markers_are_errors() {
        for (text, needle) in [
            ("", "R.md: no graph block"),
            ("# just prose\n", "no graph block"),
            ("<!-- gen graph dev -->\nx\n", "R.md:1: `<!-- gen graph dev -->` has no `<!-- end gen graph -->`"),
            ("x\n<!-- end gen graph -->\n", "R.md:2: `<!-- end gen graph -->` with no graph marker"),
            ("<!-- gen graph dev -->\n<!-- gen graph prod -->\n<!-- end gen graph -->\n", "R.md:2:"),
            ("<!--gen graph dev-->\n<!-- end gen graph -->\n", "R.md:1: `<!--gen graph dev-->` is not a graph marker"),
            ("<!-- gen graph dev -->\n<!-- end gen graph\n", "R.md:2:"),
            ("<!-- gen graph stage -->\n<!-- end gen graph -->\n", "names no environment"),
            ("<!-- gen graph dev -->\n<!-- end gen graph -->\n<!-- gen graph dev -->\n<!-- end gen graph -->\n", "a second graph block for `dev`"),
        ] {
            let e = check(text).expect_err(text);
            assert!(e.contains(needle), "`{needle}` not in: {e}");
            assert!(e.contains("fix:"), "{e}");
        }
    }

    #[test]
    fn only_the_envs_of_the_run_are_redrawn() {
        let t = "<!-- gen graph dev -->\nold\n<!-- end gen graph -->\n<!-- gen graph prod -->\nold\n<!-- end gen graph -->\n";
        let new = update(Path::new("R.md"), t, &known(), &["prod".into()], |e| {
            Ok(format!("{e}\n"))
        })
        .unwrap();
        assert_eq!(new, "<!-- gen graph dev -->\nold\n<!-- end gen graph -->\n<!-- gen graph prod -->\n```mermaid\nprod\n```\n<!-- end gen graph -->\n");
    }
}
