//! A spec-driven property test of the bridge's two webhooks.
//!
//! Qargo's OpenAPI spec (vendored, `qargo_sim::spec`) says which bodies Qargo may send. A seeded
//! generator walks a real body from the Qargo simulator together with its schema and makes variants
//! that stay legal by the spec: optional keys left out, nullable ones `null` (or filled from the
//! schema when the base left them `null`), enums across their values, date-times with `Z` or an
//! offset and 0–6 fractional digits, dates, times and uuids of legal shapes, other legal strings,
//! numbers and booleans, arrays emptied or grown. Every generated body is checked against the spec
//! before it is posted; a body the check refuses is a generator bug, counted and skipped.
//!
//! * `POST /qargo/dispatch` (`SubcontractorDispatch`) must never answer "not a payload" (400): it
//!   books, or refuses with errors each naming a payload field and the fix (`USER_INPUT_ERROR`
//!   with `field`), `NOT_SUPPORTED` with a reason, or `INTERNAL_ERROR` only where a retry can help.
//! * `POST /qargo/visibility` (`OperationalVisibilityUpdate`) must never answer 400: it routes (202)
//!   or asks for the body again (5xx).
//!
//! A third of the cases keep the ids and every field the booking depends on ([`PROTECTED`]), so
//! that they can book; a third change exactly one thing anywhere (the bridge's rules must catch it
//! alone, or the booking take it); the rest change a few things anywhere. A failing case is shrunk
//! to the fewest changes that still fail and then to the smallest legal body that still fails,
//! printed, written under `target/tmp/spec_bodies/`, and fails the test.
//!
//! `SPEC_BODIES_CASES=n` and `SPEC_BODIES_SEED=s` run more bodies or another seed;
//! `SPEC_BODIES_VERBOSE=1` prints every case and answer.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use bridge::config::Secret;
use bridge::nexus::NexusClients;
use bridge::wiring::Bridge;
use qargo_sim::{EtaInput, PhotoInput, SignatureInput, StopAction, TripInput};
use serde_json::{Map, Value, json};

use crate::dispatch::{Storage, World, order, quick_retries, world, world_with};

/// The generator's seed: the same bodies on every run (up to the simulators' fresh uuids).
const SEED: u64 = 0x5bec_0005_b0d1;
/// Dispatch bodies posted per run.
const DISPATCH_BODIES: usize = 300;
/// Visibility bodies posted per run.
const VISIBILITY_BODIES: usize = 300;
/// The share of cases that keep the ids and the fields the booking depends on ([`Mode::Keep`]).
const KEEP_SHARE: f64 = 0.35;
/// The share of cases that change exactly one thing ([`Mode::One`]); the rest vary anything.
const ONE_SHARE: f64 = 0.35;
/// Failing cases shrunk per kind of failure (each shrink step posts the body again).
const SHRINK_PER_KIND: usize = 1;

/// Property names a "keep" case never removes, nulls or changes (it still varies what is inside
/// them): the ids, and what the booking and its routing read.
const PROTECTED: &[&str] = &[
    "payload",
    "operation",
    "id",
    "name",
    "code",
    "custom_fields",
    "orders",
    "consignments",
    "goods",
    "stops",
    "pickup_stop",
    "delivery_stop",
    "location",
    "address",
    "postal_code",
    "city",
    "country",
    "date",
    "time_window",
    "start_time",
    "end_time",
    "customer",
    "customer_reference_number",
    "consignment_reference_number",
    "service_level",
    "transport_network",
    "requesting_depot_code",
    "collection_depot_code",
    "delivery_depot_code",
    "quantity",
    "packaging_type",
    "packaging_size",
    "description",
    "unit_length_m",
    "unit_width_m",
    "unit_height_m",
    "unit_weight_kg",
    "total_weight_kg",
    "stackable",
    "extras",
    "handling_units",
    "resource_allocations",
    "resource",
    "phone_number",
    "mobile_number",
    "email",
    "note",
    "planning_instructions",
    "reference_number",
    // Visibility: what the jobs route on.
    "events",
    "update",
    "type",
    "stop",
    "status",
    "stop_type",
    "timestamp",
    "order",
    "order_name",
    "document",
    "document_type",
    "document_content",
    "content",
    "mime_type",
    "filename",
    "download_url",
    "actual_start_timestamp",
    "actual_end_timestamp",
    "eta_start_time",
    "eta_end_time",
];

/// The update types of `VisibilityEvent.update`, by schema.
const UPDATE_SCHEMAS: &[&str] = &[
    "OrderUpdate",
    "OrderImportUpdate",
    "StopUpdate",
    "EtaUpdate",
    "PositionUpdate",
    "DocumentUpdate",
    "TripUpdate",
    "ResourceUpdate",
    "HandlingUnitUpdate",
];

// ---- mutations ---------------------------------------------------------------------------------

/// One step of a path into a body.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// One legal change to a body, applied in the order generated (children before the array ops of
/// their parent, so that indexes stay those of the base).
#[derive(Debug, Clone, PartialEq)]
enum Mutation {
    /// Leave an optional key (or, when shrinking, an array element) out.
    Remove(Vec<Seg>),
    /// Set (or add) a value.
    Set(Vec<Seg>, Value),
    /// Append an element to an array.
    Push(Vec<Seg>, Value),
}

fn render_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(key) if out.is_empty() => out.push_str(key),
            Seg::Key(key) => {
                out.push('.');
                out.push_str(key);
            }
            Seg::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    if out.is_empty() { "$".into() } else { out }
}

impl std::fmt::Display for Mutation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mutation::Remove(path) => write!(f, "remove {}", render_path(path)),
            Mutation::Set(path, value) => write!(f, "set {} = {}", render_path(path), short(value)),
            Mutation::Push(path, value) => write!(f, "push onto {}: {}", render_path(path), short(value)),
        }
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 160 { text } else { text.chars().take(157).collect::<String>() + "..." }
}

fn node_mut<'a>(root: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    let mut at = root;
    for seg in path {
        at = match seg {
            Seg::Key(key) => at.as_object_mut()?.get_mut(key)?,
            Seg::Index(i) => at.as_array_mut()?.get_mut(*i)?,
        };
    }
    Some(at)
}

