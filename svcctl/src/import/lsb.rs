//! LSB init scripts (`/etc/init.d/NAME` with `### BEGIN INIT INFO`): the
//! header, the daemon its `start` action starts (a `start-stop-daemon
//! --start` or `start_daemon` call, followed through the script's
//! functions), and `/etc/default/NAME`. The script is read, never run.

use super::draft::{Draft, Note, Section, join_command};
use super::openrc::read_text;
use super::sh::{self, Cmd, Env, Script, Val};
use super::shared::{self, Ssd, show};
use std::path::Path;

pub fn looks_like(_path: &Path, head: &[u8]) -> bool {
    head.windows(19).any(|w| w == b"### BEGIN INIT INFO")
}

/// The header fields, each with its line.
#[derive(Debug, Default)]
struct Header {
    fields: Vec<(String, String, usize)>,
}

impl Header {
    fn get(&self, key: &str) -> Option<(&str, usize)> {
        self.fields
            .iter()
            .find(|(k, _, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v, l)| (v.as_str(), *l))
    }

    fn words(&self, key: &str) -> (Vec<String>, usize) {
        match self.get(key) {
            Some((v, l)) => (v.split_whitespace().map(String::from).collect(), l),
            None => (Vec::new(), 0),
        }
    }
}

fn header(text: &str) -> Option<Header> {
    let mut h = Header::default();
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_end();
        if t.starts_with("### BEGIN INIT INFO") {
            inside = true;
            continue;
        }
        if t.starts_with("### END INIT INFO") {
            return Some(h);
        }
        if !inside {
            continue;
        }
        let Some(body) = t.strip_prefix('#') else {
            continue;
        };
        // `#` followed by a tab or two blanks continues the field before.
        if (body.starts_with('\t') || body.starts_with("  "))
            && let Some(last) = h.fields.last_mut()
        {
            last.1.push(' ');
            last.1.push_str(body.trim());
            continue;
        }
        if let Some((k, v)) = body.trim_start().split_once(':') {
            h.fields
                .push((k.trim().to_string(), v.trim().to_string(), i + 1));
        }
    }
    inside.then_some(h)
}

/// An LSB facility or script name as an svc name; Err: why it has none.
fn map_facility(name: &str) -> Result<&str, String> {
    match name {
        "$syslog" => Ok("syslog"),
        "$network" => Ok("networking"),
        "$remote_fs" => Ok("netmount"),
        "$local_fs" => Ok("localmount"),
        "$time" => Err("$time (a set clock): svc has no equivalent".into()),
        "$named" => Err("$named (name resolution): svc has no equivalent".into()),
        "$portmap" => Err("$portmap: svc has no equivalent".into()),
        "$all" => Err("$all (after everything else): svc orders only by named services".into()),
        n if n.starts_with('$') => Err(format!("{n}: an LSB facility svc does not know")),
        n => Ok(n),
    }
}

/// Commands on the start path that only print, test or return.
fn is_chatter(words: &[String]) -> bool {
    let Some(w) = words.first() else {
        return true;
    };
    w.starts_with("log_")
        || matches!(
            w.as_str(),
            "echo"
                | "printf"
                | "["
                | "test"
                | "exit"
                | "return"
                | ":"
                | "true"
                | "false"
                | "set"
                | "local"
                | "sleep"
                | "read"
                | "continue"
                | "break"
                | "shift"
                | "unset"
        )
}

struct Ctx<'a> {
    path: &'a Path,
    script: Script,
    env: Env,
    draft: Draft,
}

pub fn import(path: &Path) -> Result<Vec<Draft>, Note> {
    let text = read_text(path)?;
    let Some(h) = header(&text) else {
        return Err(Note::new(
            path,
            0,
            "no '### BEGIN INIT INFO' header: not an LSB init script",
        ));
    };
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Note::new(path, 0, "file name is not UTF-8"))?
        .to_string();
    let (provides, pline) = h.words("Provides");
    let name = provides
        .first()
        .filter(|n| libsvc::names::classify(n).is_ok())
        .cloned()
        .unwrap_or_else(|| file_name.trim_end_matches(".sh").to_string());
    let mut cx = Ctx {
        path,
        script: Script::parse(&text),
        env: Env::default(),
        draft: Draft::new(name.clone(), path),
    };
    for p in provides.iter().filter(|p| **p != name) {
        if libsvc::names::classify(p).is_ok() {
            cx.draft.push(Section::Dependencies, "provides", p);
        } else {
            cx.draft
                .not_imported(path, pline, format!("Provides {p}: not a valid svc name"));
        }
    }
    if let Some((d, _)) = h.get("Short-Description") {
        cx.draft.set(Section::Service, "description", d);
    }
    dependencies(&mut cx, &h);

    top_level(&mut cx);
    let (line, ssd) = start_command(&mut cx)?;
    daemon(&mut cx, line, ssd);
    stop_and_reload(&mut cx);
    shared::drop_invalid(&mut cx.draft)?;
    cx.draft
        .notes
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(vec![cx.draft])
}

