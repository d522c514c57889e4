//! The core's modules import one another without circles: the document
//! (input, requests, outcomes) names no step, the records name no step, and
//! no step imports another step's module to name its result. A circle
//! makes a module impossible to read, test or move on its own; this test
//! names the first one that appears.
//!
//! Read from the sources (`crate::<path>` paths outside comments and test
//! code). A module is a file or folder under `src/`, or under one of the
//! groups (`document/`, `records/`, `steps/`, and the submodules of `world/`
//! and `ports/`): `records::config`, `steps::rollback`, `world::routing`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file that the library is built from: comments and test
/// modules taken out.
fn library_code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first two names of each `crate::` path a piece of code holds
/// (`crate::records::config::AppConfig` gives `records::config`).
fn imports(code: &str) -> BTreeSet<String> {
    let path = |s: &str| -> String {
        let names: Vec<&str> = s
            .split("::")
            .map(|part| {
                let end = part
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(part.len());
                &part[..end]
            })
            .take(2)
            .collect();
        // A second name only when the first was followed by `::` directly.
        let first = names[0];
        match names.get(1) {
            Some(second) if s[first.len()..].starts_with("::") && !second.is_empty() => {
                format!("{first}::{second}")
            }
            _ => first.to_string(),
        }
    };
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a, b::c, d::{e, f}}`: the path of each item.
            let mut depth = 0;
            let mut item_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        out.insert(path(&group[j..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(path(rest));
        }
    }
    out
}

/// The module a source file belongs to: its first path component, and the
/// second under a group or a folder module.
fn module_of(relative: &Path) -> String {
    let parts: Vec<String> = relative
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .map(|s| s.trim_end_matches(".rs").to_string())
        .collect();
    match parts.as_slice() {
        [group, module, ..] if module != "mod" => format!("{group}::{module}"),
        [first, ..] => first.clone(),
        [] => String::new(),
    }
}

/// What an imported path names among the modules: `records::config`, or
/// `world` for `world::World` (a name in the folder module itself).
fn resolve(path: &str, modules: &BTreeSet<String>) -> Option<String> {
    if modules.contains(path) {
        return Some(path.to_string());
    }
    let first = path.split("::").next().unwrap_or_default();
    modules.contains(first).then(|| first.to_string())
}

/// One circle of `graph`, if it has any.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

/// The import graph of the library's modules.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut raw: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let module = module_of(relative);
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if module == "lib" || name.ends_with("_tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("a readable source");
        raw.entry(module)
            .or_default()
            .extend(imports(&library_code(&text)));
    }
    let modules: BTreeSet<String> = raw.keys().cloned().collect();
    raw.into_iter()
        .map(|(module, paths)| {
            let edges = paths
                .iter()
                .filter_map(|p| resolve(p, &modules))
                .filter(|m| *m != module)
                .collect();
            (module, edges)
        })
        .collect()
}

#[test]
fn the_modules_import_one_another_without_circles() {
    let graph = graph();
    assert!(graph.len() > 20, "the modules were found: {graph:?}");
    for group in [
        "document::input",
        "records::config",
        "steps::rollback",
        "world::routing",
    ] {
        assert!(graph.contains_key(group), "{group} was found: {graph:?}");
    }
    if let Some(found) = circle(&graph) {
        panic!("an import circle: {}", found.join(" -> "));
    }
}

/// The document and the records describe; the steps act on them. A record
/// or the document naming a step would tie what is written down to one
/// step's code.
#[test]
fn the_document_and_the_records_name_no_step() {
    for (module, edges) in graph() {
        if module.starts_with("document::") || module.starts_with("records::") {
            let steps: Vec<&String> = edges.iter().filter(|e| e.starts_with("steps::")).collect();
            assert!(steps.is_empty(), "{module} imports {steps:?}");
        }
    }
}

#[test]
fn the_check_reads_grouped_imports_and_finds_a_circle() {
    let code = "use crate::{a, b::c, d::{e, f}};\nlet x = crate::g::h();\nuse crate::k;";
    let names: Vec<String> = imports(code).into_iter().collect();
    assert_eq!(names, ["a", "b::c", "d", "g::h", "k"]);
    let modules: BTreeSet<String> = ["b", "g::h", "world"].map(String::from).into();
    assert_eq!(resolve("b::c", &modules).as_deref(), Some("b"));
    assert_eq!(resolve("g::h", &modules).as_deref(), Some("g::h"));
    assert_eq!(resolve("world::World", &modules).as_deref(), Some("world"));
    assert_eq!(module_of(Path::new("records/config.rs")), "records::config");
    assert_eq!(
        module_of(Path::new("steps/rollback/plan.rs")),
        "steps::rollback"
    );
    assert_eq!(module_of(Path::new("world/mod.rs")), "world");
    assert_eq!(module_of(Path::new("color.rs")), "color");
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(
        circle(&graph).map(|c| c.join(" -> ")),
        Some("a -> b -> c -> a".to_string())
    );
}
