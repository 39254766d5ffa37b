#!/usr/bin/env python3
"""Checks the objects `kubectl kustomize deploy/kubernetes` renders (YAML on stdin) against what
the deployment promises. Prints each failure; exit status 1 if any.

- a Deployment with 2 replicas, readiness and liveness probes on /health, non-root, read-only root
- RBAC: one namespaced Role with only jobs (create/get/list/watch/delete), pods and pods/log
  (read), secrets (create/patch/delete: the runners' token Secrets — never get, list or watch) —
  no wildcard, no ClusterRole — bound to the daemon's service account
- the config ConfigMap holds no secret: every credential/token value is a cred:// reference
- credentials come from a Secret volume mounted at CREDENTIALS_DIRECTORY
- a PodDisruptionBudget, a NetworkPolicy admitting 32100 and 32101, a Service for the API
"""
import sys

import yaml

objects = [o for o in yaml.safe_load_all(sys.stdin) if o]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def of_kind(kind):
    return [o for o in objects if o.get("kind") == kind]


check(all(o["metadata"].get("namespace") == "sre-diagnose" for o in objects if o["kind"] not in ("Namespace",)),
      "every namespaced object is in sre-diagnose")
check(not of_kind("ClusterRole") and not of_kind("ClusterRoleBinding"), "no cluster-wide RBAC")

deployments = of_kind("Deployment")
check(len(deployments) == 1, "one Deployment")
if deployments:
    spec = deployments[0]["spec"]
    check(spec.get("replicas") == 2, "2 replicas")
    pod = spec["template"]["spec"]
    check(pod.get("serviceAccountName") == "sre-diagnose", "the daemon's service account")
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True, "runAsNonRoot")
    container = pod["containers"][0]
    for probe in ("readinessProbe", "livenessProbe"):
        check(container.get(probe, {}).get("httpGet", {}).get("path") == "/health", f"{probe} on /health")
    check(container.get("securityContext", {}).get("readOnlyRootFilesystem") is True, "read-only root filesystem")
    env = {e["name"]: e for e in container.get("env", [])}
    credentials_dir = env.get("CREDENTIALS_DIRECTORY", {}).get("value")
    check(credentials_dir is not None, "CREDENTIALS_DIRECTORY is set")
    mounts = {m["name"]: m for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    secret_mounts = [m for name, m in mounts.items() if "secret" in volumes.get(name, {})]
    check(any(m["mountPath"] == credentials_dir for m in secret_mounts), "a Secret mounted as the credentials directory")
    check("$(POD_IP)" in env.get("SRE_DIAGNOSE_RUNNERS_ENDPOINT_ADVERTISE", {}).get("value", ""), "runners dial the pod itself")
    check(not any("secretKeyRef" in (e.get("valueFrom") or {}) for e in container.get("env", [])), "no secret in environment variables")

roles = of_kind("Role")
check(len(roles) == 1, "one Role")
allowed = {("batch", "jobs"): {"create", "get", "list", "watch", "delete"}, ("", "pods"): {"get", "list", "watch"}, ("", "pods/log"): {"get"},
           ("", "secrets"): {"create", "patch", "delete"}}
for role in roles:
    for rule in role.get("rules", []):
        for group in rule.get("apiGroups", []):
            for resource in rule.get("resources", []):
                verbs = set(rule.get("verbs", []))
                check((group, resource) in allowed, f"unexpected RBAC resource {group}/{resource}")
                check(verbs <= allowed.get((group, resource), set()), f"unexpected verbs {sorted(verbs)} on {group}/{resource}")
                check("*" not in verbs and resource != "*", "no wildcard")
bindings = of_kind("RoleBinding")
check(any(s.get("kind") == "ServiceAccount" and s.get("name") == "sre-diagnose" for b in bindings for s in b.get("subjects", [])),
      "the Role is bound to the daemon's service account")

config_maps = of_kind("ConfigMap")
check(len(config_maps) == 1, "one ConfigMap (the configuration)")


def walk(value, path=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")
    else:
        yield path, value


for config_map in config_maps:
    for name, text in config_map.get("data", {}).items():
        config = yaml.safe_load(text)
        for path, value in walk(config):
            leaf = path.rsplit(".", 1)[-1]
            if leaf in ("credential", "token", "password", "api_key", "secret", "url_credential"):
                check(isinstance(value, str) and value.startswith("cred://"), f"{name}: {path} is a cred:// reference, not a value")
        check(config.get("storage", {}).get("backend") == "postgres", "the daemons share PostgreSQL")
        check(config.get("runners", {}).get("launcher") == "kubernetes", "runners run as Jobs")

check(len(of_kind("PodDisruptionBudget")) == 1 and of_kind("PodDisruptionBudget")[0]["spec"].get("minAvailable") == 1, "a PodDisruptionBudget keeps one daemon")
policies = of_kind("NetworkPolicy")
ports = {p.get("port") for policy in policies for rule in policy["spec"].get("ingress", []) for p in rule.get("ports", [])}
check({32100, 32101} <= ports, "the NetworkPolicy admits the API and the runner endpoint")
services = of_kind("Service")
check(any(p.get("port") == 32100 for s in services for p in s["spec"].get("ports", [])), "a Service for the API")
check(not of_kind("Secret"), "no Secret objects in the base (the operator creates them)")

for failure in failures:
    print(failure)
sys.exit(1 if failures else 0)
