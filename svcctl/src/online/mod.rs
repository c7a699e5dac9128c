//! Commands that talk to a running manager over its control socket
//! (docs/protocol.md): status, list, start, stop, restart, reload,
//! enable, disable, target, rescan, log, and the power commands that
//! signal init; and `add`, which writes a declaration and asks for a
//! rescan.

pub mod add;
pub mod client;
pub mod render;

use std::path::{Path, PathBuf};
use std::time::Duration;

use libnv::NvList;
use libsvc::proto;
use serde_json::{Value, json};

use client::{Client, ClientError, NO_SUCH_SERVICE, NOT_PERMITTED};

/// Exit statuses (cli.md).
pub const OK: u8 = 0;
pub const FAILURE: u8 = 1;
pub const DOWN: u8 = 3;
pub const UNKNOWN: u8 = 4;
/// The manager did not answer within `--timeout`.
pub const NO_REPLY: u8 = 5;

/// How long svcctl waits for the manager to answer, unless `--timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how to talk.
pub struct Options {
    /// The control socket, or why it cannot be worked out.
    pub socket: Result<PathBuf, String>,
    pub user: bool,
    pub json: bool,
    /// `--timeout` as given (zero: no bound).
    pub timeout: Option<Duration>,
}

impl Options {
    pub fn new(
        socket: Option<&Path>,
        user: bool,
        json: bool,
        timeout: Option<Duration>,
    ) -> Options {
        Options {
            socket: client::socket_path(socket, user),
            user,
            json,
            timeout,
        }
    }

    /// How long to wait for the manager to take a connection and answer a
    /// request (a job's request: to take the job).
    pub fn reply_timeout(&self) -> Option<Duration> {
        match self.timeout {
            None => Some(DEFAULT_TIMEOUT),
            Some(t) => (!t.is_zero()).then_some(t),
        }
    }

    /// How long to wait for a job to end: only as long as `--timeout`
    /// says; without it, as long as the job takes (its services' ready and
    /// stop timeouts bound it).
    pub fn job_timeout(&self) -> Option<Duration> {
        self.timeout.filter(|t| !t.is_zero())
    }

    /// A connection to the manager.
    pub fn client(&self) -> Result<Client, ClientError> {
        match &self.socket {
            Ok(path) => Client::connect(path, self.user, self.reply_timeout()),
            Err(why) => Err(ClientError::Unreachable(why.clone())),
        }
    }

    fn connect(&self) -> Result<Client, u8> {
        self.client().map_err(|e| fail(&e))
    }
}

fn fail(e: &ClientError) -> u8 {
    match e {
        ClientError::Refused { code, .. } if *code == NOT_PERMITTED => {
            eprintln!("svcctl: {e} (run it as root)")
        }
        _ => eprintln!("svcctl: {e}"),
    }
    match e {
        ClientError::Refused { code, .. } if *code == NO_SUCH_SERVICE => UNKNOWN,
        ClientError::TimedOut { .. } => NO_REPLY,
        _ => FAILURE,
    }
}

fn with_names(mut req: NvList, names: &[String]) -> NvList {
    if !names.is_empty() {
        let _ = proto::add_names(&mut req, names);
    }
    req
}

pub fn services(reply: &NvList) -> &[NvList] {
    reply.get_nvlist_array(proto::key::SERVICES).unwrap_or(&[])
}

/// Up as far as `status`' exit code goes (LSB: 0 running, 3 not).
fn is_up(s: &NvList) -> bool {
    matches!(
        s.get_str(proto::key::STATE),
        Some("ready" | "running" | "finished")
    )
}

/// `status [NAME…]`.
pub fn status(opts: &Options, names: &[String]) -> u8 {
    let mut c = match opts.connect() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let req = with_names(c.request("status"), names);
    let reply = match c.call(req, opts.reply_timeout()) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let items = services(&reply);
    let cgroups = render::Cgroups::of_reply(&reply);
    if opts.json {
        let list: Vec<Value> = items.iter().map(render::status_json).collect();
        println!("{}", json!({ "services": list, "cgroups": cgroups.json() }));
    } else if names.len() == 1 && items.len() == 1 {
        render::detail(&items[0], &cgroups);
    } else {
        render::table(items, &cgroups);
    }
    if !names.is_empty() && items.iter().any(|s| !is_up(s)) {
        DOWN
    } else {
        OK
    }
}

/// `list`: every known service and target.
pub fn list(opts: &Options) -> u8 {
    let mut c = match opts.connect() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let req = c.request("list");
    let reply = match c.call(req, opts.reply_timeout()) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if opts.json {
        let list: Vec<Value> = services(&reply).iter().map(render::list_json).collect();
        let templates: Vec<String> = reply
            .get_string_array(proto::key::TEMPLATES)
            .unwrap_or(&[])
            .iter()
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect();
        println!("{}", json!({ "services": list, "templates": templates }));
    } else {
        render::list_table(services(&reply));
    }
    OK
}