/// `base` with `mutations` applied; a mutation whose place is gone is skipped.
fn apply(base: &Value, mutations: &[Mutation]) -> Value {
    let mut body = base.clone();
    for mutation in mutations {
        match mutation {
            Mutation::Remove(path) | Mutation::Set(path, _) => {
                let Some((last, parent)) = path.split_last() else {
                    if let Mutation::Set(_, value) = mutation {
                        body = value.clone();
                    }
                    continue;
                };
                let Some(parent) = node_mut(&mut body, parent) else { continue };
                match (last, mutation, parent) {
                    (Seg::Key(key), Mutation::Remove(_), Value::Object(map)) => {
                        map.remove(key);
                    }
                    (Seg::Index(i), Mutation::Remove(_), Value::Array(items)) if *i < items.len() => {
                        items.remove(*i);
                    }
                    (Seg::Key(key), Mutation::Set(_, value), Value::Object(map)) => {
                        map.insert(key.clone(), value.clone());
                    }
                    (Seg::Index(i), Mutation::Set(_, value), Value::Array(items)) if *i < items.len() => {
                        items[*i] = value.clone();
                    }
                    _ => {}
                }
            }
            Mutation::Push(path, value) => {
                if let Some(Value::Array(items)) = node_mut(&mut body, path) {
                    items.push(value.clone());
                }
            }
        }
    }
    body
}

fn mutates_an_id(mutations: &[Mutation]) -> bool {
    mutations.iter().any(|m| match m {
        Mutation::Set(path, _) | Mutation::Remove(path) => {
            path.last() == Some(&Seg::Key("id".into())) || path.is_empty()
        }
        Mutation::Push(..) => false,
    })
}

// ---- the spec ------------------------------------------------------------------------------------

fn schemas() -> &'static Map<String, Value> {
    qargo_sim::spec::spec()["components"]["schemas"].as_object().expect("components/schemas")
}

fn ref_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix("#/components/schemas/")
}

/// The schema itself, `$ref`s followed.
fn resolve(mut schema: &Value) -> &Value {
    for _ in 0..16 {
        match ref_name(schema) {
            Some(name) => schema = schemas().get(name).unwrap_or_else(|| panic!("the spec has no schema {name}")),
            None => break,
        }
    }
    schema
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn is_null_schema(schema: &Value) -> bool {
    resolve(schema).get("type").and_then(Value::as_str) == Some("null")
}

fn type_of(schema: &Value) -> Option<&str> {
    schema.get("type").and_then(Value::as_str)
}

fn type_fits(schema: &Value, value: &Value) -> bool {
    match type_of(schema) {
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("null") => value.is_null(),
        _ => true,
    }
}

/// The `anyOf` branch `value` is an instance of: a named schema it validates against, or an inline
/// one its type fits.
fn branch_of<'a>(branches: &'a [Value], value: &Value) -> Option<&'a Value> {
    branches.iter().filter(|b| !is_null_schema(b)).find(|branch| match ref_name(branch) {
        Some(name) => qargo_sim::spec::validator(name, false).is_valid(value),
        None => type_fits(branch, value) && branch.get("anyOf").is_none(),
    })
}

/// Whether `body` is legal by `schema` (lenient: as published).
fn legal(schema: &str, body: &Value) -> Result<(), Vec<String>> {
    qargo_sim::spec::check_output(schema, false, body)
}

// ---- the generator --------------------------------------------------------------------------------

/// How much a case changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The ids and every [`PROTECTED`] property stay, anything else may change: most such bodies book.
    Keep,
    /// Exactly one change, anywhere: the rules must catch it alone, or the booking take it.
    One,
    /// A few changes anywhere.
    Vary,
}

/// Draws legal variants of bodies.
struct Generator {
    rng: fastrand::Rng,
}

/// One walk over a base body.
struct Walk<'g> {
    rng: &'g mut fastrand::Rng,
    keep: bool,
    rate: f64,
    out: Vec<Mutation>,
}

const PLAIN_STRINGS: &[&str] = &[
    "",
    " ",
    "Ünïcødé — Straße, Zürich, 東京 🚚",
    "line one\nline two\ttabbed",
    "null",
    "0",
    "<b>&amp;</b> 'single' \"double\" \\ back",
    "\u{0}nul",
];

impl Generator {
    fn new(seed: u64) -> Generator {
        Generator { rng: fastrand::Rng::with_seed(seed) }
    }

    /// Draws the mode of the next case.
    fn mode(&mut self) -> Mode {
        match self.rng.f64() {
            x if x < KEEP_SHARE => Mode::Keep,
            x if x < KEEP_SHARE + ONE_SHARE => Mode::One,
            _ => Mode::Vary,
        }
    }

    /// Legal changes to `base`, an instance of the schema `name`.
    fn mutations(&mut self, name: &str, base: &Value, mode: Mode) -> Vec<Mutation> {
        let (keep, rate) = match mode {
            Mode::Keep => (true, [0.15, 0.35, 0.6][self.rng.usize(0..3)]),
            Mode::One => (false, 0.3),
            Mode::Vary => (false, [0.02, 0.05, 0.1, 0.2][self.rng.usize(0..4)]),
        };
        let mut walk = Walk { rng: &mut self.rng, keep, rate, out: Vec::new() };
        walk.node(&schema_ref(name), base, &mut Vec::new(), None, None);
        let mut out = walk.out;
        if mode == Mode::One && !out.is_empty() {
            let one = out.swap_remove(self.rng.usize(0..out.len()));
            out = vec![one];
        }
        out
    }

    /// A legal instance of `schema`, drawn afresh.
    fn synth(&mut self, schema: &Value) -> Option<Value> {
        synth(&mut self.rng, schema, 0)
    }
}

