//! Where the master key lives, and the checks that keep it out of git.
//!
//! Order of choice: `--key-file`; the old default beside the data directory
//! (`./.tessera` → `./.tessera.key`) when that file exists, so existing data still opens; the
//! key the data directory's pointer file names (kept when the directory is moved or copied);
//! otherwise a new key in the user's data directory, outside any working tree:
//! `$XDG_DATA_HOME/tessera/keys/` (or `~/.local/share/tessera/keys/`), one file per data
//! directory, named after a hash of its canonical path. A key file that git tracks is refused.

use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The file in the data directory that names its key file (a path, never the key).
pub const POINTER_FILE: &str = "master-key.path";

/// How the key file was chosen (logged at start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `--key-file` / `LocalConfig::key_file`.
    Explicit,
    /// The old default beside the data directory, found there.
    Legacy,
    /// Named by the data directory's pointer file.
    Pointer,
    /// The default place in the user's data directory.
    UserData,
}

/// `$XDG_DATA_HOME/tessera` (an absolute XDG_DATA_HOME only, as the spec says), else
/// `$HOME/.local/share/tessera`; None when neither is set.
pub fn default_key_home() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_DATA_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".local/share"))
    })?;
    Some(base.join("tessera"))
}

/// The old default: `./.tessera` → `./.tessera.key`.
pub fn legacy_key_file(data_dir: &Path) -> PathBuf {
    let mut name = data_dir.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| ".tessera".into());
    name.push(".key");
    data_dir.with_file_name(name)
}

/// `<key home>/keys/<dir name>-<32 hex of SHA-256(canonical path)>.key`: readable, and two data
/// directories never share a key.
pub fn user_data_key_file(key_home: &Path, canonical_data_dir: &Path) -> PathBuf {
    let digest = Sha256::digest(canonical_data_dir.as_os_str().as_encoded_bytes());
    let name: String = canonical_data_dir
        .file_name()
        .map(|n| {
            n.to_string_lossy().chars().filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c)).collect()
        })
        .unwrap_or_default();
    let name = name.trim_start_matches('.');
    let name = if name.is_empty() { "data" } else { name };
    key_home.join("keys").join(format!("{name}-{}.key", hex::encode(&digest[..16])))
}

/// Chooses the key file of `data_dir` (which must exist). `explicit` wins; `key_home` is where
/// new default keys go (None: no HOME, no XDG_DATA_HOME).
pub fn resolve(
    data_dir: &Path,
    explicit: Option<&Path>,
    key_home: Option<&Path>,
) -> Result<(PathBuf, KeyOrigin), String> {
    if let Some(path) = explicit {
        return Ok((path.to_path_buf(), KeyOrigin::Explicit));
    }
    let legacy = legacy_key_file(data_dir);
    if legacy.exists() {
        return Ok((legacy, KeyOrigin::Legacy));
    }
    let pointer = data_dir.join(POINTER_FILE);
    if let Ok(text) = std::fs::read_to_string(&pointer) {
        let named = PathBuf::from(text.trim());
        if named.is_absolute() && named.exists() {
            return Ok((named, KeyOrigin::Pointer));
        }
    }
    let home = key_home.ok_or(
        "cannot choose where the master key goes: neither XDG_DATA_HOME nor HOME is set; pass --key-file",
    )?;
    let canonical = std::fs::canonicalize(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    Ok((user_data_key_file(home, &canonical), KeyOrigin::UserData))
}

/// Records in the data directory which key opens it, so a moved or copied directory finds it.
pub fn write_pointer(data_dir: &Path, key_file: &Path) -> Result<(), String> {
    let pointer = data_dir.join(POINTER_FILE);
    std::fs::write(&pointer, format!("{}\n", key_file.display()))
        .map_err(|e| format!("{}: {e}", pointer.display()))
}

/// Git's view of a file: tracked, or inside a working tree without being ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitStatus {
    /// No git, or not inside a repository.
    Outside,
    Tracked,
    /// In a working tree, neither tracked nor ignored: one `git add .` from a commit.
    Unignored,
    Ignored,
}

/// Asks git (when installed) about `path`, from the file's own directory.
pub fn git_status(path: &Path) -> GitStatus {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return GitStatus::Outside };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    if !dir.is_dir() {
        return GitStatus::Outside;
    }
    let git = |args: &[&OsStr]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            // A hook's or a shell's GIT_DIR would point the question at another repository.
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
    };
    let tracked = git(&["ls-files".as_ref(), "--error-unmatch".as_ref(), "--".as_ref(), name]);
    match tracked {
        Err(_) => return GitStatus::Outside, // git is not installed
        Ok(out) if out.status.success() => return GitStatus::Tracked,
        Ok(_) => {}
    }
    let inside = git(&["rev-parse".as_ref(), "--is-inside-work-tree".as_ref()])
        .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"true"));
    if !inside {
        return GitStatus::Outside;
    }
    // check-ignore: 0 = ignored, 1 = not ignored.
    match git(&["check-ignore".as_ref(), "-q".as_ref(), "--".as_ref(), name]) {
        Ok(o) if o.status.success() => GitStatus::Ignored,
        Ok(o) if o.status.code() == Some(1) => GitStatus::Unignored,
        _ => GitStatus::Outside,
    }
}

/// Refuses a key file that git tracks (committed or staged).
pub fn refuse_if_tracked(path: &Path) -> Result<GitStatus, String> {
    let status = git_status(path);
    if status == GitStatus::Tracked {
        return Err(format!(
            "{}: the master key file is tracked by git; refusing to start. Anyone with the repository \
             could decrypt the store. Remove it from git (`git rm --cached {}`), treat the key as \
             leaked if it was ever committed, and keep keys outside the working tree (the default \
             when --key-file is not given).",
            path.display(),
            path.display()
        ));
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_are_per_directory_and_readable() {
        let home = Path::new("/home/u/.local/share/tessera");
        let a = user_data_key_file(home, Path::new("/src/app/.tessera"));
        let b = user_data_key_file(home, Path::new("/src/other/.tessera"));
        assert_ne!(a, b);
        assert!(a.starts_with("/home/u/.local/share/tessera/keys"));
        let name = a.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(name.starts_with("tessera-") && name.ends_with(".key"), "{name}");
        assert_eq!(legacy_key_file(Path::new("./.tessera")), Path::new("./.tessera.key"));
    }
}
