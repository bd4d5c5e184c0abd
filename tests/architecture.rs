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
    // 10. The edges: the HTTP API, the Lambda runtime's conventions and the operations.
    &["api", "lambda", "ops"],
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
