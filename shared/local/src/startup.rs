//! The start of `tessera serve`: the port and the data directory, each failure as one plain line
//! that names what is wrong, the path, and what to do; and undoing what a failed start made.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// An I/O error in words, without Rust's `(os error N)` suffix: "permission denied".
pub fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// Takes the port before anything is written, so that a busy port leaves nothing behind.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "cannot listen on {addr}: the address is already in use (another tessera server, or \
             another program). Stop it, or pass --bind with another port (port 0 picks a free one)"
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "cannot listen on {addr}: the address is not one of this machine's. Pass --bind with \
             one of its addresses, such as 127.0.0.1:{}",
            addr.port()
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "cannot listen on {addr}: permission denied (ports below 1024 need privileges). Pass \
             --bind with a port above 1023"
        ),
        _ => format!("cannot listen on {addr}: {}. Pass --bind with another address", io_reason(&e)),
    })
}

/// Makes the data directory when it is missing; returns what this call made (the topmost
/// directory it created), if anything.
pub fn prepare_data_dir(dir: &Path) -> Result<Option<PathBuf>, String> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => return Ok(None),
        Ok(_) => {
            return Err(format!(
                "cannot use {} as the data directory: it is a file. Pass --data-dir with a \
                 directory (it is made when missing)",
                dir.display()
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(format!(
                "cannot use {} as the data directory: {}. Pass --data-dir with a directory you can \
                 write to",
                dir.display(),
                io_reason(&e)
            ))
        }
    }
    // The topmost missing ancestor is what a failed start removes again.
    let mut top = dir.to_path_buf();
    while let Some(parent) = top.parent().filter(|p| !p.as_os_str().is_empty() && !p.exists()) {
        top = parent.to_path_buf();
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        format!(
            "cannot make the data directory {}: {}. Pass --data-dir with a directory you can write to",
            dir.display(),
            io_reason(&e)
        )
    })?;
    Ok(Some(top))
}

/// What a start made, removed again when the start fails after making it.
#[derive(Default)]
pub struct Made {
    /// A data directory (or its topmost ancestor) that did not exist before.
    pub data_dir: Option<PathBuf>,
    /// A master key file made for it.
    pub key_file: Option<PathBuf>,
}

impl Made {
    pub fn undo(self) {
        if let Some(key) = self.key_file {
            let _ = std::fs::remove_file(key);
        }
        if let Some(dir) = self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_reasons_read_as_words() {
        let e = std::io::Error::from_raw_os_error(13);
        assert_eq!(io_reason(&e), "permission denied");
        assert_eq!(io_reason(&std::io::Error::other("Odd thing")), "odd thing");
    }
}
