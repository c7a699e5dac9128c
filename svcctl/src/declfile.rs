//! Writing a declaration file for `svcctl add` and `svcctl import`: a new
//! file only, unless forced, and then replaced in one rename so that a
//! manager rescanning meanwhile never reads half of it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Why a declaration file was not written.
#[derive(Debug)]
pub enum WriteError {
    /// The file is there and replacing it was not asked for.
    Exists,
    /// The directory, the file or its temporary twin could not be written.
    Io(std::io::Error),
}

/// Writes `text` to `file` (mode 0644), making its directory if needed.
/// Without `force` only a new file is made, and one left half-written by
/// a full disk is removed again.
pub fn write(file: &Path, text: &str, force: bool) -> Result<(), WriteError> {
    let (Some(dir), Some(file_name)) = (file.parent(), file.file_name()) else {
        return Err(WriteError::Io(std::io::ErrorKind::InvalidInput.into()));
    };
    std::fs::create_dir_all(dir).map_err(WriteError::Io)?;
    let open = |path: &Path, new: bool| {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).mode(0o644);
        if new {
            o.create_new(true);
        } else {
            o.create(true).truncate(true);
        }
        o.open(path)
    };
    if !force {
        let mut f = open(file, true).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => WriteError::Exists,
            _ => WriteError::Io(e),
        })?;
        if let Err(e) = f.write_all(text.as_bytes()) {
            let _ = std::fs::remove_file(file);
            return Err(WriteError::Io(e));
        }
        return Ok(());
    }
    // Not ending in `.ini`: a rescan meanwhile does not read it.
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(".svcctl-new");
    let tmp = dir.join(tmp_name);
    let written = open(&tmp, false)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, file));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(WriteError::Io(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory, removed however the test ends.
    struct Scratch(std::path::PathBuf);
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn new_only_unless_forced_and_no_temporary_left() {
        let scratch =
            Scratch(std::env::temp_dir().join(format!("svcctl-declfile-{}", std::process::id())));
        let dir = scratch.0.join("services.d");
        let file = dir.join("a.ini");
        let read = || std::fs::read_to_string(&file).ok();
        write(&file, "one\n", false).expect("a new file");
        assert!(matches!(
            write(&file, "two\n", false),
            Err(WriteError::Exists)
        ));
        assert_eq!(read().as_deref(), Some("one\n"));
        write(&file, "three\n", true).expect("a replaced file");
        assert_eq!(read().as_deref(), Some("three\n"));
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("the directory")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["a.ini"]);
    }
}
