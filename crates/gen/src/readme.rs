//! The README's generated blocks, found strictly (a missing or mangled marker is an error,
//! never a silent skip) and regenerated: the diagrams (`gen graph`, at least one) and the cost
//! estimates (`gen cost`, optional).

use std::path::Path;

use crate::config::InputError;
use crate::graph::{readme_marker, README_END};

/// What a README block holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// `gen graph ENV`: the Mermaid diagram.
    Graph,
    /// `gen cost ENV`: the monthly estimate.
    Cost,
}

/// The end marker of cost blocks.
pub const COST_END: &str = "<!-- end gen cost -->";

impl Section {
    fn word(self) -> &'static str {
        match self {
            Section::Graph => "gen graph",
            Section::Cost => "gen cost",
        }
    }
    /// The start marker of `env`'s block.
    pub fn start(self, env: &str) -> String {
        match self {
            Section::Graph => readme_marker(env),
            Section::Cost => format!("<!-- gen cost {env} -->"),
        }
    }
    /// The end marker.
    pub fn end(self) -> &'static str {
        match self {
            Section::Graph => README_END,
            Section::Cost => COST_END,
        }
    }
    fn fence(self) -> &'static str {
        match self {
            Section::Graph => "mermaid",
            Section::Cost => "text",
        }
    }
}

/// One generated block: the env it shows and the line of its start marker (1-based).
#[derive(Debug, PartialEq, Eq)]
pub struct Block {
    pub env: String,
    pub line: usize,
}

fn env_of(line: &str, section: Section) -> Option<&str> {
    let env = line
        .strip_prefix("<!-- ")?
        .strip_prefix(section.word())?
        .strip_prefix(' ')?
        .strip_suffix(" -->")?;
    let ok = !env.is_empty()
        && env
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then_some(env)
}

/// The graph blocks of a README (see [`blocks_of`]); there must be at least one.
pub fn blocks(path: &Path, text: &str, known: &[String]) -> Result<Vec<Block>, InputError> {
    blocks_of(path, text, known, Section::Graph)
}

/// The blocks of one section. Every line that looks like one of its markers (an HTML comment
/// naming `gen graph` / `gen cost`) must be exactly a start marker of a known env or the end
/// marker, in pairs. Graph blocks must exist; cost blocks are optional.
pub fn blocks_of(
    path: &Path,
    text: &str,
    known: &[String],
    section: Section,
) -> Result<Vec<Block>, InputError> {
    let (word, end) = (section.word(), section.end());
    let what = match section {
        Section::Graph => "graph",
        Section::Cost => "cost",
    };
    let err = |line: usize, what: String| {
        InputError(format!(
            "{}:{line}: {what}; fix: each block is a line `{}`, the block, and a line `{end}` (or pass --no-readme)",
            path.display(),
            section.start("ENV")
        ))
    };
    let mut out: Vec<Block> = Vec::new();
    let mut open: Option<Block> = None;
    for (i, raw) in text.lines().enumerate() {
        let (n, line) = (i + 1, raw.trim());
        if !(line.contains("<!--") && line.contains(word)) {
            continue;
        }
        if line == end {
            match open.take() {
                Some(b) => out.push(b),
                None => return Err(err(n, format!("`{end}` with no {what} marker before it"))),
            }
        } else if let Some(env) = env_of(line, section) {
            if let Some(b) = &open {
                return Err(err(
                    n,
                    format!(
                        "`{line}` inside the `{}` block started on line {} (no `{end}` between)",
                        b.env, b.line
                    ),
                ));
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
                        "a second {what} block for `{env}` (the first is on line {})",
                        b.line
                    ),
                ));
            }
            open = Some(Block {
                env: env.to_string(),
                line: n,
            });
        } else {
            return Err(err(n, format!("`{line}` is not a {what} marker")));
        }
    }
    if let Some(b) = open {
        return Err(err(
            b.line,
            format!("`{}` has no `{end}` after it", section.start(&b.env)),
        ));
    }
    if out.is_empty() && section == Section::Graph {
        return Err(InputError(format!(
            "{}: no graph block (a line `{}`, then `{README_END}`){}; fix: add one, restore the file (git checkout), or pass --no-readme",
            path.display(),
            readme_marker("ENV"),
            if text.is_empty() { "; the file is empty" } else { "" }
        )));
    }
    Ok(out)
}

/// `text` with the block of `env` in `section` holding `body` (in a fenced code block).
fn replace(text: &str, section: Section, env: &str, body: &str) -> Option<String> {
    let start = section.start(env);
    let at = text.find(&start)?;
    let body_start = at + start.len();
    let end = body_start + text[body_start..].find(section.end())?;
    Some(format!(
        "{}\n```{}\n{body}```\n{}",
        &text[..body_start],
        section.fence(),
        &text[end..]
    ))
}

/// The README with the blocks of `envs` regenerated: `render(section, env)` gives a block's
/// contents.
pub fn update(
    path: &Path,
    text: &str,
    known: &[String],
    envs: &[String],
    mut render: impl FnMut(Section, &str) -> Result<String, InputError>,
) -> Result<String, InputError> {
    let mut new = text.to_string();
    for section in [Section::Graph, Section::Cost] {
        for b in blocks_of(path, text, known, section)? {
            if envs.contains(&b.env) {
                new = replace(&new, section, &b.env, &render(section, &b.env)?)
                    .expect("blocks_of() found the markers");
            }
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
        let new = update(Path::new("R.md"), t, &known(), &["prod".into()], |_, e| {
            Ok(format!("{e}\n"))
        })
        .unwrap();
        assert_eq!(new, "<!-- gen graph dev -->\nold\n<!-- end gen graph -->\n<!-- gen graph prod -->\n```mermaid\nprod\n```\n<!-- end gen graph -->\n");
    }

    #[test]
    fn cost_blocks_are_optional_strict_and_filled() {
        let graph = "<!-- gen graph dev -->\n<!-- end gen graph -->\n";
        let cost =
            |t: &str| blocks_of(Path::new("R.md"), t, &known(), Section::Cost).map_err(|e| e.0);
        assert_eq!(cost(graph).unwrap(), vec![]);
        for (text, needle) in [
            ("<!-- gen cost dev -->\nx\n", "R.md:1: `<!-- gen cost dev -->` has no `<!-- end gen cost -->`"),
            ("<!-- end gen cost -->\n", "R.md:1: `<!-- end gen cost -->` with no cost marker"),
            ("<!-- gen cost stage -->\n<!-- end gen cost -->\n", "names no environment"),
            ("<!--gen cost dev-->\n<!-- end gen cost -->\n", "is not a cost marker"),
            ("<!-- gen cost dev -->\n<!-- end gen cost -->\n<!-- gen cost dev -->\n<!-- end gen cost -->\n", "a second cost block for `dev`"),
            ("<!-- gen cost dev -->\n<!-- end gen graph -->\n", "R.md:1:"),
        ] {
            let e = cost(text).expect_err(text);
            assert!(e.contains(needle) && e.contains("fix:"), "`{needle}` not in: {e}");
        }
        let t = format!("{graph}<!-- gen cost prod -->\nold\n<!-- end gen cost -->\n");
        let new = update(
            Path::new("R.md"),
            &t,
            &known(),
            &["dev".into(), "prod".into()],
            |s, e| Ok(format!("{s:?} {e}\n")),
        )
        .unwrap();
        assert_eq!(new, "<!-- gen graph dev -->\n```mermaid\nGraph dev\n```\n<!-- end gen graph -->\n<!-- gen cost prod -->\n```text\nCost prod\n```\n<!-- end gen cost -->\n");
    }
}
