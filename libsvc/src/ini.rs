//! The INI layer of declarations: lines into sections of `key = value`
//! entries, each with its line number. What keys and sections mean is
//! `decl`'s job.

use crate::diag::Diagnostic;
use std::path::Path;

/// Longest physical line accepted; longer is an error, not a slowdown.
pub const MAX_LINE: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    /// Where the entry starts (its first line when continued).
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub line: u32,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    pub sections: Vec<Section>,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Reads `bytes` as declaration INI; every problem is pushed to `diags`
/// (all of them, not just the first) and the lines around it still count.
pub fn parse(bytes: &[u8], file: &Path, diags: &mut Vec<Diagnostic>) -> Document {
    let mut doc = Document::default();
    // (start line, accumulated text) of a value continued with `\`.
    let mut pending: Option<(u32, String)> = None;
    let mut raw_lines = bytes.split(|&b| b == b'\n').peekable();
    let mut number = 0u32;
    while let Some(raw) = raw_lines.next() {
        number = number.saturating_add(1);
        // A file ending in '\n' yields one empty piece after it; that is not a line.
        if raw.is_empty() && raw_lines.peek().is_none() {
            break;
        }
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let err = |diags: &mut Vec<Diagnostic>, msg: String| {
            diags.push(Diagnostic::error(file, Some(number), msg));
        };
        if raw.len() > MAX_LINE {
            err(
                diags,
                format!("line is {} bytes long; the limit is {MAX_LINE}", raw.len()),
            );
            pending = None;
            continue;
        }
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t,
            Err(e) => {
                let at = e.valid_up_to();
                err(
                    diags,
                    format!(
                        "not valid UTF-8: byte 0x{:02x} at column {}",
                        raw[at],
                        at + 1
                    ),
                );
                pending = None;
                continue;
            }
        };
        if text.contains('\0') {
            err(diags, "NUL byte in line".to_string());
            pending = None;
            continue;
        }
        if let Some((start, mut acc)) = pending.take() {
            match text.strip_suffix('\\') {
                Some(head) => {
                    acc.push_str(head);
                    acc.push(' ');
                    pending = Some((start, acc));
                }
                None => {
                    acc.push_str(text);
                    finish_entry(&mut doc, file, start, &acc, diags);
                }
            }
            continue;
        }
        let trimmed = text.trim_matches(is_blank);
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.starts_with('[') {
            match trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                Some(name) if !name.is_empty() => doc.sections.push(Section {
                    name: name.trim_matches(is_blank).to_string(),
                    line: number,
                    entries: Vec::new(),
                }),
                _ => err(
                    diags,
                    format!("malformed section header '{trimmed}'; expected '[name]'"),
                ),
            }
            continue;
        }
        match text.strip_suffix('\\') {
            Some(head) => pending = Some((number, format!("{head} "))),
            None => finish_entry(&mut doc, file, number, text, diags),
        }
    }
    if let Some((start, _)) = pending {
        diags.push(Diagnostic::error(
            file,
            Some(start),
            "value continued with '\\' but the file ends",
        ));
    }
    doc
}

fn finish_entry(
    doc: &mut Document,
    file: &Path,
    line: u32,
    text: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let Some((key, value)) = text.split_once('=') else {
        diags.push(Diagnostic::error(
            file,
            Some(line),
            format!(
                "expected 'key = value', '[section]' or a comment, found '{}'",
                text.trim_matches(is_blank)
            ),
        ));
        return;
    };
    let key = key.trim_matches(is_blank);
    if key.is_empty() {
        diags.push(Diagnostic::error(
            file,
            Some(line),
            "missing key before '='",
        ));
        return;
    }
    let Some(section) = doc.sections.last_mut() else {
        diags.push(Diagnostic::error(
            file,
            Some(line),
            format!("key '{key}' before any [section]"),
        ));
        return;
    };
    section.entries.push(Entry {
        key: key.to_string(),
        value: value.trim_matches(is_blank).to_string(),
        line,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &[u8]) -> (Document, Vec<Diagnostic>) {
        let mut d = Vec::new();
        let doc = parse(s, Path::new("t.ini"), &mut d);
        (doc, d)
    }

    #[test]
    fn sections_entries_comments() {
        let (doc, d) = p(b"# c\n; c\n\n [service] \r\nexec = /bin/x  # not a comment\r\n  a=b\n[dependencies]\nrequires =\n");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(doc.sections.len(), 2);
        let s = &doc.sections[0];
        assert_eq!((s.name.as_str(), s.line), ("service", 4));
        assert_eq!(s.entries[0].value, "/bin/x  # not a comment");
        assert_eq!(s.entries[0].line, 5);
        assert_eq!(
            (s.entries[1].key.as_str(), s.entries[1].value.as_str()),
            ("a", "b")
        );
        assert_eq!(doc.sections[1].entries[0].value, "");
    }

    #[test]
    fn continuation() {
        let (doc, d) = p(b"[s]\nexec = a \\\n  b\\\nc\nx = y\n");
        assert!(d.is_empty(), "{d:?}");
        let e = &doc.sections[0].entries;
        assert_eq!(e[0].value, "a    b c");
        assert_eq!(e[0].line, 2);
        assert_eq!(e[1].line, 5);
        let (_, d) = p(b"[s]\nexec = a \\\n");
        assert_eq!(
            d[0].to_string(),
            "t.ini:2: value continued with '\\' but the file ends"
        );
    }

    #[test]
    fn every_error_reported() {
        let (doc, d) = p(b"k = v\n[s]\nnoequals\n[bad\n\xff\xfe = 1\n= v\n[]\nok = 1\n");
        let lines: Vec<_> = d.iter().map(|x| x.line.unwrap()).collect();
        assert_eq!(lines, vec![1, 3, 4, 5, 6, 7], "{d:?}");
        assert!(d[3].message.contains("UTF-8"));
        assert_eq!(doc.sections[0].entries.len(), 1);
    }

    #[test]
    fn long_line_and_nul() {
        let mut big = b"[s]\nk = ".to_vec();
        big.extend(std::iter::repeat_n(b'x', 10 << 20));
        big.extend_from_slice(b"\nk2 = a\0b\n");
        let (_, d) = p(&big);
        assert_eq!(d.len(), 2);
        assert!(d[0].message.contains("limit"));
        assert!(d[1].message.contains("NUL"));
    }
}
