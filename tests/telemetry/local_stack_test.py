#!/usr/bin/env python3
"""The native local stack end to end (ctest local_stack_test, label integration).

Starts scripts/local-stack (kafka-dev-broker, tidewatchd --clock=event,
tide-sim replaying the Council Tax summons day at 60x, Prometheus and
Alertmanager from Debian's packages, 2 s scrape and evaluation), then:

  1. waits until Prometheus scrapes tidewatchd;
  2. evaluates every query of every panel of every dashboard in
     grafana/dashboards/ through Prometheus's HTTP API (instant queries for
     instant targets, range queries over the last 5 minutes otherwise), with
     the template variables substituted (a single-value `line` becomes the
     surging line, multi-value variables their "All" value), and the
     variables' own label_values() queries, until each returns data;
  3. checks that Alertmanager's /api/v2/alerts holds a rising-tide tier alert
     for the surging line (revenues).

Bounded in time (--deadline, default 150 s after the stack is up); always
stops the stack, printing its logs' tails on failure.

  local_stack_test.py --source-dir SRC --build-dir BUILD --stack-dir DIR
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

SURGING_LINE = "revenues"
# Grafana's built-in interval variables, as Grafana would expand them for a
# 15 s datasource timeInterval.
BUILTINS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m"}


def get_json(url, params=None, timeout=5):
    if params:
        url += "?" + urllib.parse.urlencode(params, doseq=True)
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read().decode("utf-8"))


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


class Query:
    def __init__(self, dashboard, panel, ref, expr, instant):
        self.dashboard, self.panel, self.ref = dashboard, panel, ref
        self.expr, self.instant = expr, instant
        self.series = 0
        self.error = ""

    def name(self):
        return f"{self.dashboard} / {self.panel} / {self.ref}"


def substitute(expr, variables):
    for k, v in BUILTINS.items():
        expr = expr.replace(k, v)
    for name, value in sorted(variables.items(), key=lambda kv: -len(kv[0])):
        expr = expr.replace("${" + name + "}", value).replace("$" + name, value)
    return expr


def label_values(prom, definition):
    """Evaluates Grafana's label_values(METRIC, LABEL) against Prometheus."""
    m = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*", definition)
    if not m:
        raise ValueError(f"unsupported variable query {definition!r}")
    r = get_json(f"{prom}/api/v1/series", {"match[]": m.group(1)})
    return sorted({s[m.group(2)] for s in r.get("data", []) if m.group(2) in s})


def collect_queries(src, prom):
    queries, var_checks = [], []
    for path in sorted(glob.glob(os.path.join(src, "grafana/dashboards/*.json"))):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        variables = {}
        for var in d.get("templating", {}).get("list", []):
            q = var.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            var_checks.append((d["uid"], var["name"], q))
            if var.get("multi") or var.get("includeAll"):
                variables[var["name"]] = var.get("allValue") or ".*"
            else:
                variables[var["name"]] = SURGING_LINE if var["name"] == "line" else None
        for p in walk_panels(d.get("panels", [])):
            for t in p.get("targets", []):
                if t.get("expr"):
                    queries.append(Query(d["uid"], p.get("title", "?"), t.get("refId", "?"),
                                         t["expr"], bool(t.get("instant"))))
        for q in queries:
            if q.dashboard == d["uid"]:
                q.variables = variables
    return queries, var_checks


def evaluate(prom, q):
    variables = dict(q.variables)
    for k, v in variables.items():
        if v is None:  # a single-value variable other than line: its first value
            raise ValueError(f"no value for variable {k}")
    expr = substitute(q.expr, variables)
    if "$" in expr:
        raise ValueError(f"unsubstituted variable in {expr!r}")
    now = time.time()
    if q.instant:
        r = get_json(f"{prom}/api/v1/query", {"query": expr, "time": f"{now:.3f}"})
    else:
        r = get_json(f"{prom}/api/v1/query_range",
                     {"query": expr, "start": f"{now - 300:.3f}", "end": f"{now:.3f}", "step": "5"})
    if r.get("status") != "success":
        raise ValueError(f"{r.get('errorType')}: {r.get('error')}")
    result = r["data"]["result"]
    if q.instant:
        return len(result)
    return sum(1 for s in result if s.get("values"))


