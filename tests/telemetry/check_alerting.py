#!/usr/bin/env python3
"""Checks the alerting configuration (ctest alerting_config_test, label unit).

  1. promtool check rules deploy/prometheus/rules/*.yml
  2. promtool test rules deploy/prometheus/tests/*.yml
  3. every alert in the rules has a unit test showing it firing and one
     showing it not firing, and summary / description / runbook_url
     annotations; every runbook_url is an anchor of docs/operations.md
  4. amtool check-config deploy/alertmanager/alertmanager.yml
  5. routing (amtool config routes test): severity, line and team reach the
     intended receivers
  6. promtool check config on deploy/prometheus/prometheus.yml (with the
     rule paths rewritten to the repo's)

  check_alerting.py --source-dir DIR
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def run(cmd, expect_ok=True):
    r = subprocess.run(cmd, capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip()
    print("$ " + " ".join(cmd) + "\n" + out)
    if expect_ok and r.returncode != 0:
        fail(f"{' '.join(cmd)} exited {r.returncode}")
    return r.returncode, r.stdout


def tool(name):
    path = shutil.which(name)
    if not path:
        fail(f"{name} not found: scripts/install-deps installs prometheus and prometheus-alertmanager")
    return path


def github_anchors(markdown):
    """Anchors GitHub gives a Markdown file's headings."""
    anchors = set()
    for line in markdown.splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*$", line)
        if not m:
            continue
        text = re.sub(r"[`*_]", "", m.group(1)).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        anchors.add(slug)
    return anchors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source-dir", required=True)
    args = ap.parse_args()
    src = os.path.abspath(args.source_dir)
    promtool, amtool = tool("promtool"), tool("amtool")
    if FAILURES:
        return 1

    rules = sorted(glob.glob(os.path.join(src, "deploy/prometheus/rules/*.yml")))
    tests = sorted(glob.glob(os.path.join(src, "deploy/prometheus/tests/*.yml")))
    if not rules or not tests:
        fail("no rule files or no rule tests")
        return 1
    run([promtool, "check", "rules"] + rules)
    run([promtool, "test", "rules"] + tests)

    # Coverage: each alert firing and not firing in the unit tests.
    with open(os.path.join(src, "docs/operations.md"), encoding="utf-8") as f:
        anchors = github_anchors(f.read())
    alerts = {}
    for path in rules:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        for group in doc["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    alerts[rule["alert"]] = rule
    firing, quiet = set(), set()
    for path in tests:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        for t in doc.get("tests", []):
            for a in t.get("alert_rule_test", []):
                (firing if a.get("exp_alerts") else quiet).add(a["alertname"])
    for name, rule in sorted(alerts.items()):
        if name not in firing:
            fail(f"alert {name}: no unit test shows it firing")
        if name not in quiet:
            fail(f"alert {name}: no unit test shows it not firing")
        ann = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            if not ann.get(key):
                fail(f"alert {name}: no {key} annotation")
        url = ann.get("runbook_url", "")
        m = re.fullmatch(r"docs/operations\.md#([\w\-]+)", url)
        if not m:
            fail(f"alert {name}: runbook_url {url!r} is not docs/operations.md#ANCHOR")
        elif m.group(1) not in anchors:
            fail(f"alert {name}: docs/operations.md has no heading for #{m.group(1)}")
        labels = rule.get("labels", {})
        if labels.get("severity") not in ("warning", "major", "critical"):
            fail(f"alert {name}: severity must be warning, major or critical")
        if labels.get("component") not in ("tide", "feed", "callup", "service"):
            fail(f"alert {name}: component must be tide, feed, callup or service")
    print(f"{len(alerts)} alerts, each firing and not firing in the unit tests: "
          + ", ".join(sorted(alerts)))

    # Alertmanager.
    am_config = os.path.join(src, "deploy/alertmanager/alertmanager.yml")
    run([amtool, "check-config", am_config])
    routes = [
        (["component=tide", "severity=warning", "line=housing", "alertname=TidewatchTideTier1"],
         "duty-managers"),
        (["component=tide", "severity=major", "line=revenues", "alertname=TidewatchTideTier2"],
         "revenues-duty-manager"),
        (["component=tide", "severity=critical", "line=housing", "alertname=TidewatchTideTier3"],
         "duty-managers-and-heads,duty-managers"),
        (["component=tide", "severity=critical", "line=council-tax", "alertname=TidewatchTideTier3"],
         "duty-managers-and-heads,revenues-duty-manager"),
        (["component=feed", "severity=critical", "line=waste"], "duty-managers-and-ops"),
        (["component=callup", "severity=major", "line=revenues", "team=revenues-back-office"],
         "revenues-back-office-leads"),
        (["component=callup", "severity=major", "line=waste", "team=casual-bank"],
         "workforce-coordinators"),
        (["component=callup", "severity=major", "line=housing", "team=housing-back-office"],
         "callup-rota"),
        (["component=service", "severity=critical", "alertname=TidewatchDown"], "ops-pager"),
        (["component=service", "severity=warning", "alertname=TidewatchConsumerLagGrowing"],
         "ops-email"),
    ]
    for labels, want in routes:
        rc, out = run([amtool, "config", "routes", "test", f"--config.file={am_config}"] + labels,
                      expect_ok=False)
        if out.strip() != want:
            fail(f"route for {' '.join(labels)}: got {out.strip()!r}, want {want!r}")
    with open(am_config, encoding="utf-8") as f:
        am = yaml.safe_load(f)
    inhibits = {(tuple(r.get("source_matchers", [])), tuple(r.get("target_matchers", [])),
                 tuple(r.get("equal", []))) for r in am.get("inhibit_rules", [])}
    for want in [(('alertname="TidewatchTideTier3"',),
                  ('alertname=~"TidewatchTideTier1|TidewatchTideTier2"',), ("line",)),
                 (('alertname="TidewatchTideTier2"',), ('alertname="TidewatchTideTier1"',),
                  ("line",))]:
        if want not in inhibits:
            fail(f"missing inhibit rule {want}")

    # prometheus.yml with the container's rule path rewritten.
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(src, "deploy/prometheus/prometheus.yml"), encoding="utf-8") as f:
            text = f.read().replace("/etc/prometheus/rules/",
                                    os.path.join(src, "deploy/prometheus/rules") + "/")
        path = os.path.join(tmp, "prometheus.yml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        run([promtool, "check", "config", path])

    if FAILURES:
        print(f"\n{len(FAILURES)} failure(s)")
        return 1
    print("\nalerting configuration OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
