#!/usr/bin/env python3
"""Checks docker-compose.yml, .env.example and the files they mount without
a Docker engine: what `docker compose config` would catch plus the project's
own promises (first `up` works, data on volumes, ports follow .env).

Usage: check_compose.py REPO_ROOT. Prints one line per problem and exits 1
if there is any. With --env-file OUT it also writes the environment the
gateway container gets from .env.example and the compose file (KEY=VALUE
lines), for `smpp-hlr-gateway check-config` to validate.
"""

import argparse
import os
import re
import sys

import yaml

VAR_RE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}|(?<!\$)\$([A-Za-z_][A-Za-z0-9_]*)")


def read_env_example(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip()
    return env


def walk_strings(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk_strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk_strings(v, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def interpolate(s, env):
    def repl(m):
        name = m.group(1) or m.group(3)
        mod = m.group(2) or ""
        val = env.get(name, "")
        if mod.startswith(":-"):
            return val or mod[2:]
        if mod.startswith("-"):
            return env.get(name, mod[1:])
        return val
    return VAR_RE.sub(repl, s).replace("$$", "$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--env-file")
    args = ap.parse_args()
    root = args.root
    problems = []

    with open(os.path.join(root, "docker-compose.yml")) as f:
        compose = yaml.safe_load(f)
    example = read_env_example(os.path.join(root, ".env.example"))
    services = compose.get("services", {})
    declared_volumes = set((compose.get("volumes") or {}).keys())

    # Interpolation: every variable is listed in .env.example, and none is
    # required (${X:?}), which would stop `docker compose up` even for
    # services of a profile that is not enabled.
    for path, s in walk_strings(compose):
        for m in VAR_RE.finditer(s):
            name, mod = m.group(1) or m.group(3), m.group(2) or ""
            if "?" in mod:
                problems.append(f"{path}: ${{{name}{mod}}} stops every `docker compose up` when unset; use a default")
            if name not in example:
                problems.append(f"{path}: ${{{name}}} is not listed in .env.example")

    used_volumes = set()
    for name, svc in services.items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith(".") or src.startswith("/"):
                if not os.path.exists(os.path.join(root, src)):
                    problems.append(f"services.{name}.volumes: {src} does not exist")
            else:
                used_volumes.add(src)
                if src not in declared_volumes:
                    problems.append(f"services.{name}.volumes: named volume {src} is not declared")
        for dep in svc.get("depends_on", []):
            if dep not in services:
                problems.append(f"services.{name}.depends_on: no service {dep}")
    for v in sorted(declared_volumes - used_volumes):
        problems.append(f"volume {v} is declared but no service uses it")

    # Data that must survive a restart lives on volumes.
    for name, target in (("redis", "/data"), ("prometheus", "/prometheus"), ("alertmanager", "/alertmanager"),
                         ("grafana", "/var/lib/grafana")):
        vols = services.get(name, {}).get("volumes", [])
        if not any(v.split(":")[1] == target and v.split(":")[0] in declared_volumes for v in vols):
            problems.append(f"services.{name}: {target} is not on a named volume")
    redis_cmd = " ".join(services.get("redis", {}).get("command", []))
    if "--appendonly yes" not in redis_cmd:
        problems.append("services.redis: append-only file not enabled (--appendonly yes)")
    for name in ("prometheus", "alertmanager", "grafana"):
        if "monitoring" not in services.get(name, {}).get("profiles", []):
            problems.append(f"services.{name}: not in the monitoring profile")
    if "GRAFANA_ADMIN_PASSWORD" not in str(services.get("grafana", {}).get("environment", {}).get("GF_SECURITY_ADMIN_PASSWORD", "")):
        problems.append("services.grafana: GF_SECURITY_ADMIN_PASSWORD does not come from GRAFANA_ADMIN_PASSWORD")

    # Ports: the gateway listens on the container side of its mappings, the
    # host side follows .env.
    gw = services.get("gateway", {})
    gw_env = gw.get("environment", {})
    container_ports = set()
    for p in gw.get("ports", []):
        host, _, container = str(p).rpartition(":")
        container_ports.add(container)
        if "${" not in host:
            problems.append(f"services.gateway.ports: {p}: the host port does not follow .env")
    for var in ("SMPP_PORT", "METRICS_PORT"):
        if str(gw_env.get(var)) not in container_ports:
            problems.append(f"services.gateway: {var}={gw_env.get(var)} is not the container side of a port mapping")
        if not any(f"${{{var}" in str(p) for p in gw.get("ports", [])):
            problems.append(f"services.gateway.ports: no mapping follows {var}")

    # Prometheus scrapes the gateway and alerts the Alertmanager where they
    # really listen.
    with open(os.path.join(root, "deploy/prometheus/prometheus.yml")) as f:
        prom = yaml.safe_load(f)
    targets = [t for sc in prom.get("scrape_configs", []) for c in sc.get("static_configs", []) for t in c.get("targets", [])]
    if f"gateway:{gw_env.get('METRICS_PORT')}" not in targets:
        problems.append(f"prometheus.yml scrapes {targets}, not gateway:{gw_env.get('METRICS_PORT')}")
    am = [t for a in (prom.get("alerting") or {}).get("alertmanagers", []) for c in a.get("static_configs", []) for t in c.get("targets", [])]
    if "alertmanager:9093" not in am or "alertmanager" not in services:
        problems.append("prometheus.yml does not send alerts to the alertmanager service")

    with open(os.path.join(root, "Dockerfile")) as f:
        dockerfile = f.read()
    m = re.search(r"^EXPOSE\s+(.+)$", dockerfile, re.M)
    exposed = set(m.group(1).split()) if m else set()
    if not {str(gw_env.get("SMPP_PORT")), str(gw_env.get("METRICS_PORT"))} <= exposed:
        problems.append(f"Dockerfile EXPOSE {sorted(exposed)} differs from the gateway's ports in docker-compose.yml")

    if example.get("HLR_PROVIDER") != "simulator":
        problems.append(".env.example: HLR_PROVIDER is not simulator, so a first `up` without credentials fails")

    if args.env_file:
        # What the gateway container sees: .env.example (env_file), then the
        # compose file's environment (which wins).
        env = dict(example)
        for k, v in gw_env.items():
            env[k] = interpolate(str(v), example)
        with open(args.env_file, "w") as f:
            for k, v in env.items():
                f.write(f"{k}={v}\n")

    for p in problems:
        print(f"check_compose: {p}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"check_compose: docker-compose.yml ({len(services)} services), .env.example and the mounted files agree")


if __name__ == "__main__":
    main()
