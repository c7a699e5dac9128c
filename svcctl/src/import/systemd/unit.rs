//! The syntax of a systemd unit file, apart from what its keys mean:
//! `[Section]` headers, `Key=Value` lines, `#`/`;` comment lines, lines
//! continued by a final `\`, and the quoting of words inside a value.
//! Only std is used, so that the fuzz target can compile this file as it
//! is (svcctl/fuzz).

/// One assignment, with the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub section: String,
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// A parsed unit file: its assignments in order, the sections with their
/// header lines, and the lines that are not valid syntax.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unit {
    pub sections: Vec<(String, usize)>,
    pub entries: Vec<Entry>,
    pub problems: Vec<(usize, String)>,
}

/// Parses a unit file. Bytes that are not UTF-8 are replaced (and reported
/// once) rather than refused: the rest of the file is still worth reading.
pub fn parse(bytes: &[u8]) -> Unit {
    let text = String::from_utf8_lossy(bytes);
    let mut unit = Unit::default();
    if std::str::from_utf8(bytes).is_err() {
        unit.problems.push((
            0,
            "not valid UTF-8; invalid bytes were replaced".to_string(),
        ));
    }
    let mut section: Option<String> = None;
    // A continued assignment: its text so far and the line it began on.
    let mut pending: Option<(String, usize)> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim();
        if let Some((mut acc, start)) = pending.take() {
            // Comment lines inside a continued line are skipped, as
            // systemd does.
            if line.starts_with('#') || line.starts_with(';') {
                pending = Some((acc, start));
                continue;
            }
            match line.strip_suffix('\\') {
                Some(rest) => {
                    acc.push_str(rest);
                    acc.push(' ');
                    pending = Some((acc, start));
                }
                None => {
                    acc.push_str(line);
                    assign(&mut unit, section.as_deref(), &acc, start);
                }
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('[') {
            match line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                Some(name) if !name.is_empty() && !name.contains(['[', ']']) => {
                    unit.sections.push((name.to_string(), n));
                    section = Some(name.to_string());
                }
                _ => unit
                    .problems
                    .push((n, format!("invalid section header '{line}'"))),
            }
            continue;
        }
        match line.strip_suffix('\\') {
            Some(rest) => pending = Some((format!("{rest} "), n)),
            None => assign(&mut unit, section.as_deref(), line, n),
        }
    }
    if let Some((acc, start)) = pending {
        // The file ended inside a continued line: take what there is.
        assign(&mut unit, section.as_deref(), acc.trim_end(), start);
    }
    unit
}

fn assign(unit: &mut Unit, section: Option<&str>, line: &str, n: usize) {
    let Some(section) = section else {
        unit.problems
            .push((n, "assignment outside of any [section]".to_string()));
        return;
    };
    let Some((key, value)) = line.split_once('=') else {
        unit.problems
            .push((n, format!("not a Key=Value line: '{line}'")));
        return;
    };
    let key = key.trim();
    if key.is_empty() {
        unit.problems
            .push((n, "assignment without a key".to_string()));
        return;
    }
    unit.entries.push(Entry {
        section: section.to_string(),
        key: key.to_string(),
        value: value.trim().to_string(),
        line: n,
    });
}

/// Splits a value into words as systemd does for command lines and lists:
/// blanks separate words; `"…"` and `'…'` quote (also in the middle of a
/// word); C escapes (`\n`, `\t`, `\\`, `\"`, `\xNN`, `\NNN`, `\uNNNN`, `\s`
/// …) are decoded inside and outside quotes.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (_, '\\') => {
                in_word = true;
                unescape(&mut chars, &mut word)?;
            }
            (_, c) => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated {q} quote"));
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Decodes one C escape after a `\`.
fn unescape(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    out: &mut String,
) -> Result<(), String> {
    let Some(c) = chars.next() else {
        return Err("'\\' at the end of the value".to_string());
    };
    let simple = match c {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        's' => Some(' '),
        '\\' | '"' | '\'' | '$' | ' ' | ';' => Some(c),
        _ => None,
    };
    if let Some(s) = simple {
        out.push(s);
        return Ok(());
    }
    let (radix, digits) = match c {
        'x' => (16, 2),
        'u' => (16, 4),
        'U' => (16, 8),
        '0'..='7' => (8, 2),
        _ => return Err(format!("unknown escape '\\{c}'")),
    };
    let mut code: u32 = if radix == 8 { c as u32 - '0' as u32 } else { 0 };
    for _ in 0..digits {
        let d = chars
            .next()
            .and_then(|d| d.to_digit(radix))
            .ok_or_else(|| format!("incomplete escape '\\{c}…'"))?;
        code = code * radix + d;
    }
    match char::from_u32(code) {
        Some('\0') | None => Err(format!("escape '\\{c}…' is not a valid character")),
        Some(ch) => {
            out.push(ch);
            Ok(())
        }
    }
}
