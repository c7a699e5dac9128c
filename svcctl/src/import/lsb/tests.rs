use super::*;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lsb/init.d")
        .join(name)
}

fn one(name: &str) -> Draft {
    let mut d = import(&fixture(name)).unwrap_or_else(|n| panic!("{name}: {n}"));
    assert_eq!(d.len(), 1);
    d.remove(0)
}

fn svc(d: &Draft, key: &str) -> Option<String> {
    d.get(Section::Service, key).map(String::from)
}

fn dep(d: &Draft, key: &str) -> Option<String> {
    d.get(Section::Dependencies, key).map(String::from)
}

fn notes(d: &Draft) -> Vec<String> {
    d.notes
        .iter()
        .map(|n| {
            format!(
                "{}:{}: {}",
                n.file.file_name().unwrap().to_string_lossy(),
                n.line,
                n.why
            )
        })
        .collect()
}

fn has_note(d: &Draft, needle: &str) -> bool {
    notes(d).iter().any(|n| n.contains(needle))
}

#[test]
fn the_header_is_recognised() {
    let p = Path::new("/etc/init.d/x");
    assert!(looks_like(
        p,
        b"#!/bin/sh\n### BEGIN INIT INFO\n# Provides: x\n"
    ));
    assert!(!looks_like(p, b"#!/bin/sh\nexec x\n"));
    let n = import(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/openrc/init.d/forker")
            .as_path(),
    )
    .unwrap_err();
    assert!(n.why.contains("not an LSB init script"), "{n}");
}

#[test]
fn header_fields_become_name_description_and_dependencies() {
    let d = one("exampled");
    assert_eq!(d.name, "exampled");
    assert_eq!(svc(&d, "description").as_deref(), Some("example daemon"));
    assert_eq!(dep(&d, "provides").as_deref(), Some("example-server"));
    assert_eq!(
        dep(&d, "requires").as_deref(),
        Some("localmount netmount networking syslog")
    );
    assert_eq!(dep(&d, "wants").as_deref(), Some("database"));
    assert_eq!(dep(&d, "before").as_deref(), Some("frontend"));
    assert!(has_note(
        &d,
        "exampled:4: Required-Start $time (a set clock)"
    ));
    assert!(has_note(&d, "exampled:6: Should-Start $named"));
    assert_eq!(d.enable_in, ["default"]);
}

#[test]
fn the_daemon_comes_from_the_start_action_through_functions_and_defaults() {
    let d = one("exampled");
    // DAEMON_ARGS from the script, EXAMPLED_OPTS from ../default/exampled;
    // the `$2` line (conditional, unknowable) does not hide DAEMON_ARGS.
    assert_eq!(
        svc(&d, "exec").as_deref(),
        Some("/usr/sbin/exampled --config /etc/exampled.conf --verbose --log-level warn")
    );
    assert!(d.sources.iter().any(|s| s.ends_with("default/exampled")));
    assert_eq!(svc(&d, "user").as_deref(), Some("example"));
    assert_eq!(svc(&d, "group").as_deref(), Some("example"));
    assert_eq!(svc(&d, "nice").as_deref(), Some("5"));
    assert_eq!(svc(&d, "umask").as_deref(), Some("027"));
    assert_eq!(svc(&d, "limit-nofile").as_deref(), Some("2048"));
    assert_eq!(svc(&d, "runtime-directory").as_deref(), Some("exampled"));
    assert!(has_note(
        &d,
        "exampled:35: start: 'chown example /run/exampled'"
    ));
}

#[test]
fn an_unknown_daemon_that_forks_is_forking_with_its_pidfile() {
    let d = one("exampled");
    assert_eq!(svc(&d, "type").as_deref(), Some("forking"));
    assert_eq!(svc(&d, "pidfile").as_deref(), Some("/run/exampled.pid"));
    let d = one("startd");
    assert_eq!(svc(&d, "type").as_deref(), Some("forking"));
    assert_eq!(svc(&d, "pidfile").as_deref(), Some("/var/run/startd.pid"));
    assert_eq!(svc(&d, "exec").as_deref(), Some("/usr/sbin/startd -q"));
}

#[test]
fn stop_retry_and_reload_signal() {
    let d = one("exampled");
    assert_eq!(svc(&d, "stop-signal").as_deref(), Some("TERM"));
    assert_eq!(svc(&d, "stop-timeout").as_deref(), Some("20s"));
    assert_eq!(svc(&d, "reload-signal").as_deref(), Some("USR1"));
}

#[test]
fn background_means_the_daemon_stays_in_the_foreground() {
    let d = one("bgonly");
    assert_eq!(svc(&d, "exec").as_deref(), Some("/usr/bin/bgonly -x"));
    assert_eq!(svc(&d, "type"), None);
    assert_eq!(svc(&d, "pidfile"), None);
    assert_eq!(d.enable_in, ["boot"]);
    assert!(d.notes.is_empty(), "{:?}", notes(&d));
}

