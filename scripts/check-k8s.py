#!/usr/bin/python3
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
"""Checks Kubernetes manifests offline against the API's own types.

    scripts/check-k8s.py FILE.yaml...

Each document is matched by apiVersion and kind to the model class that the
Kubernetes project generates from its OpenAPI schema (Debian's
python3-kubernetes), and every field is checked against that class: unknown
fields, wrong types (string, integer, boolean, list, map, object) and missing
required fields are errors, printed with the document's kind/name and the
field's path. Prints "ok KIND/NAME" per valid document; exits 1 on any error.
"""
import re
import sys

import yaml
from kubernetes import client

PRIMITIVE = {"str": str, "int": int, "bool": bool, "float": (int, float)}


def model_for(api_version, kind):
    version = api_version.split("/")[-1]
    return getattr(client, version.capitalize() + kind, None)


def check(value, typ, path, errors):
    """Checks value against the generated type name typ."""
    if value is None:
        return
    m = re.fullmatch(r"list\[(.+)\]", typ)
    if m:
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check(item, m.group(1), f"{path}[{i}]", errors)
        return
    m = re.fullmatch(r"dict\(str, (.+)\)", typ)
    if m:
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        for k, v in value.items():
            check(v, m.group(1), f"{path}.{k}", errors)
        return
    if typ in PRIMITIVE:
        ok = isinstance(value, PRIMITIVE[typ]) and not (typ != "bool" and isinstance(value, bool))
        if not ok:
            errors.append(f"{path}: expected {typ}, got {value!r}")
        return
    if typ in ("object", "datetime", "date"):
        return
    cls = getattr(client, typ, None)
    if cls is None:
        errors.append(f"{path}: unknown type {typ}")
        return
    if not isinstance(value, dict):
        errors.append(f"{path}: expected an object ({typ}), got {value!r}")
        return
    by_json = {j: a for a, j in cls.attribute_map.items()}
    for key, v in value.items():
        if key not in by_json:
            errors.append(f"{path}.{key}: {typ} has no field '{key}'")
            continue
        check(v, cls.openapi_types[by_json[key]], f"{path}.{key}", errors)


def required(value, typ, path, errors):
    """Builds the model, which raises on a missing required field."""
    try:
        client.ApiClient()._ApiClient__deserialize(value, typ)
    except (ValueError, TypeError) as e:
        errors.append(f"{path}: {e}")


def main(files):
    bad = 0
    for name in files:
        with open(name) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        for doc in docs:
            kind = doc.get("kind", "?")
            label = f"{name}: {kind}/{doc.get('metadata', {}).get('name', '?')}"
            cls = model_for(doc.get("apiVersion", ""), kind)
            if cls is None:
                print(f"{label}: no Kubernetes type for {doc.get('apiVersion')} {kind}")
                bad += 1
                continue
            errors = []
            check(doc, cls.__name__, kind, errors)
            if not errors:
                required(doc, cls.__name__, kind, errors)
            for e in errors:
                print(f"{label}: {e}")
            bad += bool(errors)
            if not errors:
                print(f"ok {kind}/{doc['metadata']['name']}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
