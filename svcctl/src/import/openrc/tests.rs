use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openrc/init.d")
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

/// The notes as `LINE: WHY` for the script itself.
fn notes(d: &Draft) -> Vec<String> {
    d.notes
        .iter()
        .map(|n| {
            let f = n.file.file_name().unwrap().to_string_lossy();
            let dir = n
                .file
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy();
            format!("{dir}/{f}:{}: {}", n.line, n.why)
        })
        .collect()
}

fn has_note(d: &Draft, needle: &str) -> bool {
    notes(d).iter().any(|n| n.contains(needle))
}

#[test]
fn shebangs_are_recognised() {
    let p = Path::new("/etc/init.d/x");
    assert!(looks_like(p, b"#!/sbin/openrc-run\n"));
    assert!(looks_like(p, b"#!/usr/sbin/openrc-run\ndescription=x\n"));
    assert!(looks_like(p, b"#!/sbin/runscript\n"));
    assert!(!looks_like(p, b"#!/bin/sh\n### BEGIN INIT INFO\n"));
    assert!(!looks_like(p, b"[Unit]\n"));
}

#[test]
fn supervise_daemon_script_keeps_the_daemon_in_the_foreground() {
    let d = one("webapp");
    // command_args expanded from conf.d (quotes in the value kept), then
    // command_args_foreground; no pid file.
    assert_eq!(
        svc(&d, "exec").as_deref(),
        Some("/usr/bin/webapp --port 9090 --workers 4 --title 'my app' --no-daemon")
    );
    assert_eq!(svc(&d, "type"), None);
    assert_eq!(svc(&d, "pidfile"), None);
    assert_eq!(
        svc(&d, "description").as_deref(),
        Some("example web application")
    );
    assert!(d.remarks.iter().any(|r| r.contains("supervise-daemon")));
    assert!(d.sources.iter().any(|s| s.ends_with("conf.d/webapp")));
}

#[test]
fn credentials_directories_and_umask() {
    let d = one("webapp");
    assert_eq!(svc(&d, "user").as_deref(), Some("webapp"));
    assert_eq!(svc(&d, "group").as_deref(), Some("www"));
    assert_eq!(
        svc(&d, "working-directory").as_deref(),
        Some("/var/lib/webapp")
    );
    assert_eq!(svc(&d, "root-directory").as_deref(), Some("/srv/jail"));
    assert_eq!(svc(&d, "umask").as_deref(), Some("027"));
    // checkpath -d /run/webapp in start_pre.
    assert_eq!(svc(&d, "runtime-directory").as_deref(), Some("webapp"));
}

#[test]
fn respawn_retry_and_ulimit() {
    let d = one("webapp");
    assert_eq!(svc(&d, "restart-delay").as_deref(), Some("3s"));
    assert_eq!(svc(&d, "restart-limit").as_deref(), Some("5"));
    assert_eq!(svc(&d, "stop-signal").as_deref(), Some("TERM"));
    assert_eq!(svc(&d, "stop-timeout").as_deref(), Some("30s"));
    assert_eq!(svc(&d, "limit-nofile").as_deref(), Some("4096"));
    assert_eq!(svc(&d, "limit-core").as_deref(), Some("infinity"));
    assert!(has_note(&d, "init.d/webapp:19: respawn_period=60"));
}

#[test]
fn logs_capabilities_and_extra_commands_are_noted() {
    let d = one("webapp");
    assert!(has_note(
        &d,
        "init.d/webapp:15: output_log=/var/log/webapp.out: svc logs"
    ));
    assert!(has_note(&d, "init.d/webapp:16: error_log="));
    assert!(has_note(
        &d,
        "init.d/webapp:21: capabilities=^cap_net_bind_service: svc has no capability keys"
    ));
    assert!(has_note(&d, "init.d/webapp:22: extra_commands=checkconfig"));
    assert!(has_note(
        &d,
        "init.d/webapp:23: extra_started_commands=flush"
    ));
    assert!(has_note(
        &d,
        "init.d/webapp:42: checkconfig(): '${command} --check-config'"
    ));
    assert!(has_note(
        &d,
        "init.d/webapp:37: start_pre(): '${command} --check-config'"
    ));
    // Printing helpers are not reported.
    assert!(!has_note(&d, "ebegin"));
}

