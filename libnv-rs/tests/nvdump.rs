//! The nvdump binary against the test vectors.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn vectors(sub: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(sub);
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    v.sort();
    v
}

fn nvdump(args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nvdump"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(data) = stdin {
        input.write_all(data).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

#[test]
fn dumps_every_valid_vector_as_its_json() {
    for bin in vectors("valid") {
        let out = nvdump(&[bin.to_str().unwrap()], None);
        assert!(
            out.status.success(),
            "{bin:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let want: serde_json::Value =
            serde_json::from_slice(&std::fs::read(bin.with_extension("json")).unwrap()).unwrap();
        assert_eq!(got, want["root"], "{bin:?}");
    }
}

#[test]
fn output_keeps_the_vector_key_order() {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/valid/binary_small.bin");
    let bytes = std::fs::read(&bin).unwrap();
    let out = nvdump(&["-"], Some(&bytes));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("{\n  \"flags\": 0,\n  \"pairs\": [\n    {\n      \"name\": "),
        "{text}"
    );
    let order = [
        "\"name\"",
        "\"type\"",
        "\"type_code\"",
        "\"size\"",
        "\"value\"",
    ];
    let pos: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn encodes_every_valid_vector_back_to_its_bytes() {
    for bin in vectors("valid") {
        let json = bin.with_extension("json");
        let big = bin
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("be_");
        let mut args = vec!["--encode"];
        if big {
            args.push("--big-endian");
        }
        args.push(json.to_str().unwrap());
        let out = nvdump(&args, None);
        assert!(
            out.status.success(),
            "{json:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, std::fs::read(&bin).unwrap(), "{json:?}");
    }
}

#[test]
fn invalid_input_is_one_line_with_an_offset_and_exit_1() {
    for bin in vectors("invalid") {
        let out = nvdump(&[bin.to_str().unwrap()], None);
        let name = bin.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "flags_argument_mismatch" {
            // nvdump accepts any top-level flags.
            assert!(out.status.success());
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains("offset"), "{name}: {err}");
        assert!(out.stdout.is_empty());
    }
    let out = nvdump(&["--encode", "-"], Some(b"{\"flags\": 0, \"pairs\": [{\"name\": \"x\", \"type\": \"BINARY\", \"value\": \"\"}]}"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 1);
    let out = nvdump(&["/nonexistent/file"], None);
    assert_eq!(out.status.code(), Some(1));
}

/// A list nested `depth` levels below the top one; with `arrays`, every
/// other level is an NVLIST_ARRAY of one element instead of an NVLIST.
fn nested(depth: usize, arrays: bool) -> libnv::NvList {
    let mut inner = libnv::NvList::new();
    inner.add_number("leaf", depth as u64).unwrap();
    for level in (0..depth).rev() {
        let mut outer = libnv::NvList::new();
        outer.add_number("level", level as u64).unwrap();
        if arrays && level % 2 == 1 {
            outer.add_nvlist_array("down", vec![inner]).unwrap();
        } else {
            outer.add_nvlist("down", inner).unwrap();
        }
        inner = outer;
    }
    inner
}

fn packed(list: &libnv::NvList) -> Vec<u8> {
    let mut out = Vec::new();
    list.pack_with_fds(&mut out, &mut Vec::new(), libnv::ByteOrder::native())
        .unwrap();
    out
}

#[test]
fn round_trips_lists_nested_to_the_librarys_limit() {
    let limit = libnv::Limits::default().max_depth;
    for depth in [42, 43, limit] {
        for arrays in [false, true] {
            let bytes = packed(&nested(depth, arrays));
            let json = nvdump(&["-"], Some(&bytes));
            assert!(
                json.status.success(),
                "decode, depth {depth}: {}",
                String::from_utf8_lossy(&json.stderr)
            );
            let again = nvdump(&["--encode", "-"], Some(&json.stdout));
            assert!(
                again.status.success(),
                "encode, depth {depth}, arrays {arrays}: {}",
                String::from_utf8_lossy(&again.stderr)
            );
            assert_eq!(again.stdout, bytes, "depth {depth}, arrays {arrays}");
        }
    }
}

#[test]
fn refuses_what_is_nested_deeper_than_the_library_accepts() {
    let limit = libnv::Limits::default().max_depth;
    let bytes = packed(&nested(limit + 1, false));
    let out = nvdump(&["-"], Some(&bytes));
    assert!(!out.status.success());
    // The JSON of that list, made by hand since nvdump will not print it.
    let mut json = String::from("{\"flags\": 0, \"pairs\": []}");
    for _ in 0..=limit {
        json = format!(
            "{{\"flags\": 0, \"pairs\": [{{\"name\": \"down\", \"type\": \"NVLIST\", \"value\": {json}}}]}}"
        );
    }
    let out = nvdump(&["--encode", "-"], Some(json.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("nested deeper than libnv's limit of {limit}")),
        "{err}"
    );
    // Far deeper JSON is refused before it is parsed (no stack overflow).
    let deep = "[".repeat(1_000_000);
    let out = nvdump(&["--encode", "-"], Some(deep.as_bytes()));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nested deeper"), "{err}");
}
