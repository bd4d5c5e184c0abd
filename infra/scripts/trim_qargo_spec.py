#!/usr/bin/env python3
"""Trims Qargo's public OpenAPI 3.1 spec to what the nexus-bridge and qargo-sim use.

Keeps `openapi`, `info`, the `paths` entries listed in PATHS (every method), the `webhooks` entries
listed in WEBHOOKS when the spec has a `webhooks` section, and the transitive closure of every
`#/components/...` object referenced from them and from the ROOT_SCHEMAS. Writes sorted, pretty JSON
to infra/qargo-sim/spec/qargo-openapi-1.2.0.trimmed.json, which the simulator embeds.

    python3 infra/scripts/trim_qargo_spec.py [--check] [FULL_SPEC.yml]

FULL_SPEC defaults to ../shared/contracts/qargo-openapi-1.2.0.yml relative to the repository root.
With --check nothing is written: it exits 1, naming what differs, when the vendored file is not
exactly what it would write.
"""

import argparse
import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DEFAULT_FULL = REPO / ".." / "shared" / "contracts" / "qargo-openapi-1.2.0.yml"
OUTPUT = REPO / "infra" / "qargo-sim" / "spec" / "qargo-openapi-1.2.0.trimmed.json"

PATHS = [
    "/v1/auth/token",
    "/me",
    "/v1/orders/order/upload",
    "/v1/orders/order/upload/{upload_id}",
    "/v1/orders/order/{order_id}",
    "/v1/orders/order/{order_id}/status",
    "/v1/orders/order/{order_id}/documents",
    "/v1/trips/trip/{trip_id}/documents",
    "/v1/documents/document/{id}/download",
    "/v1/documents/document/upload_content",
    "/v1/webhook",
    "/v1/webhook/partial-order-update",
    "/v1/webhook/subco-status-update",
    "/v1/webhook/subco-document-upload",
    "/v1/webhook/document-import",
]

# Outbound webhooks (OpenAPI 3.1 `webhooks`), kept when the spec has them. Qargo 1.2.0 has no
# `webhooks` section: its outbound payloads are only the schemas below.
WEBHOOKS_MATCHING = ("subcontractor", "dispatch", "visibility")

ROOT_SCHEMAS = [
    "SubcontractorDispatch",
    "SubcontractorDispatchResponse",
    "OperationalVisibilityUpdate",
    "OrderInput",
    "OrderImport",
    "OrderImportResponse",
    "OrderUpdatePayload",
    "PartialOrderUpdateResponse",
    "SubcontractorStatusUpdatePayload",
    "HTTPValidationError",
    "ValidationErrorResponse",
    "Token",
    "ErrorStatus",
]


class _Loader(yaml.SafeLoader):
    """A safe loader that reads timestamps as strings (JSON has no dates)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def refs_in(node):
    """Every `$ref` string inside a JSON node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs_in(item)


def trim(full):
    missing = [p for p in PATHS if p not in full.get("paths", {})]
    if missing:
        raise SystemExit(f"paths not in the full spec: {missing}")
    out = {"openapi": full["openapi"], "info": full["info"], "paths": {p: full["paths"][p] for p in PATHS}}
    roots = [out["paths"]]
    webhooks = full.get("webhooks") or {}
    kept = {name: hook for name, hook in webhooks.items() if any(w in name.lower() for w in WEBHOOKS_MATCHING)}
    if kept:
        out["webhooks"] = kept
        roots.append(kept)
    components = full.get("components", {})
    wanted = {("schemas", name) for name in ROOT_SCHEMAS}
    todo = list(wanted)
    for root in roots:
        todo.extend(_ref_key(ref) for ref in refs_in(root))
    seen = set()
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        kind, name = key
        try:
            node = components[kind][name]
        except KeyError:
            raise SystemExit(f"#/components/{kind}/{name} is referenced but not defined")
        todo.extend(_ref_key(ref) for ref in refs_in(node))
    out_components = {}
    for kind, name in sorted(seen):
        out_components.setdefault(kind, {})[name] = components[kind][name]
    out["components"] = out_components
    return out


def _ref_key(ref):
    if not ref.startswith("#/components/"):
        raise SystemExit(f"unsupported $ref {ref!r} (only #/components/... refs are followed)")
    parts = ref[len("#/components/"):].split("/")
    if len(parts) != 2:
        raise SystemExit(f"unsupported $ref {ref!r}")
    return parts[0], parts[1].replace("~1", "/").replace("~0", "~")


def render(doc):
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def differences(expected, actual):
    """Names of the top-level parts, paths and components that differ."""
    found = []
    for key in sorted(set(expected) | set(actual)):
        if key in ("paths", "webhooks"):
            for name in sorted(set(expected.get(key, {})) | set(actual.get(key, {}))):
                if expected.get(key, {}).get(name) != actual.get(key, {}).get(name):
                    found.append(f"{key} {name}")
        elif key == "components":
            exp, act = expected.get(key, {}), actual.get(key, {})
            for kind in sorted(set(exp) | set(act)):
                for name in sorted(set(exp.get(kind, {})) | set(act.get(kind, {}))):
                    left, right = exp.get(kind, {}).get(name), act.get(kind, {}).get(name)
                    if left != right:
                        what = "missing" if right is None else "not in the spec" if left is None else "differs"
                        found.append(f"components/{kind}/{name} ({what})")
        elif expected.get(key) != actual.get(key):
            found.append(key)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("full", nargs="?", default=str(DEFAULT_FULL), help="the full Qargo OpenAPI YAML")
    parser.add_argument("--check", action="store_true", help="compare with the vendored file; write nothing")
    args = parser.parse_args()
    with open(args.full, encoding="utf-8") as f:
        full = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", None) and _cloader() or _Loader)
    text = render(trim(full))
    if args.check:
        try:
            vendored = OUTPUT.read_text(encoding="utf-8")
        except FileNotFoundError:
            print(f"{OUTPUT.relative_to(REPO)} is missing", file=sys.stderr)
            return 1
        if vendored == text:
            print(f"{OUTPUT.relative_to(REPO)} is up to date")
            return 0
        try:
            found = differences(json.loads(text), json.loads(vendored))
        except json.JSONDecodeError as e:
            found = [f"the vendored file is not JSON: {e}"]
        print(f"{OUTPUT.relative_to(REPO)} is not what {args.full} gives:", file=sys.stderr)
        for line in found or ["formatting only (run the script to rewrite it)"]:
            print(f"  {line}", file=sys.stderr)
        return 1
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    doc = json.loads(text)
    count = sum(len(v) for v in doc["components"].values())
    print(f"wrote {OUTPUT.relative_to(REPO)}: {len(doc['paths'])} paths, {count} components")
    return 0


def _cloader():
    """The C loader, also reading timestamps as strings."""

    class Loader(yaml.CSafeLoader):
        pass

    Loader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
    return Loader


if __name__ == "__main__":
    sys.exit(main())