#[test]
fn depend_maps_onto_svc_names() {
    let d = one("webapp");
    assert_eq!(
        dep(&d, "requires").as_deref(),
        Some("networking localmount postgresql")
    );
    assert_eq!(dep(&d, "wants").as_deref(), Some("syslog dns cache"));
    assert_eq!(
        dep(&d, "after").as_deref(),
        Some("syslog dns bootmisc memcached")
    );
    assert_eq!(dep(&d, "before").as_deref(), Some("proxy"));
    assert_eq!(dep(&d, "provides").as_deref(), Some("http-server"));
    assert!(has_note(
        &d,
        "init.d/webapp:29: after *: svc orders only by named services"
    ));
    assert!(has_note(&d, "init.d/webapp:32: keyword -docker"));
    assert_eq!(d.enable_in, ["default"]);
}

#[test]
fn reload_signal_comes_from_the_reload_function() {
    assert_eq!(
        svc(&one("webapp"), "reload-signal").as_deref(),
        Some("USR1")
    );
}

#[test]
fn command_background_runs_in_the_foreground_without_pidfile() {
    let d = one("bgdaemon");
    assert_eq!(svc(&d, "exec").as_deref(), Some("/usr/sbin/bgdaemon -v"));
    assert_eq!(svc(&d, "pidfile"), None);
    assert_eq!(svc(&d, "type"), None);
    assert_eq!(svc(&d, "stop-signal").as_deref(), Some("INT"));
    assert_eq!(svc(&d, "no-new-privileges").as_deref(), Some("yes"));
    assert_eq!(dep(&d, "after").as_deref(), Some("syslog"));
    assert!(d.notes.is_empty(), "{:?}", notes(&d));
    assert!(d.enable_in.is_empty());
}

#[test]
fn a_daemon_that_forks_with_a_pidfile_is_forking() {
    let d = one("forker");
    assert_eq!(svc(&d, "type").as_deref(), Some("forking"));
    assert_eq!(svc(&d, "pidfile").as_deref(), Some("/var/run/forker.pid"));
    assert_eq!(svc(&d, "stop-timeout").as_deref(), Some("20s"));
    assert_eq!(dep(&d, "before").as_deref(), Some("networking"));
    assert!(has_note(
        &d,
        "init.d/forker:7: required_files=/etc/forker.conf"
    ));
    assert_eq!(d.enable_in, ["boot"]);
}

#[test]
fn a_daemon_that_forks_without_pidfile_is_noted() {
    let d = one("nopidfile");
    assert_eq!(svc(&d, "exec").as_deref(), Some("/usr/sbin/nopidd"));
    assert!(has_note(&d, "init.d/nopidfile:3: the daemon forks"));
}

#[test]
fn command_args_background_is_left_out() {
    let d = one("fgbg");
    assert_eq!(svc(&d, "exec").as_deref(), Some("/usr/bin/fgbg -q"));
    assert_eq!(svc(&d, "type"), None);
    assert_eq!(svc(&d, "nice").as_deref(), Some("5"));
    assert_eq!(svc(&d, "umask").as_deref(), Some("077"));
}

#[test]
fn a_start_of_one_start_stop_daemon_call_is_imported() {
    let d = one("plainstart");
    assert_eq!(
        svc(&d, "exec").as_deref(),
        Some("/usr/bin/plainstart --verbose")
    );
    assert_eq!(svc(&d, "pidfile"), None);
    assert_eq!(svc(&d, "user").as_deref(), Some("nobody"));
    assert_eq!(svc(&d, "group").as_deref(), Some("nogroup"));
    assert_eq!(svc(&d, "working-directory").as_deref(), Some("/tmp"));
    // stop(): start-stop-daemon --stop --retry QUIT/10.
    assert_eq!(svc(&d, "stop-signal").as_deref(), Some("QUIT"));
    assert_eq!(svc(&d, "stop-timeout").as_deref(), Some("10s"));
    assert!(d.notes.is_empty(), "{:?}", notes(&d));
}

#[test]
fn a_start_that_does_more_is_refused_naming_the_line() {
    let n = import(&fixture("customstart")).unwrap_err();
    assert_eq!(n.line, 5);
    assert!(
        n.why.contains("start() (line 3) runs 'modprobe -q dummy'"),
        "{n}"
    );
    assert!(n.why.contains("nothing written"), "{n}");
}

#[test]
fn a_script_without_command_or_start_is_refused() {
    let n = import(&fixture("nostart")).unwrap_err();
    assert!(n.why.contains("neither 'command' nor start()"), "{n}");
}

#[test]
fn a_multiplexed_script_becomes_a_template() {
    let d = one("tty");
    assert_eq!(d.name, "tty@");
    assert_eq!(svc(&d, "exec").as_deref(), Some("/sbin/getty 38400 %i"));
    assert_eq!(dep(&d, "provides").as_deref(), Some("console-login"));
}

