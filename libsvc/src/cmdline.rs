//! Splitting a command line into words the way a shell would, without a
//! shell: `'…'` keeps everything literally, `"…"` keeps everything but
//! `\"`, `\\`, `\$` and `` \` ``, and `\` outside quotes escapes the next
//! character. Nothing is expanded.

/// Why a command line could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("unterminated {0} quote")]
    UnterminatedQuote(&'static str),
    #[error("'\\' at the end of the value escapes nothing")]
    TrailingBackslash,
}

pub fn split(s: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word can be empty (`""`), so track whether one has begun.
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(SplitError::UnterminatedQuote("single")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(SplitError::UnterminatedQuote("double")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(SplitError::UnterminatedQuote("double")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(SplitError::TrailingBackslash),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// Quotes `word` so that `split` reads it back unchanged.
pub fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Joins words into one line that `split` reads back as the same words.
pub fn join(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn words() {
        assert_eq!(split("a b  c").unwrap(), s(&["a", "b", "c"]));
        assert_eq!(
            split(r#"/usr/sbin/nginx -g "daemon off;""#).unwrap(),
            s(&["/usr/sbin/nginx", "-g", "daemon off;"])
        );
        assert_eq!(
            split(r"/bin/sh -c 'echo $HOME; exit 1'").unwrap(),
            s(&["/bin/sh", "-c", "echo $HOME; exit 1"])
        );
        assert_eq!(split(r"a\ b c\\d").unwrap(), s(&["a b", r"c\d"]));
        assert_eq!(
            split(r#""a\"b\n" '' x"#).unwrap(),
            s(&[r#"a"b\n"#, "", "x"])
        );
        assert_eq!(split(r#"pre"mid"'post'"#).unwrap(), s(&["premidpost"]));
        assert_eq!(split("  ").unwrap(), Vec::<String>::new());
        assert_eq!(
            split("# not a comment").unwrap(),
            s(&["#", "not", "a", "comment"])
        );
    }

    #[test]
    fn errors() {
        assert_eq!(split("'abc"), Err(SplitError::UnterminatedQuote("single")));
        assert_eq!(split("\"abc"), Err(SplitError::UnterminatedQuote("double")));
        assert_eq!(split("abc\\"), Err(SplitError::TrailingBackslash));
    }

    #[test]
    fn join_round_trips() {
        let w = s(&["a b", "", "it's", "plain", "$x", "\\"]);
        assert_eq!(split(&join(&w)).unwrap(), w);
    }
}
