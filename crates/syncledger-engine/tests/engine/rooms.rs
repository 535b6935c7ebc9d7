//! The engine's shape (docs/architecture.md, "The engine's rooms"), checked on its source: the
//! modules' references form no cycle, the leaves know no room, and the rooms know each other only
//! where the architecture says (the scheduler runs jobs; the ledger holds them all).
//!
//! A reference is a `crate::a::b` or `super::b` path, or a declared child's name followed by
//! `::`, outside `#[cfg(test)]` code; it points at the longest module path it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOMS: [&str; 6] = [
    "intake",
    "job",
    "scheduler",
    "bringup",
    "sampler",
    "retention",
];
const LEAVES: [&str; 6] = [
    "context",
    "settings",
    "error",
    "observe",
    "held",
    "snapshots",
];

/// Every module of the engine (`job::gather`, `bringup`, ...) and its source, tests cut off.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path: PathBuf = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files
        .into_iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(&src).ok()?.with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).ok()?;
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let code: String = code
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            Some((parts.join("::"), code))
        })
        .collect()
}

/// The modules `module` refers to.
fn references(module: &str, code: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
    let longest = |path: &str| -> Option<String> {
        let segments: Vec<&str> = path.split("::").collect();
        (1..=segments.len())
            .rev()
            .map(|n| segments[..n].join("::"))
            .find(|p| known.contains(p))
    };
    let mut found = BTreeSet::new();
    let words: Vec<&str> = code
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| w.contains("::"))
        .collect();
    for word in words {
        let target = if let Some(rest) = word.strip_prefix("crate::") {
            longest(rest)
        } else if let Some(rest) = word.strip_prefix("super::") {
            match parent {
                "" => longest(rest),
                p => longest(&format!("{p}::{rest}")),
            }
        } else {
            // A child of this module named directly (`failures::run`).
            let child = match module {
                "" => word.to_string(),
                m => format!("{m}::{word}"),
            };
            longest(&child).filter(|c| c.starts_with(&format!("{module}::")) || module.is_empty())
        };
        if let Some(target) = target.filter(|t| t != module && !t.is_empty()) {
            found.insert(target);
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .filter(|(m, _)| !m.is_empty())
        .map(|(m, code)| (m.clone(), references(m, code, &known)))
        .collect()
}

fn room_of(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

#[test]
fn the_engines_modules_refer_to_each_other_without_a_cycle() {
    let graph = graph();
    assert!(
        graph.contains_key("job::process"),
        "modules found: {graph:?}"
    );
    // Depth-first search; a module met again while on the path closes a cycle.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(at) = path.iter().position(|p| p == m) {
            panic!(
                "a cycle between modules: {} -> {m}",
                path[at..].join(" -> ")
            );
        }
        path.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            visit(next, graph, path, done);
        }
        path.pop();
        done.insert(m.to_string());
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done);
    }
}

#[test]
fn leaves_know_no_room_and_rooms_meet_only_where_the_architecture_says() {
    let graph = graph();
    for (module, targets) in &graph {
        let from = room_of(module);
        for target in targets {
            let to = room_of(target);
            if from == to {
                continue;
            }
            let allowed = match from {
                "ledger" => true,
                "scheduler" => to == "job" || LEAVES.contains(&to),
                room if ROOMS.contains(&room) => LEAVES.contains(&to),
                leaf if LEAVES.contains(&leaf) => LEAVES.contains(&to),
                other => panic!("module {other} is neither a room, a leaf nor the ledger"),
            };
            assert!(allowed, "{module} refers to {target}: the rooms have walls");
        }
    }
    for room in ROOMS {
        assert!(graph.contains_key(room), "room {room} is missing");
    }
}