fn dependencies(cx: &mut Ctx, h: &Header) {
    for (field, key) in [
        ("Required-Start", "requires"),
        ("Should-Start", "wants"),
        ("X-Start-Before", "before"),
    ] {
        let (items, line) = h.words(field);
        for item in items {
            match map_facility(&item) {
                Ok(n) => cx.draft.push(Section::Dependencies, key, n),
                Err(why) => cx
                    .draft
                    .not_imported(cx.path, line, format!("{field} {why}")),
            }
        }
    }
    let (levels, line) = h.words("Default-Start");
    if levels
        .iter()
        .any(|l| matches!(l.as_str(), "2" | "3" | "4" | "5"))
    {
        cx.draft.enable_in.push("default".into());
    } else if levels.iter().any(|l| l.eq_ignore_ascii_case("S")) {
        cx.draft.enable_in.push("boot".into());
    } else if !levels.is_empty() {
        cx.draft.not_imported(
            cx.path,
            line,
            format!(
                "Default-Start {}: not enabled (svc's targets are default and boot)",
                levels.join(" ")
            ),
        );
    }
}

/// Top-level assignments in order, the files they source from
/// `/etc/default`, `umask` and `ulimit`.
fn top_level(cx: &mut Ctx) {
    let cmds: Vec<Cmd> = cx.script.top().cloned().collect();
    for cmd in &cmds {
        if cmd.words.is_empty() {
            assign(&mut cx.env, cmd);
            // PATH is the script's own search path, not the daemon's.
            if !cmd.conditional {
                shared::exports(&mut cx.draft, &cx.env, cx.path, cmd, &["PATH"]);
            }
            continue;
        }
        let mut words = Vec::new();
        let mut unknown = None;
        for w in &cmd.words {
            match sh::expand_fields(w, &mut cx.env) {
                Ok(f) => words.extend(f),
                Err(why) => unknown = Some(why),
            }
        }
        match words.first().map(String::as_str) {
            Some("." | "source") => {
                if let Some(f) = words.get(1) {
                    source(cx, cmd.line, f);
                }
            }
            Some("umask") if unknown.is_none() => {
                if let Some(m) = words.get(1) {
                    cx.draft.set(Section::Service, "umask", m.clone());
                }
            }
            Some("ulimit") => {
                if let Some(why) = unknown {
                    cx.draft.not_imported(
                        cx.path,
                        cmd.line,
                        format!("'{}': {why}", show(&cmd.words)),
                    );
                } else if let Err(e) = shared::apply_ulimit(&mut cx.draft, &words[1..]) {
                    cx.draft.not_imported(cx.path, cmd.line, e);
                }
            }
            Some("export") => {}
            _ => {}
        }
    }
}

/// A conditional assignment whose value only a run would know (`$2`, a
/// command's output) does not hide what an earlier line set.
fn assign(env: &mut Env, cmd: &Cmd) {
    for (name, raw) in &cmd.assigns {
        let v = match sh::expand_string(raw, env) {
            Ok(s) => Val::Known(s),
            Err(why) => Val::Unknown(why),
        };
        if cmd.conditional && matches!(v, Val::Unknown(_)) && env.known(name).is_some() {
            continue;
        }
        env.set(name, v);
    }
}

