use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runit")
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

fn notes(d: &Draft) -> Vec<String> {
    let base = fixture("");
    d.notes
        .iter()
        .map(|n| {
            let f = n
                .file
                .strip_prefix(&base)
                .unwrap_or(&n.file)
                .display()
                .to_string();
            format!("{f}:{}: {}", n.line, n.why)
        })
        .collect()
}

fn has_note(d: &Draft, needle: &str) -> bool {
    notes(d).iter().any(|n| n.contains(needle))
}

#[test]
fn a_service_directory_is_recognised() {
    assert!(looks_like(&fixture("webd"), b""));
    assert!(!looks_like(&fixture("webd/run"), b"#!/bin/sh\n"));
    assert!(!looks_like(&fixture("nonexistent"), b""));
}

#[test]
fn the_exec_line_through_chpst_becomes_exec_user_and_limits() {
    let d = one("webd");
    assert_eq!(d.name, "webd");
    // $PORT from the script, $WEBD_OPTS from ./conf (sourced).
    assert_eq!(
        svc(&d, "exec").as_deref(),
        Some("/usr/bin/webd --port 8080 --threads 4")
    );
    assert_eq!(svc(&d, "user").as_deref(), Some("www"));
    assert_eq!(svc(&d, "group").as_deref(), Some("www"));
    assert_eq!(svc(&d, "supplementary-groups").as_deref(), Some("adm"));
    assert_eq!(svc(&d, "limit-nofile").as_deref(), Some("1024"));
    for k in ["limit-data", "limit-stack", "limit-memlock", "limit-as"] {
        assert_eq!(svc(&d, k).as_deref(), Some("100000"), "{k}");
    }
    assert_eq!(svc(&d, "nice").as_deref(), Some("5"));
    assert_eq!(svc(&d, "runtime-directory").as_deref(), Some("webd"));
    assert_eq!(
        svc(&d, "working-directory"),
        Some(fixture("webd").display().to_string())
    );
    // chpst -e ./env
    assert_eq!(d.get(Section::Environment, "MODE"), Some("production"));
}

#[test]
fn check_becomes_ready_check() {
    let d = one("webd");
    assert_eq!(
        svc(&d, "ready"),
        Some(format!("check {}", fixture("webd/check").display()))
    );
}

#[test]
fn waits_conf_finish_log_and_control_are_noted() {
    let d = one("webd");
    assert!(
        has_note(&d, "webd/run:3: 'sv check postgres': runit waits"),
        "{:?}",
        notes(&d)
    );
    assert!(has_note(
        &d,
        "webd/run:5: . ./conf: its variables were read now"
    ));
    assert!(has_note(&d, "webd/finish:3: 'rm -f /run/webd/socket'"));
    assert!(!has_note(&d, "webd/finish:2"), "echo is not reported");
    assert!(has_note(&d, "webd/log/run:0: a log service: svc logs"));
    assert!(has_note(&d, "webd/control/t:0: a runsv control override"));
    assert_eq!(d.enable_in, ["default"]);
}

#[test]
fn a_down_file_leaves_it_disabled() {
    let d = one("quiet");
    assert!(d.enable_in.is_empty());
    assert_eq!(svc(&d, "exec").as_deref(), Some("/usr/bin/quietd -f"));
    assert!(d.notes.is_empty(), "{:?}", notes(&d));
}

#[test]
fn a_run_without_exec_or_in_another_language_is_refused() {
    let n = import(&fixture("noexec")).unwrap_err();
    assert!(n.why.contains("no exec line"), "{n}");
    let n = import(&fixture("execline")).unwrap_err();
    assert_eq!(n.line, 1);
    assert!(
        n.why.contains("'/bin/execlineb -P': only sh scripts"),
        "{n}"
    );
    let n = import(&fixture("webd/env")).unwrap_err();
    assert!(n.why.contains("no 'run' file"), "{n}");
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
    /// Any chpst options and command: never a panic; whatever is imported
    /// is a valid declaration.
    #[test]
    fn any_run_file_imports_valid_or_is_refused(
        chpst in proptest::collection::vec(
            (proptest::sample::select(vec!["-u", "-U", "-e", "-/", "-C", "-n", "-m", "-o", "-p", "-d", "-f", "-c", "-r", "-t", "-v", "-P", "-l", "-b", "-0", "-z"]),
             "[!-~]{0,12}"),
            0..5,
        ),
        cmd in "[ -~]{0,30}",
        check in proptest::bool::ANY,
        down in proptest::bool::ANY,
    ) {
        let clean = |s: &str| s.replace(['"', '\\', '$', '`', '\'', '\n'], "_");
        let mut line = String::from("exec chpst");
        for (o, v) in &chpst {
            line.push_str(&format!(" {o} '{}'", clean(v)));
        }
        line.push_str(&format!(" {} 2>&1", clean(&cmd)));
        let dir = std::env::temp_dir().join(format!(
            "svc-runit-prop-{}-{:?}", std::process::id(), std::thread::current().id()));
        let sv = dir.join("sv/prop");
        std::fs::create_dir_all(&sv).unwrap();
        std::fs::write(sv.join("run"), format!("#!/bin/sh\n{line}\n")).unwrap();
        if check {
            std::fs::write(sv.join("check"), "#!/bin/sh\ntrue\n").unwrap();
        }
        if down {
            std::fs::write(sv.join("down"), "").unwrap();
        }
        let r = import(&sv);
        std::fs::remove_dir_all(&dir).unwrap();
        if let Ok(ds) = r {
            for d in ds {
                proptest::prop_assert!(valid(&d).is_ok(), "{}\n{:?}", line, valid(&d));
            }
        }
    }
}

#[test]
fn chpst_u_with_only_a_group_sets_only_the_group() {
    let dir = std::env::temp_dir().join(format!("svc-runit-g-{}", std::process::id()));
    let sv = dir.join("g");
    std::fs::create_dir_all(&sv).unwrap();
    std::fs::write(sv.join("run"), "#!/bin/sh\nexec chpst -u :adm /bin/g\n").unwrap();
    let d = import(&sv);
    std::fs::remove_dir_all(&dir).unwrap();
    let d = d.unwrap().remove(0);
    assert_eq!(svc(&d, "user"), None);
    assert_eq!(svc(&d, "group").as_deref(), Some("adm"));
}

#[test]
fn exported_variables_go_to_the_environment() {
    assert_eq!(
        one("webd").get(Section::Environment, "LANG"),
        Some("C.UTF-8")
    );
}

#[test]
fn an_unreadable_sourced_file_makes_what_it_may_set_unknown() {
    let dir = std::env::temp_dir().join(format!("svc-runit-src-{}", std::process::id()));
    let sv = dir.join("pg");
    std::fs::create_dir_all(&sv).unwrap();
    std::fs::write(
        sv.join("run"),
        "#!/bin/sh\n. /nonexistent/pg.conf\n: ${PGDATA:=\"$PGROOT/data\"}\nexec chpst -u postgres /usr/bin/postgres -D \"$PGDATA\"\n",
    )
    .unwrap();
    let r = import(&sv);
    std::fs::remove_dir_all(&dir).unwrap();
    let n = r.unwrap_err();
    assert_eq!(n.line, 4, "{n}");
    assert!(n.why.contains("/nonexistent/pg.conf"), "{n}");
}
