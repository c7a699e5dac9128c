//! Resolving `user`, `group` and `supplementary-groups` (names or numbers)
//! into the ids the child will switch to. Done once, before any fork.

use std::ffi::{CStr, CString};

/// The identity a service runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creds {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    /// The full supplementary list handed to setgroups.
    pub groups: Vec<libc::gid_t>,
    /// From the passwd entry, for HOME/USER/LOGNAME/SHELL.
    pub user_name: Option<String>,
    pub home: Option<String>,
    pub shell: Option<String>,
}

struct Passwd {
    name: String,
    uid: libc::uid_t,
    gid: libc::gid_t,
    home: String,
    shell: String,
}

fn lookup_user(name_or_id: &str) -> Result<Option<Passwd>, String> {
    let mut buf = vec![0u8; 16384];
    // SAFETY: passwd is plain data, filled by getpw*_r.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let ret = if let Ok(uid) = name_or_id.parse::<libc::uid_t>() {
        // SAFETY: all pointers are valid for the sizes given.
        unsafe {
            libc::getpwuid_r(
                uid,
                &mut pw,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        }
    } else {
        let cname = CString::new(name_or_id).map_err(|_| format!("invalid user '{name_or_id}'"))?;
        // SAFETY: all pointers are valid for the sizes given.
        unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pw,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        }
    };
    if ret != 0 {
        return Err(format!(
            "looking up user '{name_or_id}': {}",
            std::io::Error::from_raw_os_error(ret)
        ));
    }
    if result.is_null() {
        return Ok(None);
    }
    // SAFETY: on success the strings point into buf, NUL-terminated.
    let text = |p: *const libc::c_char| unsafe {
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    };
    Ok(Some(Passwd {
        name: text(pw.pw_name),
        uid: pw.pw_uid,
        gid: pw.pw_gid,
        home: text(pw.pw_dir),
        shell: text(pw.pw_shell),
    }))
}

/// A group name or number as a gid.
pub fn lookup_group(name_or_id: &str) -> Result<libc::gid_t, String> {
    if let Ok(gid) = name_or_id.parse::<libc::gid_t>() {
        return Ok(gid);
    }
    let cname = CString::new(name_or_id).map_err(|_| format!("invalid group '{name_or_id}'"))?;
    let mut buf = vec![0u8; 16384];
    // SAFETY: group is plain data, filled by getgrnam_r.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::group = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the sizes given.
    let ret = unsafe {
        libc::getgrnam_r(
            cname.as_ptr(),
            &mut gr,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if ret != 0 {
        return Err(format!(
            "looking up group '{name_or_id}': {}",
            std::io::Error::from_raw_os_error(ret)
        ));
    }
    if result.is_null() {
        return Err(format!("no such group '{name_or_id}'"));
    }
    Ok(gr.gr_gid)
}

/// The groups `user` belongs to according to the group database.
fn member_groups(user: &str, primary: libc::gid_t) -> Vec<libc::gid_t> {
    let Ok(cname) = CString::new(user) else {
        return vec![primary];
    };
    let mut count: libc::c_int = 64;
    loop {
        let mut groups = vec![0 as libc::gid_t; count as usize];
        let asked = count;
        // SAFETY: groups holds `count` entries; count is updated in place.
        let ret =
            unsafe { libc::getgrouplist(cname.as_ptr(), primary, groups.as_mut_ptr(), &mut count) };
        if ret >= 0 {
            groups.truncate(count.max(0) as usize);
            return groups;
        }
        if count <= asked {
            count = asked * 2;
        }
        if count > 65536 {
            return vec![primary];
        }
    }
}

/// Resolves the declaration's credentials. `None` when none are given
/// (the service runs as the supervisor).
pub fn resolve(
    user: Option<&str>,
    group: Option<&str>,
    supplementary: &[String],
) -> Result<Option<Creds>, String> {
    if user.is_none() && group.is_none() && supplementary.is_empty() {
        return Ok(None);
    }
    // SAFETY: getuid/getgid have no arguments.
    let (my_uid, my_gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let mut creds = Creds {
        uid: my_uid,
        gid: my_gid,
        groups: Vec::new(),
        user_name: None,
        home: None,
        shell: None,
    };
    let mut keep_groups = true;
    if let Some(user) = user {
        match lookup_user(user)? {
            Some(pw) => {
                creds.uid = pw.uid;
                creds.gid = pw.gid;
                creds.groups = member_groups(&pw.name, pw.gid);
                creds.user_name = Some(pw.name);
                creds.home = Some(pw.home);
                creds.shell = Some(pw.shell);
                keep_groups = false;
            }
            None => {
                let Ok(uid) = user.parse::<libc::uid_t>() else {
                    return Err(format!("no such user '{user}'"));
                };
                if group.is_none() {
                    return Err(format!(
                        "user {uid} has no passwd entry: give a group too, \
                         or it would keep the supervisor's group"
                    ));
                }
                creds.uid = uid;
                keep_groups = false;
            }
        }
    }
    if let Some(group) = group {
        creds.gid = lookup_group(group)?;
        if creds.user_name.is_none() {
            keep_groups = false;
        }
    }
    if keep_groups {
        creds.groups = current_groups();
    }
    if !creds.groups.contains(&creds.gid) {
        creds.groups.insert(0, creds.gid);
    }
    for g in supplementary {
        let gid = lookup_group(g)?;
        if !creds.groups.contains(&gid) {
            creds.groups.push(gid);
        }
    }
    if creds.groups.len() > 65536 {
        return Err("too many supplementary groups".into());
    }
    Ok(Some(creds))
}

fn current_groups() -> Vec<libc::gid_t> {
    // SAFETY: a size query with a null list.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    if n <= 0 {
        return Vec::new();
    }
    let mut groups = vec![0 as libc::gid_t; n as usize];
    // SAFETY: groups holds n entries.
    let got = unsafe { libc::getgroups(n, groups.as_mut_ptr()) };
    groups.truncate(got.max(0) as usize);
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_by_name_and_number() {
        let by_name = resolve(Some("root"), None, &[]).unwrap().unwrap();
        assert_eq!(by_name.uid, 0);
        assert_eq!(by_name.gid, 0);
        assert!(by_name.groups.contains(&0));
        assert_eq!(by_name.home.as_deref(), Some("/root"));
        let by_number = resolve(Some("0"), None, &[]).unwrap().unwrap();
        assert_eq!(by_number.uid, 0);
    }

    #[test]
    fn unknown_names_are_errors() {
        let e = resolve(Some("no-such-user-xyz"), None, &[]).unwrap_err();
        assert!(e.contains("no-such-user-xyz"), "{e}");
        let e = resolve(None, Some("no-such-group-xyz"), &[]).unwrap_err();
        assert!(e.contains("no-such-group-xyz"), "{e}");
        let e = resolve(Some("4242424"), None, &[]).unwrap_err();
        assert!(e.contains("group"), "{e}");
    }

    #[test]
    fn numeric_ids_without_entries() {
        let c = resolve(Some("4242424"), Some("4242425"), &["4242426".into()])
            .unwrap()
            .unwrap();
        assert_eq!((c.uid, c.gid), (4242424, 4242425));
        assert_eq!(c.groups, [4242425, 4242426]);
    }

    #[test]
    fn nothing_given_means_no_change() {
        assert_eq!(resolve(None, None, &[]).unwrap(), None);
    }
}
