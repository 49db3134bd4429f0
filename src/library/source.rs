//! Where the content files come from: the vetted `responses/` tree built into the binary, or a
//! folder an operator points at (`[bot] responses_dir`, `--responses`). Loaders read through this,
//! so an installed binary needs no checkout next to it.

use std::fmt;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir, DirEntry};

use crate::diagnostics::Problem;

/// The `responses/` tree as it was when this binary was built. `build.rs` makes Cargo rebuild
/// when any file under it changes, and the test suite checks it (`tests/library_check.rs`).
static BUILT_IN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/responses");

/// Shown in diagnostics in place of a folder for the built-in copy.
const BUILT_IN_LABEL: &str = "<built-in responses>";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentSource {
    /// The library compiled into the binary.
    BuiltIn,
    /// A `responses/` folder on disk.
    Folder(PathBuf),
}

impl fmt::Display for ContentSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentSource::BuiltIn => f.write_str(BUILT_IN_LABEL),
            ContentSource::Folder(dir) => write!(f, "{}", dir.display()),
        }
    }
}

impl ContentSource {
    /// `Some(folder)` reads that folder; `None` the built-in library.
    pub fn from_option(folder: Option<&Path>) -> ContentSource {
        folder.map_or(ContentSource::BuiltIn, |d| ContentSource::Folder(d.into()))
    }

    /// The path diagnostics name for `rel` (a `/`-separated path inside the library).
    pub fn path(&self, rel: &str) -> PathBuf {
        match self {
            ContentSource::BuiltIn => Path::new(BUILT_IN_LABEL).join(rel),
            ContentSource::Folder(dir) => dir.join(rel),
        }
    }

    /// The text of one file, or a problem naming it.
    pub fn read(&self, rel: &str) -> Result<String, Problem> {
        let cannot =
            |e: &dyn fmt::Display| Problem::error(&self.path(rel), 0, format!("cannot read: {e}"));
        match self {
            ContentSource::Folder(dir) => {
                std::fs::read_to_string(dir.join(rel)).map_err(|e| cannot(&e))
            }
            ContentSource::BuiltIn => BUILT_IN
                .get_file(rel)
                .ok_or_else(|| cannot(&"not in the built-in library"))?
                .contents_utf8()
                .map(str::to_owned)
                .ok_or_else(|| cannot(&"not UTF-8")),
        }
    }

    /// The files ending in `.ext` directly inside `rel_dir` and, with `nested`, one folder further
    /// down; `/`-separated paths relative to the library, sorted.
    pub fn files(&self, rel_dir: &str, ext: &str, nested: bool) -> Result<Vec<String>, Problem> {
        let mut found = match self {
            ContentSource::Folder(dir) => folder_files(dir, rel_dir, ext, nested)?,
            ContentSource::BuiltIn => {
                let top = BUILT_IN.get_dir(rel_dir).ok_or_else(|| {
                    Problem::error(
                        &self.path(rel_dir),
                        0,
                        "cannot read folder: not in the built-in library",
                    )
                })?;
                let mut found = Vec::new();
                for entry in top.entries() {
                    match entry {
                        DirEntry::File(f) => found.push(f.path().to_path_buf()),
                        DirEntry::Dir(d) if nested => {
                            found.extend(d.files().map(|f| f.path().to_path_buf()))
                        }
                        DirEntry::Dir(_) => {}
                    }
                }
                found
                    .into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == ext))
                    .map(|p| p.to_string_lossy().replace('\\', "/"))
                    .collect()
            }
        };
        found.sort();
        Ok(found)
    }

    /// Writes every file of the built-in library under `dest` (which must not exist or be empty),
    /// for a community that wants to review or extend it. Returns how many files were written.
    pub fn export_built_in(dest: &Path) -> std::io::Result<usize> {
        if dest.exists() && std::fs::read_dir(dest)?.next().is_some() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} is not empty; export into a new folder", dest.display()),
            ));
        }
        std::fs::create_dir_all(dest)?;
        BUILT_IN.extract(dest)?;
        Ok(count_files(&BUILT_IN))
    }
}

