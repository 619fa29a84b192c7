#!/usr/bin/env python3
"""Compact the botocore API models Tessera validates requests against.

Reads <input-dir>/{cognito-idp,cognito-identity,cognito-sync}/service-2.json (botocore JSON)
and writes shared/wire/model/<service>.json with only what the wire layer needs:

  metadata    targetPrefix (JSON 1.1 services only), endpointPrefix, signingName, protocol
  operations  name -> {input, output, errors, authtype, http (REST services: method, requestUri)}
  shapes      every shape reachable from an operation's input (and, with --with-outputs,
              its output), reduced to type, members (name -> shape), required, min, max,
              pattern, enum, member/key/value refs, sensitive, document, and for REST
              services the members bound to the URI, query string or headers
              (locations: member -> [location, locationName]); plus every error shape as
              {"type": "structure", "exception": true, "status": its HTTP status}.
              No documentation.

Output is deterministic (sorted keys, one operation/shape per line) so it diffs well.

Usage: tools/compact-model.py [INPUT_DIR] [--out OUT_DIR] [--with-outputs]
INPUT_DIR defaults to ../shared/api-models relative to the repository root.
"""

import argparse
import json
import os
import sys

SERVICES = ("cognito-idp", "cognito-identity", "cognito-sync")
SHAPE_KEYS = ("type", "required", "min", "max", "pattern", "enum", "sensitive", "document")


def compact_shape(shape):
    out = {}
    for key in SHAPE_KEYS:
        value = shape.get(key)
        # `min: 0` is a real bound: test for "unset" by identity, as 0 == False in Python.
        if value is None or value is False or value == []:
            continue
        out[key] = value
    if "members" in shape:
        out["members"] = {name: m["shape"] for name, m in shape["members"].items()}
        locations = {
            name: [m["location"], m.get("locationName", name)]
            for name, m in shape["members"].items()
            if "location" in m
        }
        if locations:
            out["locations"] = locations
    for ref in ("member", "key", "value"):
        if ref in shape:
            out[ref] = shape[ref]["shape"]
    return out


def referenced(shape):
    refs = [m["shape"] for m in shape.get("members", {}).values()]
    refs += [shape[r]["shape"] for r in ("member", "key", "value") if r in shape]
    return refs


def compact(model, with_outputs):
    meta = model["metadata"]
    shapes = model["shapes"]
    operations = {}
    roots = []
    error_shapes = set()
    for name, op in model["operations"].items():
        entry = {"errors": sorted({e["shape"] for e in op.get("errors", [])})}
        if "input" in op:
            entry["input"] = op["input"]["shape"]
            roots.append(op["input"]["shape"])
        if "output" in op:
            entry["output"] = op["output"]["shape"]
            if with_outputs:
                roots.append(op["output"]["shape"])
        authtype = op.get("authtype")
        if authtype is None and op.get("auth") == ["smithy.api#noAuth"]:
            authtype = "none"
        if authtype is not None:
            entry["authtype"] = authtype
        if meta.get("protocol") == "rest-json":
            entry["http"] = {"method": op["http"]["method"], "requestUri": op["http"]["requestUri"]}
        operations[name] = entry
        error_shapes.update(entry["errors"])

    out_shapes = {}
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in out_shapes:
            continue
        out_shapes[name] = compact_shape(shapes[name])
        stack.extend(referenced(shapes[name]))
    error_shapes.update(n for n, s in shapes.items() if s.get("exception"))
    for name in error_shapes:
        if name not in out_shapes:
            out_shapes[name] = {"type": "structure", "exception": True}
        else:
            out_shapes[name]["exception"] = True
        status = shapes.get(name, {}).get("error", {}).get("httpStatusCode")
        if status is not None:
            out_shapes[name]["status"] = status

    metadata = {
        "endpointPrefix": meta["endpointPrefix"],
        "protocol": meta["protocol"],
        "signingName": meta.get("signingName", meta["endpointPrefix"]),
    }
    if "targetPrefix" in meta:
        metadata["targetPrefix"] = meta["targetPrefix"]
    return {
        "metadata": metadata,
        "operations": operations,
        "shapes": out_shapes,
    }


def dump(doc):
    """Sorted keys, compact values, one operation / shape per line."""

    def one(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    lines = ["{", '"metadata":' + one(doc["metadata"]) + ","]
    for section in ("operations", "shapes"):
        lines.append(one(section) + ":{")
        items = sorted(doc[section].items())
        for i, (name, value) in enumerate(items):
            lines.append(one(name) + ":" + one(value) + ("," if i + 1 < len(items) else ""))
        lines.append("}" + ("," if section == "operations" else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input_dir", nargs="?", default=os.path.join(root, "..", "shared", "api-models"))
    parser.add_argument("--out", default=os.path.join(root, "shared", "wire", "model"))
    parser.add_argument("--with-outputs", action="store_true", help="also keep output shapes")
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    for service in SERVICES:
        src = os.path.join(args.input_dir, service, "service-2.json")
        with open(src, encoding="utf-8") as f:
            model = json.load(f)
        text = dump(compact(model, args.with_outputs))
        json.loads(text)  # sanity: what we write must parse
        dst = os.path.join(args.out, service + ".json")
        with open(dst, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        print(f"{service}: {os.path.getsize(src):>9} -> {len(text.encode('utf-8')):>7} bytes  {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
