#!/usr/bin/env python3
"""Writes tidewatch's Grafana dashboards (grafana/dashboards/*.json).

The dashboards are generated so that every panel follows the same rules:
one datasource (the provisioned uid), no hard-coded line names (lines come
from the `line` template variable), units in base units. Edit this file and
run it; the lint test (tests/telemetry/dashboard_lint.py) fails when the
committed JSON differs from what this writes.

  grafana/build-dashboards.py          # rewrite grafana/dashboards/*.json
  grafana/build-dashboards.py --check  # exit 1 if they are out of date

Metrics: docs/metrics.md ("Prometheus metrics").
"""

import json
import os
import sys

DATASOURCE = {"type": "prometheus", "uid": "tidewatch-prometheus"}
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "dashboards")

# Tide level colours: 0 calm, then the tiers.
TIDE_STEPS = [
    {"color": "green", "value": None},
    {"color": "yellow", "value": 1},
    {"color": "orange", "value": 2},
    {"color": "red", "value": 3},
]


class Dashboard:
    """Lays panels out on Grafana's 24-column grid, numbering ids."""

    def __init__(self, uid, title, description, tags, variables, refresh="30s", time_from="now-3h"):
        self.uid = uid
        self.title = title
        self.description = description
        self.tags = tags
        self.variables = variables
        self.refresh = refresh
        self.time_from = time_from
        self.panels = []
        self.next_id = 1
        self.x = 0
        self.y = 0
        self.row_height = 0

    def _place(self, w, h):
        if self.x + w > 24:
            self.x = 0
            self.y += self.row_height
            self.row_height = 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_height = max(self.row_height, h)
        return pos

    def row(self, title):
        if self.x != 0:
            self.x = 0
            self.y += self.row_height
            self.row_height = 0
        self.panels.append({
            "id": self.next_id, "type": "row", "title": title, "collapsed": False,
            "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}, "panels": [],
        })
        self.next_id += 1
        self.y += 1

    def add(self, panel, w, h):
        panel = dict(panel)
        panel["id"] = self.next_id
        self.next_id += 1
        panel["gridPos"] = self._place(w, h)
        panel["datasource"] = DATASOURCE
        for i, t in enumerate(panel.get("targets", [])):
            t.setdefault("refId", chr(ord("A") + i))
            t["datasource"] = DATASOURCE
        self.panels.append(panel)

    def json(self):
        return {
            "id": None,
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": self.tags,
            "timezone": "browser",
            "editable": False,
            "graphTooltip": 1,
            "schemaVersion": 37,
            "version": 1,
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "links": [{
                "type": "dashboards", "tags": ["tidewatch"], "asDropdown": True,
                "title": "tidewatch", "includeVars": True, "keepTime": True,
            }],
            "annotations": {"list": [{
                "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts", "type": "dashboard",
            }]},
            "templating": {"list": self.variables},
            "panels": self.panels,
        }


