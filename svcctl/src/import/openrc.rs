//! OpenRC service scripts (`#!/sbin/openrc-run`): the variables
//! openrc-run(8) documents, `depend()`, and `/etc/conf.d/NAME`, read by the
//! shell reader in `sh` (the script is never run).

use super::draft::{Draft, Note, Section, join_command};
use super::sh::{self, Cmd, Env, Script, Val};
use super::shared::{self, Ssd, show};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The largest script read (real ones are a few KiB).
const MAX_SIZE: u64 = 1 << 20;

pub fn looks_like(_path: &Path, head: &[u8]) -> bool {
    let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    let Some(interp) = first.strip_prefix("#!") else {
        return false;
    };
    let prog = interp.split_whitespace().next().unwrap_or_default();
    matches!(prog.rsplit('/').next(), Some("openrc-run" | "runscript"))
}

/// Reads a text file, bounded.
pub(super) fn read_text(path: &Path) -> Result<String, Note> {
    use std::io::Read;
    let f =
        std::fs::File::open(path).map_err(|e| Note::new(path, 0, format!("cannot read: {e}")))?;
    let meta = f
        .metadata()
        .map_err(|e| Note::new(path, 0, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(Note::new(path, 0, "not a regular file"));
    }
    let mut bytes = Vec::new();
    f.take(MAX_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Note::new(path, 0, format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_SIZE {
        return Err(Note::new(path, 0, format!("larger than {MAX_SIZE} bytes")));
    }
    // Old scripts carry Latin-1 in their comments: read them anyway; a
    // value holding such bytes is left out later (shared::drop_invalid).
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// OpenRC's names for what svc ships under another name; `None`: no
/// equivalent.
fn map_name(name: &str) -> Option<&str> {
    Some(match name {
        "net" => "networking",
        "logger" => "syslog",
        "clock" | "hwclock" | "swclock" => "clock",
        "udev" | "dev" | "devfs" | "udev-trigger" | "udev-settle" | "mdev" => "devices",
        "sysfs" | "procfs" | "mountkernfs" | "cgroups" | "dev-mount" => "sysinit",
        "*" => return None,
        other => other,
    })
}

/// Where each variable was last set, for notes.
type Origins = HashMap<String, (PathBuf, usize)>;

struct Ctx<'a> {
    path: &'a Path,
    env: Env,
    origins: Origins,
    draft: Draft,
}

impl Ctx<'_> {
    fn var(&self, name: &str) -> Option<&str> {
        self.env.known(name).filter(|v| !v.trim().is_empty())
    }

    fn set_line(&self, name: &str) -> (PathBuf, usize) {
        self.origins
            .get(name)
            .cloned()
            .unwrap_or_else(|| (self.path.to_path_buf(), 0))
    }

    fn note_var(&mut self, name: &str, why: impl Into<String>) {
        let (f, l) = self.set_line(name);
        self.draft.not_imported(&f, l, why);
    }

    /// The fields of a variable's value, as `$var` unquoted would give.
    fn fields(&mut self, name: &str) -> Option<Vec<String>> {
        let v = self.env.get(name)?.clone();
        match v {
            Val::Known(s) => {
                // openrc-run evals command_args: quotes inside the value count.
                let mut words = Vec::new();
                for cmd in Script::parse(&s).cmds {
                    for (k, v) in cmd.assigns {
                        words.push(format!("{k}={v}"));
                    }
                    for w in cmd.words {
                        match sh::expand_fields(&w, &mut self.env) {
                            Ok(f) => words.extend(f),
                            Err(why) => {
                                self.note_var(name, format!("{name}: {why}"));
                                return None;
                            }
                        }
                    }
                }
                Some(words)
            }
            Val::Unknown(why) => {
                self.note_var(name, format!("{name}: its value depends on {why}"));
                None
            }
        }
    }

    fn unknown_note(&mut self, name: &str) {
        if let Some(Val::Unknown(why)) = self.env.get(name).cloned() {
            self.note_var(
                name,
                format!("{name}: its value depends on {why}, known only when the script runs"),
            );
        }
    }
}

fn is_yes(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "yes" | "true" | "1" | "on")
}

/// Commands that only print (and `return`): no effect to carry over.
fn is_chatter(cmd: &Cmd) -> bool {
    cmd.words.first().is_some_and(|w| {
        matches!(
            w.as_str(),
            "ebegin"
                | "eend"
                | "einfo"
                | "ewarn"
                | "eerror"
                | "einfon"
                | "ewarnn"
                | "vebegin"
                | "veend"
                | "veinfo"
                | "vewarn"
                | "ewend"
                | "eindent"
                | "eoutdent"
                | "return"
                | "true"
                | ":"
        )
    })
}

/// Printing, tests and shell bookkeeping: in a hook or `depend()` they
/// carry nothing over and are not reported (in `start()` a test is not
/// "plain", so `is_chatter` alone is used there).
fn is_noise(cmd: &Cmd) -> bool {
    is_chatter(cmd)
        || cmd.words.first().is_some_and(|w| {
            matches!(
                w.as_str(),
                "[" | "test" | "yesno" | "local" | "echo" | "printf" | "exit" | "shift"
            )
        })
}

pub fn import(path: &Path) -> Result<Vec<Draft>, Note> {
    let text = read_text(path)?;
    if !looks_like(path, text.as_bytes()) {
        let first = text.lines().next().unwrap_or_default();
        return Err(Note::new(
            path,
            1,
            format!(
                "not an openrc-run script (first line '{}')",
                show(&[first.to_string()])
            ),
        ));
    }
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Note::new(path, 0, "file name is not UTF-8"))?
        .to_string();
    // `agetty.tty1` → the script `agetty` for port tty1: a script that takes
    // its instance from `${RC_SVCNAME#*.}` becomes a template.
    let template = !file_name.contains('.') && text.contains("RC_SVCNAME#*.");
    let (name, svcname) = if template {
        (format!("{file_name}@"), format!("{file_name}.%i"))
    } else {
        (file_name.clone(), file_name.clone())
    };
    let mut cx = Ctx {
        path,
        env: Env::default(),
        origins: Origins::new(),
        draft: Draft::new(name, path),
    };
    for v in ["RC_SVCNAME", "SVCNAME"] {
        cx.env.set_known(v, svcname.clone());
    }
    for v in [
        "RC_SVCDIR",
        "RC_LIBEXECDIR",
        "RC_CMD",
        "RC_RUNLEVEL",
        "RC_GOINGDOWN",
    ] {
        cx.env.set(v, Val::Unknown("openrc-run at run time".into()));
    }
    if template {
        cx.draft.remarks.push(format!(
            "A template: {file_name}.X in OpenRC is {file_name}@X here."
        ));
    }

    // conf.d first (the base name's for a multiplexed script), then the script.
    let mut conf_names = vec![file_name.clone()];
    if let Some((base, _)) = file_name.split_once('.') {
        conf_names.insert(0, base.to_string());
    }
    for cn in conf_names {
        let Some(conf) = shared::companion(&path.with_file_name(&cn), "conf.d") else {
            continue;
        };
        let Ok(ctext) = read_text(&conf) else {
            continue;
        };
        cx.draft.sources.push(conf.clone());
        let script = Script::parse(&ctext);
        for cmd in script.top() {
            for (k, _) in &cmd.assigns {
                cx.origins.insert(k.clone(), (conf.clone(), cmd.line));
            }
            cx.env.assign(cmd);
            if !cmd.words.is_empty() {
                cx.draft.not_imported(
                    &conf,
                    cmd.line,
                    format!(
                        "'{}': only variable assignments are read from conf.d",
                        show(&cmd.words)
                    ),
                );
            }
        }
    }

    let script = Script::parse(&text);
    for cmd in script.top() {
        for (k, _) in &cmd.assigns {
            cx.origins.insert(k.clone(), (path.to_path_buf(), cmd.line));
        }
        if cmd.words.is_empty() {
            cx.env.assign(cmd);
            shared::exports(&mut cx.draft, &cx.env, path, cmd, &[]);
            continue;
        }
        if matches!(cmd.words[0].as_str(), "." | "source") {
            source(&mut cx, cmd);
            continue;
        }
        // `: ${x:=default}` sets x.
        if cmd.words[0] == ":" {
            for w in &cmd.words[1..] {
                let _ = sh::expand_fields(w, &mut cx.env);
            }
            continue;
        }
        cx.draft.not_imported(
            path,
            cmd.line,
            format!(
                "'{}': top-level command, run by openrc-run at every action",
                show(&cmd.words)
            ),
        );
    }

    if let Some(d) = cx.var("description").map(str::to_string) {
        cx.draft.set(Section::Service, "description", d);
    }

    // start(): imported only when it is one plain start-stop-daemon call.
    let start_ssd = if script.func("start").is_some() {
        Some(plain_start(&script, &mut cx)?)
    } else {
        None
    };
    match start_ssd {
        Some(ssd) => from_ssd(&mut cx, ssd),
        None => from_variables(&mut cx)?,
    }
    common_variables(&mut cx);
    depend(&script, &mut cx);
    functions(&script, &mut cx);
    enablement(&mut cx, &file_name);
    shared::drop_invalid(&mut cx.draft)?;
    cx.draft
        .notes
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(vec![cx.draft])
}