impl Walk<'_> {
    /// Whether the property `key` may change in this case.
    fn may(&self, key: Option<&str>) -> bool {
        !self.keep || key.is_none_or(|key| !PROTECTED.contains(&key))
    }

    fn hit(&mut self, key: Option<&str>, scale: f64) -> bool {
        let id_scale = if key == Some("id") { 0.3 } else { 1.0 };
        self.may(key) && self.rng.f64() < self.rate * scale * id_scale
    }

    /// Walks `value` with its `schema`; `examples` are the spec's examples of the property (they sit
    /// beside its `anyOf`).
    fn node(
        &mut self,
        schema: &Value,
        value: &Value,
        path: &mut Vec<Seg>,
        key: Option<&str>,
        examples: Option<&Value>,
    ) {
        let examples = schema.get("examples").or(examples);
        let schema = resolve(schema);
        let examples = schema.get("examples").or(examples);
        if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
            let nullable = branches.iter().any(is_null_schema);
            if value.is_null() {
                if self.hit(key, 0.3) {
                    let filled = pick_non_null(self.rng, branches).and_then(|b| synth(self.rng, b, 0));
                    if let Some(filled) = filled {
                        self.out.push(Mutation::Set(path.clone(), filled));
                    }
                }
                return;
            }
            if nullable && self.hit(key, 1.0) {
                self.out.push(Mutation::Set(path.clone(), Value::Null));
                return;
            }
            if let Some(branch) = branch_of(branches, value) {
                self.node(branch, value, path, key, examples);
            }
            return;
        }
        if schema.get("const").is_some() {
            return;
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            if !values.is_empty() && self.hit(key, 1.5) {
                let chosen = values[self.rng.usize(0..values.len())].clone();
                if &chosen != value {
                    self.out.push(Mutation::Set(path.clone(), chosen));
                }
            }
            return;
        }
        match (type_of(schema), value) {
            (Some("object"), Value::Object(map)) => self.object(schema, map, path, key),
            (Some("array"), Value::Array(items)) => self.array(schema, items, path, key),
            (Some("string"), Value::String(text)) if self.hit(key, 1.0) => {
                let varied = string_like(self.rng, schema, text, examples);
                if &varied != value {
                    self.out.push(Mutation::Set(path.clone(), varied));
                }
            }
            (Some("integer" | "number"), Value::Number(_)) if self.hit(key, 0.5) => {
                self.out.push(Mutation::Set(path.clone(), number_like(self.rng, schema)));
            }
            (Some("boolean"), Value::Bool(flag)) if self.hit(key, 0.5) => {
                self.out.push(Mutation::Set(path.clone(), Value::Bool(!flag)));
            }
            _ => {}
        }
    }

    fn object(&mut self, schema: &Value, map: &Map<String, Value>, path: &mut Vec<Seg>, key: Option<&str>) {
        let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
            // A free map (`custom_fields: {type: object}`): emptied, or given a key nobody reads.
            if schema.get("additionalProperties") != Some(&Value::Bool(false)) && self.hit(key, 0.3) {
                let varied = if self.rng.bool() || map.is_empty() {
                    let mut grown = map.clone();
                    grown.insert("spec_bodies_extra".into(), json!("not read by the bridge"));
                    Value::Object(grown)
                } else {
                    json!({})
                };
                self.out.push(Mutation::Set(path.clone(), varied));
            }
            return;
        };
        let required: Vec<&str> =
            schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        for (name, value) in map {
            let Some(sub) = properties.get(name) else { continue };
            path.push(Seg::Key(name.clone()));
            if !required.contains(&name.as_str()) && self.hit(Some(name), 0.8) {
                self.out.push(Mutation::Remove(path.clone()));
            } else {
                self.node(sub, value, path, Some(name), None);
            }
            path.pop();
        }
        for (name, sub) in properties {
            if !map.contains_key(name)
                && self.hit(Some(name), 0.15)
                && let Some(filled) = synth(self.rng, sub, 1)
            {
                path.push(Seg::Key(name.clone()));
                self.out.push(Mutation::Set(path.clone(), filled));
                path.pop();
            }
        }
    }

    fn array(&mut self, schema: &Value, items: &[Value], path: &mut Vec<Seg>, key: Option<&str>) {
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                self.node(item_schema, item, path, key, None);
                path.pop();
            }
        }
        let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
        let max = schema.get("maxItems").and_then(Value::as_u64).map_or(usize::MAX, |m| m as usize);
        if self.hit(key, 0.3) {
            if !items.is_empty() && min == 0 && self.rng.bool() {
                self.out.push(Mutation::Set(path.clone(), json!([])));
            } else if !items.is_empty() && items.len() < max {
                self.out.push(Mutation::Push(path.clone(), items[self.rng.usize(0..items.len())].clone()));
            } else if let Some(item_schema) = schema.get("items")
                && items.len() < max
                && let Some(item) = synth(self.rng, item_schema, 1)
            {
                self.out.push(Mutation::Push(path.clone(), item));
            }
        }
    }
}

fn pick_non_null<'a>(rng: &mut fastrand::Rng, branches: &'a [Value]) -> Option<&'a Value> {
    let candidates: Vec<&Value> = branches.iter().filter(|b| !is_null_schema(b)).collect();
    (!candidates.is_empty()).then(|| candidates[rng.usize(0..candidates.len())])
}

/// A fresh legal instance of `schema`: its required properties and, near the top, some optional
/// ones.
fn synth(rng: &mut fastrand::Rng, schema: &Value, depth: usize) -> Option<Value> {
    if depth > 10 {
        return None;
    }
    let schema = resolve(schema);
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        if depth > 3 && branches.iter().any(is_null_schema) {
            return Some(Value::Null);
        }
        return match pick_non_null(rng, branches) {
            Some(branch) => synth(rng, branch, depth),
            None => Some(Value::Null),
        };
    }
    if let Some(constant) = schema.get("const") {
        return Some(constant.clone());
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return (!values.is_empty()).then(|| values[rng.usize(0..values.len())].clone());
    }
    match type_of(schema) {
        Some("object") => {
            let mut out = Map::new();
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                for (name, sub) in properties {
                    if required.contains(&name.as_str()) {
                        out.insert(name.clone(), synth(rng, sub, depth + 1)?);
                    } else if depth < 2
                        && rng.f64() < 0.3
                        && let Some(value) = synth(rng, sub, depth + 1)
                    {
                        out.insert(name.clone(), value);
                    }
                }
            }
            Some(Value::Object(out))
        }
        Some("array") => {
            let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
            let max = schema.get("maxItems").and_then(Value::as_u64).map_or(usize::MAX, |m| m as usize);
            let wanted = if depth < 2 { min + rng.usize(0..=1) } else { min };
            let items = schema.get("items").cloned().unwrap_or(json!({}));
            let mut out = Vec::new();
            for _ in 0..wanted.min(max) {
                out.push(synth(rng, &items, depth + 1)?);
            }
            Some(Value::Array(out))
        }
        Some("string") => Some(match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => json!(date_time(rng)),
            Some("date") => json!(date(rng)),
            Some("time") => json!(time(rng)),
            Some("uuid") => json!(uuid(rng)),
            _ => json!(fit(schema, format!("spec-bodies-{}", rng.u32(..10_000)))),
        }),
        Some("integer" | "number") => Some(number_like(rng, schema)),
        Some("boolean") => Some(Value::Bool(rng.bool())),
        Some("null") => Some(Value::Null),
        _ => Some(json!("spec-bodies")),
    }
}

