//! Embeds the default message templates (`templates/`) into the crate, so the custom-message
//! hook works with no template directory configured. Writes `$OUT_DIR/builtin_templates.rs`:
//! one `(relative path, contents)` pair per file, in path order.

use std::error::Error;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, base: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), Box<dyn Error>> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, base, out)?;
        } else {
            let rel = path.strip_prefix(base)?.to_string_lossy().replace('\\', "/");
            out.push((rel, path.canonicalize()?));
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let base = Path::new(&std::env::var("CARGO_MANIFEST_DIR")?).join("templates");
    println!("cargo:rerun-if-changed={}", base.display());
    let mut files = Vec::new();
    collect(&base, &base, &mut files)?;
    files.sort();
    let mut code = String::from("pub(crate) const BUILTIN: &[(&str, &str)] = &[\n");
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={}", abs.display());
        code.push_str(&format!("    ({rel:?}, include_str!({:?})),\n", abs.to_string_lossy()));
    }
    code.push_str("];\n");
    std::fs::write(Path::new(&std::env::var("OUT_DIR")?).join("builtin_templates.rs"), code)?;
    Ok(())
}
