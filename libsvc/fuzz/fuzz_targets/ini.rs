//! Arbitrary bytes as a declaration file: the parser must report errors,
//! never panic, and a declaration it accepts must go through the graph
//! and a start plan.
#![no_main]

use libfuzzer_sys::fuzz_target;
use libsvc::decl;
use libsvc::graph::Graph;
use libsvc::load::ServiceSet;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.ini");
    let (plain, diags) = decl::parse("fuzz", path, data, None);
    for d in &diags {
        let _ = d.to_string();
    }
    let _ = decl::parse("fuzz@x", Path::new("fuzz@.ini"), data, Some("x"));
    let _ = decl::parse_template("fuzz@", Path::new("fuzz@.ini"), data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = libsvc::cmdline::split(text);
        let _ = libsvc::units::parse_duration(text);
        let _ = libsvc::units::parse_size(text);
        let _ = libsvc::units::parse_cgroup_size(text);
        let _ = libsvc::units::parse_cpu_max(text);
        let _ = libsvc::units::parse_pids_max(text);
        let _ = libsvc::units::parse_weight(text);
        let _ = libsvc::signal::parse_signal(text);
    }
    if plain.is_some() {
        let mut set = ServiceSet::default();
        set.add_bytes("fuzz", path, data);
        set.add_bytes("fuzz@", Path::new("fuzz@.ini"), data);
        set.instantiate_referenced();
        let (graph, _) = Graph::build(&set);
        if let Ok(mut plan) = graph.start_plan(&["fuzz"]) {
            let mut pending = plan.begin().start;
            while let Some(name) = pending.pop() {
                if let Ok(step) = plan.failed(&name) {
                    pending.extend(step.start);
                }
            }
        }
    }
});
