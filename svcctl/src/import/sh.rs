//! A reader, never an executor, of the small part of `sh` that init
//! scripts are written in (OpenRC, LSB, runit `run` files): assignments,
//! `${VAR:-default}` expansion of what earlier lines set, function bodies,
//! `case` arms and simple commands, each with its line number. Anything it
//! cannot know without running the script (command substitution,
//! positional parameters, arithmetic) is *unknown*, never guessed.

use std::collections::HashMap;

/// One token of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A word, raw (quotes and `$` kept for expansion).
    Word(String),
    /// `;` `;;` `&&` `||` `|` `&` `(` `)` or a newline (`\n`).
    Op(&'static str),
    /// A redirection operator with its fd prefix (`2>&1`, `>/dev/null` is
    /// `>` followed by a word).
    Redir,
}

/// Splits a script into tokens with their line numbers.
fn tokenize(text: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    let mut heredocs: Vec<(String, bool)> = Vec::new();
    let mut word = String::new();
    let mut word_line = 1;
    macro_rules! flush {
        () => {
            if !word.is_empty() {
                out.push((Tok::Word(std::mem::take(&mut word)), word_line));
            }
        };
    }
    while i < chars.len() {
        let c = chars[i];
        if word.is_empty() {
            word_line = line;
        }
        match c {
            '\n' => {
                flush!();
                out.push((Tok::Op("\n"), line));
                line += 1;
                i += 1;
                // Here-documents start on the next line: skip their bodies.
                for (delim, strip_tabs) in std::mem::take(&mut heredocs) {
                    while i < chars.len() {
                        let end = chars[i..]
                            .iter()
                            .position(|&c| c == '\n')
                            .map_or(chars.len(), |p| i + p);
                        let l: String = chars[i..end].iter().collect();
                        i = (end + 1).min(chars.len());
                        line += 1;
                        let l = if strip_tabs {
                            l.trim_start_matches('\t')
                        } else {
                            &l
                        };
                        if l == delim {
                            break;
                        }
                    }
                }
            }
            ' ' | '\t' | '\r' => {
                flush!();
                i += 1;
            }
            '#' if word.is_empty() => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\\' => {
                if chars.get(i + 1) == Some(&'\n') {
                    // A line continuation joins the lines.
                    i += 2;
                    line += 1;
                } else {
                    word.push('\\');
                    if let Some(&n) = chars.get(i + 1) {
                        word.push(n);
                    }
                    i += 2;
                }
            }
            '\'' => {
                word.push('\'');
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    word.push(chars[i]);
                    i += 1;
                }
                word.push('\'');
                i += 1;
            }
            '"' => {
                word.push('"');
                i += 1;
                let mut depth = 0usize;
                while i < chars.len() && !(chars[i] == '"' && depth == 0) {
                    match chars[i] {
                        '\\' if i + 1 < chars.len() => {
                            word.push('\\');
                            i += 1;
                        }
                        '\n' => line += 1,
                        '$' if matches!(chars.get(i + 1), Some('(') | Some('{')) => depth += 1,
                        ')' | '}' if depth > 0 => depth -= 1,
                        _ => {}
                    }
                    word.push(chars[i]);
                    i += 1;
                }
                word.push('"');
                i += 1;
            }
            '`' => {
                word.push('`');
                i += 1;
                while i < chars.len() && chars[i] != '`' {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        word.push('\\');
                        i += 1;
                    }
                    word.push(chars[i]);
                    i += 1;
                }
                word.push('`');
                i += 1;
            }
            '$' if matches!(chars.get(i + 1), Some('(') | Some('{')) => {
                // `${…}` and `$(…)` may hold blanks and quotes: keep them whole.
                let (open, close) = if chars[i + 1] == '(' {
                    ('(', ')')
                } else {
                    ('{', '}')
                };
                word.push('$');
                word.push(open);
                i += 2;
                let mut depth = 1usize;
                let mut quote: Option<char> = None;
                while i < chars.len() && depth > 0 {
                    let ch = chars[i];
                    match (quote, ch) {
                        (None, '\'') | (None, '"') => quote = Some(ch),
                        (Some(q), _) if ch == q => quote = None,
                        (None, _) if ch == open => depth += 1,
                        (None, _) if ch == close => depth -= 1,
                        (_, '\\') if i + 1 < chars.len() => {
                            word.push('\\');
                            i += 1;
                        }
                        _ => {}
                    }
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    word.push(chars[i]);
                    i += 1;
                }
            }
            ';' | '&' | '|' | '(' | ')' => {
                flush!();
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = match two.as_str() {
                    ";;" => ";;",
                    "&&" => "&&",
                    "||" => "||",
                    _ => match c {
                        ';' => ";",
                        '&' => "&",
                        '|' => "|",
                        '(' => "(",
                        _ => ")",
                    },
                };
                i += op.len();
                out.push((Tok::Op(op), line));
            }
            '<' | '>' => {
                // A word of digits just before is the fd being redirected.
                if word.chars().all(|c| c.is_ascii_digit()) {
                    word.clear();
                } else {
                    flush!();
                }
                let mut j = i + 1;
                let heredoc = c == '<' && chars.get(j) == Some(&'<');
                while j < chars.len() && matches!(chars[j], '<' | '>' | '&' | '|' | '-') {
                    j += 1;
                }
                // `>&2`, `2>&1`: the fd target is part of the operator.
                if chars[j - 1] == '&' {
                    while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '-') {
                        j += 1;
                    }
                    i = j;
                    out.push((Tok::Redir, line));
                    continue;
                }
                let strip_tabs = heredoc && chars[i..j].iter().collect::<String>().ends_with('-');
                i = j;
                out.push((Tok::Redir, line));
                if heredoc {
                    while i < chars.len() && matches!(chars[i], ' ' | '\t') {
                        i += 1;
                    }
                    let mut delim = String::new();
                    while i < chars.len() && !chars[i].is_whitespace() && chars[i] != ';' {
                        if !matches!(chars[i], '\'' | '"' | '\\') {
                            delim.push(chars[i]);
                        }
                        i += 1;
                    }
                    heredocs.push((delim, strip_tabs));
                }
            }
            _ => {
                word.push(c);
                i += 1;
            }
        }
    }
    flush!();
    out
}