/// `. FILE` at the top level: its assignments read now (under the tree the
/// script is in), or, unreadable, every variable not set yet is unknown.
fn source(cx: &mut Ctx, cmd: &Cmd) {
    let path = cx.path.to_path_buf();
    let what = cmd
        .words
        .get(1)
        .map(|w| sh::expand_string(w, &mut cx.env).unwrap_or_else(|_| w.clone()))
        .unwrap_or_default();
    let root = path.parent().and_then(Path::parent).and_then(Path::parent);
    let file = match (root, what.strip_prefix('/')) {
        (Some(r), Some(rel)) => Some(r.join(rel)),
        _ => None,
    };
    match file.as_deref().map(read_text) {
        Some(Ok(t)) => {
            for c in Script::parse(&t).top() {
                cx.env.assign(c);
            }
            cx.draft.not_imported(
                &path,
                cmd.line,
                format!(
                    ". {what}: its variables were read now; later changes to it need a new import"
                ),
            );
        }
        _ => {
            cx.env.unread(&what);
            cx.draft.not_imported(
                &path,
                cmd.line,
                format!(". {what}: not read; what it sets is unknown"),
            );
        }
    }
}

/// The single start-stop-daemon call of `start()`, or why it is refused.
fn plain_start(script: &Script, cx: &mut Ctx) -> Result<Ssd, Note> {
    let fline = script.func("start").map_or(0, |f| f.line);
    let mut found: Option<(usize, Vec<String>)> = None;
    for cmd in script.body("start") {
        if is_chatter(cmd) {
            continue;
        }
        let prog = cmd.words.first().map(String::as_str).unwrap_or("");
        let is_ssd = prog.rsplit('/').next() == Some("start-stop-daemon");
        if !is_ssd || found.is_some() || !cmd.assigns.is_empty() {
            let what = if cmd.words.is_empty() {
                cmd.assigns
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                show(&cmd.words)
            };
            return Err(Note::new(
                cx.path,
                cmd.line,
                format!(
                    "start() (line {fline}) runs '{what}': only a start() that is one plain start-stop-daemon call is imported; nothing written"
                ),
            ));
        }
        let mut words = Vec::new();
        for w in &cmd.words {
            match sh::expand_fields(w, &mut cx.env) {
                Ok(f) => words.extend(f),
                Err(why) => {
                    return Err(Note::new(
                        cx.path,
                        cmd.line,
                        format!("start(): '{w}': {why}; nothing written"),
                    ));
                }
            }
        }
        found = Some((cmd.line, words));
    }
    let Some((line, words)) = found else {
        return Err(Note::new(
            cx.path,
            fline,
            "start() starts no daemon (no start-stop-daemon call); nothing written",
        ));
    };
    let ssd = Ssd::parse(&words).map_err(|e| {
        Note::new(
            cx.path,
            line,
            format!("start-stop-daemon: {e}; nothing written"),
        )
    })?;
    if ssd.program().is_none() {
        return Err(Note::new(
            cx.path,
            line,
            "start-stop-daemon names no program (--exec/--startas); nothing written",
        ));
    }
    cx.origins
        .insert("__ssd".into(), (cx.path.to_path_buf(), line));
    Ok(ssd)
}

