//! Arbitrary bytes as a systemd unit (and as a drop-in of it): the parser
//! and the translation must never panic, and a draft they accept must be
//! a declaration libsvc reads without an error, for a plain unit, a
//! template and an instance alike. svcctl is a program, not a library, so
//! its importer's files are compiled here as they are.
#![no_main]
#![allow(dead_code)]

use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};

// systemd.rs names its sibling as `super::draft`: both at the root here.
#[path = "../../src/import/draft.rs"]
mod draft;
#[path = "../../src/import/systemd.rs"]
mod systemd;

fuzz_target!(|data: &[u8]| {
    let _ = systemd::unit::parse(data);
    let _ = systemd::unit::split_words(&String::from_utf8_lossy(data));
    // The same bytes once as the unit, once as a drop-in of a small unit.
    let split = data.len() / 2;
    for name in ["x.service", "t@.service", "t@i.service"] {
        let path = PathBuf::from(format!("/u/{name}"));
        let alone = vec![(path.clone(), data.to_vec())];
        let with_dropin = vec![
            (path.clone(), data[..split].to_vec()),
            (PathBuf::from(format!("/u/{name}.d/a.conf")), data[split..].to_vec()),
        ];
        for files in [alone, with_dropin] {
            if let Ok(d) = systemd::translate(&path, &files) {
                let text = d.render();
                let file = Path::new("/x").join(d.file_name());
                let mut set = libsvc::load::ServiceSet::default();
                set.add_bytes(&d.name, &file, text.as_bytes());
                set.instantiate_referenced();
                assert!(
                    !set.has_errors(),
                    "an accepted unit rendered an invalid declaration:\n{text}\n{:?}",
                    set.diagnostics
                );
            }
        }
    }
});
