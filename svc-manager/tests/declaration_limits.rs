//! Limits a declaration meets only when its service starts: the `declare`
//! request over the supervisor's 1 MiB message limit, and a supervisor
//! socket path over 107 bytes. The start fails with an error naming the
//! service and the limit, to the client and in the log.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use libnv::NvList;

/// An `exec` over 1 MiB, from lines that each stay under the 64 KiB limit.
fn huge_exec() -> String {
    let mut text = String::from("[service]\nexec = /bin/echo \\\n");
    for _ in 0..20 {
        text.push_str(&"x".repeat(60_000));
        text.push_str(" \\\n");
    }
    text.push_str("end\n");
    text
}

fn reason(reply: &NvList, name: &str) -> String {
    reply
        .get_nvlist_array("services")
        .unwrap_or(&[])
        .iter()
        .find(|s| s.get_str("name") == Some(name))
        .and_then(|s| s.get_str("reason"))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn start_names_the_limit_a_declaration_exceeds() {
    let t = Tree::new("declaration-limits");
    t.write_service("web", &huge_exec());
    t.write_service("ok", "[service]\nexec = /bin/sleep 1000\n");
    // RUNTIME/supervise/NAME.sock with RUNTIME = the tree's run/.
    let room = 107 - t.path("run/supervise/").as_os_str().len() - ".sock".len();
    let long = "l".repeat(room + 1);
    t.write_service(&long, "[service]\nexec = /bin/sleep 1000\n");
    let log = t.path("manager.log");
    let m = Manager::start_with(&t, &[], |cmd| {
        cmd.stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
    });
    let mut c = m.client();

    let r = c.simple("start", &["web"]);
    assert_eq!(r.get_bool("ok"), Some(false), "{r:?}");
    let why = reason(&r, "web");
    assert!(
        why.starts_with("declaration is ")
            && why.ends_with(" bytes packed, over the 1048576-byte message limit of svc-supervise"),
        "{why}"
    );
    let r = c.simple("start", &[&long]);
    assert_eq!(r.get_bool("ok"), Some(false), "{r:?}");
    let why = reason(&r, &long);
    let socket = t.path(&format!("run/supervise/{long}.sock"));
    assert_eq!(
        why,
        format!(
            "supervisor socket path {} is 108 bytes, over the 107-byte limit of a unix socket address",
            socket.display()
        )
    );
    // The log names the service with each.
    wait_for(Duration::from_secs(10), "both errors in the log", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.contains("web: cannot start: declaration is ")
            && text.contains(&format!("{long}: cannot start: supervisor socket path"))
    });
    // Others still start.
    assert_eq!(c.simple("start", &["ok"]).get_bool("ok"), Some(true));
    assert_eq!(c.state("ok"), "ready");
}