/// A start() of one start-stop-daemon call.
fn from_ssd(cx: &mut Ctx, ssd: Ssd) {
    let (file, line) = cx.set_line("__ssd");
    let mut argv = vec![ssd.program().unwrap_or_default().to_string()];
    argv.extend(ssd.args.iter().cloned());
    let foreground = ssd.background;
    cx.draft.set(Section::Service, "exec", join_command(&argv));
    if !foreground {
        match &ssd.pidfile {
            Some(p) => {
                cx.draft.set(Section::Service, "type", "forking");
                cx.draft.set(Section::Service, "pidfile", p.clone());
            }
            None => cx.draft.not_imported(
                &file,
                line,
                "the daemon forks (no --background) and names no pid file: svc cannot follow it; add its foreground flag to exec",
            ),
        }
    }
    ssd_credentials(cx, &ssd, &file, line);
}

fn ssd_credentials(cx: &mut Ctx, ssd: &Ssd, file: &Path, line: usize) {
    let d = &mut cx.draft;
    if let Some(u) = &ssd.user {
        d.set(Section::Service, "user", u.clone());
    }
    if let Some(g) = &ssd.group {
        d.set(Section::Service, "group", g.clone());
    }
    if let Some(v) = &ssd.chdir {
        d.set(Section::Service, "working-directory", v.clone());
    }
    if let Some(v) = &ssd.chroot {
        d.set(Section::Service, "root-directory", v.clone());
    }
    if let Some(v) = &ssd.nice {
        d.set(Section::Service, "nice", v.clone());
    }
    if let Some(v) = &ssd.umask {
        d.set(Section::Service, "umask", v.clone());
    }
    if let Some(r) = &ssd.retry
        && let Err(e) = shared::apply_retry(d, r, ssd.signal.as_deref())
    {
        d.not_imported(file, line, format!("--retry {r}: {e}"));
    }
    for u in &ssd.unsupported {
        d.not_imported(
            file,
            line,
            format!("start-stop-daemon {u}: no svc equivalent"),
        );
    }
}