/// `. /etc/default/NAME`: read from beside the script's `init.d`.
fn source(cx: &mut Ctx, line: usize, file: &str) {
    // The LSB, Debian, Red Hat and SUSE helper libraries define functions.
    if file.starts_with("/lib/lsb/")
        || file.starts_with("/lib/init/")
        || matches!(
            file,
            "/etc/rc.d/init.d/functions" | "/etc/init.d/functions" | "/etc/rc.status"
        )
    {
        return;
    }
    let default = file.strip_prefix("/etc/default/");
    // Read under the tree the script is in: DIR/etc/init.d/x → DIR/….
    let real = match default {
        Some(rest) => shared::companion(&cx.path.with_file_name(rest), "default"),
        None => cx
            .path
            .parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .zip(file.strip_prefix('/'))
            .map(|(root, rel)| root.join(rel)),
    };
    let text = match real.as_deref().map(read_text) {
        Some(Ok(t)) => t,
        // A missing /etc/default file is the usual case: nothing to add.
        _ if default.is_some() => return,
        _ => {
            cx.env.unread(file);
            cx.draft.not_imported(
                cx.path,
                line,
                format!(". {file}: not read; what it sets is unknown"),
            );
            return;
        }
    };
    let Some(real) = real else {
        return;
    };
    if default.is_none() {
        cx.draft.not_imported(
            cx.path,
            line,
            format!(". {file}: its variables were read now; later changes to it need a new import"),
        );
    }
    cx.draft.sources.push(real.clone());
    let script = Script::parse(&text);
    for cmd in script.top() {
        assign(&mut cx.env, cmd);
        if !cmd.words.is_empty() {
            cx.draft.not_imported(
                &real,
                cmd.line,
                format!(
                    "'{}': only variable assignments are read from {file}",
                    show(&cmd.words)
                ),
            );
        }
    }
}

/// The commands the `start` action runs, through the script's functions.
fn start_path(cx: &Ctx) -> Vec<Cmd> {
    fn walk(script: &Script, cmds: Vec<Cmd>, depth: usize, out: &mut Vec<Cmd>) {
        for c in cmds {
            let callee = c
                .words
                .first()
                .filter(|w| script.funcs.iter().any(|f| &f.name == *w))
                .cloned();
            match callee {
                Some(f) if depth < 6 => {
                    let body: Vec<Cmd> = script.body(&f).cloned().collect();
                    walk(script, body, depth + 1, out);
                }
                Some(_) => {}
                None => out.push(c),
            }
        }
    }
    let in_start = |c: &&Cmd| {
        c.arm
            .as_ref()
            .is_some_and(|a| a.iter().any(|p| p == "start"))
    };
    let mut arm: Vec<Cmd> = cx.script.top().filter(in_start).cloned().collect();
    if arm.is_empty() {
        // The dispatching `case` may sit in a function the script calls
        // with "$@" (Debian's hwclock.sh).
        arm = cx.script.cmds.iter().filter(in_start).cloned().collect();
    }
    let mut out = Vec::new();
    walk(&cx.script, arm, 0, &mut out);
    out
}

fn expand_words(cx: &mut Ctx, cmd: &Cmd) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    for w in &cmd.words {
        words.extend(sh::expand_fields(w, &mut cx.env).map_err(|why| format!("'{w}': {why}"))?);
    }
    Ok(words)
}

/// `start_daemon [-f] [-n NICE] [-p PIDFILE] PROGRAM ARGS…` (LSB).
fn start_daemon(words: &[String]) -> Result<Ssd, String> {
    let mut s = Ssd {
        start: true,
        ..Ssd::default()
    };
    let mut i = 1;
    while i < words.len() {
        match words[i].as_str() {
            "-f" => {}
            "-n" => {
                s.nice = words.get(i + 1).cloned();
                i += 1;
            }
            "-p" => {
                s.pidfile = words.get(i + 1).cloned();
                i += 1;
            }
            w if w.starts_with('-') => return Err(format!("start_daemon: unknown option {w}")),
            _ => {
                s.exec = Some(words[i].clone());
                s.args = words[i + 1..].to_vec();
                return Ok(s);
            }
        }
        i += 1;
    }
    Err("start_daemon names no program".into())
}

/// SUSE's `startproc [-f] [-p PIDFILE] [-u USER] [-g GROUP] [-n NICE]
/// [-c ROOT] … PROGRAM ARGS…`.
fn startproc(words: &[String]) -> Result<Ssd, String> {
    let mut s = Ssd {
        start: true,
        ..Ssd::default()
    };
    let mut i = 1;
    while i < words.len() {
        let w = words[i].as_str();
        let mut value = || {
            i += 1;
            words
                .get(i)
                .cloned()
                .ok_or_else(|| format!("startproc: {w} without a value"))
        };
        match w {
            "-f" | "-e" | "-q" | "-v" | "-w" | "-s" | "-i" => {}
            "-p" => s.pidfile = Some(value()?),
            "-u" => s.user = Some(value()?),
            "-g" => s.group = Some(value()?),
            "-n" => s.nice = Some(value()?),
            "-c" => s.chroot = Some(value()?),
            "-t" | "-T" | "-l" => {
                value()?;
            }
            w if w.starts_with('-') => return Err(format!("startproc: unknown option {w}")),
            _ => {
                s.exec = Some(words[i].clone());
                s.args = words[i + 1..].to_vec();
                return Ok(s);
            }
        }
        i += 1;
    }
    Err("startproc names no program".into())
}

