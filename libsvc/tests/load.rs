//! Loading a set: layering, enablement, instances of templates.

mod common;

use common::{TempDir, messages};
use libsvc::graph::Graph;
use libsvc::load::{Layout, ServiceSet};

const SLEEP: &str = "[service]\nexec = /bin/sleep 1000\n";

#[test]
fn earlier_directory_wins() {
    let t = TempDir::new("layers");
    t.write(
        "etc/a.ini",
        "[service]\ndescription = from etc\nexec = /bin/true\n",
    );
    t.write(
        "lib/a.ini",
        "[service]\ndescription = from lib\nexec = /bin/true\n",
    );
    t.write("lib/b.ini", SLEEP);
    t.write("lib/README", "not a declaration, not read");
    let layout = Layout {
        services: vec![
            t.path().join("etc"),
            t.path().join("run-missing"),
            t.path().join("lib"),
        ],
        enabled: None,
    };
    let set = ServiceSet::load(&layout);
    assert!(set.diagnostics.is_empty(), "{:?}", set.diagnostics);
    assert_eq!(
        set.declarations["a"].description.as_deref(),
        Some("from etc")
    );
    assert!(set.declarations.contains_key("b"));
    assert_eq!(set.shadowed.len(), 1);
    assert_eq!(set.shadowed[0].1, t.path().join("lib/a.ini"));
}

#[test]
fn bad_file_names_and_directories_are_errors() {
    let t = TempDir::new("names");
    t.write("s/bad name.ini", SLEEP);
    t.write("s/a@b@c.ini", SLEEP);
    std::fs::create_dir_all(t.path().join("s/dir.ini")).unwrap();
    let set = ServiceSet::load(&Layout {
        services: vec![t.path().join("s")],
        enabled: None,
    });
    let m = messages(&set.diagnostics);
    assert_eq!(m.len(), 3, "{m:?}");
    assert!(m.iter().any(|x| {
        x.contains("a@b@c.ini: bad file name: 'a@b@c' is not a valid name: at most one '@'")
    }));
    assert!(m.iter().any(|x| x.contains("bad name.ini: bad file name")));
    assert!(
        m.iter()
            .any(|x| x.ends_with("dir.ini: not a regular file (directory)"))
    );
    assert!(set.has_errors());
}

#[test]
fn enablement_and_instances() {
    let t = TempDir::new("enable");
    t.write("s/default.ini", "[target]\n");
    t.write(
        "s/multi.ini",
        "[target]\n[dependencies]\nwants = user@alice\n",
    );
    t.write(
        "s/getty@.ini",
        "[service]\nexec = /sbin/getty 38400 /dev/%i\n[dependencies]\nrequires = log@%i\n",
    );
    t.write("s/log@.ini", "[service]\nexec = /bin/logger -t %i\n");
    t.write(
        "s/user@.ini",
        "[service]\nexec = /usr/bin/svc-manager --user\nuser = %i\n",
    );
    t.write("s/nginx.ini", SLEEP);
    t.write("e/default/getty@tty1", "");
    std::os::unix::fs::symlink(
        t.path().join("s/nginx.ini"),
        t.path().join("e/default/nginx"),
    )
    .unwrap();
    t.write("e/default/crond", "not empty");
    t.write("e/nosuchtarget/nginx", "");
    let set = ServiceSet::load(&Layout {
        services: vec![t.path().join("s")],
        enabled: Some(t.path().join("e")),
    });
    assert!(!set.has_errors(), "{:?}", set.diagnostics);
    // getty@tty1 from enablement, log@tty1 from its requires, user@alice from a wants.
    for name in ["getty@tty1", "log@tty1", "user@alice"] {
        let d = &set.declarations[name];
        assert!(d.template().is_some(), "{name}");
    }
    assert_eq!(
        set.declarations["log@tty1"]
            .service()
            .unwrap()
            .exec
            .to_vec(),
        ["/bin/logger", "-t", "tty1"]
    );
    assert!(!set.declarations.contains_key("getty@"));
    assert_eq!(set.enabled_in("nginx"), ["default", "nosuchtarget"]);
    assert_eq!(set.enabled_in("getty@tty1"), ["default"]);
    // The non-empty enablement file is a warning.
    assert!(
        messages(&set.diagnostics)
            .iter()
            .any(|m| m.contains("crond: warning: enablement entries are empty files or symlinks"))
    );
    let (g, diags) = Graph::build(&set);
    let m = messages(&diags);
    assert!(
        m.iter()
            .any(|x| x.contains("nosuchtarget/nginx: warning: no target named 'nosuchtarget'")),
        "{m:?}"
    );
    assert!(
        m.iter().any(|x| x.contains(
            "crond: warning: enabled in 'default', but there is no declaration named 'crond'"
        )),
        "{m:?}"
    );
    assert!(!diags.iter().any(|d| d.is_error()));
    let plan = g.start_plan(&["default"]).unwrap();
    let mut members = plan.members().to_vec();
    members.sort();
    assert_eq!(members, ["default", "getty@tty1", "log@tty1", "nginx"]);
}

