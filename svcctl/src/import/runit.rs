//! runit service directories: the `exec` line of `run` (through `chpst`)
//! becomes the service, `down` leaves it disabled, `check` becomes its
//! readiness, `finish`, `log/run` and `control/` are reported.

use super::draft::{Draft, Note, Section, join_command};
use super::openrc::read_text;
use super::sh::{self, Cmd, Env, Script};
use super::shared::{self, show};
use std::path::{Path, PathBuf};

pub fn looks_like(path: &Path, _head: &[u8]) -> bool {
    path.is_dir() && path.join("run").is_file()
}

/// Where runit keeps service directories, so that `/etc/default/NAME` can
/// be found for Debian's `invoke-run` in an unpacked tree too.
fn root_of(dir: &Path) -> PathBuf {
    let s = dir.to_string_lossy();
    for tail in [
        "/etc/sv/",
        "/usr/share/runit/sv/",
        "/etc/service/",
        "/var/service/",
        "/etc/runit/runsvdir/",
        "/var/lib/service/",
    ] {
        if let Some(i) = s.rfind(tail) {
            return PathBuf::from(&s[..i]);
        }
    }
    PathBuf::from("/")
}

fn chatter(words: &[String]) -> bool {
    words.first().is_none_or(|w| {
        matches!(
            w.as_str(),
            "echo" | "printf" | "[" | "test" | ":" | "true" | "set" | "exit" | "chmod" | "chown"
        )
    })
}

struct Ctx {
    dir: PathBuf,
    run: PathBuf,
    env: Env,
    draft: Draft,
}

pub fn import(path: &Path) -> Result<Vec<Draft>, Note> {
    let dir = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let run = dir.join("run");
    if !dir.is_dir() {
        return Err(Note::new(
            &dir,
            0,
            "not a runit service directory (not a directory)",
        ));
    }
    if !run.is_file() {
        return Err(Note::new(
            &dir,
            0,
            "not a runit service directory (no 'run' file)",
        ));
    }
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Note::new(&dir, 0, "directory name is not UTF-8"))?
        .to_string();
    libsvc::names::classify(&name)
        .map_err(|e| Note::new(&dir, 0, format!("the directory's name: {e}")))?;
    let text = read_text(&run)?;
    let first = text.lines().next().unwrap_or_default().to_string();
    let mut cx = Ctx {
        dir: dir.clone(),
        run: run.clone(),
        env: Env::default(),
        draft: Draft::new(name.clone(), &run),
    };
    match first.strip_prefix("#!").map(str::trim) {
        Some(i) if i.contains("invoke-run") => {
            // Debian's invoke-run exports /etc/default/NAME before it runs
            // the script.
            let def = root_of(&dir).join("etc/default").join(&name);
            if let Ok(dtext) = read_text(&def) {
                cx.draft.sources.push(def.clone());
                for cmd in Script::parse(&dtext).top() {
                    cx.env.assign(cmd);
                }
            }
        }
        Some(i) if i.ends_with("sh") || i.ends_with("bash") || i.ends_with("dash") => {}
        Some(i) => {
            return Err(Note::new(
                &run,
                1,
                format!("run is interpreted by '{i}': only sh scripts are read; nothing written"),
            ));
        }
        None => {
            return Err(Note::new(
                &run,
                1,
                "run has no #! line: only sh scripts are read; nothing written",
            ));
        }
    }
    cx.draft.set(
        Section::Service,
        "working-directory",
        dir.display().to_string(),
    );
    run_script(&mut cx, &text)?;
    companions(&mut cx)?;
    shared::drop_invalid(&mut cx.draft)?;
    cx.draft
        .notes
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(vec![cx.draft])
}

fn expand(cx: &mut Ctx, cmd: &Cmd) -> Result<Vec<String>, Note> {
    let mut words = Vec::new();
    for w in &cmd.words {
        let f = sh::expand_fields(w, &mut cx.env).map_err(|why| {
            Note::new(&cx.run, cmd.line, format!("'{w}': {why}; nothing written"))
        })?;
        words.extend(f);
    }
    Ok(words)
}