/// The `command*` variables.
fn from_variables(cx: &mut Ctx) -> Result<(), Note> {
    if let Some(Val::Unknown(why)) = cx.env.get("command").cloned() {
        let (f, l) = cx.set_line("command");
        return Err(Note::new(
            &f,
            l,
            format!(
                "command: its value depends on {why}, known only when the script runs; nothing written"
            ),
        ));
    }
    let Some(command) = cx.var("command").map(str::to_string) else {
        return Err(Note::new(
            cx.path,
            0,
            "neither 'command' nor start(): the script starts no daemon; nothing written",
        ));
    };
    let supervisor = cx.var("supervisor").map(str::to_string);
    let background = cx.var("command_background").is_some_and(is_yes);
    let mut argv = cx.fields("command").unwrap_or_default();
    if argv.is_empty() {
        argv.push(command);
    }
    let args = cx.fields("command_args").unwrap_or_default();
    argv.extend(args);
    let fg = cx.fields("command_args_foreground");
    let (f, l) = cx.set_line("command");
    match supervisor.as_deref() {
        Some("supervise-daemon") => {
            cx.draft
                .remarks
                .push("supervisor=supervise-daemon: svc-supervise takes its place.".into());
        }
        Some("s6") => {
            let sp = cx
                .var("s6_service_path")
                .map(str::to_string)
                .unwrap_or_else(|| {
                    format!("/var/svc.d/{}", cx.env.known("RC_SVCNAME").unwrap_or(""))
                });
            cx.note_var(
                "supervisor",
                format!("supervisor=s6: s6 runs {sp}/run, not 'command'; import that directory with --from runit if it differs"),
            );
        }
        Some(other) => {
            cx.note_var(
                "supervisor",
                format!("supervisor={other}: unknown to openrc-run"),
            );
        }
        None => {}
    }
    let supervised = matches!(supervisor.as_deref(), Some("supervise-daemon" | "s6"));
    if supervised || background || fg.is_some() {
        argv.extend(fg.unwrap_or_default());
        if background && !supervised {
            cx.draft.remarks.push(
                "command_background: svc runs the command in the foreground itself (no pid file)."
                    .into(),
            );
        }
    } else if cx.var("command_args_background").is_some() {
        cx.draft.remarks.push(
            "command_args_background left out: the daemon stays in the foreground by default."
                .into(),
        );
    } else if let Some(p) = cx.var("pidfile").map(str::to_string) {
        cx.draft.set(Section::Service, "type", "forking");
        cx.draft.set(Section::Service, "pidfile", p);
        cx.draft.remarks.push(
            "The daemon forks under start-stop-daemon: type = forking with its pid file (no foreground flag is known).".into(),
        );
    } else {
        cx.draft.not_imported(
            &f,
            l,
            "the daemon forks (start-stop-daemon without command_background) and names no pidfile: svc cannot follow it; add its foreground flag to exec",
        );
    }
    cx.draft.set(Section::Service, "exec", join_command(&argv));
    if let Some(u) = cx.var("command_user").map(str::to_string) {
        match u.split_once(':') {
            Some((u, g)) => {
                cx.draft.set(Section::Service, "user", u);
                cx.draft.set(Section::Service, "group", g);
            }
            None => cx.draft.set(Section::Service, "user", u),
        }
    }
    // start_stop_daemon_args / supervise_daemon_args: the options svc knows.
    for var in ["start_stop_daemon_args", "supervise_daemon_args"] {
        let Some(words) = cx.fields(var).filter(|w| !w.is_empty()) else {
            continue;
        };
        let (f, l) = cx.set_line(var);
        let mut all = vec!["start-stop-daemon".to_string()];
        all.extend(words);
        match Ssd::parse(&all) {
            Ok(ssd) if ssd.args.is_empty() && ssd.exec.is_none() && ssd.startas.is_none() => {
                ssd_credentials(cx, &ssd, &f, l);
            }
            Ok(_) => cx
                .draft
                .not_imported(&f, l, format!("{var}: names a program or arguments")),
            Err(e) => cx.draft.not_imported(&f, l, format!("{var}: {e}")),
        }
    }
    Ok(())
}

