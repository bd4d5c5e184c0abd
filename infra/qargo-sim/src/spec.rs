//! Qargo's OpenAPI 1.2.0, trimmed to what the simulator and the bridge use
//! (`spec/qargo-openapi-1.2.0.trimmed.json`, written by `infra/scripts/trim_qargo_spec.py`), and
//! JSON Schema 2020-12 validators compiled from its `components/schemas`.
//!
//! Every request body a Qargo route takes as JSON is validated before anything else: a body the
//! schema refuses is answered `422` `HTTPValidationError` `{detail: [{loc: ["body", …], msg, type}]}`
//! as Qargo (FastAPI) answers it. Each schema has two validators:
//!
//! * **lenient** — the schema as published: keys it does not define are allowed (real Qargo ignores
//!   them);
//! * **strict** — the same schemas with `"unevaluatedProperties": false` added to every object
//!   schema that has `properties` and no `additionalProperties` (free maps such as `custom_fields:
//!   {type: object}` are left alone): a body valid under the lenient validator that the strict one
//!   refuses carries keys the spec does not define. The simulator records them
//!   ([`crate::SimHandle::unknown_keys`]) and, with `SimOptions::strict_unknown_keys`, refuses them.
//!
//! Formats (`uuid`, `date`, `date-time`, `time`, …) are annotations here, as JSON Schema 2020-12
//! has them by default; the simulator checks dates and times where it uses them (`400`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use jsonschema::{ValidationError, Validator};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::errors::HttpValidationIssue;

/// The trimmed spec, as vendored.
pub const SPEC_JSON: &str = include_str!("../spec/qargo-openapi-1.2.0.trimmed.json");

/// At most this many entries in a `422` answer.
pub const MAX_ISSUES: usize = 20;
/// Messages in a `422` answer are cut to this many characters.
pub const MAX_MESSAGE: usize = 300;

/// The trimmed spec, parsed once.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| serde_json::from_str(SPEC_JSON).expect("the vendored Qargo spec is JSON"))
}

/// Whether `components/schemas` has `name`.
pub fn has_schema(name: &str) -> bool {
    spec().pointer(&format!("/components/schemas/{name}")).is_some()
}

/// The strict copy of `components`: `"unevaluatedProperties": false` on every object schema with
/// `properties` and no `additionalProperties`.
fn strict_components() -> &'static Value {
    static STRICT: OnceLock<Value> = OnceLock::new();
    STRICT.get_or_init(|| {
        let mut components = spec()["components"].clone();
        close_objects(&mut components);
        components
    })
}