impl ContentSource {
    /// Feeds every file of the library (its `/`-separated path and bytes, in path order) to
    /// `hasher`: the same files give the same hash, built in or on disk.
    pub fn hash_into(&self, hasher: &mut blake3::Hasher) -> std::io::Result<()> {
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        match self {
            ContentSource::BuiltIn => built_in_files(&BUILT_IN, &mut files),
            ContentSource::Folder(dir) => folder_tree(dir, "", &mut files)?,
        }
        files.sort();
        for (rel, bytes) in files {
            hasher.update(&(rel.len() as u64).to_le_bytes());
            hasher.update(rel.as_bytes());
            hasher.update(&(bytes.len() as u64).to_le_bytes());
            hasher.update(&bytes);
        }
        Ok(())
    }
}

fn built_in_files(dir: &Dir<'_>, out: &mut Vec<(String, Vec<u8>)>) {
    for f in dir.files() {
        let rel = f.path().to_string_lossy().replace('\\', "/");
        out.push((rel, f.contents().to_vec()));
    }
    for d in dir.dirs() {
        built_in_files(d, out);
    }
}

fn folder_tree(root: &Path, rel: &str, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if entry.file_type()?.is_dir() {
            folder_tree(root, &child, out)?;
        } else {
            out.push((child.clone(), std::fs::read(root.join(&child))?));
        }
    }
    Ok(())
}

fn count_files(dir: &Dir<'_>) -> usize {
    dir.files().count() + dir.dirs().map(count_files).sum::<usize>()
}

fn folder_files(
    root: &Path,
    rel_dir: &str,
    ext: &str,
    nested: bool,
) -> Result<Vec<String>, Problem> {
    let read = |rel: &str| {
        let d = root.join(rel);
        std::fs::read_dir(&d).map_err(|e| Problem::error(&d, 0, format!("cannot read folder: {e}")))
    };
    let mut found = Vec::new();
    for entry in read(rel_dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{rel_dir}/{name}");
        let path = entry.path();
        if path.is_dir() {
            if nested {
                for inner in read(&rel)?.flatten() {
                    let inner_name = inner.file_name().to_string_lossy().into_owned();
                    if inner.path().extension().is_some_and(|e| e == ext) {
                        found.push(format!("{rel}/{inner_name}"));
                    }
                }
            }
        } else if path.extension().is_some_and(|e| e == ext) {
            found.push(rel);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_and_folder_list_the_same_templates() {
        let folder =
            ContentSource::Folder(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("responses"));
        let a = ContentSource::BuiltIn
            .files("templates", "md", true)
            .expect("built-in");
        let b = folder.files("templates", "md", true).expect("folder");
        assert!(!a.is_empty());
        assert_eq!(a, b);
        for rel in &a {
            assert_eq!(
                ContentSource::BuiltIn.read(rel).ok(),
                folder.read(rel).ok(),
                "{rel}"
            );
        }
    }

    #[test]
    fn built_in_and_folder_hash_alike_and_any_change_shows() {
        let hash = |s: &ContentSource| {
            let mut h = blake3::Hasher::new();
            s.hash_into(&mut h).expect("readable");
            h.finalize()
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let copy = dir.path().join("r");
        ContentSource::export_built_in(&copy).expect("export");
        let exported = ContentSource::Folder(copy.clone());
        assert_eq!(hash(&ContentSource::BuiltIn), hash(&exported));
        let topics = copy.join("topics.toml");
        let mut text = std::fs::read_to_string(&topics).expect("topics");
        text.push_str("\n# edited\n");
        std::fs::write(&topics, text).expect("write");
        assert_ne!(hash(&ContentSource::BuiltIn), hash(&exported));
    }

    #[test]
    fn a_missing_file_names_its_place() {
        let p = ContentSource::BuiltIn
            .read("nope.toml")
            .expect_err("missing");
        assert!(
            p.to_string().contains("<built-in responses>/nope.toml"),
            "{p}"
        );
    }

    #[test]
    fn export_refuses_a_non_empty_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("keep.txt"), "mine").expect("write");
        assert!(ContentSource::export_built_in(dir.path()).is_err());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("keep.txt"))
                .ok()
                .as_deref(),
            Some("mine")
        );
    }
}
