//! The library's layers, as ARCHITECTURE.md draws them: every `crate::<module>` a file of `shared/`
//! names (in code, not in comments or its unit tests) must be in a lower layer than the file's own
//! module, or one of the few same-layer steps listed. A lower layer importing a higher one, or a
//! new circle, fails here with the file and the import.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The library's top-level modules, lowest layer first. Keep ARCHITECTURE.md's table in step.
const LAYERS: &[&[&str]] = &[
    // 0. Errors, time, and what Nexus can do.
    &["error", "clock", "capabilities"],
    // 1. Words: what the bridge talks about.
    &["domain"],
    // 2. Settings and secrets.
    &["config"],
    // 3. Tools with no partner in them: storage ports and adapters, HTTP retries, AWS configuration,
    //    logging, and the networks' rules.
    &["store", "http", "aws", "telemetry", "rules"],
    // 4. Request budgets (kept in the store).
    &["pacing"],
    // 5. The partners' clients and wire types.
    &["nexus", "qargo"],
    // 6. Parsed inbound updates (the visibility webhook).
    &["visibility"],
    // 7. What a function builds once.
    &["wiring"],
    // 8. The jobs.
    &["jobs"],
    // 9. How updates reach the jobs.
    &["routing"],
    // 10. The edges: the HTTP API and the operations.
    &["api", "ops"],
    // 11. The Lambda runtime's conventions, around the HTTP API and the jobs.
    &["lambda"],
];

/// Same-layer imports allowed, one way only: (from, to, why).
const SAME_LAYER: &[(&str, &str, &str)] =
    &[("qargo", "nexus", "an imported consignment becomes a Qargo order (qargo/inbound_order.rs)")];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The file's code without comments and without its `#[cfg(test)] mod tests`.