def line_variable(multi):
    """The `line` variable, from the lines tidewatchd exports."""
    v = {
        "name": "line",
        "label": "Line",
        "type": "query",
        "datasource": DATASOURCE,
        "definition": "label_values(tidewatch_line_tide_level, line)",
        "query": {"query": "label_values(tidewatch_line_tide_level, line)",
                  "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "sort": 1,
        "regex": "",
        "hide": 0,
        "multi": multi,
        "includeAll": multi,
        "options": [],
    }
    if multi:
        v["allValue"] = ".*"
        v["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    else:
        v["current"] = {}
    return v


def instance_variable():
    return {
        "name": "instance",
        "label": "Instance",
        "type": "query",
        "datasource": DATASOURCE,
        "definition": 'label_values(up{job="tidewatch"}, instance)',
        "query": {"query": 'label_values(up{job="tidewatch"}, instance)',
                  "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "sort": 1,
        "regex": "",
        "hide": 0,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
    }


def target(expr, legend="", instant=False, fmt="time_series", ref=None):
    t = {"expr": expr, "legendFormat": legend, "range": not instant, "instant": instant,
         "format": fmt}
    if ref:
        t["refId"] = ref
    return t


def timeseries(title, description, targets, unit="short", stack=False, min0=True, max1=False,
               thresholds=None, draw="line"):
    defaults = {
        "unit": unit,
        "custom": {
            "drawStyle": draw, "lineWidth": 2, "fillOpacity": 15 if stack else 5,
            "showPoints": "never", "spanNulls": False,
            "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        },
        "color": {"mode": "palette-classic"},
    }
    if min0:
        defaults["min"] = 0
    if max1:
        defaults["max"] = 1
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
        defaults["custom"]["thresholdsStyle"] = {"mode": "dashed"}
    return {
        "type": "timeseries", "title": title, "description": description, "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
    }


def stat(title, description, expr, unit="short", steps=None, mappings=None, legend=""):
    return {
        "type": "stat", "title": title, "description": description,
        "targets": [target(expr, legend, instant=True)],
        "fieldConfig": {"defaults": {
            "unit": unit,
            "thresholds": {"mode": "absolute", "steps": steps or [{"color": "text", "value": None}]},
            "mappings": mappings or [],
            "color": {"mode": "thresholds"},
        }, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background" if steps else "value", "graphMode": "area",
                    "textMode": "auto", "justifyMode": "auto", "orientation": "auto"},
    }


def overview():
    d = Dashboard(
        "tidewatch-overview", "tidewatch: duty manager overview",
        "Every line's rising tide at a glance: level, queue, waits and abandonment over 15 and "
        "60 minutes, and the call-ups raised and acknowledged. No data is not calm: see Feed.",
        ["tidewatch", "duty-manager"], [line_variable(multi=True)], refresh="15s")
    d.row("Lines now")
    sel = 'line=~"$line"'
    # One row per line. Missing figures (an undefined ratio, no call-up)
    # stay empty rather than zero, except call-ups which are 0 when none.
    cols = [
        ("A", f"max by (line) (tidewatch_line_tide_level{{{sel}}})", "Tide level"),
        ("B", f"max by (line) (tidewatch_line_calls_waiting{{{sel}}})", "Waiting"),
        ("C", f"max by (line) (tidewatch_line_longest_wait_seconds{{{sel}}})", "Longest wait"),
        ("D", f'max by (line) (tidewatch_window_avg_wait_seconds{{{sel},window="15m"}})', "Avg wait 15m"),
        ("E", f'max by (line) (tidewatch_window_avg_wait_seconds{{{sel},window="60m"}})', "Avg wait 60m"),
        ("F", f'max by (line) (tidewatch_window_abandon_ratio{{{sel},window="15m"}})', "Abandoned 15m"),
        ("G", f'max by (line) (tidewatch_window_abandon_ratio{{{sel},window="60m"}})', "Abandoned 60m"),
        ("H", f'sum by (line) (tidewatch_callups_headcount{{{sel},state="paged"}}) '
              f'or on (line) (0 * max by (line) (tidewatch_line_tide_level{{{sel}}}))', "Asked, not acknowledged"),
        ("I", f'sum by (line) (tidewatch_callups_headcount{{{sel},state="acknowledged"}}) '
              f'or on (line) (0 * max by (line) (tidewatch_line_tide_level{{{sel}}}))', "Acknowledged"),
        ("J", f"max by (line) (tidewatch_line_feed_stale{{{sel}}})", "Feed"),
    ]
    rename = {f"Value #{ref}": name for ref, _, name in cols}
    order = {"line": 0}
    order.update({f"Value #{ref}": i + 1 for i, (ref, _, _) in enumerate(cols)})

    def override(ref, props):
        return {"matcher": {"id": "byName", "options": f"Value #{ref}"}, "properties": props}

    seconds = [{"id": "unit", "value": "s"}, {"id": "decimals", "value": 0}]
    wait_colours = [{"id": "custom.displayMode", "value": "color-text"},
                    {"id": "thresholds", "value": {"mode": "absolute", "steps": [
                        {"color": "green", "value": None}, {"color": "orange", "value": 180},
                        {"color": "red", "value": 420}]}}]
    # The longest wait has its own trigger (default policy: tier 1 at 8 min),
    # as the line dashboard colours it.
    longest_colours = [{"id": "custom.displayMode", "value": "color-text"},
                       {"id": "thresholds", "value": {"mode": "absolute", "steps": [
                           {"color": "green", "value": None}, {"color": "orange", "value": 360},
                           {"color": "red", "value": 480}]}}]
    abandon = [{"id": "unit", "value": "percentunit"}, {"id": "decimals", "value": 1},
               {"id": "custom.displayMode", "value": "color-text"},
               {"id": "thresholds", "value": {"mode": "absolute", "steps": [
                   {"color": "green", "value": None}, {"color": "orange", "value": 0.10},
                   {"color": "red", "value": 0.20}]}}]
    d.add({
        "type": "table",
        "title": "Lines: tide, queue, waits, abandonment, call-ups",
        "description": "One row per line. Tide level 0 is normal; 1.. are the policy's tiers. "
                       "Call-up columns count people asked for by open call-ups. Feed STALE "
                       "means no events during opening hours: the figures are frozen, not calm.",
        "targets": [target(expr, "", instant=True, fmt="table", ref=ref) for ref, expr, _ in cols],
        "transformations": [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True},
                                           "indexByName": order, "renameByName": rename}},
        ],
        "fieldConfig": {
            "defaults": {"custom": {"align": "auto", "displayMode": "auto", "filterable": False},
                         "thresholds": {"mode": "absolute", "steps": [{"color": "text", "value": None}]}},
            "overrides": [
                {"matcher": {"id": "byName", "options": "line"}, "properties": [
                    {"id": "displayName", "value": "Line"},
                    {"id": "links", "value": [{
                        "title": "Drill down into ${__value.raw}",
                        "url": "/d/tidewatch-line/tidewatch-line?var-line=${__value.raw}&${__url_time_range}"}]}]},
                override("A", [{"id": "custom.displayMode", "value": "color-background"},
                               {"id": "thresholds", "value": {"mode": "absolute", "steps": TIDE_STEPS}}]),
                override("C", seconds + longest_colours),
                override("D", seconds + wait_colours),
                override("E", seconds + wait_colours),
                override("F", abandon),
                override("G", abandon),
                override("H", [{"id": "custom.displayMode", "value": "color-background"},
                               {"id": "thresholds", "value": {"mode": "absolute", "steps": [
                                   {"color": "transparent", "value": None},
                                   {"color": "orange", "value": 1}]}}]),
                override("J", [{"id": "mappings", "value": [
                    {"type": "value", "options": {"0": {"text": "ok", "color": "green"},
                                                  "1": {"text": "STALE", "color": "red"}}}]},
                    {"id": "custom.displayMode", "value": "color-background"}]),
            ],
        },
        "options": {"showHeader": True, "sortBy": [{"displayName": "Tide level", "desc": True}],
                    "footer": {"show": False, "reducer": ["sum"]}},
    }, 24, 11)

    d.row("Over time")
    d.add({
        "type": "state-timeline", "title": "Tide level by line",
        "description": "Each line's tide level over time (0 normal).",
        "targets": [target(f"max by (line) (tidewatch_line_tide_level{{{sel}}})", "{{line}}")],
        "fieldConfig": {"defaults": {
            "thresholds": {"mode": "absolute", "steps": TIDE_STEPS}, "color": {"mode": "thresholds"},
            "custom": {"fillOpacity": 80, "lineWidth": 0}}, "overrides": []},
        "options": {"showValue": "auto", "mergeValues": True, "rowHeight": 0.9,
                    "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False}},
    }, 24, 8)
    d.add(timeseries("Calls waiting", "Calls queued and not yet answered, per line.",
                     [target(f"max by (line) (tidewatch_line_calls_waiting{{{sel}}})", "{{line}}")]), 12, 8)
    d.add(timeseries("Longest wait now", "Age of the oldest waiting call, per line.",
                     [target(f"max by (line) (tidewatch_line_longest_wait_seconds{{{sel}}})", "{{line}}")],
                     unit="s"), 12, 8)
    d.add(timeseries("Average wait, 15 minutes", "Mean wait of calls answered or abandoned in the last 15 minutes (target 180 s).",
                     [target(f'max by (line) (tidewatch_window_avg_wait_seconds{{{sel},window="15m"}})', "{{line}}")],
                     unit="s", thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 180}]), 12, 8)
    d.add(timeseries("Abandoned, 15 minutes", "Abandonment rate over the last 15 minutes, short abandons excluded (target 10%).",
                     [target(f'max by (line) (tidewatch_window_abandon_ratio{{{sel},window="15m"}})', "{{line}}")],
                     unit="percentunit", max1=True,
                     thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 0.1}]), 12, 8)

    d.row("Call-ups")
    d.add({
        "type": "table", "title": "Open call-ups by line, team and state",
        "description": "People asked for by call-ups not yet stood down; 'paged' ones are waiting for the team to acknowledge.",
        "targets": [target(f"sum by (line, team, state) (tidewatch_callups_headcount{{{sel}}})", "", instant=True, fmt="table")],
        "transformations": [{"id": "organize", "options": {"excludeByName": {"Time": True},
                                                           "renameByName": {"Value": "People asked for"}}}],
        "fieldConfig": {"defaults": {"custom": {"align": "auto"}}, "overrides": []},
        "options": {"showHeader": True},
    }, 12, 8)
    d.add(timeseries("Unacknowledged call-ups: age vs timeout",
                     "Age of the oldest paged call-up per line and team; past the team's timeout the rota moves on (alert TidewatchCallUpUnacknowledged).",
                     [target(f"max by (line, team) (tidewatch_callup_unacknowledged_age_seconds{{{sel}}})", "{{line}} / {{team}}"),
                      target(f"max by (team) (tidewatch_team_ack_timeout_seconds{{{sel}}}) and on (team) max by (team) (tidewatch_callup_unacknowledged_age_seconds{{{sel}}})", "timeout {{team}}")],
                     unit="s"), 12, 8)
    return d


