#!/usr/bin/env python3
"""Renders every overlay of deploy/k8s/serving with `kubectl kustomize` and checks the objects.

usage: check_k8s.py SOURCE_DIR [VEIL_BINARY]

Checks what the serving design depends on: each organisation's overlay puts its party workers,
KMS and autoscaler in its own namespace with the right party index; the NetworkPolicies admit
the MPC port only from the other organisations' party pods, the client port only from the
gateway (and client namespaces), and the KMS only from its own workers; every `veil` flag a
container passes exists in that subcommand's --help. The TEE overlay: the workers are a
StatefulSet on SGX nodes (NFD's label) whose pods request sgx.intel.com/epc equal to their limit
and large enough for the enclave that src/veil/serve/epc_placement.h computes for the model (at
its full context), probe /readyz and /healthz on the health port, drain within their grace
period, take the model key from the KMS, and are admitted only from the gateway and client
namespaces; the gateway's tee.json lists every worker the TEE autoscaler may run, with an EPC
budget that holds the enclave and fits the pod's request. Exit 77 (skipped) when kubectl is missing.
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
MAX_TEE_WORKERS = 0  # the TEE ScaledObject's maxReplicaCount, read from the tee overlay
TEE_EPC_REQUEST = 0  # bytes of sgx.intel.com/epc each TEE worker pod requests
TEE_MODEL = os.path.join(SRC, "models", "tiny-gpt2", "config.json")  # the model the TEE workers serve
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
        check_gateway_tee(dep, objs)
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


def quantity_bytes(q):
    """A Kubernetes memory quantity ("16Mi", "9437184", "1G") in bytes."""
    m = re.fullmatch(r"(\d+)([KMGT]i?)?", str(q))
    if not m:
        return None
    mult = {None: 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}[m.group(2)]
    return int(m.group(1)) * mult


def enclave_bytes_full_context(config_path):
    """enclave_bytes(model, n_positions) as src/veil/serve/epc_placement.h computes it."""
    c = json.load(open(config_path))
    L, E, P, V = c["n_layer"], c["n_embd"], c["n_positions"], c["vocab_size"]
    I = c.get("n_inner") or 4 * E
    dtype = {"float32": 4, "float16": 2, "bfloat16": 2}[c.get("torch_dtype", "float32")]
    params = V * E + P * E + L * (2 * E + 3 * E * E + 3 * E + E * E + E + 2 * E + E * I + I + I * E + E) + 2 * E
    return params * dtype + 2 * L * P * E * dtype


def flag_value(text, flag):
    m = re.search(r"(?<![\w-])" + re.escape(flag) + r"[ =]+(\S+)", text)
    return m.group(1) if m else None


def named_port(container, name):
    return next((p["containerPort"] for p in container.get("ports", []) if p.get("name") == name), None)


def check_tee(objs):
    ns = "veil-tee"
    for o in objs:
        if o["kind"] != "Namespace":
            check(o["metadata"].get("namespace") == ns, f"tee: {o['kind']}/{o['metadata']['name']} not in {ns}")
    nsobj = find(objs, "Namespace", ns)
    check(nsobj is not None and nsobj["metadata"].get("labels", {}).get("veil.dev/role") == "tee",
          "tee: namespace veil-tee labelled veil.dev/role=tee is missing")

    sts = find(objs, "StatefulSet", "veil-tee-worker")
    check(sts is not None, "tee: no StatefulSet veil-tee-worker (tee.json needs stable worker endpoints and ids)")
    if sts:
        spec = sts["spec"]["template"]["spec"]
        c = spec["containers"][0]
        text = container_command(c)
        check(re.search(r"\bveil\s+tee-worker\s+serve\b", text) is not None, "tee: the container does not run `veil tee-worker serve`")
        check(re.search(r'--id\s+"\$id"', text) is not None and 'id="${HOSTNAME##*-}"' in text,
              "tee: --id is not the pod's ordinal (tee.json's worker index)")
        check((spec.get("nodeSelector") or {}).get("intel.feature.node.kubernetes.io/sgx") == "true",
              "tee: no nodeSelector intel.feature.node.kubernetes.io/sgx=true (SGX nodes, from NFD)")
        res = c.get("resources", {})
        req = res.get("requests", {}).get("sgx.intel.com/epc")
        lim = res.get("limits", {}).get("sgx.intel.com/epc")
        check(req is not None, "tee: no resources.requests of sgx.intel.com/epc")
        check(req is not None and req == lim, f"tee: sgx.intel.com/epc request {req} is not equal to its limit {lim}")
        global TEE_EPC_REQUEST
        TEE_EPC_REQUEST = quantity_bytes(req) or 0 if req else 0
        need = enclave_bytes_full_context(TEE_MODEL)
        check(TEE_EPC_REQUEST >= need,
              f"tee: sgx.intel.com/epc {req} is less than the model's enclave at full context ({need} bytes)")
        health = named_port(c, "health")
        hl = flag_value(text, "--health-listen")
        check(health is not None and hl is not None and hl.endswith(f":{health}"),
              f"tee: --health-listen {hl} is not the container's health port {health}")
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            g = c.get(probe, {}).get("httpGet", {})
            check(g.get("path") == path and g.get("port") in ("health", health),
                  f"tee: {probe} is not {path} on the health port ({g})")
        wl = flag_value(text, "--listen")
        check(wl is not None and wl.endswith(f":{named_port(c, 'worker')}"), f"tee: --listen {wl} is not the worker port")
        timeout_s = int(flag_value(text, "--timeout-ms") or 60000) / 1000
        grace = spec.get("terminationGracePeriodSeconds", 30)
        check(grace >= 2 * timeout_s, f"tee: grace period {grace}s does not cover a draining session (2 × {timeout_s}s)")
        check("--kms" in text and "--model-key" not in text, "tee: the worker must take its model key from the KMS, not a key file")
        check("--session-key" in text, "tee: the worker does not check the gateway's session tokens (--session-key)")
        sc = c.get("securityContext", {})
        check(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False,
              "tee: container not read-only / no-escalation")
        check(spec.get("securityContext", {}).get("runAsNonRoot") is True, "tee: pod may run as root")
        check_flags("tee worker", c)

    svc = find(objs, "Service", "veil-tee-worker")
    check(svc is not None and svc["spec"].get("clusterIP") == "None", "tee: worker Service must be headless")

    pol = find(objs, "NetworkPolicy", "veil-tee-worker")
    check(pol is not None, "tee: no NetworkPolicy veil-tee-worker")
    if pol:
        check(sorted(pol["spec"]["policyTypes"]) == ["Egress", "Ingress"], "tee: worker policy must restrict both ways")
        for rule in pol["spec"].get("ingress", []):
            check(rule.get("from"), "tee: an ingress rule without `from` admits every source")
            check(rule.get("ports"), "tee: an ingress rule without ports admits every port")
            for src in rule.get("from", []):
                check("ipBlock" not in src, "tee: worker policy admits an ipBlock")
            if 7100 in ports_of(rule):
                allowed = [{"veil.dev/role": "gateway"}, {"veil.dev/client": "true"}]
                for src in rule.get("from", []):
                    check(src.get("namespaceSelector", {}).get("matchLabels") in allowed and "podSelector" not in src,
                          f"tee: the worker port admits {src}")
        check(sorted(p for r in pol["spec"].get("ingress", []) for p in ports_of(r)) == [7100, 7200],
              "tee: worker ingress ports are not exactly worker, health")

    kpol = find(objs, "NetworkPolicy", "veil-kms")
    check(kpol is not None, "tee: no NetworkPolicy veil-kms")
    if kpol:
        for rule in kpol["spec"].get("ingress", []):
            for src in rule.get("from", []):
                check("namespaceSelector" in src or src.get("podSelector", {}).get("matchLabels")
                      == {"app.kubernetes.io/name": "veil-tee-worker"}, f"tee: KMS admits {src}")
    kms = find(objs, "StatefulSet", "veil-kms")
    check(kms is not None, "tee: no StatefulSet veil-kms (the sealed model's key)")

    so = find(objs, "ScaledObject", "veil-tee-worker")
    check(so is not None, "tee: no ScaledObject veil-tee-worker")
    if so:
        check(so["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "veil-tee-worker"},
              "tee: ScaledObject does not scale the TEE worker StatefulSet")
        check(any(re.search(r'veil_tee_hosts_desired\{by="both"\}', t["metadata"].get("query", ""))
                  for t in so["spec"]["triggers"]), 'tee: ScaledObject does not read veil_tee_hosts_desired{by="both"}')
        global MAX_TEE_WORKERS
        MAX_TEE_WORKERS = so["spec"]["maxReplicaCount"]


def check_gateway_tee(dep, objs):
    c = dep["spec"]["template"]["spec"]["containers"][0]
    text = container_command(c)
    conf = flag_value(text, "--tee-config")
    check(conf is not None, "gateway: no --tee-config")
    check(flag_value(text, "--tee-session-key") is not None, "gateway: no --tee-session-key (the workers check its tokens)")
    cms = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("veil-gateway-tee")]
    check(len(cms) == 1, "gateway: no generated ConfigMap veil-gateway-tee")
    if not cms or not conf:
        return
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in dep["spec"]["template"]["spec"].get("volumes", [])}
    check(any(v.get("configMap", {}).get("name") == cms[0]["metadata"]["name"]
              and os.path.join(mounts.get(n, "?"), "tee.json") == conf for n, v in vols.items()),
          f"gateway: --tee-config {conf} is not tee.json of the mounted ConfigMap veil-gateway-tee")
    tee = json.loads(cms[0]["data"]["tee.json"])
    hosts = {h["name"]: h for h in tee["hosts"]}
    workers = tee["workers"]
    check(len(workers) >= MAX_TEE_WORKERS, f"gateway: {len(workers)} TEE workers listed, the autoscaler may run {MAX_TEE_WORKERS}")
    need = enclave_bytes_full_context(TEE_MODEL)
    for i, w in enumerate(workers):
        name = f"veil-tee-worker-{i}"
        dns = f"{name}.veil-tee-worker.veil-tee.svc.cluster.local"
        check(w["endpoint"] == f"{dns}:7100" and w.get("health") == f"{dns}:7200",
              f"gateway: TEE worker {i} is not pod {i}'s worker and health ports")
        check(w["host"] == name and name in hosts, f"gateway: TEE worker {i} is not its own host {name}")
    for h in hosts.values():
        epc = h["epc_bytes"] if "epc_bytes" in h else int(h["epc_mb"] * 1024 * 1024)
        check(epc >= need, f"gateway: TEE host {h['name']} declares {epc} bytes of EPC, less than one enclave ({need})")
        check(epc <= TEE_EPC_REQUEST, f"gateway: TEE host {h['name']} declares {epc} bytes of EPC, "
                                      f"more than a worker pod requests ({TEE_EPC_REQUEST})")
        check(h.get("slots", 1) == 1, f"gateway: TEE host {h['name']} is one pod serving one session at a time: slots 1")
    pol = find(objs, "NetworkPolicy", "veil-gateway")
    check(pol is not None and any(
        any(t.get("podSelector", {}).get("matchLabels") == {"app.kubernetes.io/name": "veil-tee-worker"}
            for t in r.get("to", [])) and ports_of(r) == [7100, 7200] for r in pol["spec"].get("egress", [])),
        "gateway: its NetworkPolicy does not let it reach the TEE workers' worker and health ports")


def main():
    if shutil.which("kubectl") is None:
        print("skipped: kubectl (with kustomize) is not on PATH; the machine image provides it")
        return 77
    overlays = sorted(os.listdir(os.path.join(ROOT, "overlays")))
    check(overlays == sorted(ORGS + ["gateway", "tee"]), f"overlays are {overlays}")
    for i, org in enumerate(ORGS):
        objs = render(org)
        check_org(i, org, objs)
        print(f"{org}: {len(objs)} objects")
    objs = render("tee")
    check_tee(objs)
    print(f"tee: {len(objs)} objects")
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
