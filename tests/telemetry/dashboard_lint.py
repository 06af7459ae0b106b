#!/usr/bin/env python3
"""Lints the Grafana provisioning (ctest dashboard_lint_test, label unit).

For grafana/dashboards/*.json:
  - valid JSON, a provisioning-ready dashboard (uid, title, id null,
    schemaVersion, templating, panels), uids unique across dashboards
  - panel ids unique within a dashboard (rows' nested panels included),
    every panel placed on the 24-column grid
  - every datasource reference (panels, targets, template variables) is the
    uid provisioned in grafana/provisioning/datasources/
  - no hard-coded line names: a `line` matcher's value is always a template
    variable, and no line id of the shipped policy or scenarios appears
  - every tidewatch_* metric queried is documented in docs/metrics.md
  - the JSON is what grafana/build-dashboards.py writes
and the provisioning YAML files are present and consistent.

  dashboard_lint.py --source-dir DIR
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys

import yaml

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def strings(node):
    """Every string value in a JSON tree."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def datasource_refs(node, path="$"):
    """(path, value) of every `datasource` key in a JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "datasource":
                yield path + "." + k, v
            else:
                yield from datasource_refs(v, path + "." + k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from datasource_refs(v, f"{path}[{i}]")


def line_ids(src):
    """Line ids of the shipped policy and scenarios."""
    ids = set()
    for path in [os.path.join(src, "deploy/policy/default.yaml")] + glob.glob(
            os.path.join(src, "deploy/scenarios/*.yaml")):
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        ids.update((doc.get("lines") or {}).keys())
    return ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source-dir", required=True)
    args = ap.parse_args()
    src = os.path.abspath(args.source_dir)

    # Provisioning.
    ds_files = glob.glob(os.path.join(src, "grafana/provisioning/datasources/*.yml"))
    uids = set()
    for path in ds_files:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        if doc.get("apiVersion") != 1:
            fail(f"{path}: apiVersion must be 1")
        for ds in doc.get("datasources", []):
            if ds.get("type") != "prometheus" or not ds.get("uid") or not ds.get("url"):
                fail(f"{path}: datasource {ds.get('name')} needs type prometheus, uid and url")
            uids.add(ds.get("uid"))
    if len(uids) != 1:
        fail(f"expected one provisioned datasource uid, found {sorted(uids)}")
    uid = next(iter(uids)) if uids else None
    prov = glob.glob(os.path.join(src, "grafana/provisioning/dashboards/*.yml"))
    if not prov:
        fail("no dashboard provider in grafana/provisioning/dashboards/")
    for path in prov:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        for p in doc.get("providers", []):
            if p.get("type") != "file" or not p.get("options", {}).get("path"):
                fail(f"{path}: provider {p.get('name')} must be type file with options.path")

    with open(os.path.join(src, "docs/metrics.md"), encoding="utf-8") as f:
        metrics_doc = f.read()
    lines = line_ids(src)
    if not lines:
        fail("no line ids found in the policy and scenarios")

    files = sorted(glob.glob(os.path.join(src, "grafana/dashboards/*.json")))
    if len(files) < 3:
        fail(f"expected at least 3 dashboards, found {len(files)}")
    dash_uids = {}
    queries = 0
    for path in files:
        name = os.path.relpath(path, src)
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except ValueError as e:
            fail(f"{name}: invalid JSON: {e}")
            continue
        for key in ("uid", "title", "schemaVersion", "panels", "templating"):
            if key not in d:
                fail(f"{name}: no {key}")
        if d.get("id") is not None:
            fail(f"{name}: id must be null for provisioning")
        if d.get("uid") in dash_uids:
            fail(f"{name}: uid {d.get('uid')} also in {dash_uids[d.get('uid')]}")
        dash_uids[d.get("uid")] = name
        if not re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", d.get("uid", "")):
            fail(f"{name}: uid must be 1-40 characters of [a-zA-Z0-9_-]")

        ids = {}
        for p in walk_panels(d.get("panels", [])):
            pid = p.get("id")
            if not isinstance(pid, int):
                fail(f"{name}: panel {p.get('title')!r} has no integer id")
            elif pid in ids:
                fail(f"{name}: panel id {pid} used by {ids[pid]!r} and {p.get('title')!r}")
            else:
                ids[pid] = p.get("title")
            g = p.get("gridPos", {})
            if not all(isinstance(g.get(k), int) for k in "xywh") or g["x"] + g["w"] > 24:
                fail(f"{name}: panel {p.get('title')!r}: bad gridPos {g}")
            if p.get("type") == "row":
                continue
            targets = p.get("targets", [])
            if not targets:
                fail(f"{name}: panel {p.get('title')!r} has no query")
            refs = [t.get("refId") for t in targets]
            if len(set(refs)) != len(refs) or None in refs:
                fail(f"{name}: panel {p.get('title')!r}: refIds must be unique and set")
            for t in targets:
                expr = t.get("expr", "")
                queries += 1
                if not expr.strip():
                    fail(f"{name}: panel {p.get('title')!r} has an empty expr")
                for m in re.finditer(r'\bline\s*(=~|!~|!=|=)\s*"([^"]*)"', expr):
                    if not m.group(2).startswith("$"):
                        fail(f"{name}: panel {p.get('title')!r}: hard-coded line matcher {m.group(0)}")
                for metric in set(re.findall(r"\btidewatch_[a-z0-9_]+", expr)):
                    base = re.sub(r"_(bucket|sum|count)$", "", metric)
                    if f"`{base}`" not in metrics_doc:
                        fail(f"{name}: panel {p.get('title')!r}: {metric} is not in docs/metrics.md")

        for var in d.get("templating", {}).get("list", []):
            if var.get("type") == "query":
                q = var.get("query")
                q = q.get("query") if isinstance(q, dict) else q
                if not q:
                    fail(f"{name}: variable {var.get('name')} has no query")

        for where, ref in datasource_refs(d):
            if isinstance(ref, dict) and ref.get("type") == "grafana":
                continue  # the built-in annotations source
            ref_uid = ref.get("uid") if isinstance(ref, dict) else ref
            if ref_uid != uid:
                fail(f"{name}: {where} refers to datasource {ref!r}, not the provisioned {uid!r}")

        for s in strings(d):
            for line in lines:
                if re.search(rf"(?<![\w-]){re.escape(line)}(?![\w-])", s):
                    fail(f"{name}: hard-coded line name {line!r} in {s[:80]!r}")
        print(f"{name}: {len(ids)} panels, ok" if not FAILURES else f"{name}: checked")

    # The JSON is the generator's.
    gen = subprocess.run([sys.executable, os.path.join(src, "grafana/build-dashboards.py"),
                          "--check"], capture_output=True, text=True)
    if gen.returncode != 0:
        fail("grafana/dashboards/*.json differ from grafana/build-dashboards.py: " + gen.stderr.strip())

    if FAILURES:
        print(f"\n{len(FAILURES)} failure(s)")
        return 1
    print(f"\n{len(files)} dashboards, {queries} queries: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
