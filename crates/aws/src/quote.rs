//! Quoting for where a value lands in the generated boot script: a bash word, a word of a
//! systemd command line, a systemd setting that has no quoting, a comment line.
//!
//! Env files are checked at load with strict grammars; these functions are the second wall: any
//! string, whatever it holds, comes out as exactly one inert item of its destination.
//! The rules relied on (systemd 252, the host test's and Debian 12's; Ubuntu 24.04 has 255):
//! - systemd.syntax(7), "Quoting": in settings that allow quoting (ExecStart=), a word may be
//!   wrapped in double quotes, inside which C escapes (`\\`, `\"`, `\n`, `\xNN`, `\uNNNN`) are
//!   unescaped.
//! - systemd.unit(5), "Specifiers": `%` starts a specifier in most settings; `%%` is a literal
//!   `%` (ExecStart=, User=, Description=, WorkingDirectory=, EnvironmentFile=).
//! - systemd.service(5), "Command lines": `$NAME` and `${NAME}` are replaced by environment
//!   variables; `$$` is a literal `$`. A lone `;` word separates commands (quoted, it does not).
//! - systemd.syntax(7): a line ending in an unescaped `\` continues on the next line; `#`/`;`
//!   start a comment only at the start of a line; a newline always ends a setting.

/// A value that no destination can hold: a NUL byte ends every C string (argv, unit lines).
fn no_nul(s: &str) -> Result<(), String> {
    match s.contains('\0') {
        true => {
            Err("a value contains a NUL byte, which no shell word or unit line can hold".into())
        }
        false => Ok(()),
    }
}

/// One bash word: single-quoted; a `'` inside is written `'\''`. Bash expands nothing inside
/// single quotes, and a newline there is part of the word.
pub fn sh(s: &str) -> Result<String, String> {
    no_nul(s)?;
    Ok(format!("'{}'", s.replace('\'', r"'\''")))
}

/// One word of a systemd command line (ExecStart=): double-quoted, `\` and `"` escaped,
/// control characters as C escapes (so the setting stays on its line), `%` and `$` doubled.
pub fn unit_word(s: &str) -> Result<String, String> {
    no_nul(s)?;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' => out.push_str("\\\""),
            '%' => out.push_str("%%"),
            '$' => out.push_str("$$"),
            '\n' => out.push_str(r"\n"),
            '\t' => out.push_str(r"\t"),
            c if c.is_control() => out.push_str(&escape_control(c)),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// A systemd setting without quoting (Description=, User=, WorkingDirectory=,
/// EnvironmentFile=): `%` doubled, `\` doubled (no line continuation), control characters
/// written as visible `\xNN` text. Such a value stays on its line: at worst it is a name or path
/// that does not exist, and systemd refuses the unit rather than reading another directive.
pub fn unit_text(s: &str) -> Result<String, String> {
    no_nul(s)?;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%%"),
            '\\' => out.push_str(r"\\"),
            c if c.is_control() => out.push_str(&escape_control(c)),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Text for a `#` comment of the script: control characters as visible escapes, so the value
/// cannot end the comment and start a command.
pub fn comment(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            c if c.is_control() => escape_control(c),
            c => c.to_string(),
        })
        .collect()
}

fn escape_control(c: char) -> String {
    match u32::from(c) {
        n if n < 0x80 => format!(r"\x{n:02x}"),
        n => format!(r"\u{n:04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sh_single_quotes_everything() {
        assert_eq!(sh("plain").unwrap(), "'plain'");
        assert_eq!(sh("").unwrap(), "''");
        assert_eq!(sh("it's").unwrap(), r"'it'\''s'");
        assert_eq!(
            sh("$(x) `y` \"z\" \\ %\nUser=root").unwrap(),
            "'$(x) `y` \"z\" \\ %\nUser=root'"
        );
        assert!(sh("a\0b").is_err());
    }

    #[test]
    fn unit_word_escapes_quotes_specifiers_variables_and_lines() {
        assert_eq!(unit_word("app.main:app").unwrap(), r#""app.main:app""#);
        assert_eq!(
            unit_word("a\"b\\c%h$HOME;\nUser=root\t\x07\u{85}").unwrap(),
            r#""a\"b\\c%%h$$HOME;\nUser=root\t\x07\u0085""#
        );
        assert!(!unit_word("x\ny\rz").unwrap().contains(['\n', '\r']));
        assert!(unit_word("\0").is_err());
    }

    #[test]
    fn unit_text_keeps_one_line_and_no_continuation() {
        assert_eq!(unit_text("fastapi").unwrap(), "fastapi");
        assert_eq!(unit_text("50%\\").unwrap(), r"50%%\\");
        assert_eq!(unit_text("x\nUser=root").unwrap(), r"x\x0aUser=root");
        assert!(!unit_text("a\r\nb\x0bc")
            .unwrap()
            .contains(['\n', '\r', '\x0b']));
    }

    #[test]
    fn comment_cannot_end_its_line() {
        assert_eq!(comment("dev\ntouch /tmp/x"), r"dev\x0atouch /tmp/x");
        assert_eq!(comment("prod"), "prod");
    }
}