/// One simple command (or assignment) of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub line: usize,
    /// `NAME=value` words before the command (value raw).
    pub assigns: Vec<(String, String)>,
    /// The command's words, raw; empty for a plain assignment.
    pub words: Vec<String>,
    /// The names an `export` puts in the environment (`export A=1 B`).
    pub exports: Vec<String>,
    /// The function it is in, if any.
    pub func: Option<String>,
    /// Inside `if`/`while`/`for`/`case`, or after `&&`/`||`: it may not run.
    pub conditional: bool,
    /// The patterns of the `case` arms it is in (outermost first), if any.
    pub arm: Option<Vec<String>>,
}

/// A function definition: its name and the line its name is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Func {
    pub name: String,
    pub line: usize,
}

/// A script read into commands and function definitions.
#[derive(Debug, Default)]
pub struct Script {
    pub cmds: Vec<Cmd>,
    pub funcs: Vec<Func>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Block {
    If,
    Loop,
    Case { arm: Option<Vec<String>> },
    Brace,
    Subshell,
    Func { name: String },
}

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// `NAME=value` (the name unquoted), split.
pub fn split_assign(word: &str) -> Option<(String, String)> {
    let eq = word.find('=')?;
    let name = &word[..eq];
    is_name(name).then(|| (name.to_string(), word[eq + 1..].to_string()))
}

impl Script {
    /// Reads a script. Never fails: what it cannot follow becomes ordinary
    /// commands, which the importers report.
    pub fn parse(text: &str) -> Script {
        let toks = tokenize(text);
        let mut script = Script::default();
        let mut stack: Vec<Block> = Vec::new();
        let mut i = 0;
        // After `&&`/`||` the next command is conditional.
        let mut chained = false;
        let mut expect_pattern = false;
        let mut pending_func: Option<(String, usize)> = None;
        while i < toks.len() {
            // The case patterns of an arm: `a|b)`.
            if expect_pattern {
                match &toks[i].0 {
                    Tok::Op("\n") | Tok::Op(";") => {
                        i += 1;
                        continue;
                    }
                    Tok::Word(w) if w == "esac" => {
                        expect_pattern = false;
                        while let Some(b) = stack.pop() {
                            if matches!(b, Block::Case { .. }) {
                                break;
                            }
                        }
                        i += 1;
                        continue;
                    }
                    _ => {}
                }
                let mut pats = Vec::new();
                while i < toks.len() && toks[i].0 != Tok::Op(")") {
                    if let Tok::Word(w) = &toks[i].0 {
                        pats.push(unquote_plain(w));
                    }
                    i += 1;
                }
                i += 1;
                pats.retain(|p| p != "(");
                if let Some(Block::Case { arm }) = stack
                    .iter_mut()
                    .rev()
                    .find(|b| matches!(b, Block::Case { .. }))
                {
                    *arm = Some(pats);
                }
                expect_pattern = false;
                continue;
            }
            // Collect one simple command.
            let line = toks[i].1;
            let mut words: Vec<String> = Vec::new();
            let mut sep: Option<&'static str> = None;
            while i < toks.len() {
                match &toks[i].0 {
                    Tok::Word(w) => words.push(w.clone()),
                    Tok::Redir => {
                        // The redirection's target word is not an argument.
                        if matches!(toks.get(i + 1), Some((Tok::Word(_), _))) {
                            i += 1;
                        }
                    }
                    Tok::Op("(") if words.is_empty() => {
                        stack.push(Block::Subshell);
                    }
                    Tok::Op("(") if words.len() == 1 => {
                        // `name()`: a function definition follows.
                        if toks.get(i + 1).map(|t| &t.0) == Some(&Tok::Op(")")) {
                            pending_func = Some((words.pop().unwrap_or_default(), line));
                            i += 1;
                        }
                    }
                    Tok::Op(op) => {
                        sep = Some(op);
                        break;
                    }
                }
                i += 1;
            }
            i += 1;
            // Keywords that open or close blocks.
            let conditional_here = chained;
            chained = matches!(sep, Some("&&") | Some("||") | Some("|"));
            let mut k = 0;
            while k < words.len() {
                match words[k].as_str() {
                    "if" | "while" | "until" => {
                        stack.push(if words[k] == "if" {
                            Block::If
                        } else {
                            Block::Loop
                        });
                        k += 1;
                    }
                    "then" | "else" | "do" | "!" => k += 1,
                    "elif" => k += 1,
                    "fi" | "done" => {
                        if let Some(pos) = stack
                            .iter()
                            .rposition(|b| matches!(b, Block::If | Block::Loop))
                        {
                            stack.truncate(pos);
                        }
                        k += 1;
                    }
                    "for" => {
                        stack.push(Block::Loop);
                        k = words.len();
                    }
                    "case" => {
                        stack.push(Block::Case { arm: None });
                        expect_pattern = true;
                        k = words.len();
                    }
                    "esac" => {
                        if let Some(pos) =
                            stack.iter().rposition(|b| matches!(b, Block::Case { .. }))
                        {
                            stack.truncate(pos);
                        }
                        k += 1;
                    }
                    "{" => {
                        if let Some((name, fline)) = pending_func.take() {
                            script.funcs.push(Func {
                                name: name.clone(),
                                line: fline,
                            });
                            stack.push(Block::Func { name });
                        } else {
                            stack.push(Block::Brace);
                        }
                        k += 1;
                    }
                    "}" => {
                        if let Some(pos) = stack
                            .iter()
                            .rposition(|b| matches!(b, Block::Brace | Block::Func { .. }))
                        {
                            stack.truncate(pos);
                        }
                        k += 1;
                    }
                    _ => break,
                }
            }
            words.drain(..k);
            // `}` after the command on the same line: `{ need net; }` is
            // split by `;` already; `foo }` is not shell, kept as a word.
            if sep == Some(";;") {
                expect_pattern = true;
            }
            if sep == Some(")")
                && let Some(pos) = stack.iter().rposition(|b| *b == Block::Subshell)
            {
                stack.truncate(pos);
            }
            if words.is_empty() {
                continue;
            }
            let mut assigns = Vec::new();
            let mut w = 0;
            let mut decl = false;
            let export = words[0] == "export";
            let mut exports = Vec::new();
            if matches!(words[0].as_str(), "export" | "local" | "readonly") {
                decl = true;
                w = 1;
            }
            while w < words.len() {
                match split_assign(&words[w]) {
                    Some(a) => {
                        if export {
                            exports.push(a.0.clone());
                        }
                        assigns.push(a);
                    }
                    None if decl && is_name(&words[w]) => {
                        if export {
                            exports.push(words[w].clone());
                        }
                    }
                    None => break,
                }
                w += 1;
            }
            let rest: Vec<String> = if decl && w == words.len() {
                Vec::new()
            } else {
                words[w..].to_vec()
            };
            let func = stack.iter().rev().find_map(|b| match b {
                Block::Func { name, .. } => Some(name.clone()),
                _ => None,
            });
            // Only blocks inside the function count: a function defined
            // inside an `if` still runs its body unconditionally when called.
            let in_func_depth = stack
                .iter()
                .rposition(|b| matches!(b, Block::Func { .. }))
                .map_or(0, |p| p + 1);
            let conditional = conditional_here
                || stack[in_func_depth..]
                    .iter()
                    .any(|b| matches!(b, Block::If | Block::Loop | Block::Case { .. }));
            // Every enclosing arm: `start)` stays visible inside a nested
            // `case "$?" in 0|1)`.
            let arms: Vec<String> = stack
                .iter()
                .filter_map(|b| match b {
                    Block::Case { arm } => arm.clone(),
                    _ => None,
                })
                .flatten()
                .collect();
            let arm = (!arms.is_empty()).then_some(arms);
            script.cmds.push(Cmd {
                line,
                assigns,
                exports,
                words: rest,
                func,
                conditional,
                arm,
            });
        }
        script
    }

