#!/usr/bin/env python3
"""Checks the alert rules, their unit tests and the dashboard against what
the gateway really exports.

Given a /metrics scrape taken after traffic (and optionally one taken at
start, before any traffic), it fails with one line per problem when:

  - an alert or a dashboard query uses a metric name the scrape lacks
    (renamed, removed, or not exported in this build);
  - an input series of the rule tests (alerts_test.yml) has a name or a
    label set (instance and job aside, which Prometheus adds) that no
    scraped series has: tests must feed the rules series shaped exactly as
    the binary exports them;
  - an alert has no test in which it fires, or a metric an alert uses is
    fed to no test;
  - with --initial: a counter an alert uses lacks, before any traffic, a
    series that traffic later produced. A counter that appears only at its
    first increment cannot be seen by increase() or rate() until its
    second sample, so such alerts miss the first events.

Usage: check_series.py --scrape AFTER [--initial BEFORE] --rules alerts.yml
       --tests alerts_test.yml [--dashboard dashboard.json]
Needs python3 with PyYAML (Debian: python3-yaml).
"""

import argparse
import json
import re
import sys

import yaml

IGNORED_LABELS = {"instance", "job"}
# Series Prometheus makes itself rather than scraping them.
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
    "group_right", "offset", "bool", "inf", "nan", "Inf", "NaN", "atan2",
}
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?)\s+(\S+)')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')


def parse_series(text):
    """'name{a="1",b="2"}' -> (name, frozenset of (label, value))."""
    text = text.strip()
    m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{(.*)\})?", text)
    if not m:
        raise ValueError(f"cannot parse series {text!r}")
    labels = frozenset(LABEL_RE.findall(m.group(3) or ""))
    return m.group(1), labels


def read_scrape(path):
    """Returns {name: set of label sets} and {(name, labels): value}."""
    shapes, values = {}, {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = SAMPLE_RE.match(line)
            if not m:
                raise ValueError(f"{path}: cannot parse {line!r}")
            name, labels = parse_series(m.group(1))
            shapes.setdefault(name, set()).add(labels)
            values[(name, labels)] = float(m.group(2))
    return shapes, values


def metric_names(expr):
    """The metric names a PromQL expression reads."""
    names = set()
    for alt in re.findall(r'__name__\s*=~?\s*"([^"]*)"', expr):
        names.update(n for n in alt.split("|") if n)
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    for m in re.finditer(r"(?<![0-9.a-zA-Z_:$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word in KEYWORDS:
            continue
        names.add(word)
    return names


def dashboard_exprs(path):
    with open(path) as f:
        dash = json.load(f)

    def walk(panels):
        for p in panels:
            yield from walk(p.get("panels", []))
            for t in p.get("targets", []):
                yield p.get("title", "?"), t["expr"]

    return list(walk(dash.get("panels", [])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scrape", required=True)
    ap.add_argument("--initial")
    ap.add_argument("--rules", required=True)
    ap.add_argument("--tests", required=True)
    ap.add_argument("--dashboard")
    args = ap.parse_args()

    shapes, values = read_scrape(args.scrape)
    problems = []

    with open(args.rules) as f:
        rules = yaml.safe_load(f)
    alerts = {}
    for g in rules.get("groups", []):
        for r in g.get("rules", []):
            if "alert" in r:
                alerts[r["alert"]] = metric_names(r["expr"])
    for alert, names in sorted(alerts.items()):
        for n in sorted(names - SYNTHETIC):
            if n not in shapes:
                problems.append(f"alert {alert} uses {n}, which the scrape does not have")

    if args.dashboard:
        for title, expr in dashboard_exprs(args.dashboard):
            for n in sorted(metric_names(expr) - SYNTHETIC):
                if n not in shapes:
                    problems.append(f"dashboard panel {title!r} uses {n}, which the scrape does not have")

    with open(args.tests) as f:
        tests = yaml.safe_load(f)
    fed = set()
    firing = set()
    for i, t in enumerate(tests.get("tests", [])):
        for s in t.get("input_series", []):
            name, labels = parse_series(s["series"])
            fed.add(name)
            if name in SYNTHETIC:
                continue
            shape = frozenset((k, v) for k, v in labels if k not in IGNORED_LABELS)
            if name not in shapes:
                problems.append(f"test {i}: input series {s['series']} names {name}, which the scrape does not have")
            elif shape not in shapes[name]:
                seen = sorted("{" + ",".join(f'{k}="{v}"' for k, v in sorted(ls)) + "}" for ls in shapes[name])
                problems.append(
                    f"test {i}: input series {s['series']} is shaped unlike every scraped {name} series: "
                    + " ".join(seen[:8]) + (" ..." if len(seen) > 8 else ""))
        for a in t.get("alert_rule_test", []):
            if a.get("exp_alerts"):
                firing.add(a["alertname"])
    for alert, names in sorted(alerts.items()):
        if alert not in firing:
            problems.append(f"alert {alert} fires in no test of {args.tests}")
        for n in sorted(names - fed):
            problems.append(f"alert {alert} uses {n}, which no test of {args.tests} feeds")

    if args.initial:
        initial, _ = read_scrape(args.initial)
        for alert, names in sorted(alerts.items()):
            for n in sorted(names):
                if not n.endswith("_total") or n not in shapes:
                    continue
                for ls in sorted(shapes[n], key=sorted):
                    if ls not in initial.get(n, set()):
                        lbl = ",".join(f'{k}="{v}"' for k, v in sorted(ls))
                        problems.append(
                            f"alert {alert}: counter {n}{{{lbl}}} appears only after traffic; "
                            "export it at 0 from the start so increase()/rate() see its first events")

    # Exported but neither on a panel nor in an alert: said, not failed
    # (a new metric may land before its panel), so it is never silent.
    used = set()
    for names in alerts.values():
        used |= names
    if args.dashboard:
        for _, expr in dashboard_exprs(args.dashboard):
            used |= metric_names(expr)
    used = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}
    unused = sorted({re.sub(r"_(bucket|sum|count)$", "", n) for n in shapes} - used)
    unused = [n for n in unused if not n.startswith(("go_", "process_", "promhttp_"))]
    if unused:
        print("check_series: note: exported but on no dashboard panel and in no alert: " + ", ".join(unused),
              file=sys.stderr)

    for p in problems:
        print(f"check_series: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"check_series: {len(alerts)} alerts, their tests and the dashboard match the scrape "
          f"({sum(len(v) for v in shapes.values())} series)")


if __name__ == "__main__":
    main()
