//! The README's generated blocks: the architecture diagram of an env (`gen graph`) and its app
//! contract (`gen contract`). Found strictly (a missing or mangled marker is an error, never a
//! silent skip) and regenerated.

use std::path::Path;

use crate::config::InputError;

/// What a block holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `gen graph ENV` as Mermaid. A README must have at least one.
    Graph,
    /// `gen contract ENV`: the app contract (optional, strict when present).
    Contract,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Graph, Kind::Contract];

    fn word(self) -> &'static str {
        match self {
            Kind::Graph => "graph",
            Kind::Contract => "contract",
        }
    }

    /// The start marker of a block of `env`: `<!-- gen graph ENV -->`.
    pub fn start(self, env: &str) -> String {
        format!("<!-- gen {} {env} -->", self.word())
    }

    /// The end marker: `<!-- end gen graph -->`.
    pub fn end(self) -> String {
        format!("<!-- end gen {} -->", self.word())
    }

    /// The kind a marker-looking line belongs to: an HTML comment naming `gen <kind>`.
    fn of_line(line: &str) -> Option<Kind> {
        let gen = line.contains("<!--");
        Kind::ALL
            .into_iter()
            .find(|k| gen && line.contains(&format!("gen {}", k.word())))
    }

    fn env_of(self, line: &str) -> Option<&str> {
        let prefix = format!("<!-- gen {} ", self.word());
        let env = line.strip_prefix(&prefix)?.strip_suffix(" -->")?;
        let ok = !env.is_empty()
            && env
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        ok.then_some(env)
    }
}

/// One block: what it holds, the env it shows, the lines of its markers (1-based).
#[derive(Debug, PartialEq, Eq)]
pub struct Block {
    pub kind: Kind,
    pub env: String,
    pub line: usize,
    pub end_line: usize,
}

/// The blocks of a README. Every line that looks like a marker (an HTML comment naming
/// `gen graph` or `gen contract`) must be exactly a start marker of a known env or the end
/// marker of its kind, in pairs, never nested; there must be at least one graph block.
pub fn blocks(path: &Path, text: &str, known: &[String]) -> Result<Vec<Block>, InputError> {
    let err = |line: usize, kind: Kind, what: String| {
        InputError(format!(
            "{}:{line}: {what}; fix: each block is a line `{}`, its content, and a line `{}` (or pass --no-readme)",
            path.display(),
            kind.start("ENV"),
            kind.end()
        ))
    };
    let mut out: Vec<Block> = Vec::new();
    let mut open: Option<Block> = None;
    for (i, raw) in text.lines().enumerate() {
        let (n, line) = (i + 1, raw.trim());
        let Some(kind) = Kind::of_line(line) else {
            continue;
        };
        let (word, end) = (kind.word(), kind.end());
        if line == end {
            match open.take() {
                Some(b) if b.kind == kind => out.push(Block { end_line: n, ..b }),
                Some(b) => {
                    return Err(err(
                        n,
                        kind,
                        format!(
                            "`{end}` inside the {} block started on line {}",
                            b.kind.word(),
                            b.line
                        ),
                    ))
                }
                None => {
                    return Err(err(
                        n,
                        kind,
                        format!("`{end}` with no {word} marker before it"),
                    ))
                }
            }
        } else if let Some(env) = kind.env_of(line) {
            if let Some(b) = &open {
                let end = b.kind.end();
                return Err(err(
                    n,
                    kind,
                    format!(
                        "`{line}` inside the `{}` block started on line {} (no `{end}` between)",
                        b.env, b.line
                    ),
                ));
            }
            if !known.iter().any(|k| k == env) {
                return Err(err(
                    n,
                    kind,
                    format!(
                        "`{line}` names no environment (known: {})",
                        known.join(", ")
                    ),
                ));
            }
            if let Some(b) = out.iter().find(|b| b.kind == kind && b.env == env) {
                return Err(err(
                    n,
                    kind,
                    format!(
                        "a second {word} block for `{env}` (the first is on line {})",
                        b.line
                    ),
                ));
            }
            open = Some(Block {
                kind,
                env: env.to_string(),
                line: n,
                end_line: 0,
            });
        } else {
            return Err(err(n, kind, format!("`{line}` is not a {word} marker")));
        }
    }
    if let Some(b) = open {
        return Err(err(
            b.line,
            b.kind,
            format!(
                "`{}` has no `{}` after it",
                b.kind.start(&b.env),
                b.kind.end()
            ),
        ));
    }
    if !out.iter().any(|b| b.kind == Kind::Graph) {
        return Err(InputError(format!(
            "{}: no graph block (a line `{}`, then `{}`){}; fix: add one, restore the file (git checkout), or pass --no-readme",
            path.display(),
            Kind::Graph.start("ENV"),
            Kind::Graph.end(),
            if text.is_empty() { "; the file is empty" } else { "" }
        )));
    }
    Ok(out)
}