    /// The commands at the top level (outside every function).
    pub fn top(&self) -> impl Iterator<Item = &Cmd> {
        self.cmds.iter().filter(|c| c.func.is_none())
    }

    /// The commands of function `name`.
    pub fn body<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Cmd> + 'a {
        self.cmds
            .iter()
            .filter(move |c| c.func.as_deref() == Some(name))
    }

    pub fn func(&self, name: &str) -> Option<&Func> {
        self.funcs.iter().find(|f| f.name == name)
    }
}

/// A word with its quotes removed, without expansion (`$` kept).
pub fn unquote_plain(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars();
    let mut q: Option<char> = None;
    while let Some(c) = chars.next() {
        match (q, c) {
            (None, '\'') | (None, '"') => q = Some(c),
            (Some(x), _) if c == x => q = None,
            (Some('\''), _) => out.push(c),
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// What a variable holds, as far as a reader can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    Known(String),
    /// Set by something only running the script would tell (the reason).
    Unknown(String),
}

/// Variables set so far.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, Val>,
    /// `${a:-${b:-…}}` nesting being expanded, bounded so that a hostile
    /// script cannot exhaust the stack.
    depth: usize,
    /// A file the script sources that was not read: any variable not set
    /// here may come from it, so it is unknown rather than empty.
    unread: Option<String>,
}

/// How deep `${…}` may nest (real scripts use two or three levels).
const MAX_DEPTH: usize = 32;

impl Env {
    /// Marks every variable not set so far or later as possibly set by
    /// `file`, which was not read.
    pub fn unread(&mut self, file: &str) {
        if self.unread.is_none() {
            self.unread = Some(file.to_string());
        }
    }

    pub fn set(&mut self, name: &str, v: Val) {
        self.vars.insert(name.to_string(), v);
    }

    pub fn set_known(&mut self, name: &str, v: impl Into<String>) {
        self.set(name, Val::Known(v.into()));
    }

    pub fn get(&self, name: &str) -> Option<&Val> {
        self.vars.get(name)
    }

    /// The known value, or `None` when unset or unknown.
    pub fn known(&self, name: &str) -> Option<&str> {
        match self.vars.get(name) {
            Some(Val::Known(s)) => Some(s),
            _ => None,
        }
    }

    /// Applies the assignments of a command.
    pub fn assign(&mut self, cmd: &Cmd) {
        for (name, raw) in &cmd.assigns {
            let v = match expand_string(raw, self) {
                Ok(s) => Val::Known(s),
                Err(why) => Val::Unknown(why),
            };
            self.set(name, v);
        }
    }
}

/// Expands a word into one string, as the right side of an assignment is
/// (no field splitting). Err: why it cannot be known.
pub fn expand_string(raw: &str, env: &mut Env) -> Result<String, String> {
    Ok(expand(raw, env)?
        .into_iter()
        .map(|(s, _)| s)
        .collect::<Vec<_>>()
        .join(" "))
}

/// Expands a word into the fields a command would get (unquoted expansions
/// split at blanks; an unquoted empty expansion is no field).
pub fn expand_fields(raw: &str, env: &mut Env) -> Result<Vec<String>, String> {
    Ok(expand(raw, env)?.into_iter().map(|(s, _)| s).collect())
}

/// Fields with a flag: whether any part of it was quoted.
fn expand(raw: &str, env: &mut Env) -> Result<Vec<(String, bool)>, String> {
    let chars: Vec<char> = raw.chars().collect();
    let mut fields: Vec<(String, bool)> = Vec::new();
    let mut cur = String::new();
    let mut cur_live = false;
    let mut i = 0;
    let mut dq = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' if !dq => {
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    cur.push(chars[i]);
                    i += 1;
                }
                cur_live = true;
                i += 1;
            }
            '"' => {
                dq = !dq;
                cur_live = true;
                i += 1;
            }
            '\\' => {
                let n = chars.get(i + 1).copied();
                match n {
                    Some(n) if !dq || matches!(n, '$' | '`' | '"' | '\\') => cur.push(n),
                    Some(n) => {
                        cur.push('\\');
                        cur.push(n);
                    }
                    None => cur.push('\\'),
                }
                cur_live = true;
                i += 2;
            }
            '`' => return Err("command substitution (`…`)".into()),
            '$' => {
                let (value, next) = expand_dollar(&chars, i, env)?;
                i = next;
                if dq {
                    cur.push_str(&value);
                    cur_live = true;
                } else {
                    // Field splitting at blanks.
                    let parts = value.split([' ', '\t', '\n']);
                    let starts_blank = value.starts_with([' ', '\t', '\n']);
                    let mut first = true;
                    for p in parts {
                        if !first || (starts_blank && p.is_empty()) {
                            if cur_live || !cur.is_empty() {
                                fields.push((std::mem::take(&mut cur), cur_live));
                            }
                            cur_live = false;
                        }
                        first = false;
                        if !p.is_empty() {
                            cur.push_str(p);
                            cur_live = true;
                        }
                    }
                }
            }
            _ => {
                cur.push(c);
                cur_live = true;
                i += 1;
            }
        }
    }
    if cur_live || !cur.is_empty() {
        fields.push((cur, cur_live));
    }
    Ok(fields)
}

