//! Declaration names: `NAME` is `[A-Za-z0-9_.-]+` with at most one `@`;
//! `getty@` is a template and `getty@tty1` one of its instances.

/// What a valid name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind<'a> {
    Plain,
    /// `getty@`: never started or depended on by itself.
    Template,
    /// `getty@tty1`: `template` is `getty@`, `instance` is `tty1`.
    Instance {
        template: &'a str,
        instance: &'a str,
    },
}

fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Classifies `name`, or says what is wrong with it.
pub fn classify(name: &str) -> Result<NameKind<'_>, String> {
    if name.is_empty() {
        return Err("a name cannot be empty".to_string());
    }
    if let Some(bad) = name.chars().find(|&c| !valid_char(c) && c != '@') {
        return Err(format!(
            "'{name}' is not a valid name: '{}' is not allowed (use letters, digits, '_', '.', '-' and at most one '@')",
            bad.escape_default()
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("'{name}' is not a valid name"));
    }
    match name.split_once('@') {
        None => Ok(NameKind::Plain),
        Some((base, rest)) => {
            if rest.contains('@') {
                Err(format!(
                    "'{name}' is not a valid name: at most one '@' is allowed"
                ))
            } else if base.is_empty() {
                Err(format!("'{name}' is not a valid name: nothing before '@'"))
            } else if rest.is_empty() {
                Ok(NameKind::Template)
            } else {
                Ok(NameKind::Instance {
                    template: &name[..=base.len()],
                    instance: rest,
                })
            }
        }
    }
}

/// A name that something may start or depend on: valid and not a bare template.
pub fn check_reference(name: &str) -> Result<(), String> {
    match classify(name)? {
        NameKind::Template => Err(format!(
            "'{name}' is a template; name one of its instances, such as '{name}NAME'"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(classify("nginx"), Ok(NameKind::Plain));
        assert_eq!(classify("getty@"), Ok(NameKind::Template));
        assert_eq!(
            classify("getty@tty1"),
            Ok(NameKind::Instance {
                template: "getty@",
                instance: "tty1"
            })
        );
        for bad in ["", "a b", "a/b", "@x", "a@b@c", ".", "..", "é"] {
            assert!(classify(bad).is_err(), "{bad}");
        }
        assert!(check_reference("getty@").is_err());
        assert!(check_reference("getty@tty1").is_ok());
    }
}