/// The README with the blocks of `envs` regenerated: `render(kind, env)` gives a block's
/// content (whole lines).
pub fn update(
    path: &Path,
    text: &str,
    known: &[String],
    envs: &[String],
    mut render: impl FnMut(Kind, &str) -> Result<String, InputError>,
) -> Result<String, InputError> {
    let found = blocks(path, text, known)?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut new = String::with_capacity(text.len());
    let mut next = 0; // the first line (0-based) not yet copied
    for b in found.iter().filter(|b| envs.contains(&b.env)) {
        // Keep up to and including the start marker, then the content, then the end marker on.
        new.extend(lines[next..b.line].iter().copied());
        if !new.ends_with('\n') {
            new.push('\n');
        }
        new.push_str(&render(b.kind, &b.env)?);
        next = b.end_line - 1;
    }
    new.extend(lines[next..].iter().copied());
    Ok(new)
}

/// A diagram as a block's content: a fenced Mermaid block.
pub fn mermaid_block(mermaid: &str) -> String {
    format!("```mermaid\n{mermaid}```\n")
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
        let t = "# x\n<!-- gen graph dev -->\nold\n<!-- end gen graph -->\n\n<!-- gen graph prod -->\n<!-- end gen graph -->\n<!-- gen contract dev -->\n<!-- end gen contract -->\n";
        let b = check(t).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].env.as_str(), b[0].line, b[0].end_line), ("dev", 2, 4));
        assert_eq!((b[1].env.as_str(), b[1].line), ("prod", 6));
        assert_eq!(
            (b[2].kind, b[2].env.as_str(), b[2].line),
            (Kind::Contract, "dev", 8)
        );
    }

    #[test]
    fn missing_or_mangled_markers_are_errors() {
        for (text, needle) in [
            ("", "R.md: no graph block"),
            ("# just prose\n", "no graph block"),
            ("<!-- gen contract dev -->\n<!-- end gen contract -->\n", "no graph block"),
            ("<!-- gen graph dev -->\nx\n", "R.md:1: `<!-- gen graph dev -->` has no `<!-- end gen graph -->`"),
            ("x\n<!-- end gen graph -->\n", "R.md:2: `<!-- end gen graph -->` with no graph marker"),
            ("<!-- gen graph dev -->\n<!-- gen graph prod -->\n<!-- end gen graph -->\n", "R.md:2:"),
            ("<!--gen graph dev-->\n<!-- end gen graph -->\n", "R.md:1: `<!--gen graph dev-->` is not a graph marker"),
            ("<!-- gen graph dev -->\n<!-- end gen graph\n", "R.md:2:"),
            ("<!-- gen graph stage -->\n<!-- end gen graph -->\n", "names no environment"),
            ("<!-- gen graph dev -->\n<!-- end gen graph -->\n<!-- gen graph dev -->\n<!-- end gen graph -->\n", "a second graph block for `dev`"),
            ("<!-- gen graph dev -->\n<!-- end gen graph -->\n<!-- gen contract dev -->\nx\n", "R.md:3: `<!-- gen contract dev -->` has no `<!-- end gen contract -->`"),
            ("<!-- gen graph dev -->\n<!-- end gen graph -->\n<!-- gen contract  dev -->\n<!-- end gen contract -->\n", "R.md:3: `<!-- gen contract  dev -->` is not a contract marker"),
            ("<!-- gen graph dev -->\n<!-- gen contract dev -->\n<!-- end gen contract -->\n<!-- end gen graph -->\n", "R.md:2: `<!-- gen contract dev -->` inside the `dev` block"),
            ("<!-- gen contract dev -->\n<!-- end gen graph -->\n", "R.md:2: `<!-- end gen graph -->` inside the contract block"),
            ("<!-- gen graph dev -->\n<!-- end gen graph -->\n<!-- gen contract nope -->\n<!-- end gen contract -->\n", "names no environment"),
        ] {
            let e = check(text).expect_err(text);
            assert!(e.contains(needle), "`{needle}` not in: {e}");
            assert!(e.contains("fix:"), "{e}");
        }
    }

    #[test]
    fn only_the_envs_of_the_run_are_redrawn() {
        let t = "<!-- gen graph dev -->\nold\n<!-- end gen graph -->\n<!-- gen graph prod -->\nold\n<!-- end gen graph -->\n<!-- gen contract prod -->\nold\nold\n<!-- end gen contract -->\nend";
        let new = update(Path::new("R.md"), t, &known(), &["prod".into()], |k, e| {
            Ok(match k {
                Kind::Graph => mermaid_block(&format!("{e}\n")),
                Kind::Contract => format!("contract of {e}\n"),
            })
        })
        .unwrap();
        assert_eq!(new, "<!-- gen graph dev -->\nold\n<!-- end gen graph -->\n<!-- gen graph prod -->\n```mermaid\nprod\n```\n<!-- end gen graph -->\n<!-- gen contract prod -->\ncontract of prod\n<!-- end gen contract -->\nend");
    }
}