/// `$NAME`, `${…}` at `chars[i]` (the `$`): the value and the index after.
fn expand_dollar(chars: &[char], i: usize, env: &mut Env) -> Result<(String, usize), String> {
    let next = chars.get(i + 1).copied();
    match next {
        Some('(') => Err(if chars.get(i + 2) == Some(&'(') {
            "arithmetic expansion $((…))".into()
        } else {
            "command substitution $(…)".into()
        }),
        Some('{') => {
            let mut depth = 1;
            let mut j = i + 2;
            let mut q: Option<char> = None;
            while j < chars.len() {
                match (q, chars[j]) {
                    (None, '\'') | (None, '"') => q = Some(chars[j]),
                    (Some(x), c) if c == x => q = None,
                    (None, '{') => depth += 1,
                    (None, '}') => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            let inner: String = chars[i + 2..j.min(chars.len())].iter().collect();
            Ok((param(&inner, env)?, j + 1))
        }
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let name: String = chars[i + 1..j].iter().collect();
            Ok((lookup(&name, env)?.unwrap_or_default(), j))
        }
        Some(c) if c.is_ascii_digit() || matches!(c, '@' | '*' | '#' | '?' | '$' | '!' | '-') => {
            Err(format!("${c}, known only when the script runs"))
        }
        _ => Ok(("$".into(), i + 1)),
    }
}

fn lookup(name: &str, env: &Env) -> Result<Option<String>, String> {
    match env.get(name) {
        None => match &env.unread {
            Some(f) => Err(format!("${name}, which {f} (sourced, not read) may set")),
            None => Ok(None),
        },
        Some(Val::Known(s)) => Ok(Some(s.clone())),
        Some(Val::Unknown(why)) => Err(format!("${name}, which comes from {why}")),
    }
}

/// The inside of `${…}`.
fn param(inner: &str, env: &mut Env) -> Result<String, String> {
    if env.depth >= MAX_DEPTH {
        return Err(format!("${{…}} nested more than {MAX_DEPTH} deep"));
    }
    env.depth += 1;
    let r = param_inner(inner, env);
    env.depth -= 1;
    r
}

fn param_inner(inner: &str, env: &mut Env) -> Result<String, String> {
    if let Some(name) = inner.strip_prefix('#') {
        return Ok(lookup(name, env)?.unwrap_or_default().len().to_string());
    }
    let end = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, op) = inner.split_at(end);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("${{{inner}}}, known only when the script runs"));
    }
    let value = lookup(name, env)?;
    let ops = [
        ":-", ":=", ":+", ":?", "-", "=", "+", "?", "##", "#", "%%", "%",
    ];
    let Some(o) = ops.iter().find(|o| op.starts_with(**o)) else {
        if op.is_empty() {
            return Ok(value.unwrap_or_default());
        }
        return Err(format!(
            "${{{inner}}}: an expansion this reader does not follow"
        ));
    };
    let arg = &op[o.len()..];
    let colon = o.starts_with(':');
    let unset = match &value {
        None => true,
        Some(v) => colon && v.is_empty(),
    };
    match o.trim_start_matches(':') {
        "-" => {
            if unset {
                expand_string(arg, env)
            } else {
                Ok(value.unwrap_or_default())
            }
        }
        "=" => {
            if unset {
                // What cannot be known is still set: later lines using it
                // must not see it empty.
                let v = expand_string(arg, env).inspect_err(|why| {
                    env.set(name, Val::Unknown(why.clone()));
                })?;
                env.set_known(name, v.clone());
                Ok(v)
            } else {
                Ok(value.unwrap_or_default())
            }
        }
        "+" => {
            if unset {
                Ok(String::new())
            } else {
                expand_string(arg, env)
            }
        }
        "?" => value.ok_or_else(|| format!("${name} is not set")),
        pat_op => {
            let v = value.unwrap_or_default();
            let pat = expand_string(arg, env)?;
            Ok(strip_pattern(&v, &pat, pat_op))
        }
    }
}