/// Variables that mean the same whatever starts the daemon.
fn common_variables(cx: &mut Ctx) {
    for (var, key) in [
        ("directory", "working-directory"),
        ("chroot", "root-directory"),
        ("umask", "umask"),
    ] {
        cx.unknown_note(var);
        if let Some(v) = cx.var(var).map(str::to_string) {
            cx.draft.set(Section::Service, key, v);
        }
    }
    if cx.var("no_new_privs").is_some_and(is_yes) {
        cx.draft.set(Section::Service, "no-new-privileges", "yes");
    }
    for var in ["output_log", "error_log", "output_logger", "error_logger"] {
        if let Some(v) = cx.var(var).map(str::to_string) {
            cx.note_var(
                var,
                format!("{var}={v}: svc logs the service's output itself ([logging], under its log directory)"),
            );
        }
    }
    if let Some(v) = cx.var("capabilities").map(str::to_string) {
        cx.note_var(
            "capabilities",
            format!("capabilities={v}: svc has no capability keys (docs/declarations.md); run as a user with what it needs"),
        );
    }
    if let Some(v) = cx.var("respawn_delay").map(str::to_string) {
        match v.parse::<u64>() {
            Ok(n) => cx
                .draft
                .set(Section::Service, "restart-delay", format!("{n}s")),
            Err(_) => cx.note_var(
                "respawn_delay",
                format!("respawn_delay={v}: not a number of seconds"),
            ),
        }
    }
    if let Some(v) = cx.var("respawn_max").map(str::to_string) {
        match v.parse::<u64>() {
            Ok(n) => cx
                .draft
                .set(Section::Service, "restart-limit", n.to_string()),
            Err(_) => cx.note_var("respawn_max", format!("respawn_max={v}: not a number")),
        }
    }
    if let Some(v) = cx.var("respawn_period").map(str::to_string) {
        cx.note_var(
            "respawn_period",
            format!("respawn_period={v}: svc counts consecutive failed starts (restart-limit), not starts per period"),
        );
    }
    let stopsig = cx.var("stopsig").map(str::to_string);
    if let Some(r) = cx.var("retry").map(str::to_string) {
        let (f, l) = cx.set_line("retry");
        if let Err(e) = shared::apply_retry(&mut cx.draft, &r, stopsig.as_deref()) {
            cx.draft.not_imported(&f, l, format!("retry={r}: {e}"));
        }
    } else if let Some(s) = stopsig {
        let s = s.trim_start_matches("SIG").to_string();
        if libsvc::signal::parse_signal(&s).is_ok() {
            cx.draft.set(Section::Service, "stop-signal", s);
        } else {
            cx.note_var("stopsig", format!("stopsig={s}: unknown signal"));
        }
    }
    if let Some(words) = cx.fields("rc_ulimit").filter(|w| !w.is_empty()) {
        let (f, l) = cx.set_line("rc_ulimit");
        if let Err(e) = shared::apply_ulimit(&mut cx.draft, &words) {
            cx.draft.not_imported(&f, l, e);
        }
    }
    for var in [
        "extra_commands",
        "extra_started_commands",
        "extra_stopped_commands",
    ] {
        if let Some(v) = cx.var(var).map(str::to_string) {
            cx.note_var(
                var,
                format!(
                    "{var}={v}: svc has no per-service commands (svcctl reload sends reload-signal)"
                ),
            );
        }
    }
    for var in ["required_files", "required_dirs"] {
        if let Some(v) = cx.var(var).map(str::to_string) {
            cx.note_var(
                var,
                format!("{var}={v}: svc does not check for them before start"),
            );
        }
    }
    for var in [
        "start_inactive",
        "in_background_fake",
        "healthcheck_delay",
        "healthcheck_timer",
    ] {
        if let Some(v) = cx.var(var).map(str::to_string) {
            cx.note_var(var, format!("{var}={v}: no svc equivalent"));
        }
    }
}