#[test]
fn a_known_daemon_gets_its_foreground_flag() {
    let dir = std::env::temp_dir().join(format!("svc-lsb-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("init.d")).unwrap();
    let p = dir.join("init.d/ssh");
    std::fs::write(
        &p,
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: ssh\n### END INIT INFO\ncase $1 in\nstart) start-stop-daemon --start --pidfile /run/sshd.pid --exec /usr/sbin/sshd -- -p 2222 ;;\nreload) start-stop-daemon --stop --signal 1 --pidfile /run/sshd.pid ;;\nesac\n",
    )
    .unwrap();
    let d = import(&p);
    std::fs::remove_dir_all(&dir).unwrap();
    let d = d.unwrap().remove(0);
    assert_eq!(
        svc(&d, "exec").as_deref(),
        Some("/usr/sbin/sshd -p 2222 -D")
    );
    assert_eq!(svc(&d, "type"), None);
    assert_eq!(svc(&d, "reload-signal").as_deref(), Some("HUP"));
    assert!(d.remarks.iter().any(|r| r.contains("-D")));
}

#[test]
fn a_script_that_starts_no_daemon_is_refused() {
    let n = import(&fixture("clocksave.sh")).unwrap_err();
    assert_eq!(n.line, 11);
    assert!(n.why.contains("not a daemon; nothing written"), "{n}");
}

#[test]
fn a_case_in_a_function_is_followed_and_nested_arms_keep_start() {
    let dir = std::env::temp_dir().join(format!("svc-lsb-fn-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("init.d")).unwrap();
    let p = dir.join("init.d/clock");
    // Debian's hwclock.sh dispatches inside a function.
    std::fs::write(
        &p,
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: clock\n# Default-Start: S\n### END INIT INFO\n\
         clk() {\n  case \"$1\" in\n    start)\n      return 0\n      ;;\n    stop) /sbin/hwclock --systohc ;;\n  esac\n}\nclk \"$@\"\n",
    )
    .unwrap();
    let q = dir.join("init.d/nested");
    std::fs::write(
        &q,
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: nested\n### END INIT INFO\n\
         case \"$1\" in\n  start)\n    case \"$2\" in\n      fast) start-stop-daemon --start --background --exec /bin/n ;;\n    esac\n    ;;\nesac\n",
    )
    .unwrap();
    let clock = import(&p);
    let nested = import(&q);
    std::fs::remove_dir_all(&dir).unwrap();
    let n = clock.unwrap_err();
    assert_eq!(n.line, 9, "{n}");
    assert!(n.why.contains("not a daemon; nothing written"), "{n}");
    let d = nested.unwrap().remove(0);
    assert_eq!(svc(&d, "exec").as_deref(), Some("/bin/n"));
}

fn valid(d: &Draft) -> Result<(), String> {
    let text = d.render();
    let (_, diags) = libsvc::decl::parse(&d.name, Path::new("t.ini"), text.as_bytes(), None);
    match diags.into_iter().find(|x| x.is_error()) {
        Some(e) => Err(format!("{}\n{text}", e.message)),
        None => Ok(()),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Any header values, daemon, arguments, pid file and stop schedule:
    /// never a panic; whatever is imported is a valid declaration.
    #[test]
    fn any_lsb_script_imports_valid_or_is_refused(
        provides in "[ -~]{0,20}",
        required in "[ -~]{0,30}",
        levels in "[ -~]{0,10}",
        daemon in "[ -~]{0,20}",
        args in "[ -~]{0,30}",
        pidfile in "[ -~]{0,20}",
        retry in "[ -~]{0,16}",
        opts in proptest::sample::select(vec!["", "--background", "--chuid x:y", "--nicelevel", "-N 5", "--umask 77"]),
    ) {
        let clean = |s: &str| s.replace(['"', '\\', '$', '`', '\n'], "_");
        let text = format!(
            "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: {provides}\n# Required-Start: {required}\n# Default-Start: {levels}\n### END INIT INFO\nDAEMON=\"{}\"\nARGS=\"{}\"\nPIDFILE=\"{}\"\ncase \"$1\" in\n  start) start-stop-daemon --start {opts} --pidfile \"$PIDFILE\" --exec \"$DAEMON\" -- $ARGS ;;\n  stop) start-stop-daemon --stop --retry \"{}\" --pidfile \"$PIDFILE\" ;;\nesac\n",
            clean(&daemon), clean(&args), clean(&pidfile), clean(&retry)
        );
        let dir = std::env::temp_dir().join(format!(
            "svc-lsb-prop-{}-{:?}", std::process::id(), std::thread::current().id()));
        std::fs::create_dir_all(dir.join("init.d")).unwrap();
        let p = dir.join("init.d/prop");
        std::fs::write(&p, &text).unwrap();
        let r = import(&p);
        std::fs::remove_dir_all(&dir).unwrap();
        if let Ok(ds) = r {
            for d in ds {
                proptest::prop_assert!(valid(&d).is_ok(), "{}\n{:?}", text, valid(&d));
            }
        }
    }
}

#[test]
fn exported_variables_go_to_the_environment_but_not_path() {
    let d = one("exampled");
    assert_eq!(d.get(Section::Environment, "TZ"), Some("UTC"));
    let dir = std::env::temp_dir().join(format!("svc-lsb-path-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("init.d")).unwrap();
    let p = dir.join("init.d/p");
    std::fs::write(
        &p,
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: p\n### END INIT INFO\nexport PATH=/sbin:/bin\ncase $1 in\nstart) start-stop-daemon --start --background --exec /bin/p ;;\nesac\n",
    )
    .unwrap();
    let d = import(&p);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(d.unwrap()[0].get(Section::Environment, "PATH"), None);
}

#[test]
fn notify_await_becomes_sd_notify_and_user_only_matches() {
    let dir = std::env::temp_dir().join(format!("svc-lsb-notify-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("init.d")).unwrap();
    let p = dir.join("init.d/udevish");
    // Debian's udev script: --user only selects processes (--chuid changes
    // the user), --notify-await waits for READY=1.
    std::fs::write(
        &p,
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: udevish\n### END INIT INFO\ncase $1 in\nstart)\n  start-stop-daemon --start --name u --user daemon --quiet \\\n    --pidfile /run/u.pid --exec /bin/u --background --make-pidfile \\\n    --notify-await --notify-timeout 30 ;;\nesac\n",
    )
    .unwrap();
    let d = import(&p);
    std::fs::remove_dir_all(&dir).unwrap();
    let d = d.unwrap().remove(0);
    assert_eq!(svc(&d, "exec").as_deref(), Some("/bin/u"));
    assert_eq!(svc(&d, "ready").as_deref(), Some("sd-notify"));
    assert_eq!(svc(&d, "ready-timeout").as_deref(), Some("30s"));
    assert_eq!(svc(&d, "user"), None);
}

#[test]
fn an_empty_start_action_is_not_a_daemon() {
    let dir = std::env::temp_dir().join(format!("svc-lsb-empty-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("init.d")).unwrap();
    let p = dir.join("init.d/e");
    std::fs::write(
        &p,
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: e\n### END INIT INFO\ncase \"$1\" in\n  start)\n  ;;\n  stop) exit 0 ;;\nesac\nmodprobe x\n",
    )
    .unwrap();
    let n = import(&p);
    std::fs::remove_dir_all(&dir).unwrap();
    let n = n.unwrap_err();
    assert!(n.why.contains("not a daemon"), "{n}");
}

#[test]
fn latin1_in_comments_does_not_stop_the_import() {
    let dir = std::env::temp_dir().join(format!("svc-lsb-latin1-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("init.d")).unwrap();
    let p = dir.join("init.d/old");
    let mut text = b"#!/bin/sh\n# Author: J\xf6rg\n### BEGIN INIT INFO\n# Provides: old\n# Short-Description: caf\xe9 daemon\n### END INIT INFO\n".to_vec();
    text.extend_from_slice(
        b"case $1 in\nstart) start-stop-daemon --start --background --exec /bin/old ;;\nesac\n",
    );
    std::fs::write(&p, text).unwrap();
    let d = import(&p);
    std::fs::remove_dir_all(&dir).unwrap();
    let d = d.unwrap().remove(0);
    assert_eq!(svc(&d, "exec").as_deref(), Some("/bin/old"));
    assert_eq!(svc(&d, "description"), None);
    assert!(has_note(&d, "description = caf"), "{:?}", notes(&d));
    valid(&d).unwrap();
}

#[test]
fn suse_startproc_and_red_hat_daemon_start_the_daemon_too() {
    let dir = std::env::temp_dir().join(format!("svc-lsb-sp-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("init.d")).unwrap();
    let p = dir.join("init.d/sp");
    std::fs::write(
        &p,
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: sp\n### END INIT INFO\ncase \"$1\" in\n start) /sbin/startproc -u spuser -p /run/sp.pid /usr/sbin/spd -x ;;\nesac\n",
    )
    .unwrap();
    let q = dir.join("init.d/rh");
    std::fs::write(
        &q,
        "#!/bin/sh\n### BEGIN INIT INFO\n# Provides: rh\n### END INIT INFO\n. /etc/rc.d/init.d/functions\nstart() {\n  daemon --user=rhuser --pidfile /run/rh.pid +5 /usr/sbin/rhd -q\n}\ncase \"$1\" in\n start) start ;;\nesac\n",
    )
    .unwrap();
    let sp = import(&p);
    let rh = import(&q);
    std::fs::remove_dir_all(&dir).unwrap();
    let sp = sp.unwrap().remove(0);
    assert_eq!(svc(&sp, "exec").as_deref(), Some("/usr/sbin/spd -x"));
    assert_eq!(svc(&sp, "user").as_deref(), Some("spuser"));
    assert_eq!(svc(&sp, "pidfile").as_deref(), Some("/run/sp.pid"));
    let rh = rh.unwrap().remove(0);
    assert_eq!(svc(&rh, "exec").as_deref(), Some("/usr/sbin/rhd -q"));
    assert_eq!(svc(&rh, "user").as_deref(), Some("rhuser"));
    assert_eq!(svc(&rh, "nice").as_deref(), Some("5"));
    assert_eq!(svc(&rh, "type").as_deref(), Some("forking"));
    assert!(rh.notes.is_empty(), "{:?}", notes(&rh));
}