/// `text` cut to the schema's `maxLength` (in characters).
fn fit(schema: &Value, text: String) -> String {
    match schema.get("maxLength").and_then(Value::as_u64) {
        Some(max) if text.chars().count() as u64 > max => text.chars().take(max as usize).collect(),
        _ => text,
    }
}

/// Another legal string of the same format as `base`: often one of the spec's `examples`.
fn string_like(rng: &mut fastrand::Rng, schema: &Value, base: &str, examples: Option<&Value>) -> Value {
    let examples: Vec<&str> =
        examples.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if !examples.is_empty() && rng.usize(0..4) == 0 {
        return json!(fit(schema, examples[rng.usize(0..examples.len())].to_owned()));
    }
    let text = match schema.get("format").and_then(Value::as_str) {
        Some("date-time") => date_time(rng),
        Some("date") => date(rng),
        Some("time") => time(rng),
        Some("uuid") if rng.f64() < 0.2 => uuid(rng).to_ascii_uppercase(),
        Some("uuid") => uuid(rng),
        _ => match rng.usize(0..6) {
            0 => format!("  {base}  "),
            1 => base.to_lowercase(),
            2 => base.to_uppercase(),
            3 => "x".repeat([35, 36, 64, 256, 1000][rng.usize(0..5)]),
            _ => PLAIN_STRINGS[rng.usize(0..PLAIN_STRINGS.len())].to_owned(),
        },
    };
    json!(fit(schema, text))
}

/// A legal number for the schema (`exclusiveMinimum` respected).
fn number_like(rng: &mut fastrand::Rng, schema: &Value) -> Value {
    let floor = schema.get("exclusiveMinimum").and_then(Value::as_f64);
    if type_of(schema) == Some("integer") {
        let candidates = [0i64, 1, 2, 3, 26, 27, -1, 1_000_000];
        let allowed: Vec<i64> = candidates.into_iter().filter(|n| floor.is_none_or(|f| (*n as f64) > f)).collect();
        return match allowed.is_empty() {
            true => json!(floor.unwrap_or(0.0) as i64 + 1),
            false => json!(allowed[rng.usize(0..allowed.len())]),
        };
    }
    let candidates = [0.0f64, 0.001, 0.004, 0.5, 1.2, 2.4, 4.5, 99.99, 1500.0, -1.5, 1.0e6];
    let allowed: Vec<f64> = candidates.into_iter().filter(|n| floor.is_none_or(|f| *n > f)).collect();
    match allowed.is_empty() {
        true => json!(floor.unwrap_or(0.0) + 0.5),
        false => json!(allowed[rng.usize(0..allowed.len())]),
    }
}

/// An RFC 3339 date-time: `Z` or an offset, 0–6 fractional digits.
fn date_time(rng: &mut fastrand::Rng) -> String {
    let mut out = format!("{}T{:02}:{:02}:{:02}", date(rng), rng.u32(0..24), rng.u32(0..60), rng.u32(0..60));
    let digits = rng.usize(0..=6);
    if digits > 0 {
        out.push('.');
        for _ in 0..digits {
            out.push(char::from(b'0' + rng.u8(0..10)));
        }
    }
    match rng.usize(0..4) {
        0 | 1 => out.push('Z'),
        _ => {
            let hours = rng.u32(0..=14);
            let minutes = if hours == 14 { 0 } else { [0, 30, 45][rng.usize(0..3)] };
            let sign = if rng.bool() { '+' } else { '-' };
            let _ = write!(out, "{sign}{hours:02}:{minutes:02}");
        }
    }
    out
}

