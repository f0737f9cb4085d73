//! Reading `.seam` files from disk for the commands, with errors a person can act on.

use std::path::{Path, PathBuf};

/// One file's text, ready for the compiler.
pub struct SourceFile {
    /// The path as the user wrote it (what diagnostics print).
    pub name: String,
    pub text: String,
    /// Set when the file is not valid UTF-8: the byte offset of the first bad byte. `text`
    /// then holds the valid prefix only.
    pub invalid_utf8_at: Option<usize>,
}

/// Reads a file, or says in one line why it cannot be read.
pub fn read(path: &Path) -> Result<SourceFile, String> {
    let name = path.display().to_string();
    if path.is_dir() {
        return Err(format!(
            "`{name}` is a directory; pass the `.seam` files inside it"
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("`{name}` does not exist"),
        std::io::ErrorKind::PermissionDenied => {
            format!("`{name}` cannot be read: permission denied")
        }
        _ => format!("`{name}` cannot be read: {e}"),
    })?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => SourceFile {
            name,
            text,
            invalid_utf8_at: None,
        },
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let mut bytes = e.into_bytes();
            bytes.truncate(at);
            SourceFile {
                name,
                text: String::from_utf8(bytes).unwrap_or_default(),
                invalid_utf8_at: Some(at),
            }
        }
    })
}

/// Expands the command line's files (kept in order, duplicates dropped).
pub fn dedup(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut seen = std::collections::HashSet::new();
    paths
        .iter()
        .filter(|p| seen.insert((*p).clone()))
        .cloned()
        .collect()
}
