//! Resolving `user`, `group` and `supplementary-groups` (names or numbers)
//! into the ids the child will switch to. Done once, before any fork.

use std::ffi::CString;

use nix::unistd::{Gid, Group, Uid, User};

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

/// The passwd entry of a user name or number. nix grows the buffer on
/// ERANGE (up to 1 MiB), so a long entry is found, not an error.
fn lookup_user(name_or_id: &str) -> Result<Option<User>, String> {
    let found = match name_or_id.parse::<libc::uid_t>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) if name_or_id.contains('\0') => return Err(format!("invalid user '{name_or_id}'")),
        Err(_) => User::from_name(name_or_id),
    };
    found.map_err(|e| format!("looking up user '{name_or_id}': {e}"))
}

/// A group name or number as a gid. A group with many members has a long
/// entry: nix grows the buffer on ERANGE.
pub fn lookup_group(name_or_id: &str) -> Result<libc::gid_t, String> {
    if let Ok(gid) = name_or_id.parse::<libc::gid_t>() {
        return Ok(gid);
    }
    if name_or_id.contains('\0') {
        return Err(format!("invalid group '{name_or_id}'"));
    }
    match Group::from_name(name_or_id) {
        Ok(Some(group)) => Ok(group.gid.as_raw()),
        Ok(None) => Err(format!("no such group '{name_or_id}'")),
        Err(e) => Err(format!("looking up group '{name_or_id}': {e}")),
    }
}

/// The groups `user` belongs to according to the group database; only
/// the primary group when that cannot be read.
fn member_groups(user: &str, primary: libc::gid_t) -> Vec<libc::gid_t> {
    CString::new(user)
        .ok()
        .and_then(|name| nix::unistd::getgrouplist(&name, Gid::from_raw(primary)).ok())
        .map_or_else(
            || vec![primary],
            |groups| groups.into_iter().map(Gid::as_raw).collect(),
        )
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
    let (my_uid, my_gid) = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
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
                creds.uid = pw.uid.as_raw();
                creds.gid = pw.gid.as_raw();
                creds.groups = member_groups(&pw.name, creds.gid);
                creds.user_name = Some(pw.name);
                creds.home = Some(pw.dir.to_string_lossy().into_owned());
                creds.shell = Some(pw.shell.to_string_lossy().into_owned());
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
    nix::unistd::getgroups()
        .map(|groups| groups.into_iter().map(Gid::as_raw).collect())
        .unwrap_or_default()
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