/// Adds `"unevaluatedProperties": false` to every object schema in `node` that has `properties`
/// and no `additionalProperties`. Values that are data, not schemas (`examples`, `default`,
/// `const`, `enum`), are not entered.
fn close_objects(node: &mut Value) {
    match node {
        Value::Object(map) => {
            if map.get("properties").is_some_and(Value::is_object) && !map.contains_key("additionalProperties") {
                map.insert("unevaluatedProperties".into(), Value::Bool(false));
            }
            for (key, value) in map.iter_mut() {
                if !matches!(key.as_str(), "examples" | "example" | "default" | "const" | "enum") {
                    close_objects(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

type Cache = Mutex<HashMap<(String, bool), Arc<Validator>>>;

/// The validator of `components/schemas/<name>` (strict or lenient), compiled once.
///
/// Panics when the spec has no such schema: the names are the simulator's own constants.
pub fn validator(name: &str, strict: bool) -> Arc<Validator> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let key = (name.to_string(), strict);
    if let Some(found) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return found.clone();
    }
    assert!(has_schema(name), "the vendored Qargo spec has no schema {name}");
    let components = if strict { strict_components().clone() } else { spec()["components"].clone() };
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": components,
    });
    let built = Arc::new(
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(false)
            .build(&root)
            .unwrap_or_else(|e| panic!("schema {name} of the vendored Qargo spec does not compile: {e}")),
    );
    cache.lock().unwrap_or_else(|e| e.into_inner()).entry(key).or_insert(built).clone()
}

/// A problem the schema found, flattened out of `anyOf` branches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaIssue {
    /// Where, from the body's root (property names and array indexes).
    pub path: Vec<Value>,
    /// What.
    pub message: String,
    /// Pydantic's name for it (`missing`, `string_type`, `enum`, `extra_forbidden`, …).
    pub kind: String,
}

impl SchemaIssue {
    /// `$`-rooted JSON path, e.g. `$.consignments[0].goods[1].handling_units`.
    pub fn json_path(&self) -> String {
        json_path(&self.path)
    }
}

/// `$.a[0].b` from path segments.
pub fn json_path(path: &[Value]) -> String {
    let mut out = String::from("$");
    for segment in path {
        match segment {
            Value::Number(n) => out.push_str(&format!("[{n}]")),
            Value::String(s) => {
                out.push('.');
                out.push_str(s);
            }
            other => out.push_str(&format!(".{other}")),
        }
    }
    out
}

fn cut(text: String) -> String {
    if text.chars().count() <= MAX_MESSAGE {
        text
    } else {
        text.chars().take(MAX_MESSAGE - 1).collect::<String>() + "…"
    }
}

fn path_of(error: &ValidationError<'_>) -> Vec<Value> {
    error
        .instance_path()
        .iter()
        .map(|segment| match segment {
            LocationSegment::Property(name) => Value::from(name.as_ref()),
            LocationSegment::Index(i) => Value::from(i),
        })
        .collect()
}

fn type_kind(expected: &str) -> &'static str {
    match expected {
        e if e.contains("string") => "string_type",
        e if e.contains("integer") => "int_type",
        e if e.contains("number") => "float_type",
        e if e.contains("boolean") => "bool_type",
        e if e.contains("array") => "list_type",
        e if e.contains("object") => "dict_type",
        e if e.contains("null") => NULL_ARM,
        _ => "type_error",
    }
}

/// The kind of a type error against `{"type": "null"}`: the `null` arm of an optional field.
const NULL_ARM: &str = "none_required";

/// Flattens one error into issues. An `anyOf` / `oneOf` error is replaced by what pydantic would
/// report: the `null` arm of an optional field (`anyOf [T, null]`) is left out, so a wrong value
/// is reported against `T` (`int_type`, `string_type`, `enum`, …); when the value's type fits none
/// of the remaining branches, one issue names the first branch's type; otherwise the issues of the
/// branch the value's type fits that came closest (fewest issues).
fn flatten(error: &ValidationError<'_>, out: &mut Vec<SchemaIssue>) {
    let path = path_of(error);
    let message = cut(error.to_string());
    match error.kind() {
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            let branches: Vec<Vec<SchemaIssue>> = context
                .iter()
                .map(|branch| {
                    let mut issues = Vec::new();
                    branch.iter().for_each(|e| flatten(e, &mut issues));
                    issues
                })
                .filter(|issues: &Vec<SchemaIssue>| !issues.is_empty())
                .collect();
            let null_arm = |issues: &Vec<SchemaIssue>| issues.iter().all(|i| i.path == path && i.kind == NULL_ARM);
            let mut candidates: Vec<&Vec<SchemaIssue>> = branches.iter().filter(|b| !null_arm(b)).collect();
            if candidates.is_empty() {
                candidates = branches.iter().collect();
            }
            let wrong_type_here =
                |issues: &Vec<SchemaIssue>| issues.iter().all(|i| i.path == path && i.kind.ends_with("_type"));
            let fitting = candidates.iter().filter(|b| !wrong_type_here(b)).min_by_key(|b| b.len());
            match (fitting, candidates.first()) {
                (Some(best), _) => out.extend(best.iter().cloned()),
                (None, Some(first)) => {
                    // The value's type fits no branch: name the first one's, as pydantic does.
                    let issue = &first[0];
                    out.push(SchemaIssue { path, message: issue.message.clone(), kind: issue.kind.clone() });
                }
                (None, None) => out.push(SchemaIssue { path, message, kind: "value_error".into() }),
            }
        }
        ValidationErrorKind::Required { property } => {
            let mut at = path;
            at.push(property.clone());
            out.push(SchemaIssue { path: at, message: "Field required".into(), kind: "missing".into() });
        }
        ValidationErrorKind::UnevaluatedProperties { unexpected }
        | ValidationErrorKind::AdditionalProperties { unexpected } => {
            for key in unexpected {
                let mut at = path.clone();
                at.push(Value::from(key.as_str()));
                out.push(SchemaIssue {
                    path: at,
                    message: "Extra inputs are not permitted (the spec does not define this key)".into(),
                    kind: "extra_forbidden".into(),
                });
            }
        }
        ValidationErrorKind::Type { kind } => {
            let expected = format!("{kind:?}").to_ascii_lowercase();
            out.push(SchemaIssue { path, message, kind: type_kind(&expected).into() });
        }
        ValidationErrorKind::Enum { .. } => out.push(SchemaIssue { path, message, kind: "enum".into() }),
        ValidationErrorKind::Constant { .. } => out.push(SchemaIssue { path, message, kind: "literal_error".into() }),
        ValidationErrorKind::MinItems { .. } => out.push(SchemaIssue { path, message, kind: "too_short".into() }),
        ValidationErrorKind::MaxItems { .. } => out.push(SchemaIssue { path, message, kind: "too_long".into() }),
        ValidationErrorKind::MinLength { .. } => {
            out.push(SchemaIssue { path, message, kind: "string_too_short".into() })
        }
        ValidationErrorKind::MaxLength { .. } => {
            out.push(SchemaIssue { path, message, kind: "string_too_long".into() })
        }
        _ => out.push(SchemaIssue { path, message, kind: "value_error".into() }),
    }
}