fn code_of(source: &str) -> String {
    let source = match source.find("#[cfg(test)]\nmod tests") {
        Some(at) => &source[..at],
        None => source,
    };
    source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| line.split(" // ").next().unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::<module>` the code names.
fn imports(code: &str) -> Vec<String> {
    code.match_indices("crate::")
        .map(|(at, _)| {
            code[at + "crate::".len()..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect::<String>()
        })
        .filter(|module| !module.is_empty())
        .collect()
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("shared/ is readable") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_lower_layer_of_the_library_imports_a_higher_one() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let mut files = Vec::new();
    rust_files(&shared, &mut files);
    let mut wrong = Vec::new();
    let mut modules: BTreeMap<String, usize> = BTreeMap::new();
    for file in &files {
        let relative = file.strip_prefix(&shared).expect("under shared/").to_string_lossy().replace('\\', "/");
        let module = relative.split('/').next().unwrap_or_default().trim_end_matches(".rs").to_owned();
        if matches!(module.as_str(), "lib" | "hostile_input_tests") {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            wrong.push(format!("{relative}: module `{module}` is in no layer of tests/architecture.rs"));
            continue;
        };
        *modules.entry(module.clone()).or_default() += 1;
        let source = std::fs::read_to_string(file).expect("a readable file");
        for imported in imports(&code_of(&source)) {
            if imported == module {
                continue;
            }
            match layer_of(&imported) {
                Some(theirs) if theirs < own => {}
                Some(theirs) if theirs == own && SAME_LAYER.iter().any(|(f, t, _)| *f == module && *t == imported) => {}
                Some(theirs) => wrong.push(format!(
                    "{relative}: `{module}` (layer {own}) imports `crate::{imported}` (layer {theirs}): the import \
                     goes up or sideways"
                )),
                None => wrong.push(format!("{relative}: imports `crate::{imported}`, which is in no layer")),
            }
        }
    }
    assert!(wrong.is_empty(), "{} wrong imports:\n{}", wrong.len(), wrong.join("\n"));
    // The check saw the library: every layer's modules have files.
    for module in LAYERS.iter().flat_map(|layer| layer.iter()) {
        assert!(modules.contains_key(*module), "no file of module `{module}` found under shared/");
    }
}

#[test]
fn the_check_catches_an_import_that_goes_up() {
    let code = code_of("use crate::jobs::dispatch;\n// crate::api in a comment\nfn f() { crate::wiring::x(); }\n");
    assert_eq!(imports(&code), ["jobs", "wiring"]);
    assert!(layer_of("jobs") > layer_of("store"), "a store file importing jobs would be refused");
    assert!(layer_of("routing") > layer_of("jobs") && layer_of("visibility") < layer_of("jobs"));
}

/// Each file of `shared/` as its module path (`jobs::pod_sync::upload`), with its code.
fn library_modules() -> BTreeMap<String, String> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    let mut files = Vec::new();
    rust_files(&shared, &mut files);
    files
        .iter()
        .filter_map(|file| {
            let relative = file.strip_prefix(&shared).ok()?.to_string_lossy().replace('\\', "/");
            let mut parts: Vec<&str> = relative.trim_end_matches(".rs").split('/').collect();
            if parts.last() == Some(&"mod") {
                parts.pop();
            }
            if parts == ["lib"] || parts == ["hostile_input_tests"] {
                return None;
            }
            Some((parts.join("::"), code_of(&std::fs::read_to_string(file).ok()?)))
        })
        .collect()
}

/// The files a file's code names: each `crate::a::b::…` path (and each path of a `crate::a::{…}`
/// group) to the longest module it reaches, and each `super::x` to its sibling module `x`. A child
/// naming its own parent is not counted: a folder's `mod.rs` and its files are one module.
fn file_imports(module: &str, code: &str, modules: &BTreeMap<String, String>) -> Vec<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut paths = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let base: String = rest.chars().take_while(|c| word(*c)).collect();
        let base = base.trim_end_matches(':').to_owned();
        let after = &rest[base.len()..];
        match after.strip_prefix("::{").and_then(|group| group.split('}').next()) {
            Some(group) => paths.extend(group.split(',').map(|item| format!("{base}::{}", item.trim()))),
            None => paths.push(base),
        }
    }
    let parent = module.rsplit_once("::").map_or("", |(parent, _)| parent);
    for (at, _) in code.match_indices("super::") {
        let name: String =
            code[at + "super::".len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        paths.push(if parent.is_empty() { name } else { format!("{parent}::{name}") });
    }
    let mut found = Vec::new();
    for path in paths {
        let segments: Vec<&str> = path.split("::").map(|s| s.split_whitespace().next().unwrap_or_default()).collect();
        let reached = (1..=segments.len()).rev().map(|n| segments[..n].join("::")).find(|m| modules.contains_key(m));
        if let Some(reached) = reached
            && reached != module
            && !module.starts_with(&format!("{reached}::"))
            && !found.contains(&reached)
        {
            found.push(reached);
        }
    }
    found
}

/// The circles of a graph (its strongly connected parts of more than one node), by Tarjan's method.
fn circles(graph: &BTreeMap<String, Vec<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, Vec<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(walk: &mut Walk<'a>, node: &'a str) {
        let at = walk.index.len();
        walk.index.insert(node, at);
        walk.low.insert(node, at);
        walk.stack.push(node);
        for next in walk.graph.get(node).into_iter().flatten() {
            if !walk.index.contains_key(next.as_str()) {
                visit(walk, next);
                let low = walk.low[next.as_str()].min(walk.low[node]);
                walk.low.insert(node, low);
            } else if walk.stack.contains(&next.as_str()) {
                let low = walk.index[next.as_str()].min(walk.low[node]);
                walk.low.insert(node, low);
            }
        }
        if walk.low[node] == walk.index[node] {
            let mut part = Vec::new();
            while let Some(member) = walk.stack.pop() {
                part.push(member.to_owned());
                if member == node {
                    break;
                }
            }
            if part.len() > 1 {
                part.sort();
                walk.found.push(part);
            }
        }
    }
    let mut walk = Walk { graph, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), found: Vec::new() };
    for node in graph.keys() {
        if !walk.index.contains_key(node.as_str()) {
            visit(&mut walk, node);
        }
    }
    walk.found
}

#[test]
fn no_two_files_of_the_library_import_each_other() {
    let modules = library_modules();
    let graph: BTreeMap<String, Vec<String>> =
        modules.iter().map(|(module, code)| (module.clone(), file_imports(module, code, &modules))).collect();
    let imports: usize = graph.values().map(Vec::len).sum();
    assert!(modules.len() > 90 && imports > 350, "the check saw {} files and {imports} imports", modules.len());
    let found = circles(&graph);
    assert!(found.is_empty(), "import circles between files of shared/: {found:?}");
}

#[test]
fn the_circle_check_finds_a_circle() {
    let modules: BTreeMap<String, String> =
        ["jobs::a", "jobs::b", "jobs::c", "jobs"].iter().map(|m| ((*m).to_owned(), String::new())).collect();
    assert_eq!(file_imports("jobs::a", "use crate::jobs::{b::X, c};", &modules), ["jobs::b", "jobs::c"]);
    assert_eq!(file_imports("jobs::b", "use super::a::Y; use crate::jobs::Z;", &modules), ["jobs::a"]);
    let graph: BTreeMap<String, Vec<String>> = [
        ("jobs::a".to_owned(), vec!["jobs::b".to_owned()]),
        ("jobs::b".to_owned(), vec!["jobs::a".to_owned()]),
        ("jobs::c".to_owned(), vec!["jobs::a".to_owned()]),
    ]
    .into();
    assert_eq!(circles(&graph), [vec!["jobs::a".to_owned(), "jobs::b".to_owned()]]);
}
