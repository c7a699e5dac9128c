//! What every importer produces: a declaration being written (`Draft`),
//! the source lines it could not carry over (`Note`), and the rendering of
//! a draft as svc INI text. The importers (systemd, OpenRC, LSB, runit)
//! only fill drafts; writing, validation and reporting are done once, by
//! the import driver.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The sections an imported declaration may have, in the order they are
/// written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Service,
    Dependencies,
    Environment,
    Logging,
}

impl Section {
    fn header(self) -> &'static str {
        match self {
            Section::Service => "[service]",
            Section::Dependencies => "[dependencies]",
            Section::Environment => "[environment]",
            Section::Logging => "[logging]",
        }
    }
}

/// A source line that was not translated: printed as
/// `FILE:LINE: not imported: WHY`. `line` is 0 when the whole file is meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub file: PathBuf,
    pub line: usize,
    pub why: String,
}

impl Note {
    pub fn new(file: &Path, line: usize, why: impl Into<String>) -> Self {
        Note {
            file: file.to_path_buf(),
            line,
            why: why.into(),
        }
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: not imported: {}", self.file.display(), self.why)
        } else {
            write!(
                f,
                "{}:{}: not imported: {}",
                self.file.display(),
                self.line,
                self.why
            )
        }
    }
}

/// One declaration under construction. Keys keep the order they were
/// first set in, within their section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The declaration's name: `nginx`, or `getty@` for a template
    /// (written as `getty@.ini`).
    pub name: String,
    /// The files it was made from, named in the header comment.
    pub sources: Vec<PathBuf>,
    /// Targets to enable it in (`enabled/TARGET/NAME`) when it is written;
    /// empty for a service the source had disabled (runit's `down`).
    pub enable_in: Vec<String>,
    /// What was left out.
    pub notes: Vec<Note>,
    /// Extra lines for the header comment (one line each, no `#`).
    pub remarks: Vec<String>,
    entries: Vec<(Section, String, String)>,
}

impl Draft {
    pub fn new(name: impl Into<String>, source: &Path) -> Self {
        Draft {
            name: name.into(),
            sources: vec![source.to_path_buf()],
            enable_in: Vec::new(),
            notes: Vec::new(),
            remarks: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// Sets `key` to `value`, replacing an earlier value.
    pub fn set(&mut self, section: Section, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self
            .entries
            .iter_mut()
            .find(|(s, k, _)| *s == section && k == key)
        {
            Some(entry) => entry.2 = value,
            None => self.entries.push((section, key.to_string(), value)),
        }
    }

    /// Appends items to a list key (`requires`, `after`, …): blank-separated,
    /// each item written once.
    pub fn push(&mut self, section: Section, key: &str, item: &str) {
        if item.is_empty() {
            return;
        }
        match self
            .entries
            .iter_mut()
            .find(|(s, k, _)| *s == section && k == key)
        {
            Some(entry) => {
                if !entry.2.split_whitespace().any(|i| i == item) {
                    entry.2.push(' ');
                    entry.2.push_str(item);
                }
            }
            None => self
                .entries
                .push((section, key.to_string(), item.to_string())),
        }
    }

    /// Appends a whole line to a key that takes one value per line
    /// (`exec-pre`).
    pub fn push_line(&mut self, section: Section, key: &str, value: impl Into<String>) {
        self.entries.push((section, key.to_string(), value.into()));
    }

    pub fn get(&self, section: Section, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(s, k, _)| *s == section && k == key)
            .map(|(_, _, v)| v.as_str())
    }

    pub fn remove(&mut self, section: Section, key: &str) {
        self.entries
            .retain(|(s, k, _)| !(*s == section && k == key));
    }

    /// Every `(section, key, value)` set so far, in order.
    pub fn entries(&self) -> impl Iterator<Item = (Section, &str, &str)> {
        self.entries
            .iter()
            .map(|(s, k, v)| (*s, k.as_str(), v.as_str()))
    }

    /// Records a source line that was not carried over.
    pub fn not_imported(&mut self, file: &Path, line: usize, why: impl Into<String>) {
        self.notes.push(Note::new(file, line, why));
    }

    /// The file name it is written as: `NAME.ini`.
    pub fn file_name(&self) -> String {
        format!("{}.ini", self.name)
    }

    /// The declaration as svc INI text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for s in &self.sources {
            let _ = writeln!(
                out,
                "# Imported by svcctl import from {}",
                comment(&s.display().to_string())
            );
        }
        for r in &self.remarks {
            let _ = writeln!(out, "# {}", comment(r));
        }
        for n in &self.notes {
            let _ = writeln!(out, "# {}", comment(&n.to_string()));
        }
        let mut sections: Vec<Section> = self.entries.iter().map(|(s, _, _)| *s).collect();
        sections.sort();
        sections.dedup();
        for section in sections {
            let _ = writeln!(out, "\n{}", section.header());
            for (_, k, v) in self.entries.iter().filter(|(s, _, _)| *s == section) {
                let _ = writeln!(out, "{k} = {v}");
            }
        }
        out
    }
}

/// Text for a comment line: control characters (a NUL, a line break, a
/// terminal escape) of a source line shown escaped, since libsvc refuses a
/// NUL anywhere in a file and a line break would end the comment.
fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// One word of an svc command (docs/declarations.md, "command"), quoted
/// only when it has to be.
pub fn quote_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| !c.is_whitespace() && !matches!(c, '\'' | '"' | '\\' | '#' | ';'));
    if plain {
        word.to_string()
    } else if !word.contains('\'') {
        format!("'{word}'")
    } else {
        let mut q = String::from("\"");
        for c in word.chars() {
            if matches!(c, '"' | '\\' | '$' | '`') {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    }
}

/// A command line from its words, each quoted as needed.
pub fn join_command<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| quote_word(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(quote_word("/usr/sbin/nginx"), "/usr/sbin/nginx");
        assert_eq!(quote_word("daemon off;"), "'daemon off;'");
        assert_eq!(quote_word(""), "''");
        assert_eq!(quote_word("it's"), "\"it's\"");
        assert_eq!(quote_word("a'$b"), "\"a'\\$b\"");
    }

    #[test]
    fn a_draft_renders_sections_in_order_with_its_notes() {
        let src = Path::new("/lib/systemd/system/x.service");
        let mut d = Draft::new("x", src);
        d.push(Section::Dependencies, "after", "network");
        d.set(Section::Service, "exec", join_command(&["/bin/x", "-f"]));
        d.push(Section::Dependencies, "after", "syslog");
        d.push(Section::Dependencies, "after", "network");
        d.not_imported(src, 7, "PrivateTmp=yes: no equivalent");
        let text = d.render();
        assert_eq!(
            text,
            "# Imported by svcctl import from /lib/systemd/system/x.service\n\
             # /lib/systemd/system/x.service:7: not imported: PrivateTmp=yes: no equivalent\n\
             \n[service]\nexec = /bin/x -f\n\
             \n[dependencies]\nafter = network syslog\n"
        );
    }
}