/// A dependency list: names mapped, `*` and `!name` noted.
fn dep_items(cx: &mut Ctx, file: &Path, line: usize, key: &str, items: &[String]) {
    for item in items {
        if item.starts_with('!') {
            cx.draft.not_imported(
                file,
                line,
                format!("{key} {item}: removing a dependency has no svc equivalent"),
            );
            continue;
        }
        match map_name(item) {
            Some(n) => {
                let n = n.to_string();
                let keys: &[&str] = match key {
                    "need" => &["requires"],
                    "use" => &["wants", "after"],
                    "want" => &["wants"],
                    "after" => &["after"],
                    "before" => &["before"],
                    "provide" => &["provides"],
                    _ => &[],
                };
                for k in keys {
                    cx.draft.push(Section::Dependencies, k, &n);
                }
            }
            None => cx.draft.not_imported(
                file,
                line,
                format!("{key} {item}: svc orders only by named services"),
            ),
        }
    }
}

fn depend(script: &Script, cx: &mut Ctx) {
    let path = cx.path.to_path_buf();
    let cmds: Vec<Cmd> = script.body("depend").cloned().collect();
    for cmd in cmds {
        let Some(first) = cmd.words.first().cloned() else {
            continue;
        };
        if is_noise(&cmd) {
            continue;
        }
        let mut items = Vec::new();
        let mut bad = None;
        for w in &cmd.words[1..] {
            match sh::expand_fields(w, &mut cx.env) {
                Ok(f) => items.extend(f),
                Err(why) => bad = Some(why),
            }
        }
        if let Some(why) = bad {
            cx.draft
                .not_imported(&path, cmd.line, format!("'{}': {why}", show(&cmd.words)));
        }
        match first.as_str() {
            "need" | "use" | "want" | "after" | "before" | "provide" if cmd.conditional => {
                cx.draft.not_imported(
                    &path,
                    cmd.line,
                    format!(
                        "{first} {}: only under a condition the script tests when it runs",
                        items.join(" ")
                    ),
                );
            }
            "need" | "use" | "want" | "after" | "before" | "provide" => {
                dep_items(cx, &path, cmd.line, &first, &items);
            }
            "config" => {}
            "keyword" => cx.draft.not_imported(
                &path,
                cmd.line,
                format!("keyword {}: svc has no keywords", items.join(" ")),
            ),
            _ => cx.draft.not_imported(
                &path,
                cmd.line,
                format!("depend(): '{}' not understood", show(&cmd.words)),
            ),
        }
    }
    // rc_need, rc_use, … from conf.d.
    for (var, key) in [
        ("rc_need", "need"),
        ("rc_use", "use"),
        ("rc_want", "want"),
        ("rc_after", "after"),
        ("rc_before", "before"),
        ("rc_provide", "provide"),
    ] {
        if let Some(items) = cx.fields(var).filter(|i| !i.is_empty()) {
            let (f, l) = cx.set_line(var);
            dep_items(cx, &f, l, key, &items);
        }
    }
}

