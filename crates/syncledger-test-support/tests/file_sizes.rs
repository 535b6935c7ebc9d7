//! The house habit of STYLE.md ("files small enough to read in one sitting"), held as a test: no
//! source file of a crate (`crates/*/src/**/*.rs`) is longer than [`LIMIT`] lines. A file that
//! grows past it is split by concern, not trimmed; the failure names every such file.
//!
//! It lives here because this crate is a dev-dependency of every crate's tests and depends on
//! none of the crates it measures: it reads the workspace's files, nothing else.

use std::path::{Path, PathBuf};

const LIMIT: usize = 400;

/// Every `.rs` file under `crates/*/src` of `root` longer than `limit` lines, with its length,
/// its path relative to `root`; and how many files were measured.
fn oversized(root: &Path, limit: usize) -> (Vec<(PathBuf, usize)>, usize) {
    let mut files = Vec::new();
    let crates = std::fs::read_dir(root.join("crates")).expect("reading crates/");
    for krate in crates {
        let src = krate.expect("a crates/ entry").path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    files.sort();
    let measured = files.len();
    let over = files
        .into_iter()
        .filter_map(|path| {
            let text = std::fs::read_to_string(&path).expect("reading a source file");
            let lines = text.lines().count();
            let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            (lines > limit).then_some((relative, lines))
        })
        .collect();
    (over, measured)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reading a source folder") {
        let path = entry.expect("a source folder entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate lives in crates/ of the workspace")
        .to_path_buf()
}

#[test]
fn no_source_file_of_a_crate_is_longer_than_400_lines() {
    let root = workspace_root();
    let (over, measured) = oversized(&root, LIMIT);
    assert!(
        measured > 100,
        "only {measured} source files found under {}/crates/*/src: is the walk looking in the right place?",
        root.display()
    );
    let named: Vec<String> = over
        .iter()
        .map(|(path, lines)| format!("  {} ({lines} lines)", path.display()))
        .collect();
    assert!(
        over.is_empty(),
        "{} source file(s) longer than {LIMIT} lines; split each by concern:\n{}",
        over.len(),
        named.join("\n")
    );
}

#[test]
fn the_size_check_names_a_nested_file_one_line_over_the_limit_and_spares_one_at_it() {
    let root = tempfile::tempdir().expect("a temporary workspace");
    let src = root.path().join("crates/demo/src/deep");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("over.rs"), "//\n".repeat(LIMIT + 1)).unwrap();
    std::fs::write(src.join("at.rs"), "//\n".repeat(LIMIT)).unwrap();
    std::fs::write(src.join("notes.txt"), "x\n".repeat(LIMIT * 2)).unwrap();
    std::fs::create_dir_all(root.path().join("crates/demo/tests")).unwrap();
    std::fs::write(
        root.path().join("crates/demo/tests/outside_src.rs"),
        "//\n".repeat(LIMIT * 2),
    )
    .unwrap();

    let (over, measured) = oversized(root.path(), LIMIT);
    assert_eq!(measured, 2, "the two .rs files under src are measured");
    assert_eq!(
        over,
        vec![(PathBuf::from("crates/demo/src/deep/over.rs"), LIMIT + 1)]
    );
}