fn run_script(cx: &mut Ctx, text: &str) -> Result<(), Note> {
    let script = Script::parse(text);
    let run = cx.run.clone();
    let mut daemon: Option<(usize, Vec<String>)> = None;
    for cmd in script.top() {
        if cmd.words.is_empty() {
            cx.env.assign(cmd);
            shared::exports(&mut cx.draft, &cx.env, &run, cmd, &[]);
            continue;
        }
        if cmd.words[0] == "exec" {
            // `exec 2>&1`: the redirection was all; svc keeps both streams.
            if cmd.words.len() == 1 {
                continue;
            }
            let words = expand(cx, cmd)?;
            if let Some((l, _)) = &daemon {
                cx.draft.not_imported(
                    &run,
                    *l,
                    format!("an earlier exec (line {l}): only the last one is the daemon"),
                );
            }
            daemon = Some((cmd.line, words[1..].to_vec()));
            continue;
        }
        let words = expand(cx, cmd).unwrap_or_else(|_| cmd.words.clone());
        match words[0].as_str() {
            "." | "source" => {
                let what = words.get(1).cloned().unwrap_or_default();
                // An absolute path is read under the tree the directory is
                // in (`/` on the host itself).
                let file = match what.strip_prefix('/') {
                    Some(rel) => root_of(&cx.dir).join(rel),
                    None => cx.dir.join(&what),
                };
                match read_text(&file) {
                    Ok(t) => {
                        for c in Script::parse(&t).top() {
                            cx.env.assign(c);
                        }
                        cx.draft.sources.push(file.clone());
                        cx.draft.not_imported(
                            &run,
                            cmd.line,
                            format!(". {what}: its variables were read now; later changes to it need a new import"),
                        );
                    }
                    Err(n) => {
                        cx.env.unread(&what);
                        cx.draft.not_imported(
                            &run,
                            cmd.line,
                            format!(". {what}: not read ({}); what it sets is unknown", n.why),
                        );
                    }
                }
            }
            "sv" => cx.draft.not_imported(
                &run,
                cmd.line,
                format!(
                    "'{}': runit waits for another service here; in svc say requires/wants and after in [dependencies]",
                    show(&words)
                ),
            ),
            _ => {
                if let Some(dir) = shared::runtime_dir(&words) {
                    cx.draft.push(Section::Service, "runtime-directory", &dir);
                } else if !chatter(&words) {
                    cx.draft.not_imported(
                        &run,
                        cmd.line,
                        format!("'{}': svc runs only the exec'd command", show(&words)),
                    );
                }
            }
        }
    }
    let Some((line, argv)) = daemon else {
        return Err(Note::new(
            &run,
            0,
            "run has no exec line at its top level: the daemon's command is not known; nothing written",
        ));
    };
    let argv = wrappers(cx, line, argv)?;
    cx.draft.set(Section::Service, "exec", join_command(&argv));
    Ok(())
}

/// `chpst`, `setuidgid` and `envdir` before the daemon: keys.
fn wrappers(cx: &mut Ctx, line: usize, mut argv: Vec<String>) -> Result<Vec<String>, Note> {
    let run = cx.run.clone();
    loop {
        let prog = argv
            .first()
            .map(|p| p.rsplit('/').next().unwrap_or(p).to_string());
        match prog.as_deref() {
            Some("chpst") => argv = chpst(cx, line, &argv)?,
            Some("setuidgid") if argv.len() > 2 => {
                cx.draft.set(Section::Service, "user", argv[1].clone());
                argv.drain(..2);
            }
            Some("envdir") if argv.len() > 2 => {
                envdir(cx, line, &argv[1].clone());
                argv.drain(..2);
            }
            Some(_) => return Ok(argv),
            None => {
                return Err(Note::new(
                    &run,
                    line,
                    "exec names no program; nothing written",
                ));
            }
        }
    }
}