#[test]
fn not_an_openrc_script_is_refused() {
    let dir = std::env::temp_dir().join(format!("svc-openrc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("plain");
    std::fs::write(&p, "#!/bin/sh\nexec /sbin/openrc default\n").unwrap();
    let n = import(&p).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(n.why.contains("not an openrc-run script"), "{n}");
    let n = import(Path::new("/nonexistent/init.d/x")).unwrap_err();
    assert!(n.why.contains("cannot read"), "{n}");
}

#[test]
fn unknown_values_are_noted_not_guessed() {
    let dir = std::env::temp_dir().join(format!("svc-openrc-u-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("init.d")).unwrap();
    let p = dir.join("init.d/u");
    std::fs::write(
        &p,
        "#!/sbin/openrc-run\ncommand=/bin/u\ncommand_background=yes\ncommand_args=\"$(cat /etc/u.args)\"\n",
    )
    .unwrap();
    let d = import(&p);
    std::fs::remove_dir_all(&dir).unwrap();
    let d = d.unwrap().remove(0);
    assert!(
        has_note(
            &d,
            "init.d/u:4: command_args: its value depends on command substitution"
        ),
        "{:?}",
        notes(&d)
    );
}

/// Whether libsvc accepts the rendered draft on its own.
fn valid(d: &Draft) -> Result<(), String> {
    let (name, instance) = if d.name.ends_with('@') {
        (format!("{}x", d.name), Some("x"))
    } else {
        (d.name.clone(), None)
    };
    let text = d.render();
    let (_, diags) = libsvc::decl::parse(&name, Path::new("t.ini"), text.as_bytes(), instance);
    match diags.into_iter().find(|x| x.is_error()) {
        Some(e) => Err(format!("{}\n{text}", e.message)),
        None => Ok(()),
    }
}

#[test]
fn bad_values_are_left_out_with_a_note_and_the_rest_is_valid() {
    let dir = std::env::temp_dir().join(format!("svc-openrc-bad-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("init.d")).unwrap();
    let p = dir.join("init.d/bad");
    std::fs::write(
        &p,
        "#!/sbin/openrc-run\ncommand=/bin/x\ncommand_background=yes\numask=99z\ndirectory=relative/dir\nrespawn_max=-3\ndepend() {\n  need good 'bad:name'\n}\n",
    )
    .unwrap();
    let d = import(&p);
    std::fs::remove_dir_all(&dir).unwrap();
    let d = d.unwrap().remove(0);
    valid(&d).unwrap();
    assert_eq!(svc(&d, "umask"), None);
    assert_eq!(svc(&d, "working-directory"), None);
    assert_eq!(dep(&d, "requires").as_deref(), Some("good"));
    assert!(
        has_note(&d, "umask = 99z: not valid in svc"),
        "{:?}",
        notes(&d)
    );
    assert!(
        has_note(&d, "working-directory = relative/dir: not valid in svc"),
        "{:?}",
        notes(&d)
    );
    assert!(
        has_note(&d, "requires = bad:name: not valid in svc"),
        "{:?}",
        notes(&d)
    );
    assert!(
        has_note(&d, "respawn_max=-3: not a number"),
        "{:?}",
        notes(&d)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Any mix of the documented variables, any values: never a panic, and
    /// whatever is imported is a valid declaration.
    #[test]
    fn any_script_imports_valid_or_is_refused(
        vars in proptest::collection::vec(
            (proptest::sample::select(vec![
                "command", "command_args", "command_args_foreground", "command_user",
                "command_background", "pidfile", "directory", "chroot", "umask",
                "output_log", "error_log", "supervisor", "respawn_delay", "respawn_max",
                "retry", "rc_ulimit", "capabilities", "extra_commands", "stopsig",
                "description", "start_stop_daemon_args", "no_new_privs",
            ]), "[ -~]{0,24}"),
            0..12,
        ),
        deps in proptest::collection::vec(
            (proptest::sample::select(vec!["need", "use", "want", "after", "before", "provide"]),
             "[ -~]{0,16}"),
            0..5,
        ),
    ) {
        let dir = std::env::temp_dir().join(format!(
            "svc-openrc-prop-{}-{:?}", std::process::id(), std::thread::current().id()));
        std::fs::create_dir_all(dir.join("init.d")).unwrap();
        let p = dir.join("init.d/prop");
        let mut text = String::from("#!/sbin/openrc-run\n");
        for (k, v) in &vars {
            text.push_str(&format!("{k}=\"{}\"\n", v.replace(['"', '\\', '$', '`'], "_")));
        }
        text.push_str("depend() {\n");
        for (k, v) in &deps {
            text.push_str(&format!("  {k} {v}\n"));
        }
        text.push_str("}\n");
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
fn supervisor_s6_is_noted_and_the_command_kept_in_the_foreground() {
    let d = one("s6svc");
    assert_eq!(
        svc(&d, "exec").as_deref(),
        Some("/usr/bin/s6svc --foreground")
    );
    assert!(
        has_note(
            &d,
            "init.d/s6svc:3: supervisor=s6: s6 runs /var/svc.d/s6svc/run"
        ),
        "{:?}",
        notes(&d)
    );
}

#[test]
fn exported_variables_go_to_the_environment() {
    let d = one("webapp");
    assert_eq!(
        d.get(Section::Environment, "WEBAPP_HOME"),
        Some("/var/lib/webapp")
    );
}

#[test]
fn conditional_dependencies_are_noted_not_added_and_tests_are_not_reported() {
    let dir = std::env::temp_dir().join(format!("svc-openrc-cd-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("init.d")).unwrap();
    let p = dir.join("init.d/cd");
    std::fs::write(
        &p,
        "#!/sbin/openrc-run\ncommand=/bin/cd\ncommand_background=yes\ndepend() {\n\tuse logger\n\tif [ -n \"$x\" ]; then\n\t\tneed net\n\t\tewarn \"bound to an address\"\n\tfi\n\tlocal y\n}\ncheckconfig() {\n\tif [ ! -d /var/empty ]; then\n\t\tmkdir -p /var/empty || return 1\n\tfi\n}\n",
    )
    .unwrap();
    let d = import(&p);
    std::fs::remove_dir_all(&dir).unwrap();
    let d = d.unwrap().remove(0);
    assert_eq!(dep(&d, "requires"), None);
    assert_eq!(dep(&d, "wants").as_deref(), Some("syslog"));
    let n = notes(&d);
    assert!(
        has_note(&d, "init.d/cd:7: need net: only under a condition"),
        "{n:?}"
    );
    assert!(
        has_note(&d, "init.d/cd:14: checkconfig(): 'mkdir -p /var/empty'"),
        "{n:?}"
    );
    assert_eq!(n.len(), 2, "{n:?}");
}

#[test]
fn a_sourced_file_is_read_under_the_tree_or_makes_values_unknown() {
    let dir = std::env::temp_dir().join(format!("svc-openrc-src-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("etc/init.d")).unwrap();
    std::fs::create_dir_all(dir.join("etc/x")).unwrap();
    std::fs::write(dir.join("etc/x/vars"), "XOPTS=\"-v\"\n").unwrap();
    let p = dir.join("etc/init.d/s");
    std::fs::write(
        &p,
        "#!/sbin/openrc-run\n. /etc/x/vars\ncommand=/bin/s\ncommand_args=\"$XOPTS\"\ncommand_background=yes\n",
    )
    .unwrap();
    let q = dir.join("etc/init.d/t");
    std::fs::write(
        &q,
        "#!/sbin/openrc-run\n. /etc/x/missing\ncommand=/bin/t\ncommand_args=\"$TOPTS\"\ncommand_background=yes\n",
    )
    .unwrap();
    let s = import(&p);
    let t = import(&q);
    std::fs::remove_dir_all(&dir).unwrap();
    let s = s.unwrap().remove(0);
    assert_eq!(svc(&s, "exec").as_deref(), Some("/bin/s -v"));
    let t = t.unwrap().remove(0);
    assert!(
        has_note(&t, "init.d/t:2: . /etc/x/missing: not read"),
        "{:?}",
        notes(&t)
    );
    assert!(
        has_note(&t, "init.d/t:4: command_args: its value depends on $TOPTS"),
        "{:?}",
        notes(&t)
    );
}

#[test]
fn a_command_only_a_run_would_know_is_refused_naming_it() {
    let dir = std::env::temp_dir().join(format!("svc-openrc-uc-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("init.d")).unwrap();
    let p = dir.join("init.d/uc");
    std::fs::write(&p, "#!/sbin/openrc-run\ncommand=$(command -v foo)\n").unwrap();
    let n = import(&p);
    std::fs::remove_dir_all(&dir).unwrap();
    let n = n.unwrap_err();
    assert_eq!(n.line, 2, "{n}");
    assert!(
        n.why
            .starts_with("command: its value depends on command substitution"),
        "{n}"
    );
}
