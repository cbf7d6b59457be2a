//! The state directory: created private (0700) at start, checked writable,
//! or the daemon refuses to start with a reason. Files in it are 0600.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The state directory cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("state directory {path} is not usable: {reason}. Create it and give the kiosk user write access (e.g. `install -d -m 700 -o antrean {path}`), or set [kiosk] state_dir.")]
pub struct StateDirError {
    pub path: PathBuf,
    pub reason: String,
}

/// Creates a directory (and parents) readable by the owner only.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Writes a file readable by the owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// Makes sure `dir` exists, is a directory and is writable.
pub fn prepare(dir: &Path) -> Result<(), StateDirError> {
    let fail = |reason: String| StateDirError {
        path: dir.to_path_buf(),
        reason,
    };
    create_private_dir(dir).map_err(|e| fail(format!("cannot create it ({e})")))?;
    if !dir.is_dir() {
        return Err(fail("it is not a directory".into()));
    }
    let probe = dir.join(".write-test");
    write_private(&probe, b"ok").map_err(|e| fail(format!("cannot write in it ({e})")))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepares_private_dirs_and_refuses_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        prepare(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = prepare(&file).unwrap_err().to_string();
        assert!(e.contains("state_dir"), "{e}");
    }
}
