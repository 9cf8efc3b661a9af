//! Fingerprints the circuit code: SHA-256 over every source file of this crate (by its path
//! inside `src/`, in sorted order) and the workspace's `Cargo.lock` (the proof-system crates'
//! versions). Keys depend on the model, the settings, the SRS and this code; a key manifest
//! records the fingerprint, so `setup` never reuses keys that another version of the circuits
//! made (their proofs would not verify, or a stale verifier would accept another circuit's).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let src = root.join("src");
    let lock = root.join("../Cargo.lock");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    let mut h = Sha256::new();
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src/");
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0]);
        let bytes = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    if let Ok(bytes) = std::fs::read(&lock) {
        h.update(b"Cargo.lock\0");
        h.update(&bytes);
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=ZKINFER_CIRCUIT_CODE={hex}");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed={}", lock.display());
}