def line_drilldown():
    d = Dashboard(
        "tidewatch-line", "tidewatch: line",
        "One line in depth: tide, queue, every window's KPIs, wait quantiles, agents by state "
        "and origin, the capacity model and call-ups.",
        ["tidewatch", "duty-manager"], [line_variable(multi=False)], refresh="15s")
    sel = 'line="$line"'
    d.row("$line now")
    d.add(stat("Tide level", "0 normal; 1.. the policy's tiers.",
               f"max(tidewatch_line_tide_level{{{sel}}})", steps=TIDE_STEPS), 4, 4)
    d.add(stat("Calls waiting", "Calls queued and not yet answered.",
               f"max(tidewatch_line_calls_waiting{{{sel}}})"), 4, 4)
    d.add(stat("Longest wait", "Age of the oldest waiting call.",
               f"max(tidewatch_line_longest_wait_seconds{{{sel}}})", unit="s",
               steps=[{"color": "green", "value": None}, {"color": "orange", "value": 360},
                      {"color": "red", "value": 480}]), 4, 4)
    d.add(stat("Feed", "STALE: no events during opening hours; figures are frozen, not calm.",
               f"max(tidewatch_line_feed_stale{{{sel}}})",
               steps=[{"color": "green", "value": None}, {"color": "red", "value": 1}],
               mappings=[{"type": "value", "options": {"0": {"text": "ok"}, "1": {"text": "STALE"}}}]), 4, 4)
    d.add(stat("Agents staffed", "Logged in and not away.",
               f"max(tidewatch_line_capacity_agents_staffed{{{sel}}})"), 4, 4)
    d.add(stat("Capacity gap", "Agents needed minus staffed (capacity model; empty without enough data).",
               f"max(tidewatch_line_capacity_gap{{{sel}}})",
               steps=[{"color": "green", "value": None}, {"color": "orange", "value": 1},
                      {"color": "red", "value": 4}]), 4, 4)

    d.row("Waits")
    d.add(timeseries("Average wait by window", "Mean wait of calls answered or abandoned, per window.",
                     [target(f"max by (window) (tidewatch_window_avg_wait_seconds{{{sel}}})", "{{window}}")],
                     unit="s"), 12, 8)
    d.add(timeseries("Wait quantiles, 15 minutes", "Nearest-rank wait quantiles of calls answered or abandoned in the last 15 minutes, and the longest.",
                     [target(f'max by (quantile) (tidewatch_window_wait_seconds{{{sel},window="15m"}})', "p{{quantile}}"),
                      target(f'max(tidewatch_window_max_wait_seconds{{{sel},window="15m"}})', "max")],
                     unit="s"), 12, 8)
    d.add(timeseries("Average speed of answer by window", "Mean wait of answered calls, per window.",
                     [target(f"max by (window) (tidewatch_window_asa_seconds{{{sel}}})", "{{window}}")],
                     unit="s"), 12, 8)
    d.add(timeseries("Longest wait now and predicted wait", "The oldest waiting call now, and the capacity model's predicted mean wait for a caller arriving now.",
                     [target(f"max(tidewatch_line_longest_wait_seconds{{{sel}}})", "longest waiting"),
                      target(f"max(tidewatch_line_capacity_predicted_wait_seconds{{{sel}}})", "predicted wait")],
                     unit="s"), 12, 8)

    d.row("Outcomes")
    d.add(timeseries("Answered, abandoned and service level", "Ratios per window: answered / (answered + abandoned), abandonment (short abandons excluded), service level (answered within target).",
                     [target(f"max by (window) (tidewatch_window_answer_ratio{{{sel}}})", "answered {{window}}"),
                      target(f"max by (window) (tidewatch_window_abandon_ratio{{{sel}}})", "abandoned {{window}}"),
                      target(f"max by (window) (tidewatch_window_service_level_ratio{{{sel}}})", "service level {{window}}")],
                     unit="percentunit", max1=True), 12, 8)
    d.add(timeseries("Calls per window", "Offered, answered, abandoned and call-backs kept in each window.",
                     [target(f"max by (window) (tidewatch_window_offered{{{sel}}})", "offered {{window}}"),
                      target(f"max by (window) (tidewatch_window_answered{{{sel}}})", "answered {{window}}"),
                      target(f"max by (window) (tidewatch_window_abandoned{{{sel}}})", "abandoned {{window}}"),
                      target(f"max by (window) (tidewatch_window_callbacks{{{sel}}})", "call-backs {{window}}")]), 12, 8)
    d.add(timeseries("Throughput", "Calls per second from the line's cumulative totals (wall-clock rate).",
                     [target(f"sum(rate(tidewatch_line_offered_total{{{sel}}}[$__rate_interval]))", "offered"),
                      target(f"sum(rate(tidewatch_line_answered_total{{{sel}}}[$__rate_interval]))", "answered"),
                      target(f"sum(rate(tidewatch_line_abandoned_total{{{sel}}}[$__rate_interval]))", "abandoned"),
                      target(f"sum(rate(tidewatch_line_callbacks_total{{{sel}}}[$__rate_interval]))", "call-backs")],
                     unit="reqps"), 24, 7)

    d.row("People")
    d.add(timeseries("Agents by state", "Agents on the line by their latest state (all origins).",
                     [target(f"sum by (state) (tidewatch_line_agents{{{sel}}})", "{{state}}")],
                     stack=True), 8, 8)
    d.add(timeseries("Agents by origin", "Agents logged in and not away, by where they come from: the CSC, or a call-up's back office, peripatetic workforce or casual bank.",
                     [target(f'sum by (origin) (tidewatch_line_agents{{{sel},state!="away"}})', "{{origin}}")],
                     stack=True), 8, 8)
    d.add(timeseries("Capacity: needed vs staffed", "The capacity model's agents needed to meet the targets, against agents staffed.",
                     [target(f"max(tidewatch_line_capacity_agents_needed{{{sel}}})", "needed"),
                      target(f"max(tidewatch_line_capacity_agents_staffed{{{sel}}})", "staffed")]), 8, 8)

    d.row("Call-ups")
    d.add({
        "type": "table", "title": "Open call-ups",
        "description": "Call-ups not yet stood down, per team and state, with the people asked for.",
        "targets": [target(f"sum by (team, state) (tidewatch_callups_headcount{{{sel}}})", "", instant=True, fmt="table")],
        "transformations": [{"id": "organize", "options": {"excludeByName": {"Time": True},
                                                           "renameByName": {"Value": "People asked for"}}}],
        "fieldConfig": {"defaults": {"custom": {"align": "auto"}}, "overrides": []},
        "options": {"showHeader": True},
    }, 12, 8)
    d.add(timeseries("Unacknowledged call-up age", "Age of the oldest paged call-up per team, against the team's acknowledgement timeout.",
                     [target(f"max by (team) (tidewatch_callup_unacknowledged_age_seconds{{{sel}}})", "{{team}}"),
                      target(f"max by (team) (tidewatch_team_ack_timeout_seconds and on (team) tidewatch_callup_unacknowledged_age_seconds{{{sel}}})", "{{team}} timeout")],
                     unit="s"), 12, 8)
    return d


