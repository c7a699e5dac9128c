//! The test-vector JSON form of a list (`root` in the vectors' README), both ways.
//!
//! Shared by the nvdump binary and the crate's tests (included with `#[path]`), so the
//! library itself does not depend on serde_json.

use std::fmt::Write as _;
use std::os::fd::OwnedFd;

use libnv::{NvList, NvView, Type, Value, ValueRef};

/// A JSON tree that keeps object keys in insertion order (serde_json's map sorts them).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(u64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(&'static str, Json)>),
}

impl Json {
    /// Pretty-prints with two-space indentation, like the vectors' files.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, indent: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => {
                let _ = write!(out, "{n}");
            }
            Json::String(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
            Json::Array(items) if items.is_empty() => out.push_str("[]"),
            Json::Array(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    pad(out, indent + 2);
                    item.write(out, indent + 2);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push(']');
            }
            Json::Object(fields) if fields.is_empty() => out.push_str("{}"),
            Json::Object(fields) => {
                out.push_str("{\n");
                for (i, (k, v)) in fields.iter().enumerate() {
                    pad(out, indent + 2);
                    let _ = write!(out, "\"{k}\": ");
                    v.write(out, indent + 2);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push('}');
            }
        }
    }

    /// Converts to a serde_json value (for order-insensitive comparisons in tests).
    #[allow(dead_code)]
    pub fn to_serde(&self) -> serde_json::Value {
        match self {
            Json::Null => serde_json::Value::Null,
            Json::Bool(b) => serde_json::Value::Bool(*b),
            Json::Number(n) => serde_json::Value::from(*n),
            Json::String(s) => serde_json::Value::String(s.clone()),
            Json::Array(v) => serde_json::Value::Array(v.iter().map(Json::to_serde).collect()),
            Json::Object(f) => serde_json::Value::Object(
                f.iter()
                    .map(|(k, v)| (k.to_string(), v.to_serde()))
                    .collect(),
            ),
        }
    }
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 {
        return Err(format!("hex string {s:?} has an odd length"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(s.get(i..i + 2).unwrap_or("zz"), 16)
                .map_err(|_| format!("bad hex string {s:?}"))
        })
        .collect()
}