/// Red Hat's `daemon [--user U] [--pidfile F] [--check B] [--force]
/// [+/-NICE] PROGRAM ARGS…` (/etc/rc.d/init.d/functions).
fn redhat_daemon(words: &[String]) -> Result<Ssd, String> {
    let mut s = Ssd {
        start: true,
        ..Ssd::default()
    };
    let mut i = 1;
    while i < words.len() {
        let w = words[i].as_str();
        let (opt, inline) = match w.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o, Some(v.to_string())),
            _ => (w, None),
        };
        let mut value = || match inline.clone() {
            Some(v) => Ok(v),
            None => {
                i += 1;
                words
                    .get(i)
                    .cloned()
                    .ok_or_else(|| format!("daemon: {opt} without a value"))
            }
        };
        match opt {
            "--user" => s.user = Some(value()?),
            "--pidfile" => s.pidfile = Some(value()?),
            "--check" => {
                value()?;
            }
            "--force" => {}
            n if (n.starts_with('+') || n.starts_with('-'))
                && n[1..].chars().all(|c| c.is_ascii_digit())
                && n.len() > 1 =>
            {
                s.nice = Some(n.trim_start_matches('+').to_string());
            }
            o if o.starts_with('-') => return Err(format!("daemon: unknown option {o}")),
            _ => {
                s.exec = Some(words[i].clone());
                s.args = words[i + 1..].to_vec();
                return Ok(s);
            }
        }
        i += 1;
    }
    Err("daemon names no program".into())
}

/// The daemon's start command; Err: the script starts none (an `rcS`
/// helper, a one-time setup script).
fn start_command(cx: &mut Ctx) -> Result<(usize, Ssd), Note> {
    let path = start_path(cx);
    if path.is_empty() {
        return Err(Note::new(
            cx.path,
            0,
            "no command in a 'start' action of the script's case: not a daemon; nothing written",
        ));
    }
    let mut found: Option<(usize, Ssd)> = None;
    for cmd in &path {
        let prog = cmd
            .words
            .first()
            .map(|w| w.rsplit('/').next().unwrap_or(w).to_string())
            .unwrap_or_default();
        match prog.as_str() {
            "start-stop-daemon" | "start_daemon" | "startproc" | "daemon" => {
                let words = match expand_words(cx, cmd) {
                    Ok(w) => w,
                    Err(why) => {
                        return Err(Note::new(
                            cx.path,
                            cmd.line,
                            format!("the daemon's command line: {why}; nothing written"),
                        ));
                    }
                };
                let parsed = match prog.as_str() {
                    "start_daemon" => start_daemon(&words),
                    "startproc" => startproc(&words),
                    "daemon" => redhat_daemon(&words),
                    _ => Ssd::parse_debian(&words),
                };
                let ssd = parsed
                    .map_err(|e| Note::new(cx.path, cmd.line, format!("{e}; nothing written")))?;
                let test_only =
                    prog == "start-stop-daemon" && words.iter().any(|w| w == "--test" || w == "-t");
                if !ssd.start || test_only {
                    continue;
                }
                if let Some((first, _)) = &found {
                    cx.draft.not_imported(
                        cx.path,
                        cmd.line,
                        format!("a second daemon start (the first is line {first}): one daemon per declaration"),
                    );
                    continue;
                }
                found = Some((cmd.line, ssd));
            }
            _ => {
                let words = expand_words(cx, cmd).unwrap_or_else(|_| cmd.words.clone());
                if let Some(dir) = shared::runtime_dir(&words) {
                    cx.draft.push(Section::Service, "runtime-directory", &dir);
                    continue;
                }
                if is_chatter(&words) || words.is_empty() || words[0] == "chmod" {
                    continue;
                }
                cx.draft.not_imported(
                    cx.path,
                    cmd.line,
                    format!("start: '{}': svc runs only the daemon", show(&words)),
                );
            }
        }
    }
    found.ok_or_else(|| {
        Note::new(
            cx.path,
            path[0].line,
            "the start action runs no start-stop-daemon --start or start_daemon: not a daemon; nothing written",
        )
    })
}