def operations():
    d = Dashboard(
        "tidewatch-operations", "tidewatch: operations",
        "tidewatchd's own health: throughput, consumer lag, rejects, commits, recovery, engine "
        "latency and scrape cost.",
        ["tidewatch", "operations"], [instance_variable()], refresh="30s", time_from="now-6h")
    sel = 'instance=~"$instance"'
    d.row("Health")
    d.add(stat("Instances up", "tidewatchd targets Prometheus can scrape.",
               f'count(up{{job="tidewatch",{sel}}} == 1) or vector(0)',
               steps=[{"color": "red", "value": None}, {"color": "green", "value": 1}]), 4, 4)
    d.add(stat("Ready", "Instances ready (assigned, every owned partition caught up).",
               f"sum(tidewatch_ready{{{sel}}})"), 4, 4)
    d.add(stat("Partitions owned", "Events partitions owned, summed over instances.",
               f"sum(tidewatch_partitions_owned{{{sel}}})"), 4, 4)
    d.add(stat("Partitions recovering", "Owned partitions still replaying state.",
               f"sum(tidewatch_partitions_recovering{{{sel}}})",
               steps=[{"color": "green", "value": None}, {"color": "orange", "value": 1}]), 4, 4)
    d.add(stat("Lines exported", "Lines with per-line metrics (lines left out by --max-metric-lines: alert TidewatchMetricLinesDropped).",
               f"sum(tidewatch_metrics_lines_exported{{{sel}}})", legend="exported"), 4, 4)
    d.add(stat("Alerts firing", "tidewatch alerts firing now.",
               'count(ALERTS{alertstate="firing",alertname=~"Tidewatch.*"}) or vector(0)',
               steps=[{"color": "green", "value": None}, {"color": "orange", "value": 1}]), 4, 4)

    d.row("Throughput")
    d.add(timeseries("Events consumed and applied", "Records read from the events topic and events given to the engines, per second.",
                     [target(f"sum by (instance) (rate(tidewatch_events_consumed_total{{{sel}}}[$__rate_interval]))", "consumed {{instance}}"),
                      target(f"sum by (instance) (rate(tidewatch_events_applied_total{{{sel}}}[$__rate_interval]))", "applied {{instance}}")],
                     unit="reqps"), 12, 8)
    d.add(timeseries("Consumer lag", "Records behind the high watermark, per instance and topic (alert TidewatchConsumerLagGrowing).",
                     [target(f"sum by (instance, topic) (tidewatch_consumer_lag{{{sel}}})", "{{instance}} {{topic}}")]), 12, 8)
    d.add(timeseries("Escalations and state records", "Escalations and state records produced per second.",
                     [target(f"sum by (instance) (rate(tidewatch_escalations_produced_total{{{sel}}}[$__rate_interval]))", "escalations {{instance}}"),
                      target(f"sum by (instance) (rate(tidewatch_state_records_produced_total{{{sel}}}[$__rate_interval]))", "state {{instance}}")],
                     unit="reqps"), 12, 8)
    d.add(timeseries("Engine batch latency", "Wall time processing each polled batch: p50, p99.",
                     [target(f"histogram_quantile(0.5, sum by (le) (rate(tidewatch_engine_batch_seconds_bucket{{{sel}}}[$__rate_interval])))", "p50"),
                      target(f"histogram_quantile(0.99, sum by (le) (rate(tidewatch_engine_batch_seconds_bucket{{{sel}}}[$__rate_interval])))", "p99")],
                     unit="s"), 12, 8)

    d.row("Rejects")
    d.add(timeseries("Events set aside by reason", "Per second, by reason (docs/metrics.md): decode failures are dead-lettered; late events count in totals but not windows.",
                     [target(f"sum by (reason) (rate(tidewatch_events_rejected_total{{{sel}}}[$__rate_interval]))", "{{reason}}"),
                      target(f"sum(rate(tidewatch_events_late_total{{{sel}}}[$__rate_interval]))", "late")],
                     unit="reqps", stack=True), 12, 8)
    d.add(timeseries("Dead letters", "Records written to the dead-letter topic per second (alert TidewatchDeadLetters).",
                     [target(f"sum by (instance) (rate(tidewatch_dead_lettered_total{{{sel}}}[$__rate_interval]))", "{{instance}}")],
                     unit="reqps"), 12, 8)

    d.row("Durability and recovery")
    d.add(timeseries("Commits and failures", "Offset commits after durable outputs, failed commit rounds and failed deliveries, per second.",
                     [target(f"sum by (instance) (rate(tidewatch_commits_total{{{sel}}}[$__rate_interval]))", "commits {{instance}}"),
                      target(f"sum by (instance) (rate(tidewatch_commit_failures_total{{{sel}}}[$__rate_interval]))", "commit failures {{instance}}"),
                      target(f"sum by (instance) (rate(tidewatch_delivery_errors_total{{{sel}}}[$__rate_interval]))", "delivery errors {{instance}}")],
                     unit="reqps"), 12, 8)
    d.add(timeseries("Recovery", "Duration of the latest partition recovery.",
                     [target(f"max by (instance) (tidewatch_recovery_seconds{{{sel}}})", "last recovery {{instance}}")],
                     unit="s"), 12, 8)
    d.add(timeseries("Recoveries", "Partition recoveries started in the last hour (assignments, restarts, aborted transactions' rewinds).",
                     [target(f"sum by (instance) (increase(tidewatch_recoveries_total{{{sel}}}[1h]))", "recoveries {{instance}}")]), 12, 8)
    d.add(timeseries("Kafka brokers down", "Brokers each client needs but cannot reach.",
                     [target(f"max by (instance, client) (tidewatch_kafka_brokers_down{{{sel}}})", "{{instance}} {{client}}")]), 12, 8)
    d.add(timeseries("Scrape cost", "Samples and seconds per /metrics scrape (docs/metrics.md: size bound).",
                     [target(f'max by (instance) (scrape_samples_scraped{{job="tidewatch",{sel}}})', "samples {{instance}}"),
                      target(f'max by (instance) (scrape_duration_seconds{{job="tidewatch",{sel}}}) * 1000', "ms {{instance}}")]), 12, 8)
    return d


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for d in (overview(), line_drilldown(), operations()):
        path = os.path.join(OUT, d.uid.replace("tidewatch-", "") + ".json")
        text = json.dumps(d.json(), indent=2, sort_keys=False) + "\n"
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(path)
            except FileNotFoundError:
                stale.append(path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        print("out of date (run grafana/build-dashboards.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