/// The JSON form of a validated view (descriptors as indices).
pub fn view_to_json(view: &NvView<'_>) -> Json {
    let mut pairs = Vec::new();
    for p in view.iter() {
        let kind = p.value.kind();
        let mut f: Vec<(&'static str, Json)> = Vec::new();
        match std::str::from_utf8(p.name) {
            Ok(n) => f.push(("name", Json::String(n.to_owned()))),
            Err(_) => {
                f.push((
                    "name",
                    Json::String(String::from_utf8_lossy(p.name).into_owned()),
                ));
                f.push(("name_hex", Json::String(hex(p.name))));
            }
        }
        f.push(("type", Json::String(kind.name().to_owned())));
        f.push(("type_code", Json::Number(kind.code() as u64)));
        match p.value {
            ValueRef::Null => f.push(("value", Json::Null)),
            ValueRef::Bool(b) => f.push(("value", Json::Bool(b))),
            ValueRef::Number(n) => f.push(("value", Json::Number(n))),
            ValueRef::String(s) => match std::str::from_utf8(s) {
                Ok(s) => f.push(("value", Json::String(s.to_owned()))),
                Err(_) => {
                    f.push(("value", Json::Null));
                    f.push(("value_hex", Json::String(hex(s))));
                }
            },
            ValueRef::NvList(v) => f.push(("value", view_to_json(&v))),
            ValueRef::Descriptor(i) => f.push(("value", Json::Number(i as u64))),
            ValueRef::Binary(b) => {
                f.push(("size", Json::Number(b.len() as u64)));
                f.push(("value", Json::String(hex(b))));
            }
            ValueRef::BoolArray(a) => {
                f.push(("value", Json::Array(a.iter().map(Json::Bool).collect())))
            }
            ValueRef::NumberArray(a) => {
                f.push(("value", Json::Array(a.iter().map(Json::Number).collect())))
            }
            ValueRef::StringArray(a) => {
                let utf8 = a.iter().all(|s| std::str::from_utf8(s).is_ok());
                let items = a
                    .iter()
                    .map(|s| match std::str::from_utf8(s) {
                        Ok(s) if utf8 => Json::String(s.to_owned()),
                        _ => Json::String(hex(s)),
                    })
                    .collect();
                f.push(("value", Json::Array(items)));
                if !utf8 {
                    f.push(("value_is_hex", Json::Bool(true)));
                }
            }
            ValueRef::NvListArray(a) => f.push((
                "value",
                Json::Array(a.iter().map(|e| view_to_json(&e)).collect()),
            )),
            ValueRef::DescriptorArray(a) => f.push((
                "value",
                Json::Array(a.iter().map(|i| Json::Number(i as u64)).collect()),
            )),
        }
        pairs.push(Json::Object(f));
    }
    Json::Object(vec![
        ("flags", Json::Number(view.flags().bits() as u64)),
        ("pairs", Json::Array(pairs)),
    ])
}

/// Builds a list from its JSON form. DESCRIPTOR values are indices into `fds` (which must
/// hold a descriptor for every index used; each is moved into the list once). Lists may nest
/// `max_depth` levels below this one, as in [`libnv::Limits::max_depth`].
pub fn json_to_list(
    json: &serde_json::Value,
    fds: &mut [Option<OwnedFd>],
    max_depth: usize,
) -> Result<NvList, String> {
    json_to_list_at(json, fds, max_depth, 0)
}

fn json_to_list_at(
    json: &serde_json::Value,
    fds: &mut [Option<OwnedFd>],
    max_depth: usize,
    depth: usize,
) -> Result<NvList, String> {
    if depth > max_depth {
        return Err(format!(
            "nested deeper than libnv's limit of {max_depth} lists"
        ));
    }
    let obj = json.as_object().ok_or("an NVLIST must be a JSON object")?;
    let flags = obj
        .get("flags")
        .and_then(serde_json::Value::as_u64)
        .ok_or("NVLIST needs a numeric \"flags\"")?;
    let flags = u8::try_from(flags)
        .ok()
        .and_then(libnv::Flags::from_bits)
        .ok_or(format!("flags {flags} are not a combination of 1 and 2"))?;
    let pairs = obj
        .get("pairs")
        .and_then(serde_json::Value::as_array)
        .ok_or("NVLIST needs an array \"pairs\"")?;
    let mut list = NvList::with_flags(flags);
    for (i, pair) in pairs.iter().enumerate() {
        let name = pair_name(pair).map_err(|e| format!("pair {i}: {e}"))?;
        let value = pair_value(pair, fds, max_depth, depth)
            .map_err(|e| format!("pair {i} ({}): {e}", String::from_utf8_lossy(&name)))?;
        list.add(&name, value)
            .map_err(|e| format!("pair {i}: {e}"))?;
    }
    Ok(list)
}

fn pair_name(pair: &serde_json::Value) -> Result<Vec<u8>, String> {
    if let Some(h) = pair.get("name_hex").and_then(serde_json::Value::as_str) {
        return unhex(h);
    }
    pair.get("name")
        .and_then(serde_json::Value::as_str)
        .map(|s| s.as_bytes().to_vec())
        .ok_or_else(|| "missing string \"name\"".to_owned())
}

fn text(x: &serde_json::Value) -> Result<&str, String> {
    x.as_str()
        .ok_or_else(|| "value must be a string".to_owned())
}

fn pair_value(
    pair: &serde_json::Value,
    fds: &mut [Option<OwnedFd>],
    max_depth: usize,
    depth: usize,
) -> Result<Value, String> {
    let kind = match pair.get("type").and_then(serde_json::Value::as_str) {
        Some(t) => Type::from_name(t).ok_or(format!("unknown type {t:?}"))?,
        None => {
            let code = pair
                .get("type_code")
                .and_then(serde_json::Value::as_u64)
                .ok_or("missing \"type\" and \"type_code\"")?;
            u8::try_from(code)
                .ok()
                .and_then(Type::from_code)
                .ok_or(format!("unknown type code {code}"))?
        }
    };
    let v = pair.get("value").unwrap_or(&serde_json::Value::Null);
    let array = || v.as_array().ok_or("value must be an array");
    let num = |x: &serde_json::Value| x.as_u64().ok_or("value must be an unsigned 64-bit integer");
    let mut take_fd = |x: &serde_json::Value| -> Result<OwnedFd, String> {
        let i = num(x)? as usize;
        fds.get_mut(i).and_then(Option::take).ok_or(format!(
            "descriptor index {i} is out of range or used twice"
        ))
    };
    Ok(match kind {
        Type::Null => Value::Null,
        Type::Bool => Value::Bool(v.as_bool().ok_or("value must be a boolean")?),
        Type::Number => Value::Number(num(v)?),
        Type::String => match pair.get("value_hex").and_then(serde_json::Value::as_str) {
            Some(h) => Value::String(unhex(h)?),
            None => Value::String(text(v)?.as_bytes().to_vec()),
        },
        Type::NvList => Value::NvList(json_to_list_at(v, fds, max_depth, depth + 1)?),
        Type::Descriptor => Value::Descriptor(take_fd(v)?),
        Type::Binary => Value::Binary(unhex(text(v)?)?),
        Type::BoolArray => Value::BoolArray(
            array()?
                .iter()
                .map(|b| b.as_bool().ok_or("items must be booleans"))
                .collect::<Result<_, _>>()?,
        ),
        Type::NumberArray => {
            Value::NumberArray(array()?.iter().map(num).collect::<Result<_, _>>()?)
        }
        Type::StringArray => {
            let is_hex = pair
                .get("value_is_hex")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            let mut items = Vec::new();
            for s in array()? {
                let s = text(s)?;
                items.push(if is_hex {
                    unhex(s)?
                } else {
                    s.as_bytes().to_vec()
                });
            }
            Value::StringArray(items)
        }
        Type::NvListArray => Value::NvListArray(
            array()?
                .iter()
                .map(|e| json_to_list_at(e, fds, max_depth, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Type::DescriptorArray => {
            let mut out = Vec::new();
            for x in array()? {
                out.push(take_fd(x)?);
            }
            Value::DescriptorArray(out)
        }
    })
}

/// Highest descriptor index used in a JSON list, plus one (0 when none).
pub fn json_descriptor_count(json: &serde_json::Value) -> usize {
    let mut n = 0;
    if let Some(pairs) = json.get("pairs").and_then(serde_json::Value::as_array) {
        for p in pairs {
            let v = p.get("value").unwrap_or(&serde_json::Value::Null);
            match p.get("type").and_then(serde_json::Value::as_str) {
                Some("DESCRIPTOR") => n = n.max(v.as_u64().map_or(0, |i| i as usize + 1)),
                Some("DESCRIPTOR_ARRAY") => {
                    for x in v.as_array().into_iter().flatten() {
                        n = n.max(x.as_u64().map_or(0, |i| i as usize + 1));
                    }
                }
                Some("NVLIST") => n = n.max(json_descriptor_count(v)),
                Some("NVLIST_ARRAY") => {
                    for e in v.as_array().into_iter().flatten() {
                        n = n.max(json_descriptor_count(e));
                    }
                }
                _ => {}
            }
        }
    }
    n
}