#[test]
fn instance_file_overrides_template_and_broken_template_is_reported_once() {
    let t = TempDir::new("inst");
    t.write("s/getty@.ini", "[service]\nexec = /sbin/getty %i\n");
    t.write(
        "s/getty@tty9.ini",
        "[service]\ndescription = special\nexec = /bin/special\n",
    );
    t.write("s/bad@.ini", "[service]\nexec = /bin/x %q\n");
    t.write(
        "s/t.ini",
        "[target]\n[dependencies]\nwants = getty@tty9 bad@one bad@two\n",
    );
    let set = ServiceSet::load(&Layout {
        services: vec![t.path().join("s")],
        enabled: None,
    });
    assert_eq!(
        set.declarations["getty@tty9"].description.as_deref(),
        Some("special")
    );
    let errors: Vec<_> = set.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .to_string()
            .contains("bad@.ini:2: in 'exec': '%q' is not allowed")
    );
    // References to a broken template's instances are not reported again.
    let (_, diags) = Graph::build(&set);
    assert!(diags.is_empty(), "{diags:?}");
}

#[test]
fn load_files_checks_only_those() {
    let t = TempDir::new("files");
    let a = t.write("a.ini", "[service]\nexce = x\n");
    let b = t.write("b.ini", SLEEP);
    let c = t.write("notini.conf", SLEEP);
    let set = ServiceSet::load_files(&[a.clone(), b, c.clone(), t.path().join("missing.ini")]);
    let m = messages(&set.diagnostics);
    assert_eq!(m.len(), 4, "{m:?}");
    assert!(m[0].starts_with(&format!("{}:", a.display())));
    assert!(
        m.iter()
            .any(|x| x == &format!("{}: file name does not end in '.ini'", c.display()))
    );
    assert!(
        m.iter()
            .any(|x| x.ends_with("missing.ini: no such file or directory"))
    );
    assert!(set.declarations.contains_key("b"));
}

#[test]
fn user_layout_reads_xdg() {
    let t = TempDir::new("xdg");
    let cfg = t.path().join("cfg");
    t.write("cfg/svc/services.d/mine.ini", SLEEP);
    t.write("cfg/svc/enabled/default/mine", "");
    let paths = libsvc::Paths::user(|k| match k {
        "XDG_CONFIG_HOME" => Some(cfg.clone()),
        "HOME" => Some("/nonexistent".into()),
        "XDG_RUNTIME_DIR" => Some("/run/user/1000".into()),
        _ => None,
    })
    .unwrap();
    let set = ServiceSet::load(&Layout::from(&paths));
    assert!(set.declarations.contains_key("mine"));
    assert_eq!(set.enabled_in("mine"), ["default"]);
}

