//! nvdump: print a packed nvlist as JSON, or pack JSON back into bytes.
//!
//! ```text
//! nvdump FILE|-                          JSON of the list (the test vectors' `root` form)
//! nvdump --encode [--big-endian] FILE|-  packed bytes of a JSON list on stdout
//! ```
//!
//! Decoding accepts any top-level flags, and a message whose header announces descriptors
//! is shown with its descriptor indices (as if that many descriptors had been received).
//! Encoding accepts a bare list object or a vector file (its `root`, or
//! `root_as_decoded_by_c`); for DESCRIPTOR values it opens `/dev/null` once per index so
//! the packing is the real send-path packing (indices renumbered in depth-first order).
//! Errors: one line on stderr, exit status 1.

#[path = "nvdump/json.rs"]
mod json;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::ExitCode;

use libnv::{ByteOrder, HEADER_SIZE, Limits, NvList, NvView, UnpackOptions};

const USAGE: &str = "usage: nvdump FILE|-\n       nvdump --encode [--big-endian] FILE|-";

fn read_input(path: &str) -> Result<Vec<u8>, String> {
    let mut data = Vec::new();
    if path == "-" {
        std::io::stdin()
            .read_to_end(&mut data)
            .map_err(|e| format!("stdin: {e}"))?;
    } else {
        data = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(data)
}

fn decode(path: &str) -> Result<String, String> {
    let bytes = read_input(path)?;
    let options = UnpackOptions {
        limits: Limits {
            max_size: usize::MAX,
            ..Limits::default()
        },
        ..UnpackOptions::default()
    };
    // A message carrying descriptors is shown with their indices.
    let announced = if bytes.len() >= HEADER_SIZE {
        let field: [u8; 8] = bytes[3..11].try_into().unwrap_or([0; 8]);
        let n = if bytes[2] & 0x80 != 0 {
            u64::from_be_bytes(field)
        } else {
            u64::from_le_bytes(field)
        };
        usize::try_from(n)
            .unwrap_or(usize::MAX)
            .min(options.limits.max_descriptors)
    } else {
        0
    };
    let view = NvView::parse(&bytes, announced, &options).map_err(|e| format!("{path}: {e}"))?;
    Ok(json::view_to_json(&view).pretty())
}

/// JSON levels one nvlist level takes at most: the list object, its
/// `pairs` array, a pair object, and an NVLIST_ARRAY's array of lists.
const JSON_LEVELS_PER_LIST: usize = 4;

/// The deepest nesting of arrays and objects in `text`, counted without
/// parsing (strings skipped), stopping early once it passes `stop`.
fn json_nesting(text: &[u8], stop: usize) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in text {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > stop {
                    break;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Parses the JSON of a list nested up to libnv's depth limit. serde_json
/// stops at 128 levels by default, which is 42 nvlist levels; its limit is
/// lifted and replaced by a bound of our own (derived from libnv's limit),
/// checked before parsing so that no input can exhaust the stack.
fn parse_json(path: &str, text: &[u8], max_depth: usize) -> Result<serde_json::Value, String> {
    use serde::Deserialize as _;
    // One more list level than allowed, plus the vector file's wrapper,
    // so that json_to_list can name the list that is too deep.
    let bound = (max_depth + 2) * JSON_LEVELS_PER_LIST + 1;
    if json_nesting(text, bound) > bound {
        return Err(format!(
            "{path}: nested deeper than libnv's limit of {max_depth} lists"
        ));
    }
    let invalid = |e: serde_json::Error| {
        format!(
            "{path}: invalid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        )
    };
    let mut de = serde_json::Deserializer::from_slice(text);
    de.disable_recursion_limit();
    let doc = serde_json::Value::deserialize(&mut de).map_err(invalid)?;
    de.end().map_err(invalid)?;
    Ok(doc)
}

fn encode(path: &str, order: ByteOrder) -> Result<Vec<u8>, String> {
    let text = read_input(path)?;
    let max_depth = Limits::default().max_depth;
    let doc = parse_json(path, &text, max_depth)?;
    let root = doc
        .get("root")
        .or_else(|| doc.get("root_as_decoded_by_c"))
        .unwrap_or(&doc);
    let count = json::json_descriptor_count(root);
    let mut fds: Vec<Option<OwnedFd>> = Vec::with_capacity(count);
    for _ in 0..count {
        let f = std::fs::File::open("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
        fds.push(Some(OwnedFd::from(f)));
    }
    let list: NvList =
        json::json_to_list(root, &mut fds, max_depth).map_err(|e| format!("{path}: {e}"))?;
    let mut out = Vec::with_capacity(list.packed_size());
    let mut raw = Vec::new();
    list.pack_with_fds(&mut out, &mut raw, order)
        .map_err(|e| format!("{path}: {e}"))?;
    Ok(out)
}

/// Maps a stdout write error; a closed pipe (`nvdump x | head`) is not worth a message.
fn stdout_error(e: std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        String::new()
    } else {
        format!("stdout: {e}")
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut encode_mode = false;
    let mut big = false;
    let mut file = None;
    for a in &args {
        match a.as_str() {
            "--encode" => encode_mode = true,
            "--big-endian" => big = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            s if s.starts_with("--") => return Err(format!("unknown option {s}\n{USAGE}")),
            s => {
                if file.replace(s.to_owned()).is_some() {
                    return Err(format!("more than one file given\n{USAGE}"));
                }
            }
        }
    }
    let file = file.ok_or_else(|| USAGE.to_owned())?;
    if big && !encode_mode {
        return Err(format!("--big-endian only applies to --encode\n{USAGE}"));
    }
    let mut stdout = std::io::stdout().lock();
    if encode_mode {
        let order = if big {
            ByteOrder::Big
        } else {
            ByteOrder::native()
        };
        let bytes = encode(&file, order)?;
        stdout
            .write_all(&bytes)
            .and_then(|()| stdout.flush())
            .map_err(stdout_error)
    } else {
        let text = decode(&file)?;
        writeln!(stdout, "{text}").map_err(stdout_error)
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("nvdump: {e}");
            }
            ExitCode::FAILURE
        }
    }
}