/// The other functions: what fits becomes keys, the rest a note per line.
fn functions(script: &Script, cx: &mut Ctx) {
    let path = cx.path.to_path_buf();
    for f in &script.funcs {
        match f.name.as_str() {
            "depend" | "start" => continue,
            _ => {}
        }
        let cmds: Vec<Cmd> = script.body(&f.name).cloned().collect();
        for cmd in cmds {
            if is_noise(&cmd) {
                continue;
            }
            let mut words = Vec::new();
            for w in &cmd.words {
                match sh::expand_fields(w, &mut cx.env) {
                    Ok(fw) => words.extend(fw),
                    Err(_) => words.push(w.clone()),
                }
            }
            if f.name == "start_pre"
                && let Some(dir) = shared::runtime_dir(&words)
            {
                cx.draft.push(Section::Service, "runtime-directory", &dir);
                if words.iter().any(|w| w == "-o" || w == "--owner") {
                    cx.draft.remarks.push(format!(
                        "runtime-directory {dir}: created for the service's user (the script's owner option is not kept)."
                    ));
                }
                continue;
            }
            if f.name == "reload"
                && let Some(sig) = reload_signal(&words)
            {
                cx.draft.set(Section::Service, "reload-signal", sig);
                continue;
            }
            if f.name == "stop"
                && words
                    .first()
                    .is_some_and(|w| w.ends_with("start-stop-daemon"))
                && let Ok(ssd) = Ssd::parse(&words)
                && !ssd.start
            {
                if let Some(r) = &ssd.retry {
                    if let Err(e) = shared::apply_retry(&mut cx.draft, r, ssd.signal.as_deref()) {
                        cx.draft
                            .not_imported(&path, cmd.line, format!("--retry {r}: {e}"));
                    }
                } else if let Some(s) = &ssd.signal {
                    cx.draft
                        .set(Section::Service, "stop-signal", s.trim_start_matches("SIG"));
                }
                continue;
            }
            let what = if cmd.words.is_empty() {
                cmd.assigns
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                show(&cmd.words)
            };
            let why = match f.name.as_str() {
                "stop" => "svc stops the service with stop-signal, then SIGKILL",
                "reload" => "only a signal to the daemon becomes reload-signal",
                "start_pre" | "start_post" | "stop_pre" | "stop_post" => {
                    "svc runs no shell hooks around start and stop"
                }
                "status" => "svcctl status reports from the supervisor",
                _ => "an extra command: svc has no per-service commands",
            };
            cx.draft
                .not_imported(&path, cmd.line, format!("{}(): '{what}': {why}", f.name));
        }
    }
}

/// `start-stop-daemon --signal HUP …`, `kill -HUP …`, `supervise-daemon
/// --signal HUP`: the signal.
fn reload_signal(words: &[String]) -> Option<String> {
    let prog = words.first()?.rsplit('/').next()?;
    let sig = match prog {
        "start-stop-daemon" | "supervise-daemon" => {
            let i = words.iter().position(|w| w == "--signal" || w == "-s")?;
            words.get(i + 1)?.clone()
        }
        "kill" => words.get(1)?.strip_prefix('-')?.to_string(),
        _ => return None,
    };
    let sig = sig.trim_start_matches("SIG").to_string();
    libsvc::signal::parse_signal(&sig).ok().map(|_| sig)
}

/// Enabled in the targets of the runlevels that list it (`DIR/runlevels/`
/// beside `DIR/init.d/`).
fn enablement(cx: &mut Ctx, file_name: &str) {
    let Some(etc) = cx.path.parent().and_then(Path::parent) else {
        return;
    };
    for (level, target) in [
        ("sysinit", "sysinit"),
        ("boot", "boot"),
        ("default", "default"),
    ] {
        let entry = etc.join("runlevels").join(level).join(file_name);
        if entry.symlink_metadata().is_ok() {
            cx.draft.enable_in.push(target.to_string());
        }
    }
    if cx.draft.enable_in.is_empty() {
        cx.draft.remarks.push(format!(
            "In no runlevel under {}: not enabled.",
            etc.join("runlevels").display()
        ));
    }
}

#[cfg(test)]
mod tests;