def tier_alerts(am):
    alerts = get_json(f"{am}/api/v2/alerts")
    return [a for a in alerts
            if a["labels"].get("alertname", "").startswith("TidewatchTideTier")
            and a["labels"].get("line") == SURGING_LINE]


def tail(path, n=25):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return str(e)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source-dir", required=True)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--stack-dir", required=True)
    ap.add_argument("--deadline", type=float, default=150,
                    help="seconds after start for every query to return data")
    args = ap.parse_args()
    src = os.path.abspath(args.source_dir)
    script = os.path.join(src, "scripts/local-stack")
    env = dict(os.environ, TIDEWATCH_BUILD_DIR=os.path.abspath(args.build_dir),
               LOCAL_STACK_DIR=os.path.abspath(args.stack_dir), LOCAL_STACK_SCRAPE="2s",
               LOCAL_STACK_SPEED="60")
    began = time.time()
    ok = False
    try:
        r = subprocess.run([script, "start"], env=env, timeout=120, capture_output=True, text=True)
        print(r.stdout + r.stderr)
        if r.returncode != 0:
            print("FAIL: scripts/local-stack start exited", r.returncode)
            return 1
        stack = {}
        with open(os.path.join(args.stack_dir, "stack.env"), encoding="utf-8") as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                stack[k] = v
        prom, am = stack["PROMETHEUS_URL"], stack["ALERTMANAGER_URL"]
        deadline = time.time() + args.deadline
        print(f"stack up in {time.time() - began:.1f}s: Prometheus {prom}, Alertmanager {am}")

        # 1. Prometheus scrapes tidewatchd.
        while time.time() < deadline:
            r = get_json(f"{prom}/api/v1/query", {"query": 'up{job="tidewatch"} == 1'})
            if r["data"]["result"]:
                break
            time.sleep(1)
        else:
            print("FAIL: Prometheus never scraped tidewatchd")
            return 1
        print(f"tidewatchd scraped after {time.time() - began:.1f}s")

        # 2 and 3, polled until all hold or the deadline passes.
        queries, var_checks = collect_queries(src, prom)
        pending = list(queries)
        vars_pending = list(var_checks)
        alert = None
        while time.time() < deadline:
            for q in list(pending):
                try:
                    q.series = evaluate(prom, q)
                    q.error = ""
                except Exception as e:  # noqa: BLE001 - reported below
                    q.error = str(e)
                if q.series > 0:
                    pending.remove(q)
            for v in list(vars_pending):
                if label_values(prom, v[2]):
                    vars_pending.remove(v)
            if alert is None:
                found = tier_alerts(am)
                if found:
                    alert = found
                    print(f"tier alert in Alertmanager after {time.time() - began:.1f}s: "
                          + ", ".join(f"{a['labels']['alertname']} ({a['status']['state']})"
                                      for a in found))
            if not pending and not vars_pending and alert:
                break
            time.sleep(2)

        print(f"\n{len(queries)} panel queries:")
        for q in queries:
            mark = "ok " if q.series > 0 else "EMPTY"
            print(f"  {mark} {q.series:3d} series  {q.name()}"
                  + (f"  [{q.error}]" if q.error else ""))
        for v in var_checks:
            print(f"  {'EMPTY' if v in vars_pending else 'ok '} variable {v[0]} ${v[1]}: {v[2]}")
        failures = [f"no data: {q.name()}: {q.expr}" for q in pending]
        failures += [f"variable {v[0]} ${v[1]} has no values" for v in vars_pending]
        if not alert:
            failures.append(f"no TidewatchTideTier* alert for line={SURGING_LINE} in Alertmanager")
        for f in failures:
            print("FAIL: " + f)
        ok = not failures
        print(f"\n{'PASS' if ok else 'FAIL'} in {time.time() - began:.1f}s")
        return 0 if ok else 1
    finally:
        if not ok:
            for name in ("tidewatchd", "tide-sim", "prometheus", "alertmanager", "broker"):
                print(f"--- {name}.log (tail)\n" + tail(os.path.join(args.stack_dir, f"{name}.log")))
        r = subprocess.run([script, "stop"], env=env, timeout=90, capture_output=True, text=True)
        print(r.stdout + r.stderr)


if __name__ == "__main__":
    sys.exit(main())
