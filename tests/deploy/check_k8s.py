#!/usr/bin/env python3
"""Renders every overlay of deploy/k8s/serving with `kubectl kustomize` and checks the objects.

usage: check_k8s.py SOURCE_DIR [VEIL_BINARY]

Checks what the serving design depends on: each organisation's overlay puts its party workers,
KMS and autoscaler in its own namespace with the right party index; the NetworkPolicies admit
the MPC port only from the other organisations' party pods, the client port only from the
gateway (and client namespaces), and the KMS only from its own workers; every `veil` flag a
container passes exists in that subcommand's --help. Exit 77 (skipped) when kubectl is missing.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import yaml

SRC = sys.argv[1]
VEIL = sys.argv[2] if len(sys.argv) > 2 else None
ROOT = os.path.join(SRC, "deploy", "k8s", "serving")
ORGS = ["org-a", "org-b", "org-c"]
MAX_GROUPS = 0  # the ScaledObjects' maxReplicaCount, read from the organisations' overlays
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def render(overlay):
    out = subprocess.run(["kubectl", "kustomize", os.path.join(ROOT, "overlays", overlay)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        failures.append(f"{overlay}: kubectl kustomize failed: {out.stderr.strip()}")
        return []
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def find(objs, kind, name):
    hits = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    return hits[0] if len(hits) == 1 else None


def container_command(container):
    return " ".join(container.get("command", []) + container.get("args", []))


def veil_flags_used(text):
    """(subcommand words, flags) of each `veil ...` invocation in a shell text."""
    calls = []
    for m in re.finditer(r"\bveil((?:\s+[a-z][a-z-]*)+)((?:.|\n)*?)(?=\n\s*\n|$|;|&&)", text):
        words = m.group(1).split()
        flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", m.group(2) + " " + " ".join(words)))
        sub = [w for w in words if not w.startswith("-")]
        calls.append((sub, flags))
    return calls


def check_flags(where, container):
    if not VEIL:
        return
    text = container_command(container)
    for sub, flags in veil_flags_used(text):
        helps = {}
        # the longest prefix of words that is a subcommand chain
        for n in range(len(sub), 0, -1):
            r = subprocess.run([VEIL] + sub[:n] + ["--help"], capture_output=True, text=True)
            if r.returncode == 0:
                helps = r.stdout
                break
        else:
            failures.append(f"{where}: `veil {' '.join(sub)}` is not a veil subcommand")
            continue
        for f in flags:
            check(re.search(r"(?<![\w-])" + re.escape(f) + r"(?![\w-])", helps) is not None,
                  f"{where}: `veil {' '.join(sub[:n])}` has no flag {f}")


def ports_of(rule):
    return sorted(p["port"] for p in rule.get("ports", []))


def check_org(index, org, objs):
    ns = f"veil-org-{org[-1]}"
    for o in objs:
        if o["kind"] != "Namespace":
            check(o["metadata"].get("namespace") == ns, f"{org}: {o['kind']}/{o['metadata']['name']} not in {ns}")
    nsobj = find(objs, "Namespace", ns)
    check(nsobj is not None, f"{org}: no Namespace {ns}")
    if nsobj:
        labels = nsobj["metadata"].get("labels", {})
        check(labels.get("veil.dev/party-org") == "true", f"{org}: namespace lacks veil.dev/party-org=true")
        check(labels.get("veil.dev/party-index") == str(index), f"{org}: namespace party-index is not {index}")

    sts = find(objs, "StatefulSet", "veil-party")
    check(sts is not None, f"{org}: no StatefulSet veil-party")
    if sts:
        spec = sts["spec"]["template"]["spec"]
        c = spec["containers"][0]
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        check(env.get("VEIL_PARTY_ID") == str(index), f"{org}: VEIL_PARTY_ID is {env.get('VEIL_PARTY_ID')}, not {index}")
        check(env.get("VEIL_ORG_NAMESPACES") == ",".join(f"veil-org-{o[-1]}" for o in ORGS),
              f"{org}: VEIL_ORG_NAMESPACES does not list the organisations in party order")
        check(sts["spec"].get("podManagementPolicy") == "Parallel", f"{org}: party pods must start in parallel")
        check(spec.get("terminationGracePeriodSeconds", 30) >= 60, f"{org}: grace period too short to drain a session")
        probes = (c.get("readinessProbe", {}).get("httpGet", {}).get("path"),
                  c.get("livenessProbe", {}).get("httpGet", {}).get("path"))
        check(probes == ("/readyz", "/healthz"), f"{org}: party probes are {probes}")
        sc = c.get("securityContext", {})
        check(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False,
              f"{org}: party container not read-only / no-escalation")
        check(spec.get("securityContext", {}).get("runAsNonRoot") is True, f"{org}: party pod may run as root")
        text = container_command(c)
        check("--kms" in text and "--bundle-key" not in text,
              f"{org}: the party must take its share key from the KMS, not a key file")
        check_flags(f"{org} party", c)

    svc = find(objs, "Service", "veil-party")
    check(svc is not None and svc["spec"].get("clusterIP") == "None", f"{org}: party Service must be headless")

    pol = find(objs, "NetworkPolicy", "veil-party")
    check(pol is not None, f"{org}: no NetworkPolicy veil-party")
    if pol:
        check(sorted(pol["spec"]["policyTypes"]) == ["Egress", "Ingress"], f"{org}: party policy must restrict both ways")
        for rule in pol["spec"].get("ingress", []):
            check(rule.get("from"), f"{org}: an ingress rule without `from` admits every source")
            check(rule.get("ports"), f"{org}: an ingress rule without ports admits every port")
            for src in rule.get("from", []):
                check("ipBlock" not in src, f"{org}: party policy admits an ipBlock")
            if ports_of(rule) == [7000]:
                for src in rule["from"]:
                    check(src.get("namespaceSelector", {}).get("matchLabels") == {"veil.dev/party-org": "true"}
                          and src.get("podSelector", {}).get("matchLabels") == {"app.kubernetes.io/name": "veil-party"},
                          f"{org}: the MPC port admits something other than party pods of party organisations")
            if ports_of(rule) == [7100]:
                allowed = [{"veil.dev/role": "gateway"}, {"veil.dev/client": "true"}]
                for src in rule["from"]:
                    check(src.get("namespaceSelector", {}).get("matchLabels") in allowed and "podSelector" not in src,
                          f"{org}: the client port admits {src}")
        check(sorted(p for r in pol["spec"]["ingress"] for p in ports_of(r)) == [7000, 7100, 7200],
              f"{org}: party ingress ports are not exactly mpc, client, health")

    kms = find(objs, "StatefulSet", "veil-kms")
    check(kms is not None, f"{org}: no StatefulSet veil-kms")
    if kms:
        check(kms["spec"]["replicas"] == 1, f"{org}: KMS must run one replica (SQLite, one writer)")
        check(any(t["metadata"]["name"] == "kms-data" for t in kms["spec"].get("volumeClaimTemplates", [])),
              f"{org}: KMS has no persistent volume")
        c = kms["spec"]["template"]["spec"]["containers"][0]
        check(any(e.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == "veil-kms-master-key"
                  for e in c.get("env", [])), f"{org}: KMS master key not from the Secret")
        for ic in kms["spec"]["template"]["spec"].get("initContainers", []) + [c]:
            check_flags(f"{org} kms {ic['name']}", ic)
    kpol = find(objs, "NetworkPolicy", "veil-kms")
    check(kpol is not None, f"{org}: no NetworkPolicy veil-kms")
    if kpol:
        for rule in kpol["spec"].get("ingress", []):
            for src in rule.get("from", []):
                check("namespaceSelector" in src or src.get("podSelector", {}).get("matchLabels")
                      == {"app.kubernetes.io/name": "veil-party"}, f"{org}: KMS admits {src}")
                check(not ("namespaceSelector" in src and src["namespaceSelector"].get("matchLabels", {}).get(
                    "veil.dev/party-org")), f"{org}: KMS admits other organisations")

    so = find(objs, "ScaledObject", "veil-party")
    check(so is not None, f"{org}: no ScaledObject veil-party")
    if so:
        check(so["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "veil-party"},
              f"{org}: ScaledObject does not scale the party StatefulSet")
        check(any("veil_groups_desired" in t["metadata"].get("query", "") for t in so["spec"]["triggers"]),
              f"{org}: ScaledObject does not read veil_groups_desired")
        global MAX_GROUPS
        MAX_GROUPS = max(MAX_GROUPS, so["spec"]["maxReplicaCount"])


def check_gateway(objs):
    ns = find(objs, "Namespace", "veil-gateway")
    check(ns is not None and ns["metadata"].get("labels", {}).get("veil.dev/role") == "gateway",
          "gateway: namespace veil-gateway labelled veil.dev/role=gateway is missing")
    dep = find(objs, "Deployment", "veil-gateway")
    check(dep is not None, "gateway: no Deployment veil-gateway")
    if dep:
        c = dep["spec"]["template"]["spec"]["containers"][0]
        check(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/healthz", "gateway: no /healthz probe")
        check_flags("gateway", c)
    check(find(objs, "Service", "veil-gateway") is not None, "gateway: no Service veil-gateway")
    for o in objs:
        if o["kind"] != "Namespace":
            check(o["metadata"].get("namespace") == "veil-gateway", f"gateway: {o['kind']} not in veil-gateway")
    cms = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("veil-gateway-groups")]
    check(len(cms) == 1, "gateway: no generated ConfigMap veil-gateway-groups")
    if cms:
        groups = json.loads(cms[0]["data"]["groups.json"])["groups"]
        check(len(groups) >= MAX_GROUPS, f"gateway: {len(groups)} groups listed, the autoscaler may run {MAX_GROUPS}")
        for g, grp in enumerate(groups):
            want = [f"veil-party-{g}.veil-party.veil-org-{o[-1]}.svc.cluster.local" for o in ORGS]
            check([p.rsplit(":", 1) for p in grp["parties"]] == [[h, "7100"] for h in want],
                  f"gateway: group {g}'s parties are not pod {g} of each organisation's client port")
            check([p.rsplit(":", 1) for p in grp["health"]] == [[h, "7200"] for h in want],
                  f"gateway: group {g}'s health endpoints are not pod {g} of each organisation's health port")


def main():
    if shutil.which("kubectl") is None:
        print("skipped: kubectl (with kustomize) is not on PATH; the machine image provides it")
        return 77
    overlays = sorted(os.listdir(os.path.join(ROOT, "overlays")))
    check(overlays == sorted(ORGS + ["gateway"]), f"overlays are {overlays}")
    for i, org in enumerate(ORGS):
        objs = render(org)
        check_org(i, org, objs)
        print(f"{org}: {len(objs)} objects")
    objs = render("gateway")
    check_gateway(objs)
    print(f"gateway: {len(objs)} objects")
    docker = open(os.path.join(SRC, "deploy", "Dockerfile")).read()
    check("scripts/bootstrap" in docker and "cmake --preset release" in docker,
          "Dockerfile does not run CI's bootstrap and release build")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