/// `start|stop|restart NAME…`, and `target T` (names = [T]).
pub fn job(opts: &Options, method: &str, names: &[String], no_wait: bool) -> u8 {
    let mut c = match opts.connect() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut req = c.request(method);
    if method == "target" {
        if let Some(t) = names.first() {
            let _ = req.add_string(proto::key::TARGET, t);
        }
    } else {
        req = with_names(req, names);
    }
    let answer = if no_wait {
        let _ = req.add_bool(proto::key::NO_WAIT, true);
        c.call(req, opts.reply_timeout())
    } else {
        // A status of the same names, answered at once, shows that the
        // manager took the job; the job itself may take minutes.
        let probe = with_names(c.request("status"), names);
        c.call_job(req, probe, opts.reply_timeout(), opts.job_timeout())
    };
    let reply = match answer {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let ok = reply.get_bool(proto::key::OK).unwrap_or(true);
    if opts.json {
        let list: Vec<Value> = services(&reply).iter().map(render::outcome_json).collect();
        println!(
            "{}",
            json!({ "ok": ok, "job": reply.get_number(proto::key::JOB), "services": list })
        );
    } else if no_wait {
        println!(
            "job {} queued",
            reply.get_number(proto::key::JOB).unwrap_or(0)
        );
    } else {
        render::outcomes(services(&reply));
    }
    if ok { OK } else { FAILURE }
}

/// `reload NAME…`.
pub fn reload(opts: &Options, names: &[String]) -> u8 {
    simple(opts, "reload", names, |_| {})
}

/// `rescan`: errors in declarations are printed, and make the exit 1.
pub fn rescan(opts: &Options) -> u8 {
    let mut errors = 0;
    let json = opts.json;
    let code = simple(opts, "rescan", &[], |reply| {
        if json {
            errors = strings(reply, proto::key::ERRORS).len();
        } else {
            print_list(reply, proto::key::ADDED, false);
            errors = print_list(reply, proto::key::ERRORS, true);
        }
    });
    if code == OK && errors > 0 {
        FAILURE
    } else {
        code
    }
}

/// `enable|disable NAME… [--target T] [--now]`.
pub fn enable(
    opts: &Options,
    enable: bool,
    names: &[String],
    target: Option<&str>,
    now: bool,
) -> u8 {
    let mut c = match opts.connect() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let method = if enable { "enable" } else { "disable" };
    let mut req = with_names(c.request(method), names);
    if let Some(t) = target {
        let _ = req.add_string(proto::key::TARGET, t);
    }
    let reply = match c.call(req, opts.reply_timeout()) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let changed: Vec<String> = strings(&reply, proto::key::CHANGED);
    if opts.json && !now {
        println!(
            "{}",
            json!({ "changed": changed, "errors": strings(&reply, proto::key::ERRORS) })
        );
    } else if !opts.json {
        for p in &changed {
            println!("{} {p}", if enable { "created" } else { "removed" });
        }
        print_list(&reply, proto::key::ERRORS, true);
    }
    if !now {
        return OK;
    }
    drop(c);
    job(opts, if enable { "start" } else { "stop" }, names, false)
}

/// `log NAME [-f] [-n N]`.
pub fn log(opts: &Options, name: &str, follow: bool, lines: usize) -> u8 {
    let mut c = match opts.connect() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let req = with_names(c.request("status"), &[name.to_owned()]);
    let reply = match c.call(req, opts.reply_timeout()) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    drop(c);
    let Some(path) = services(&reply)
        .first()
        .and_then(|s| s.get_str(proto::key::LOG))
    else {
        eprintln!("svcctl: {name} has no log file");
        return FAILURE;
    };
    match render::tail(Path::new(path), lines, follow) {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("svcctl: {path}: {e}");
            FAILURE
        }
    }
}

/// `watch`: one line per state change (JSON lines with --json) until the
/// manager goes away.
pub fn watch(opts: &Options) -> u8 {
    use std::io::Write;
    let mut c = match opts.connect() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let req = c.request("watch");
    if let Err(e) = c.call(req, opts.reply_timeout()) {
        return fail(&e);
    }
    loop {
        let ev = match c.receive(None) {
            Ok(ev) => ev,
            Err(e) => {
                eprintln!("svcctl: the manager closed the connection ({e})");
                return FAILURE;
            }
        };
        if ev.get_str(proto::key::METHOD) != Some(proto::method::EVENT) {
            continue;
        }
        let line = if opts.json {
            render::status_json(&ev).to_string()
        } else {
            render::event_line(&ev)
        };
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return OK;
        }
    }
}

/// `poweroff|reboot|halt`: the busybox signal contract to init.
pub fn power(action: &str, init_pid: i32) -> u8 {
    let signal = match action {
        "poweroff" => libc::SIGUSR2,
        "reboot" => libc::SIGTERM,
        _ => libc::SIGUSR1,
    };
    // SAFETY: kill(2) with a pid and a signal number.
    if unsafe { libc::kill(init_pid, signal) } != 0 {
        let e = std::io::Error::last_os_error();
        eprintln!("svcctl: cannot ask init (pid {init_pid}) to {action}: {e}");
        return FAILURE;
    }
    OK
}

fn simple(opts: &Options, method: &str, names: &[String], show: impl FnOnce(&NvList)) -> u8 {
    let mut c = match opts.connect() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let req = with_names(c.request(method), names);
    match c.call(req, opts.reply_timeout()) {
        Ok(reply) => {
            if opts.json {
                println!(
                    "{}",
                    json!({ "ok": true, "errors": strings(&reply, proto::key::ERRORS), "added": strings(&reply, proto::key::ADDED) })
                );
            }
            show(&reply);
            OK
        }
        Err(e) => fail(&e),
    }
}

fn strings(l: &NvList, key: &str) -> Vec<String> {
    l.get_string_array(key)
        .unwrap_or(&[])
        .iter()
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Prints a string array (errors to stderr); returns how many.
fn print_list(l: &NvList, key: &str, to_stderr: bool) -> usize {
    let items = strings(l, key);
    for i in &items {
        if to_stderr {
            eprintln!("svcctl: {i}");
        } else {
            println!("{key}: {i}");
        }
    }
    items.len()
}