/// A `YYYY-MM-DD` date around the simulators' days.
fn date(rng: &mut fastrand::Rng) -> String {
    let month = rng.u32(1..=12);
    let days = match month {
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    format!("{}-{month:02}-{:02}", rng.u32(2025..=2027), rng.u32(1..=days))
}

/// A time of day as pydantic writes one: `HH:MM:SS`, `HH:MM:SS.ffffff` or `HH:MM`.
fn time(rng: &mut fastrand::Rng) -> String {
    let (hours, minutes) = (rng.u32(0..24), [0, 15, 30, 45][rng.usize(0..4)]);
    match rng.usize(0..3) {
        0 => format!("{hours:02}:{minutes:02}:00"),
        1 => format!("{hours:02}:{minutes:02}:00.{:06}", rng.u32(0..1_000_000)),
        _ => format!("{hours:02}:{minutes:02}"),
    }
}

fn uuid(rng: &mut fastrand::Rng) -> String {
    uuid::Builder::from_random_bytes(rng.u128(..).to_le_bytes()).into_uuid().to_string()
}

/// `SPEC_BODIES_VERBOSE=1` prints every case: its mutations and the bridge's answer.
fn verbose() -> bool {
    std::env::var_os("SPEC_BODIES_VERBOSE").is_some_and(|v| v != "0")
}

// ---- findings ------------------------------------------------------------------------------------

/// A legal body the bridge answered wrongly (or, for the notes, answered 5xx).
#[derive(Debug, Clone)]
struct Finding {
    /// What went wrong, e.g. `400 to a legal dispatch body`.
    kind: String,
    /// The mutations of the simulator's body, shrunk to those the failure needs.
    mutations: Vec<Mutation>,
    /// The smallest legal body found that still fails: the shrunk body with every key and element
    /// whose removal keeps it legal and failing removed.
    minimal: Value,
    /// The HTTP status and answer to `minimal`.
    status: u16,
    answer: Value,
}

impl Finding {
    fn describe(&self) -> String {
        let mut out = format!(
            "{}
  answer: HTTP {} {}
  mutations of the simulator's body:",
            self.kind, self.status, self.answer
        );
        if self.mutations.is_empty() {
            out.push_str(" none (the simulator's body itself)");
        }
        for mutation in &self.mutations {
            let _ = write!(out, "\n    {mutation}");
        }
        let minimal = self.minimal.to_string();
        let minimal = if minimal.len() > 4000 {
            format!("{}...", &minimal[..minimal.floor_char_boundary(4000)])
        } else {
            minimal
        };
        let _ = write!(out, "\n  minimal body: {minimal}");
        out
    }
}

/// Shrinks a failing case: first to the fewest generated `mutations` that still fail as `same`
/// says, then the body itself, key by key and element by element (deepest first, as `Remove`
/// mutations), as long as it stays legal by `schema` and fails the same way. `base` gives the
/// simulator's body to mutate for each try (a fresh one where the bridge keeps state per body), and
/// `post` posts it.
async fn shrink<B, P, S>(schema: &str, mutations: &[Mutation], kind: &str, base: B, post: P, same: S) -> Finding
where
    B: AsyncFn() -> Value,
    P: AsyncFn(&Value) -> Result<(u16, Value), String>,
    S: Fn(&Result<(u16, Value), String>) -> bool,
{
    let still = async |mutations: &[Mutation]| {
        let body = apply(&base().await, mutations);
        legal(schema, &body).is_ok() && same(&post(&body).await)
    };
    let mut current = mutations.to_vec();
    let mut i = 0;
    while i < current.len() {
        let mut candidate = current.clone();
        candidate.remove(i);
        if still(&candidate).await {
            current = candidate;
        } else {
            i += 1;
        }
    }
    let mut places = Vec::new();
    places_in(&apply(&base().await, &current), &mut Vec::new(), &mut places);
    // Reverse pre-order: a removal only moves places already tried, so the others keep their paths.
    let mut removals = current.clone();
    for place in places.into_iter().rev() {
        removals.push(Mutation::Remove(place));
        if !still(&removals).await {
            removals.pop();
        }
    }
    let minimal = apply(&base().await, &removals);
    let (status, answer) = post(&minimal).await.unwrap_or_else(|err| (0, json!(err)));
    Finding { kind: kind.to_owned(), mutations: current, minimal, status, answer }
}

/// Every object key and array element of `value`, in pre-order.
fn places_in(value: &Value, path: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                path.push(Seg::Key(key.clone()));
                out.push(path.clone());
                places_in(child, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                out.push(path.clone());
                places_in(child, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Failures by kind: how many cases, and the first (shrunk) examples.
#[derive(Default)]
struct Findings {
    by_kind: BTreeMap<String, (usize, Vec<Finding>)>,
}

impl Findings {
    fn wants_example(&self, kind: &str) -> bool {
        self.by_kind.get(kind).is_none_or(|(_, examples)| examples.len() < SHRINK_PER_KIND)
    }

    fn add(&mut self, kind: &str, example: Option<Finding>) {
        let entry = self.by_kind.entry(kind.to_owned()).or_default();
        entry.0 += 1;
        entry.1.extend(example);
    }

    fn total(&self) -> usize {
        self.by_kind.values().map(|(count, _)| count).sum()
    }

    fn report(&self, what: &str) -> String {
        let mut out = String::new();
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("spec_bodies");
        let _ = std::fs::create_dir_all(&dir);
        for (kind, (count, examples)) in &self.by_kind {
            let _ = writeln!(out, "== {what}: {kind} ({count} case(s))");
            for (i, example) in examples.iter().enumerate() {
                let file = dir.join(format!("{what}-{}-{i}.json", slug(kind)));
                let _ = std::fs::write(&file, serde_json::to_string_pretty(&example.minimal).unwrap_or_default());
                let _ = writeln!(out, "{}\n  written to {}", example.describe(), file.display());
            }
        }
        out
    }
}

fn slug(text: &str) -> String {
    text.chars().take(60).map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

// ---- dispatch ------------------------------------------------------------------------------------

/// How the bridge answered a dispatch body.
#[derive(Debug, Clone, PartialEq)]
enum DispatchOutcome {
    /// No errors, a booking in the answer.
    Booked,
    /// A CANCEL acknowledged without a booking (`nothing to cancel`).
    Acknowledged,
    /// Refused, every error naming a field (`USER_INPUT_ERROR`) or saying why (`NOT_SUPPORTED`).
    Refused(Vec<String>),
    /// A retryable `INTERNAL_ERROR`.
    Retry(String),
    /// Wrong: a kind of failure.
    Wrong(String),
}

async fn post_dispatch(world: &World, body: &Value) -> Result<(u16, Value), String> {
    post_to(world, "/qargo/dispatch", body).await
}

/// Posts `body` to the bridge's `path` with Qargo's credential: the status and the answer (JSON,
/// or the text as a string), or why there was no answer.
async fn post_to(world: &World, path: &str, body: &Value) -> Result<(u16, Value), String> {
    let response = world
        .http
        .post(format!("{}{path}", world.api_url))
        .basic_auth("qargo", Some("inbound-pass"))
        .json(body)
        .send()
        .await
        .map_err(|err| format!("no answer: {err}"))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|err| format!("no body: {err}"))?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

/// Judges one answer; `ids_changed` says whether the body names ids Qargo does not know (then a
/// Qargo call of the bridge may fail, which real Qargo cannot cause: a retryable error is allowed;
/// otherwise an `INTERNAL_ERROR` in this healthy world is one a retry cannot fix).
fn judge_dispatch(status: u16, answer: &Value, ids_changed: bool) -> DispatchOutcome {
    if status == 400 {
        return DispatchOutcome::Wrong("400 'not a payload' to a legal dispatch body".into());
    }
    if status != 200 {
        return DispatchOutcome::Wrong(format!("HTTP {status} to a legal dispatch body"));
    }
    let Some(errors) = answer.get("errors").and_then(Value::as_array) else {
        return DispatchOutcome::Wrong("an answer without an errors list".into());
    };
    let booked = answer.get("booking").is_some_and(Value::is_object);
    let result = answer.get("result").and_then(Value::as_str).unwrap_or_default();
    if errors.is_empty() {
        return match (booked, result) {
            (true, _) => DispatchOutcome::Booked,
            (false, "nothing to cancel") => DispatchOutcome::Acknowledged,
            _ => DispatchOutcome::Wrong(format!("success ('{result}') without a booking")),
        };
    }
    let mut fields = Vec::new();
    let mut retry = None;
    for error in errors {
        let kind = error.get("error_type").and_then(Value::as_str).unwrap_or_default();
        let message = error.get("error_message").and_then(Value::as_str).unwrap_or_default().trim();
        let field = error.get("field").and_then(Value::as_str).unwrap_or_default();
        if message.is_empty() {
            return DispatchOutcome::Wrong(format!("a {kind} without a message"));
        }
        match kind {
            "USER_INPUT_ERROR" => {
                let named = field.starts_with("payload") || field.starts_with("operation");
                if !named {
                    return DispatchOutcome::Wrong("a USER_INPUT_ERROR that names no payload field".into());
                }
                fields.push(field.to_owned());
            }
            "NOT_SUPPORTED" => fields.push(format!("(not supported) {field}")),
            "INTERNAL_ERROR" => {
                // Nothing is down in this world, so only a body naming ids Qargo does not know (the
                // bridge's calls back to Qargo then fail) may be answered "retry".
                if !ids_changed {
                    return DispatchOutcome::Wrong(
                        "an INTERNAL_ERROR (retry) for a legal body in a healthy world: a retry cannot fix it".into(),
                    );
                }
                retry = Some(message.to_owned());
            }
            other => return DispatchOutcome::Wrong(format!("an unknown error_type {other:?}")),
        }
    }
    match retry {
        Some(message) if fields.is_empty() => DispatchOutcome::Retry(message),
        _ => DispatchOutcome::Refused(fields),
    }
}

/// What the dispatch bodies got.
#[derive(Default)]
struct DispatchTally {
    bodies: usize,
    booked: usize,
    refused: usize,
    acknowledged: usize,
    retried: usize,
    rejected_by_spec: usize,
    refusal_fields: BTreeMap<String, usize>,
    retry_messages: BTreeMap<String, usize>,
    wrong: Findings,
}

/// Posts `bodies` legal variants of the simulator's dispatch payloads, each of a fresh order.
async fn dispatch_bodies(bodies: usize, seed: u64) -> DispatchTally {
    let world = world(Storage::Memory).await;
    let mut generator = Generator::new(seed);
    let mut tally = DispatchTally { bodies, ..DispatchTally::default() };
    for case in 0..bodies {
        let resource = if case % 2 == 0 { "PALLEX_OUT" } else { "FORTEC_OUT" };
        let created = world.create_order(order(resource, "2026-06-17"));
        let base = world.payload(&created, "CREATE").await;
        let mode = generator.mode();
        let mut mutations = generator.mutations("SubcontractorDispatch", &base, mode);
        if mode == Mode::Vary && generator.rng.f64() < 0.3 {
            let operation = ["CREATE", "UPDATE", "CANCEL"][generator.rng.usize(0..3)];
            mutations.insert(0, Mutation::Set(vec![Seg::Key("operation".into())], json!(operation)));
        }
        let body = apply(&base, &mutations);
        if let Err(issues) = legal("SubcontractorDispatch", &body) {
            tally.rejected_by_spec += 1;
            eprintln!("spec_bodies: generator bug, dispatch case {case} is not legal: {issues:?}");
            continue;
        }
        let (outcome, answer) = match post_dispatch(&world, &body).await {
            Ok((status, answer)) => (judge_dispatch(status, &answer, mutates_an_id(&mutations)), answer),
            Err(err) => (DispatchOutcome::Wrong("no answer (did the bridge panic?)".into()), json!(err)),
        };
        if verbose() {
            let listed: Vec<String> = mutations.iter().map(ToString::to_string).collect();
            eprintln!("spec_bodies: dispatch case {case} ({mode:?}) {listed:#?}\n  -> {outcome:?} {answer}");
        }
        match outcome {
            DispatchOutcome::Booked => tally.booked += 1,
            DispatchOutcome::Acknowledged => tally.acknowledged += 1,
            DispatchOutcome::Refused(fields) => {
                tally.refused += 1;
                for field in fields {
                    *tally.refusal_fields.entry(field).or_default() += 1;
                }
            }
            DispatchOutcome::Retry(message) => {
                tally.retried += 1;
                *tally.retry_messages.entry(message).or_default() += 1;
            }
            DispatchOutcome::Wrong(kind) => {
                let example = if tally.wrong.wants_example(&kind) {
                    let ids_changed = mutates_an_id(&mutations);
                    // The bridge keeps a ledger per consignment: each try is the payload of a fresh order.
                    let fresh =
                        async || world.payload(&world.create_order(order(resource, "2026-06-17")), "CREATE").await;
                    let post = async |body: &Value| post_dispatch(&world, body).await;
                    let same = |answer: &Result<(u16, Value), String>| match answer {
                        Ok((status, answer)) => matches!(
                            judge_dispatch(*status, answer, ids_changed), DispatchOutcome::Wrong(k) if k == kind),
                        Err(_) => kind.starts_with("no answer"),
                    };
                    Some(shrink("SubcontractorDispatch", &mutations, &kind, fresh, post, same).await)
                } else {
                    None
                };
                tally.wrong.add(&kind, example);
            }
        }
    }
    tally
}

// ---- visibility ----------------------------------------------------------------------------------

/// The Optimize key of the Nexus simulator's default world (so that ETA export is on).
fn default_optimize_key() -> String {
    let seed: Value = serde_json::from_str(nexus_sim::WorldSeed::default_world_json()).unwrap();
    seed["optimizeKey"].as_str().expect("the default world has an Optimize key").to_owned()
}

async fn visibility_world() -> World {
    world_with(Storage::Memory, |bridge: &mut Bridge| {
        let mut secrets = (*bridge.secrets).clone();
        secrets.optimize_api_key = Some(Secret::new(default_optimize_key()));
        bridge.nexus = NexusClients::from_secrets(&bridge.settings.nexus_base_url, &secrets, quick_retries());
        bridge.secrets = Arc::new(secrets);
    })
    .await
}

/// Real visibility bodies from the Qargo simulator: `Eta`, `Stop` and `Document` events of a
/// consignment we collect (booked through the bridge) and of one we deliver (booked by UKD101).
async fn visibility_bases(world: &World) -> Vec<Value> {
    let at = || StopAction { at: Some("2026-06-17T08:00:00Z".into()) };
    let signature = || SignatureInput {
        name: "J. Smith".into(),
        at: Some("2026-06-17T08:10:00Z".into()),
        ..SignatureInput::default()
    };
    let embedded = PhotoInput { embed: Some(true), ..PhotoInput::default() };
    let sim = &world.qargo.handle;

    // Collected by us: booked through the bridge.
    let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
    let record = world.dispatch(&created, "CREATE").await;
    if !record.accepted {
        // Not this test's property (the dispatch part judges dispatch answers): the bodies below are
        // made all the same, only the jobs have less to do.
        eprintln!("spec_bodies: the visibility world's booking was not accepted: {:?}", record.response);
    }
    let trip = created.trip.as_ref().unwrap().trip_id;
    sim.reoptimise_etas(trip, &EtaInput { stops: vec![], shift_minutes: Some(30) }).await.unwrap();
    sim.arrive_at_stop(created.pickup_stop_id, &at()).await.unwrap();
    sim.capture_signature(created.pickup_stop_id, &signature()).await.unwrap();
    sim.capture_photo(created.pickup_stop_id, &embedded).await.unwrap();
    sim.complete_stop(created.pickup_stop_id, &at()).await.unwrap();

    // Delivered by us: UKD101 booked it for PGD302's area; planned on our van.
    let ukd101 = end_to_end::depot_user(&world.nexus.base_url(), "UKD101", quick_retries());
    let made = ukd101
        .create_consignment(&end_to_end::simple_booking(52011, "PALLEX", "SPEC-BODIES-IN", "DN22 6AA", 2))
        .await
        .expect("booked by UKD101");
    let barcodes: Vec<Value> = made.pallets.iter().map(|p| json!({"barcode": {"value": p.barcode}})).collect();
    let stop = |postcode: &str| {
        json!({"location": {"address": "1 Industrial Estate", "postal_code": postcode, "city": "Town", "country": "GB"},
               "date": "2026-06-17"})
    };
    let inbound = json!({
        "order_identifier": format!("NEXUS-PALLEX-{}", made.consignment_id),
        "customer": {"code": "ACME"},
        "custom_fields": {"NexusOrigin": format!("PALLEX:{}", made.consignment_id)},
        "consignments": [{"pickup_stop": stop("DA1 1AA"), "delivery_stop": stop("DN22 6AA"),
                          "goods": [{"quantity": 2, "packaging_type": {"code": "F"}, "handling_units": barcodes}]}]
    });
    let inbound = world.create_order(inbound);
    let van: TripInput = serde_json::from_value(
        json!({"order_ids": [inbound.order_id], "resource_code": "PGD302-VAN-1", "name": "Retford van 1"}),
    )
    .unwrap();
    let van = sim.create_trip(&van).expect("trip planned").trip_id;
    sim.reoptimise_etas(van, &EtaInput { stops: vec![], shift_minutes: Some(45) }).await.unwrap();
    sim.complete_stop(inbound.pickup_stop_id, &at()).await.unwrap();
    sim.arrive_at_stop(inbound.delivery_stop_id, &at()).await.unwrap();
    sim.capture_signature(inbound.delivery_stop_id, &signature()).await.unwrap();
    sim.complete_stop(inbound.delivery_stop_id, &at()).await.unwrap();

    let bases: Vec<Value> = sim.outbound().into_iter().filter(|r| r.kind == "visibility").map(|r| r.request).collect();
    let labels: Vec<String> =
        bases.iter().map(|b| b["events"][0]["update"]["type"].as_str().unwrap_or("?").to_owned()).collect();
    for wanted in ["Stop", "Eta", "Document"] {
        assert!(labels.iter().any(|l| l == wanted), "no {wanted} body from the simulator: {labels:?}");
    }
    for base in &bases {
        legal("OperationalVisibilityUpdate", base).expect("the simulator's bodies are legal");
    }
    bases
}

async fn post_visibility(world: &World, body: &Value) -> Result<(u16, Value), String> {
    post_to(world, "/qargo/visibility", body).await
}

/// `None` when the answer is right (202; 422 naming why an update can never be handled, e.g.
/// embedded content that is not base64; or 5xx: Qargo sends the body again), else what is wrong.
fn judge_visibility(answer: &Result<(u16, Value), String>) -> Option<String> {
    match answer {
        Err(_) => Some("no answer (did the bridge panic?)".into()),
        Ok((400, _)) => Some("400 'not a visibility update' to a legal visibility body".into()),
        Ok((202, _)) => None,
        Ok((422, body))
            if body["errors"][0]["error_type"] == "USER_INPUT_ERROR"
                && body["errors"][0]["error_message"].as_str().is_some_and(|m| m.contains("can never be handled")) =>
        {
            None
        }
        Ok((status, _)) if *status >= 500 => None,
        Ok((status, _)) => Some(format!("HTTP {status} to a legal visibility body")),
    }
}

/// The reason of a 5xx visibility answer.
fn retry_reason(answer: &Result<(u16, Value), String>) -> Option<String> {
    match answer {
        Ok((status, body)) if *status >= 500 => {
            Some(body["errors"][0]["error_message"].as_str().unwrap_or_default().to_owned())
        }
        _ => None,
    }
}

/// What the visibility bodies got.
#[derive(Default)]
struct VisibilityTally {
    bodies: usize,
    bases: usize,
    routed: usize,
    retried: usize,
    rejected_by_spec: usize,
    retries: Findings,
    wrong: Findings,
}

/// Posts `bodies` legal variants of the simulator's visibility bodies (and events of every update
/// type drawn from the spec).
async fn visibility_bodies(bodies: usize, seed: u64) -> VisibilityTally {
    let world = visibility_world().await;
    let bases = visibility_bases(&world).await;
    let mut generator = Generator::new(seed ^ 0x0b5e_55ed);
    let mut tally = VisibilityTally { bodies, bases: bases.len(), ..VisibilityTally::default() };
    for case in 0..bodies {
        let base = &bases[case % bases.len()];
        let mode = generator.mode();
        let mut mutations = generator.mutations("OperationalVisibilityUpdate", base, mode);
        if generator.rng.f64() < 0.25 {
            // An event of any update type, drawn from its schema.
            let name = UPDATE_SCHEMAS[generator.rng.usize(0..UPDATE_SCHEMAS.len())];
            if let Some(update) = generator.synth(&schema_ref(name)) {
                let event = json!({"timestamp": date_time(&mut generator.rng), "update": update});
                mutations.push(Mutation::Push(vec![Seg::Key("events".into())], event));
            }
        }
        let body = apply(base, &mutations);
        if let Err(issues) = legal("OperationalVisibilityUpdate", &body) {
            tally.rejected_by_spec += 1;
            eprintln!("spec_bodies: generator bug, visibility case {case} is not legal: {issues:?}");
            continue;
        }
        let answer = post_visibility(&world, &body).await;
        if verbose() {
            let listed: Vec<String> = mutations.iter().map(ToString::to_string).collect();
            eprintln!("spec_bodies: visibility case {case} ({mode:?}) {listed:#?}\n  -> {answer:?}");
        }
        if let Some(kind) = judge_visibility(&answer) {
            let example = if tally.wrong.wants_example(&kind) {
                let post = async |body: &Value| post_visibility(&world, body).await;
                let same = |a: &Result<(u16, Value), String>| judge_visibility(a).as_deref() == Some(kind.as_str());
                let base = async || base.clone();
                Some(shrink("OperationalVisibilityUpdate", &mutations, &kind, base, post, same).await)
            } else {
                None
            };
            tally.wrong.add(&kind, example);
        } else if let Some(reason) = retry_reason(&answer) {
            // Nothing is down in this world: the body itself is why. Allowed (Qargo sends it again),
            // but shown, shrunk, so that a retry that can never succeed is seen.
            tally.retried += 1;
            let example = if tally.retries.wants_example(&reason) {
                let post = async |body: &Value| post_visibility(&world, body).await;
                let same = |a: &Result<(u16, Value), String>| retry_reason(a).as_deref() == Some(reason.as_str());
                let base = async || base.clone();
                Some(shrink("OperationalVisibilityUpdate", &mutations, &reason, base, post, same).await)
            } else {
                None
            };
            tally.retries.add(&reason, example);
        } else {
            tally.routed += 1;
        }
    }
    tally
}

// ---- the property --------------------------------------------------------------------------------

/// `SPEC_BODIES_CASES` (bodies per webhook) and `SPEC_BODIES_SEED` override the defaults, for a
/// longer local run or to replay another seed.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

#[tokio::test]
async fn legal_bodies_are_booked_or_refused_naming_the_field_never_not_a_payload() {
    let started = std::time::Instant::now();
    let seed = env_or("SPEC_BODIES_SEED", SEED);
    let dispatch = dispatch_bodies(env_or("SPEC_BODIES_CASES", DISPATCH_BODIES), seed).await;
    let visibility = visibility_bodies(env_or("SPEC_BODIES_CASES", VISIBILITY_BODIES), seed).await;

    let mut fields: Vec<(&String, &usize)> = dispatch.refusal_fields.iter().collect();
    fields.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("spec_bodies: fields the dispatch refusals named (count): {fields:?}");
    if !dispatch.retry_messages.is_empty() {
        println!("spec_bodies: retryable dispatch answers (ids Qargo does not know): {:?}", dispatch.retry_messages);
    }
    if visibility.retries.total() > 0 {
        println!(
            "spec_bodies: NOTE: legal visibility bodies answered 5xx with nothing down (allowed: Qargo sends them again):\n{}",
            visibility.retries.report("visibility-5xx")
        );
    }
    let summary = format!(
        "spec_bodies: {} dispatch bodies ({} booked, {} refused naming a field, {} cancels acknowledged, {} retryable, {} wrong), {} visibility bodies from {} simulator bodies ({} routed, {} answered 5xx, {} wrong); {} generated bodies rejected by the spec check; seed {seed:#x}, {:.1}s",
        dispatch.bodies,
        dispatch.booked,
        dispatch.refused,
        dispatch.acknowledged,
        dispatch.retried,
        dispatch.wrong.total(),
        visibility.bodies,
        visibility.bases,
        visibility.routed,
        visibility.retried,
        visibility.wrong.total(),
        dispatch.rejected_by_spec + visibility.rejected_by_spec,
        started.elapsed().as_secs_f64()
    );
    println!("{summary}");
    // The test command prints it after the run (a passing test's output is captured).
    if let Some(path) = std::env::var_os("SPEC_BODIES_SUMMARY") {
        let _ = std::fs::write(path, format!("{summary}\n"));
    }
    let wrong = format!("{}{}", dispatch.wrong.report("dispatch"), visibility.wrong.report("visibility"));
    assert!(wrong.is_empty(), "legal bodies answered wrongly (a bridge bug):\n{wrong}");
    assert_eq!(
        dispatch.rejected_by_spec + visibility.rejected_by_spec,
        0,
        "the generator made bodies the spec refuses"
    );
    assert!(
        dispatch.booked > dispatch.bodies / 5,
        "too few variants booked ({} of {}, {} retryable): the generator varies too much, or booking is broken",
        dispatch.booked,
        dispatch.bodies,
        dispatch.retried
    );
}

// ---- cases the property found --------------------------------------------------------------------

/// Found by the property (seeds 2–5 with `SPEC_BODIES_CASES=1500`), shrunk to one change of the
/// simulator's payload: a goods line whose `unit_width_m` or `unit_length_m` is outside the 1–400 cm
/// Nexus takes, or whose `unit_height_m` rounds to 0 cm (legal by the spec: `number | null`, no
/// bounds), passes the dispatch rules, and Nexus's refusal comes back as a `USER_INPUT_ERROR`
/// without a `field` ("Nexus refused the booking: … Pallets[0].Width: The width must be between 1
/// and 400 cm."). The dispatcher must be told which field to fix, e.g.
/// `payload.orders[0].consignments[0].goods[0].unit_width_m`.
#[tokio::test]
async fn a_pallet_dimension_nexus_refuses_is_refused_naming_the_goods_field() {
    let world = world(Storage::Memory).await;
    let cases = [
        ("unit_width_m", 1500.0),
        ("unit_width_m", 0.004),
        ("unit_length_m", 1_000_000.0),
        ("unit_length_m", 4.5),
        ("unit_height_m", 0.004),
    ];
    let mut wrong = Vec::new();
    for (key, metres) in cases {
        let created = world.create_order(order("PALLEX_OUT", "2026-06-17"));
        let mut body = world.payload(&created, "CREATE").await;
        body["payload"]["orders"][0]["consignments"][0]["goods"][0][key] = json!(metres);
        legal("SubcontractorDispatch", &body).expect("legal by the spec");
        let (status, answer) = post_dispatch(&world, &body).await.expect("an answer");
        let field = format!("payload.orders[0].consignments[0].goods[0].{key}");
        let errors = answer["errors"].as_array().cloned().unwrap_or_default();
        let named = status == 200
            && answer.get("booking").is_none()
            && !errors.is_empty()
            && errors.iter().all(|e| e["error_type"] == json!("USER_INPUT_ERROR") && e["field"] == json!(field));
        if !named {
            wrong.push(format!("{key} = {metres} m: HTTP {status} {answer}"));
        }
    }
    assert!(wrong.is_empty(), "refusals that do not name the goods field to fix:\n{}", wrong.join("\n"));
}