fn daemon(cx: &mut Ctx, line: usize, ssd: Ssd) {
    let Some(program) = ssd.program().map(str::to_string) else {
        cx.draft
            .not_imported(cx.path, line, "start-stop-daemon names no program");
        return;
    };
    let mut argv = vec![program.clone()];
    argv.extend(ssd.args.iter().cloned());
    let d = &mut cx.draft;
    if ssd.background {
        d.remarks.push(
            "start-stop-daemon --background: the daemon does not fork itself; svc runs it in the foreground.".into(),
        );
    } else if let Some(flags) = shared::foreground_flags(&program) {
        if !flags.iter().all(|f| argv.contains(&f.to_string())) {
            argv.extend(flags.iter().map(|f| f.to_string()));
        }
        d.remarks.push(format!(
            "Foreground flag added: {} (the daemon's own option); the script let it daemonize.",
            join_command(flags)
        ));
    } else if let Some(p) = &ssd.pidfile {
        d.set(Section::Service, "type", "forking");
        d.set(Section::Service, "pidfile", p.clone());
        d.remarks.push(
            "The daemon forks and no foreground flag is known for it: type = forking with its pid file.".into(),
        );
    } else {
        d.not_imported(
            cx.path,
            line,
            "the daemon may fork and no pid file is known: svc cannot follow it; add its foreground flag to exec",
        );
    }
    d.set(Section::Service, "exec", join_command(&argv));
    if ssd.notify {
        d.set(Section::Service, "ready", "sd-notify");
        if let Some(t) = &ssd.notify_timeout {
            d.set(Section::Service, "ready-timeout", format!("{t}s"));
        }
    }
    let root = |v: &Option<String>| v.as_deref().is_some_and(|u| u != "0" && u != "root");
    if root(&ssd.user) {
        d.set(
            Section::Service,
            "user",
            ssd.user.clone().unwrap_or_default(),
        );
    }
    if root(&ssd.group) {
        d.set(
            Section::Service,
            "group",
            ssd.group.clone().unwrap_or_default(),
        );
    }
    for (v, key) in [
        (&ssd.chdir, "working-directory"),
        (&ssd.chroot, "root-directory"),
        (&ssd.nice, "nice"),
        (&ssd.umask, "umask"),
    ] {
        if let Some(v) = v {
            d.set(Section::Service, key, v.clone());
        }
    }
    for u in &ssd.unsupported {
        d.not_imported(
            cx.path,
            line,
            format!("start-stop-daemon {u}: no svc equivalent"),
        );
    }
}

/// The `stop` action's schedule and the `reload` action's signal.
fn stop_and_reload(cx: &mut Ctx) {
    let cmds: Vec<Cmd> = cx.script.cmds.clone();
    let arm_of = |c: &Cmd, want: &str| -> bool {
        c.arm.as_ref().is_some_and(|a| a.iter().any(|p| p == want))
    };
    // The functions each action calls, one level deep.
    let called = |action: &str| -> Vec<String> {
        cmds.iter()
            .filter(|c| c.func.is_none() && arm_of(c, action))
            .filter_map(|c| c.words.first().cloned())
            .collect()
    };
    for (action, is_reload) in [("stop", false), ("reload", true), ("force-reload", true)] {
        let funcs = called(action);
        let chosen: Vec<Cmd> = cmds
            .iter()
            .filter(|c| {
                (c.func.is_none() && arm_of(c, action))
                    || c.func.as_ref().is_some_and(|f| funcs.contains(f))
            })
            .cloned()
            .collect();
        for cmd in chosen {
            if cmd.words.first().map(|w| w.ends_with("start-stop-daemon")) != Some(true) {
                continue;
            }
            let Ok(words) = expand_words(cx, &cmd) else {
                continue;
            };
            let Ok(ssd) = Ssd::parse_debian(&words) else {
                continue;
            };
            if ssd.start {
                continue;
            }
            if is_reload {
                if let Some(s) = &ssd.signal
                    && cx.draft.get(Section::Service, "reload-signal").is_none()
                {
                    if let Some(s) = shared::signal_name(s) {
                        cx.draft.set(Section::Service, "reload-signal", s);
                    }
                }
            } else if cx.draft.get(Section::Service, "stop-timeout").is_none() {
                if let Some(r) = &ssd.retry {
                    if let Err(e) = shared::apply_retry(&mut cx.draft, r, ssd.signal.as_deref()) {
                        cx.draft
                            .not_imported(cx.path, cmd.line, format!("--retry {r}: {e}"));
                    }
                } else if let Some(s) = ssd.signal.as_deref().and_then(shared::signal_name) {
                    cx.draft.set(Section::Service, "stop-signal", s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
