//! What the person at the boot prompt asked for: a target and the manager's
//! path, from /proc/cmdline and from init's own argv (the kernel hands init
//! the words after `--` on its command line). Pure: no I/O.

#[derive(Debug, Default, PartialEq, Eq)]
pub struct BootChoice {
    pub target: Option<String>,
    pub manager: Option<String>,
    /// `emergency`/`-b`: a shell on the console before any manager, the
    /// root as the kernel mounted it (systemd's emergency.target).
    pub emergency: bool,
    /// `quiet`: the manager's diagnostics below warnings go to its boot
    /// log only, not to the console (the status lines stay).
    pub quiet: bool,
}

/// Splits a kernel command line into words the way the kernel does: on
/// whitespace, with double quotes grouping (`foo="a b"` is one word, the
/// quotes removed).
pub fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Reads the words in order; a later word overrides an earlier one.
pub fn parse_boot_words<'a>(words: impl IntoIterator<Item = &'a str>) -> BootChoice {
    let mut choice = BootChoice::default();
    for word in words {
        if let Some(target) = word.strip_prefix("svc.target=") {
            if !target.is_empty() {
                choice.target = Some(target.to_owned());
            }
        } else if let Some(path) = word.strip_prefix("svc.manager=") {
            if !path.is_empty() {
                choice.manager = Some(path.to_owned());
            }
        } else {
            match word {
                // sysvinit's single-user spellings
                "single" | "S" | "s" | "1" => choice.target = Some("rescue".into()),
                "emergency" | "-b" => choice.emergency = true,
                "quiet" => choice.quiet = true,
                _ => {}
            }
        }
    }
    choice
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(line: &str) -> BootChoice {
        let words = split_words(line);
        parse_boot_words(words.iter().map(String::as_str))
    }

    #[test]
    fn nothing_asked() {
        assert_eq!(
            choice("BOOT_IMAGE=/vmlinuz root=/dev/vda ro"),
            BootChoice::default()
        );
        assert_eq!(
            choice("root=/dev/vda ro quiet"),
            BootChoice {
                quiet: true,
                ..BootChoice::default()
            }
        );
        assert_eq!(choice(""), BootChoice::default());
    }

    #[test]
    fn targets() {
        for (line, target) in [
            ("ro svc.target=rescue", "rescue"),
            ("quiet single", "rescue"),
            ("S", "rescue"),
            ("s", "rescue"),
            ("root=/dev/sda 1", "rescue"),
            ("svc.target=multi-user", "multi-user"),
        ] {
            assert_eq!(choice(line).target.as_deref(), Some(target), "{line}");
        }
    }

    #[test]
    fn emergency_is_a_shell_not_a_target() {
        for line in ["emergency", "ro -b", "single emergency"] {
            assert!(choice(line).emergency, "{line}");
        }
        assert_eq!(choice("emergency").target, None);
        assert_eq!(choice("single emergency").target.as_deref(), Some("rescue"));
        assert!(!choice("single svc.target=emergency").emergency);
    }

    #[test]
    fn later_word_wins_and_empty_values_are_ignored() {
        assert_eq!(
            choice("single svc.target=graphical").target.as_deref(),
            Some("graphical")
        );
        assert_eq!(
            choice("svc.target=graphical single").target.as_deref(),
            Some("rescue")
        );
        assert_eq!(choice("svc.target=").target, None);
        assert_eq!(choice("svc.manager=").manager, None);
    }

    #[test]
    fn manager_path() {
        assert_eq!(
            choice("console=ttyS0 svc.manager=/opt/svc/svc-manager").manager,
            Some("/opt/svc/svc-manager".into())
        );
    }

    #[test]
    fn not_fooled_by_lookalikes() {
        assert_eq!(
            choice("single_user=1 S1 11 rescue x.svc.target=a"),
            BootChoice::default()
        );
    }

    #[test]
    fn quotes_group_words() {
        assert_eq!(
            split_words("a  \"b c\" svc.target=\"x y\"\n"),
            vec!["a", "b c", "svc.target=x y"]
        );
        assert_eq!(
            choice("svc.manager=\"/a b/m\"").manager,
            Some("/a b/m".into())
        );
    }
}
