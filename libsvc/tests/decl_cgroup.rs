//! The cgroup keys of `[service]` (`memory-max` … `io-weight`): typed,
//! checked, every error with file:line.

use libsvc::decl::parse;
use libsvc::*;
use std::path::Path;

fn service(keys: &str) -> (Option<Declaration>, Vec<String>) {
    let text = format!("[service]\nexec = /bin/true\n{keys}");
    let (d, diags) = parse("x", Path::new("x.ini"), text.as_bytes(), None);
    (d, diags.iter().map(|d| d.to_string()).collect())
}

fn limits(keys: &str) -> CgroupLimits {
    let (d, diags) = service(keys);
    assert!(diags.is_empty(), "{diags:#?}");
    d.unwrap().service().unwrap().cgroup_limits()
}

fn error(keys: &str) -> String {
    let (d, diags) = service(keys);
    assert!(d.is_none(), "accepted: {keys}");
    assert_eq!(diags.len(), 1, "{diags:#?}");
    diags[0].clone()
}

#[test]
fn unset_by_default() {
    assert!(limits("").is_empty());
}

#[test]
fn every_key_typed() {
    let c = limits(
        "memory-max = 32M\nmemory-high = 24M\nmemory-swap-max = 0\ncpu-weight = 50\n\
         cpu-max = 50ms/100ms\npids-max = 10\nio-weight = 10000\n",
    );
    assert_eq!(
        c,
        CgroupLimits {
            memory_max: Some(LimitValue::Value(32 << 20)),
            memory_high: Some(LimitValue::Value(24 << 20)),
            memory_swap_max: Some(LimitValue::Value(0)),
            cpu_weight: Some(50),
            cpu_max: Some(CpuMax::Quota {
                quota_us: 50_000,
                period_us: 100_000
            }),
            pids_max: Some(LimitValue::Value(10)),
            io_weight: Some(10_000),
        }
    );
    let c = limits(
        "memory-max = infinity\nmemory-high = infinity\nmemory-swap-max = infinity\n\
         cpu-max = infinity\npids-max = infinity\n",
    );
    assert_eq!(c.memory_max, Some(LimitValue::Infinity));
    assert_eq!(c.memory_high, Some(LimitValue::Infinity));
    assert_eq!(c.memory_swap_max, Some(LimitValue::Infinity));
    assert_eq!(c.cpu_max, Some(CpuMax::Infinity));
    assert_eq!(c.pids_max, Some(LimitValue::Infinity));
    assert_eq!(
        limits("cpu-max = 150%\n").cpu_max,
        Some(CpuMax::Quota {
            quota_us: 150_000,
            period_us: 100_000
        })
    );
}

#[test]
fn bad_values_name_file_line_and_key() {
    assert_eq!(
        error("memory-max = 32X\n"),
        "x.ini:3: invalid value for 'memory-max': expected a size such as 512K, 32M, 1G, a number of bytes, or 'infinity', found '32X'"
    );
    assert_eq!(
        error("memory-high = 4095\n"),
        "x.ini:3: invalid value for 'memory-high': '4095' is below one page and would leave the service no memory at all; write at least 4K, or 'infinity'"
    );
    assert_eq!(
        error("cpu-weight = 0\n"),
        "x.ini:3: invalid value for 'cpu-weight': expected a weight from 1 to 10000 (the default is 100), found '0'"
    );
    assert_eq!(
        error("io-weight = 10001\n"),
        "x.ini:3: invalid value for 'io-weight': expected a weight from 1 to 10000 (the default is 100), found '10001'"
    );
    assert_eq!(
        error("pids-max = 0\n"),
        "x.ini:3: invalid value for 'pids-max': expected a number of tasks from 1 to 4194304, or 'infinity', found '0'"
    );
    assert_eq!(
        error("cpu-max = 50ms/5s\n"),
        "x.ini:3: invalid value for 'cpu-max': expected QUOTA/PERIOD such as 50ms/100ms (PERIOD 1ms to 1s, default 100ms; QUOTA at least 1ms), a percentage of one CPU such as 150%, or 'infinity', found '50ms/5s'"
    );
    assert_eq!(
        error("cpu-max =\n"),
        "x.ini:3: empty value for 'cpu-max'; expected QUOTA/PERIOD such as 50ms/100ms (PERIOD 1ms to 1s, default 100ms; QUOTA at least 1ms), a percentage of one CPU such as 150%, or 'infinity'"
    );
    assert_eq!(
        error("pids-max = 10\npids-max = 20\n"),
        "x.ini:4: 'pids-max' given twice in [service] (first at line 3)"
    );
    assert_eq!(
        error("memory-maxx = 1M\n"),
        "x.ini:3: unknown key 'memory-maxx' in [service]; did you mean 'memory-max'?"
    );
}

#[test]
fn keys_outside_service_are_pointed_back() {
    let text = "[service]\nexec = /bin/true\n[logging]\npids-max = 10\n";
    let (d, diags) = parse("x", Path::new("x.ini"), text.as_bytes(), None);
    assert!(d.is_none());
    assert_eq!(
        diags[0].to_string(),
        "x.ini:4: unknown key 'pids-max' in [logging]; 'pids-max' belongs in [service]"
    );
}

#[test]
fn memory_high_not_below_max_is_a_warning() {
    let (d, diags) = service("memory-max = 32M\nmemory-high = 64M\n");
    assert!(d.is_some());
    assert_eq!(
        diags,
        [
            "x.ini:4: warning: 'memory-high' (64M) is not below 'memory-max' (32M): the service is killed before it is ever throttled"
        ]
    );
}

#[test]
fn templates_expand_into_limits() {
    let text = "[service]\nexec = /bin/true\npids-max = %i\n";
    let (d, diags) = parse("w@7", Path::new("w@.ini"), text.as_bytes(), Some("7"));
    assert!(diags.is_empty(), "{diags:#?}");
    assert_eq!(
        d.unwrap().service().unwrap().cgroup_limits().pids_max,
        Some(LimitValue::Value(7))
    );
}