/// Every issue of `instance` under the schema `name` (strict or lenient), de-duplicated, in order.
pub fn issues(name: &str, strict: bool, instance: &Value) -> Vec<SchemaIssue> {
    let validator = validator(name, strict);
    let mut out = Vec::new();
    for error in validator.iter_errors(instance) {
        flatten(&error, &mut out);
    }
    let mut unique: Vec<SchemaIssue> = Vec::with_capacity(out.len());
    for issue in out {
        if !unique.contains(&issue) {
            unique.push(issue);
        }
    }
    unique
}

/// What validating a request body found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BodyCheck {
    /// Problems under the spec as published (the body is refused).
    pub invalid: Vec<SchemaIssue>,
    /// Keys the spec does not define (found only when the body is otherwise valid).
    pub unknown: Vec<SchemaIssue>,
}

/// Validates a request body: lenient first, then (when that passes) strict for unknown keys.
pub fn check_body(name: &str, body: &Value) -> BodyCheck {
    let invalid = issues(name, false, body);
    if !invalid.is_empty() {
        return BodyCheck { invalid, unknown: Vec::new() };
    }
    let unknown = issues(name, true, body).into_iter().filter(|i| i.kind == "extra_forbidden").collect();
    BodyCheck { invalid, unknown }
}

/// The `422` entries (`loc` rooted at `"body"`) for these issues, at most [`MAX_ISSUES`].
pub fn http_issues(issues: &[SchemaIssue]) -> Vec<HttpValidationIssue> {
    issues
        .iter()
        .take(MAX_ISSUES)
        .map(|issue| {
            let mut loc = vec![Value::from("body")];
            loc.extend(issue.path.iter().cloned());
            HttpValidationIssue { loc, msg: cut(issue.message.clone()), kind: issue.kind.clone() }
        })
        .collect()
}

/// Validates a value the simulator sends or answers; `Err` lists every issue as
/// `"$.path: message"` lines.
pub fn check_output(name: &str, strict: bool, value: &Value) -> Result<(), Vec<String>> {
    let found = issues(name, strict, value);
    if found.is_empty() {
        Ok(())
    } else {
        Err(found.iter().map(|i| format!("{}: {} ({})", i.json_path(), i.message, i.kind)).collect())
    }
}