fn chpst(cx: &mut Ctx, line: usize, argv: &[String]) -> Result<Vec<String>, Note> {
    let run = cx.run.clone();
    let mut i = 1;
    while i < argv.len() {
        let w = &argv[i];
        if !w.starts_with('-') || w == "-" {
            break;
        }
        i += 1;
        let mut flags = w[1..].chars();
        while let Some(f) = flags.next() {
            let takes = "uUe/Cnlmdopfcrtb".contains(f);
            let value = if takes {
                let rest: String = flags.by_ref().collect();
                if rest.is_empty() {
                    let v = argv.get(i).cloned().ok_or_else(|| {
                        Note::new(
                            &run,
                            line,
                            format!("chpst -{f} without a value; nothing written"),
                        )
                    })?;
                    i += 1;
                    v
                } else {
                    rest
                }
            } else {
                String::new()
            };
            let d = &mut cx.draft;
            let limit = |d: &mut Draft, k: &str, v: &str| d.set(Section::Service, k, v.to_string());
            match f {
                'u' => {
                    // `-u :GROUP` sets only the group.
                    let mut parts = value.split(':');
                    if let Some(u) = parts.next().filter(|u| !u.is_empty()) {
                        d.set(Section::Service, "user", u);
                    }
                    let groups: Vec<&str> = parts.collect();
                    if let Some((g, extra)) = groups.split_first() {
                        d.set(Section::Service, "group", *g);
                        for x in extra {
                            d.push(Section::Service, "supplementary-groups", x);
                        }
                    }
                }
                'e' => envdir(cx, line, &value),
                '/' => d.set(Section::Service, "root-directory", value),
                'C' => d.set(Section::Service, "working-directory", value),
                'n' => d.set(Section::Service, "nice", value),
                'm' => {
                    for k in ["limit-data", "limit-stack", "limit-memlock", "limit-as"] {
                        limit(d, k, &value);
                    }
                }
                'd' => limit(d, "limit-data", &value),
                'o' => limit(d, "limit-nofile", &value),
                'p' => limit(d, "limit-nproc", &value),
                'f' => limit(d, "limit-fsize", &value),
                'c' => limit(d, "limit-core", &value),
                'r' => limit(d, "limit-rss", &value),
                't' => limit(d, "limit-cpu", &value),
                'v' | 'P' => {}
                'U' => d.not_imported(
                    &run,
                    line,
                    format!(
                        "chpst -U {value}: svc does not set $UID/$GID for a user it does not run as"
                    ),
                ),
                'l' | 'L' => d.not_imported(
                    &run,
                    line,
                    format!("chpst -{f} {value}: svc takes no lock file"),
                ),
                'b' => d.not_imported(
                    &run,
                    line,
                    format!("chpst -b {value}: svc runs argv[0] as given"),
                ),
                '0' | '1' | '2' => d.not_imported(
                    &run,
                    line,
                    format!("chpst -{f}: svc does not close the standard descriptors"),
                ),
                other => {
                    return Err(Note::new(
                        &run,
                        line,
                        format!("chpst -{other}: unknown option; nothing written"),
                    ));
                }
            }
        }
    }
    Ok(argv[i..].to_vec())
}

/// `chpst -e DIR` / `envdir DIR`: the files of DIR, read now, as
/// `[environment]`.
fn envdir(cx: &mut Ctx, line: usize, dir: &str) {
    let path = if dir.starts_with('/') {
        PathBuf::from(dir)
    } else {
        cx.dir.join(dir)
    };
    let Ok(entries) = std::fs::read_dir(&path) else {
        cx.draft.not_imported(
            &cx.run,
            line,
            format!(
                "environment directory {dir}: not readable now; its variables are not carried over"
            ),
        );
        return;
    };
    let mut names: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    names.sort();
    for p in names {
        let Some(var) = p.file_name().and_then(|n| n.to_str()).map(String::from) else {
            continue;
        };
        if var.starts_with('.') || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let Ok(t) = read_text(&p) else { continue };
        // envdir: the first line, trailing blanks removed, NULs as newlines.
        let v = t
            .lines()
            .next()
            .unwrap_or("")
            .trim_end()
            .replace('\0', "\n");
        cx.draft.set(Section::Environment, &var, v);
    }
    cx.draft.remarks.push(format!(
        "[environment] read from {} at import time.",
        path.display()
    ));
}

/// `down`, `check`, `finish`, `log/`, `control/`, `conf`.
fn companions(cx: &mut Ctx) -> Result<(), Note> {
    let dir = cx.dir.clone();
    if dir.join("down").exists() {
        cx.draft
            .remarks
            .push("A 'down' file: not enabled (svcctl enable NAME to start it at boot).".into());
    } else {
        cx.draft.enable_in.push("default".into());
    }
    let check = dir.join("check");
    if check.is_file() {
        cx.draft.set(
            Section::Service,
            "ready",
            format!("check {}", join_command(&[check.display().to_string()])),
        );
    }
    let finish = dir.join("finish");
    if finish.is_file() {
        let text = read_text(&finish)?;
        let mut any = false;
        for cmd in Script::parse(&text).top() {
            if cmd.words.is_empty() || chatter(&cmd.words) {
                continue;
            }
            any = true;
            cx.draft.not_imported(
                &finish,
                cmd.line,
                format!(
                    "'{}': svc runs nothing after the service exits (restart decides what follows)",
                    show(&cmd.words)
                ),
            );
        }
        if !any {
            cx.draft
                .remarks
                .push("finish only reports; nothing to carry over.".into());
        }
    }
    let log = dir.join("log/run");
    if log.is_file() {
        cx.draft.not_imported(
            &log,
            0,
            "a log service: svc logs the service's output itself ([logging], rotated under its log directory)",
        );
    }
    let control = dir.join("control");
    if let Ok(entries) = std::fs::read_dir(&control) {
        let mut names: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        names.sort();
        for p in names {
            cx.draft.not_imported(
                &p,
                0,
                "a runsv control override: svc sends stop-signal and reload-signal itself",
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