#[test]
fn user_layout_needs_no_runtime_dir() {
    let layout = Layout::user(|k| match k {
        "HOME" => Some("/home/a".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(
        layout.services,
        [std::path::PathBuf::from("/home/a/.config/svc/services.d")]
    );
    assert_eq!(layout.enabled, Some("/home/a/.config/svc/enabled".into()));
    assert!(Layout::user(|_| None).is_err());
}

#[test]
fn hostile_enablement_entries() {
    let t = TempDir::new("hostile");
    t.write("s/default.ini", "[target]\n");
    t.write("s/a.ini", SLEEP);
    std::fs::create_dir_all(t.path().join("e/default/a-dir")).unwrap();
    t.write("e/default/bad name", "");
    t.write("e/default/getty@", "");
    t.write("e/not-a-dir", "");
    t.write("e/default/a", "");
    let set = ServiceSet::load(&Layout {
        services: vec![t.path().join("s")],
        enabled: Some(t.path().join("e")),
    });
    let m = messages(&set.diagnostics);
    assert_eq!(m.len(), 4, "{m:?}");
    assert!(
        m[0].ends_with("a-dir: expected an empty file or a symlink (enabled/TARGET/NAME)"),
        "{m:?}"
    );
    assert!(
        m[1].contains("bad name: 'bad name' is not a valid name"),
        "{m:?}"
    );
    assert!(m[2].contains("getty@: 'getty@' is a template"), "{m:?}");
    assert!(
        m[3].ends_with(
            "not-a-dir: expected a directory named after a target (enabled/TARGET/NAME)"
        ),
        "{m:?}"
    );
    assert_eq!(set.enabled_in("a"), ["default"]);
    // A file where the enablement directory should be.
    let set = ServiceSet::load(&Layout {
        services: vec![t.path().join("s")],
        enabled: Some(t.path().join("s/a.ini")),
    });
    assert!(
        messages(&set.diagnostics)[0].contains("cannot read enablement directory: not a directory")
    );
}

/// A directory large enough to be read and parsed on several threads gives
/// exactly what reading the same files one by one gives: the same
/// declarations, templates, broken files and diagnostics, in the same order.
#[test]
fn many_files_load_the_same_as_one_by_one() {
    let t = TempDir::new("many");
    let mut paths = Vec::new();
    for i in 0..700 {
        let body = match i % 7 {
            0 => "[service]\nexce = typo\n".to_owned(),
            1 => format!(
                "[service]\nexec = /bin/sleep {i}\n[dependencies]\nrequires = s{:04}\n",
                i - 1
            ),
            _ => format!("[service]\ndescription = number {i}\nexec = /bin/true\n"),
        };
        paths.push(t.write(&format!("d/s{i:04}.ini"), body));
    }
    paths.push(t.write("d/tpl@.ini", "[service]\nexec = /bin/echo %i\n"));
    paths.push(t.write("d/bad@.ini", "[service]\nexec =\n"));
    paths.sort();
    let layout = Layout {
        services: vec![t.path().join("d")],
        enabled: None,
    };
    let together = ServiceSet::load(&layout);
    let one_by_one = ServiceSet::load_files(&paths);
    assert_eq!(together.declarations.len(), 600);
    assert_eq!(
        together.declarations.keys().collect::<Vec<_>>(),
        one_by_one.declarations.keys().collect::<Vec<_>>()
    );
    for (name, d) in &together.declarations {
        assert_eq!(d.description, one_by_one.declarations[name].description);
    }
    assert_eq!(
        together.templates.keys().collect::<Vec<_>>(),
        one_by_one.templates.keys().collect::<Vec<_>>()
    );
    assert_eq!(together.broken, one_by_one.broken);
    assert_eq!(
        messages(&together.diagnostics),
        messages(&one_by_one.diagnostics)
    );
    // Two for each of the 100 files with a typo, one for the bad template.
    assert_eq!(together.diagnostics.len(), 201);
}