/// `${v#pat}`, `${v##pat}`, `${v%pat}`, `${v%%pat}` with `*` and `?`.
fn strip_pattern(v: &str, pat: &str, op: &str) -> String {
    let idx: Vec<usize> = v
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(v.len()))
        .collect();
    match op {
        "#" | "##" => {
            let mut cands: Vec<&usize> = idx.iter().collect();
            if op == "##" {
                cands.reverse();
            }
            for &k in cands {
                if glob(pat, &v[..k]) {
                    return v[k..].to_string();
                }
            }
        }
        _ => {
            let mut cands: Vec<&usize> = idx.iter().collect();
            if op == "%" {
                cands.reverse();
            }
            for &k in cands {
                if glob(pat, &v[k..]) {
                    return v[..k].to_string();
                }
            }
        }
    }
    v.to_string()
}

/// Whether `s` matches the glob `pat` (`*`, `?`, literal characters).
pub fn glob(pat: &str, s: &str) -> bool {
    // Linear backtracking to the last `*`: never exponential.
    let p: Vec<char> = pat.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(text: &str) -> Env {
        let mut env = Env::default();
        for c in Script::parse(text).top() {
            env.assign(c);
        }
        env
    }

    #[test]
    fn assignments_expand_earlier_values_and_defaults() {
        let env = env_of(
            "a=1\nb=\"x $a y\"\nc=${unset:-d e}\nd='$a'\ne=${a:+set}\nf=\"${b#x }\"\ng=${PWD##*/}\n",
        );
        assert_eq!(env.known("b"), Some("x 1 y"));
        assert_eq!(env.known("c"), Some("d e"));
        assert_eq!(env.known("d"), Some("$a"));
        assert_eq!(env.known("e"), Some("set"));
        assert_eq!(env.known("f"), Some("1 y"));
        assert_eq!(env.known("g"), Some(""));
    }

    #[test]
    fn command_substitution_is_unknown_not_guessed() {
        let mut env = env_of("p=$(cat /etc/x)\nq=`id -u`\n");
        assert!(matches!(env.get("p"), Some(Val::Unknown(_))));
        assert!(matches!(env.get("q"), Some(Val::Unknown(_))));
        let err = expand_fields("$p", &mut env).unwrap_err();
        assert!(err.contains("command substitution"), "{err}");
        assert!(expand_fields("$1", &mut env).is_err());
    }

    #[test]
    fn a_default_that_cannot_be_known_leaves_the_variable_unknown() {
        let mut env = Env::default();
        for c in Script::parse(": ${G:=\"$(id -gn)\"}\nA=\"-g $G\"\n").top() {
            for w in &c.words {
                let _ = expand_fields(w, &mut env);
            }
            env.assign(c);
        }
        assert!(matches!(env.get("G"), Some(Val::Unknown(_))));
        assert!(matches!(env.get("A"), Some(Val::Unknown(_))));
    }

    #[test]
    fn after_an_unread_source_unset_variables_are_unknown() {
        let mut env = Env::default();
        env.set_known("A", "1");
        env.unread("/etc/x.conf");
        assert_eq!(expand_string("$A", &mut env).unwrap(), "1");
        let e = expand_string("$B", &mut env).unwrap_err();
        assert!(e.contains("/etc/x.conf"), "{e}");
    }

    #[test]
    fn fields_split_unquoted_expansions_only() {
        let mut env = env_of("o='-a  -b'\ne=\n");
        assert_eq!(expand_fields("$o", &mut env).unwrap(), ["-a", "-b"]);
        assert_eq!(expand_fields("\"$o\"", &mut env).unwrap(), ["-a  -b"]);
        assert!(expand_fields("$e", &mut env).unwrap().is_empty());
        assert_eq!(expand_fields("\"$e\"", &mut env).unwrap(), [""]);
        assert_eq!(expand_fields("x$o", &mut env).unwrap(), ["x-a", "-b"]);
        assert_eq!(
            expand_fields("'daemon off;'", &mut env).unwrap(),
            ["daemon off;"]
        );
    }

    #[test]
    fn functions_case_arms_and_lines_are_kept() {
        let s = Script::parse(
            "#!/bin/sh\nx=1\ndepend() {\n\tneed net\n\tuse dns; after *\n}\n\
             start()\n{\n  start-stop-daemon --start \\\n    --exec /bin/d -- -f\n}\n\
             case \"$1\" in\n  start|restart) go_start ;;\n  stop)\n    go_stop\n    ;;\nesac\n",
        );
        assert_eq!(s.funcs.len(), 2);
        let dep: Vec<_> = s
            .body("depend")
            .map(|c| (c.line, c.words.clone()))
            .collect();
        assert_eq!(
            dep,
            [
                (4, vec!["need".to_string(), "net".into()]),
                (5, vec!["use".into(), "dns".into()]),
                (5, vec!["after".into(), "*".into()]),
            ]
        );
        let start: Vec<_> = s.body("start").collect();
        assert_eq!(start.len(), 1);
        assert_eq!(start[0].line, 9);
        assert_eq!(start[0].words.last().map(String::as_str), Some("-f"));
        let go: Vec<_> = s
            .top()
            .filter(|c| !c.words.is_empty())
            .map(|c| (c.words[0].clone(), c.arm.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            go,
            [
                (
                    "go_start".to_string(),
                    vec!["start".to_string(), "restart".into()]
                ),
                ("go_stop".into(), vec!["stop".into()]),
            ]
        );
    }

    #[test]
    fn redirections_and_heredocs_are_not_arguments() {
        let s = Script::parse("a 2>&1 >/dev/null b\ncat <<EOF\n it's\nEOF\nc=1\n");
        let words: Vec<_> = s.cmds.iter().map(|c| c.words.clone()).collect();
        assert_eq!(words[0], ["a", "b"]);
        assert_eq!(words[1], ["cat"]);
        assert_eq!(s.cmds[2].assigns, [("c".to_string(), "1".to_string())]);
        assert_eq!(s.cmds[2].line, 5);
    }

    #[test]
    fn exports_are_recorded() {
        let s = Script::parse("A=1\nexport A B=2\nlocal C=3\n");
        assert_eq!(s.cmds[1].exports, ["A", "B"]);
        assert!(s.cmds[1].words.is_empty());
        assert!(s.cmds[2].exports.is_empty());
    }

    #[test]
    fn conditional_commands_are_marked() {
        let s = Script::parse("if [ -r f ]; then\n  . f\nfi\n[ -x d ] && x=1\ny=2\n");
        let marks: Vec<_> = s.cmds.iter().map(|c| (c.line, c.conditional)).collect();
        assert_eq!(
            marks,
            [(1, true), (2, true), (4, false), (4, true), (5, false)]
        );
    }

    #[test]
    fn many_stars_do_not_take_exponential_time() {
        let t = std::time::Instant::now();
        let v = "a".repeat(60);
        let pat = format!("{}b", "*".repeat(30));
        assert!(!glob(&pat, &v));
        let mut env = Env::default();
        env.set_known("v", v);
        assert!(expand_string(&format!("${{v#{pat}}}"), &mut env).is_ok());
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn deeply_nested_expansions_are_refused_not_a_stack_overflow() {
        let n = 100_000;
        let raw = format!("{}x{}", "${a:-".repeat(n), "}".repeat(n));
        let mut env = Env::default();
        let e = expand_string(&raw, &mut env).unwrap_err();
        assert!(e.contains("nested"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn reading_any_text_never_panics(text in "[ -~\\n\\t]{0,400}") {
            let s = Script::parse(&text);
            let mut env = Env::default();
            for c in &s.cmds {
                env.assign(c);
                for w in &c.words {
                    let _ = expand_fields(w, &mut env);
                }
            }
        }
    }

    #[test]
    fn glob_and_strip() {
        assert!(glob("*.", "agetty."));
        assert_eq!(strip_pattern("agetty.tty1", "*.", "#"), "tty1");
        assert_eq!(strip_pattern("a/b/c", "*/", "##"), "c");
        assert_eq!(strip_pattern("a.b.c", ".*", "%"), "a.b");
        assert_eq!(strip_pattern("a.b.c", ".*", "%%"), "a");
    }
}
