#!/usr/bin/env python3
"""A read-only stand-in for a Kubernetes API server, for kubectl: discovery (/version, /api,
/apis, resource lists) and list/get of pods, deployments, statefulsets, daemonsets, services,
endpoints, nodes, events, persistentvolumeclaims and jobs in real Kubernetes JSON shape, plus
pods/log. Bearer-token auth; a namespace named "forbidden" answers 403.

It also accepts batch/v1 Jobs (create, get, delete) and — standing in for the kubelet — runs each
Job's one container as a local process: the pod template's command, args and env (and nothing of
this process's environment but PATH). Job status follows the process: active, then succeeded or
failed; delete kills the process group and removes the Job. Created Jobs are appended to
REQUEST_LOG.jobs as JSON lines, exactly as received.

And v1 Secrets (create, get, merge-patch of metadata, delete), appended to REQUEST_LOG.secrets as
received: a container's env `valueFrom.secretKeyRef` reads them when the pod starts (a missing
Secret or key fails the pod, as the kubelet does), and deleting a Job deletes the Secrets it owns
(ownerReferences by uid), as the garbage collector does.

usage: k8s_standin.py SCENARIO PORT_FILE TOKEN REQUEST_LOG CERT KEY     SCENARIO: broken | oom | healthy
Served over HTTPS (kubectl sends bearer tokens only over TLS).
"""
import base64
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

scenario, port_file, token, request_log, cert, key = sys.argv[1:7]
NOW = "2026-11-27T14:02:00Z"

V1 = [("pods", "Pod", True), ("nodes", "Node", False), ("services", "Service", True), ("endpoints", "Endpoints", True),
      ("events", "Event", True), ("persistentvolumeclaims", "PersistentVolumeClaim", True), ("namespaces", "Namespace", False)]
APPS = [("deployments", "Deployment", True), ("statefulsets", "StatefulSet", True), ("daemonsets", "DaemonSet", True)]
BATCH = [("jobs", "Job", True)]
KINDS = {name: kind for name, kind, _ in V1 + APPS + BATCH}


def meta(name, namespace=None, **labels):
    m = {"name": name, "uid": f"uid-{name}", "resourceVersion": "1", "creationTimestamp": "2026-11-27T10:00:00Z"}
    if namespace:
        m["namespace"] = namespace
    if labels:
        m["labels"] = labels
    return m


def container_status(name, ready=True, waiting=None, last=None, restarts=0, image="registry.example.com/api:1.4.2"):
    status = {"name": name, "ready": ready, "restartCount": restarts, "image": image, "imageID": "", "started": ready,
              "state": {"running": {"startedAt": NOW}} if waiting is None else {"waiting": waiting}}
    status["lastState"] = {"terminated": last} if last else {}
    return status


def pod(name, ns, app, phase="Running", statuses=None, conditions=None, memory="512Mi"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta(name, ns, app=app),
            "spec": {"nodeName": "node-1", "containers": [{"name": app, "image": "registry.example.com/api:1.4.2",
                                                           "resources": {"limits": {"memory": memory}, "requests": {"memory": memory}}}]},
            "status": {"phase": phase, "conditions": conditions or [{"type": "Ready", "status": "True" if phase == "Running" else "False"}],
                       "containerStatuses": statuses or [container_status(app)]}}


def deployment(name, ns, desired, available, stuck=False):
    conditions = [{"type": "Available", "status": "True" if available else "False"}]
    if stuck:
        conditions.append({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                           "message": f'ReplicaSet "{name}-7d9f" has timed out progressing.'})
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name, ns, app=name),
            "spec": {"replicas": desired, "selector": {"matchLabels": {"app": name}}},
            "status": {"replicas": desired, "availableReplicas": available, "readyReplicas": available, "updatedReplicas": desired, "conditions": conditions}}


def node(name, ready=True, memory_pressure=False):
    return {"apiVersion": "v1", "kind": "Node", "metadata": meta(name),
            "status": {"conditions": [
                {"type": "MemoryPressure", "status": "True" if memory_pressure else "False", "reason": "KubeletHasInsufficientMemory" if memory_pressure else "KubeletHasSufficientMemory", "lastTransitionTime": NOW},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "lastTransitionTime": NOW},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "lastTransitionTime": NOW},
                {"type": "Ready", "status": "True" if ready else "Unknown", "reason": "KubeletReady" if ready else "NodeStatusUnknown",
                 "message": "kubelet is posting ready status" if ready else "Kubelet stopped posting node status.", "lastTransitionTime": NOW}]}}


def service(name, ns, app):
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta(name, ns), "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]}}


def endpoints(name, ns, ready, not_ready=0):
    subset = {"ports": [{"port": 8080}]}
    if ready:
        subset["addresses"] = [{"ip": f"10.1.0.{i}"} for i in range(ready)]
    if not_ready:
        subset["notReadyAddresses"] = [{"ip": f"10.1.1.{i}"} for i in range(not_ready)]
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta(name, ns), "subsets": [subset]}


def event(ns, reason, kind, name, message, count):
    return {"apiVersion": "v1", "kind": "Event", "metadata": meta(f"{name}.{reason.lower()}", ns), "type": "Warning", "reason": reason,
            "message": message, "count": count, "lastTimestamp": NOW, "involvedObject": {"kind": kind, "namespace": ns, "name": name}}


def pvc(name, ns, phase):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta(name, ns),
            "spec": {"storageClassName": "fast-ssd", "resources": {"requests": {"storage": "20Gi"}}}, "status": {"phase": phase}}


def job(name, ns, failed):
    status = {"succeeded": 0 if failed else 1, "failed": 6 if failed else 0,
              "conditions": [{"type": "Failed" if failed else "Complete", "status": "True",
                              "reason": "BackoffLimitExceeded" if failed else "", "message": "Job has reached the specified backoff limit" if failed else ""}]}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta(name, ns), "spec": {}, "status": status}


if scenario == "oom":
    data = {"api": {
        "pods": [pod(f"api-gateway-7d9f-{i}", "api", "api-gateway", statuses=[container_status(
            "api-gateway", ready=False, restarts=9 + i,
            waiting={"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"},
            last={"reason": "OOMKilled", "exitCode": 137, "finishedAt": NOW, "startedAt": "2026-11-27T14:01:00Z"})]) for i in range(2)],
        "deployments": [deployment("api-gateway", "api", 2, 0)], "statefulsets": [], "daemonsets": [],
        "services": [service("api-gateway", "api", "api-gateway")], "endpoints": [endpoints("api-gateway", "api", 0, not_ready=2)],
        "events": [event("api", "BackOff", "Pod", "api-gateway-7d9f-0", "Back-off restarting failed container api-gateway", 9)],
        "persistentvolumeclaims": [], "jobs": [],
    }}
    nodes = [node("node-1"), node("node-2")]
    logs = {f"api/api-gateway-7d9f-{i}/api-gateway": "2026-11-27T14:01:58Z loading route cache\nException in thread \"main\" java.lang.OutOfMemoryError: Java heap space\n" for i in range(2)}
elif scenario == "broken":
    data = {"api": {
        "pods": [
            pod("api-gateway-7d9f-abcde", "api", "api-gateway", statuses=[container_status(
                "api-gateway", ready=False, restarts=14,
                waiting={"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"},
                last={"reason": "OOMKilled", "exitCode": 137, "finishedAt": NOW, "startedAt": "2026-11-27T14:01:00Z"})]),
            pod("worker-5c8b-fghij", "api", "worker", phase="Pending", statuses=[container_status(
                "worker", ready=False, waiting={"reason": "ImagePullBackOff", "message": 'Back-off pulling image "registry.example.com/worker:9.9"'})]),
            pod("batch-6f7a-klmno", "api", "batch", phase="Pending", statuses=[], conditions=[
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, 2 Insufficient memory."}]),
        ],
        "deployments": [deployment("api-gateway", "api", 3, 0, stuck=True)],
        "statefulsets": [], "daemonsets": [],
        "services": [service("api-gateway", "api", "api-gateway")],
        "endpoints": [endpoints("api-gateway", "api", 0, not_ready=3)],
        "events": [event("api", "BackOff", "Pod", "api-gateway-7d9f-abcde", "Back-off restarting failed container api-gateway", 12),
                   event("api", "FailedScheduling", "Pod", "batch-6f7a-klmno", "0/3 nodes are available: 2 Insufficient memory.", 5)],
        "persistentvolumeclaims": [pvc("data-db-0", "api", "Pending")],
        "jobs": [job("migrate", "api", True)],
    }}
    nodes = [node("node-1"), node("node-2", ready=False), node("node-3", memory_pressure=True)]
    logs = {"api/api-gateway-7d9f-abcde/api-gateway": "2026-11-27T14:01:58Z starting api-gateway 1.4.2\n2026-11-27T14:01:59Z loading route cache (1.2 GiB)\n2026-11-27T14:02:00Z ERROR db: FATAL: sorry, too many clients already\n"}
else:
    data = {"api": {
        "pods": [pod(f"api-gateway-7d9f-{i}", "api", "api-gateway") for i in range(3)],
        "deployments": [deployment("api-gateway", "api", 3, 3)], "statefulsets": [], "daemonsets": [],
        "services": [service("api-gateway", "api", "api-gateway")], "endpoints": [endpoints("api-gateway", "api", 3)],
        "events": [], "persistentvolumeclaims": [pvc("data-db-0", "api", "Bound")], "jobs": [job("migrate", "api", False)],
    }}
    nodes = [node("node-1"), node("node-2")]
    logs = {}


def resource_list(group_version, resources):
    entries = []
    for name, kind, namespaced in resources:
        entries.append({"name": name, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind, "verbs": ["get", "list"]})
        if name == "pods":
            entries.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": entries}


JOBS = {}  # (namespace, name) -> {"job": object, "process": Popen}
JOBS_LOCK = threading.Lock()
SECRETS = {}  # (namespace, name) -> Secret object (under JOBS_LOCK)


def job_status(entry):
    code = entry["process"].poll()
    if code is None:
        return {"active": 1, "startTime": NOW}
    if code == 0:
        return {"succeeded": 1, "startTime": NOW, "completionTime": NOW, "conditions": [{"type": "Complete", "status": "True"}]}
    return {"failed": 1, "startTime": NOW, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}


def secret_value(namespace, reference):
    secret = SECRETS.get((namespace, reference.get("name")))
    if secret is None:
        return None
    if reference.get("key") in secret.get("stringData", {}):
        return secret["stringData"][reference["key"]]
    encoded = secret.get("data", {}).get(reference.get("key"))
    return base64.b64decode(encoded).decode() if encoded is not None else None


def run_pod(job):
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for variable in container.get("env", []):
        reference = variable.get("valueFrom", {}).get("secretKeyRef")
        if reference is not None:
            value = secret_value(job["metadata"]["namespace"], reference)
            if value is None:
                # The kubelet does not start a container whose Secret is missing (CreateContainerConfigError).
                return subprocess.Popen(["sh", "-c", f"echo 'secret {reference.get('name')} not found' >&2; exit 1"],
                                        stderr=open(request_log + ".pods", "a"), start_new_session=True)
            env[variable["name"]] = value
        else:
            env[variable["name"]] = variable.get("value", "")
    return subprocess.Popen(container["command"] + container.get("args", []), env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(request_log + ".pods", "a"), start_new_session=True)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status, body, content_type="application/json"):
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def status(self, code, reason, message):
        self.send(code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code})

    def do_GET(self):
        with open(request_log, "a") as log:
            log.write(json.dumps({"method": "GET", "path": self.path}) + "\n")
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.status(401, "Unauthorized", "Unauthorized")
        url = urlparse(self.path)
        parts = [p for p in url.path.split("/") if p]
        if len(parts) == 7 and parts[:3] == ["apis", "batch", "v1"] and parts[5] == "jobs":
            with JOBS_LOCK:
                entry = JOBS.get((parts[4], parts[6]))
                if entry is None:
                    return self.status(404, "NotFound", f'jobs.batch "{parts[6]}" not found')
                return self.send(200, dict(entry["job"], status=job_status(entry)))
        if parts == ["version"]:
            return self.send(200, {"major": "1", "minor": "29", "gitVersion": "v1.29.0-sre-standin", "platform": "linux/amd64"})
        if parts == ["api"]:
            return self.send(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if parts == ["apis"]:
            groups = [{"name": g, "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}], "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"}} for g in ("apps", "batch")]
            return self.send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        if parts == ["api", "v1"]:
            return self.send(200, resource_list("v1", V1))
        if parts == ["apis", "apps", "v1"]:
            return self.send(200, resource_list("apps/v1", APPS))
        if parts == ["apis", "batch", "v1"]:
            return self.send(200, resource_list("batch/v1", BATCH))
        # /api/v1/namespaces/{ns}/{resource}[/{name}[/log]] · /apis/{g}/v1/namespaces/{ns}/{resource} · /api/v1/{resource}
        base = parts[2:] if parts[0] == "api" else parts[3:]
        group_version = "v1" if parts[0] == "api" else f"{parts[1]}/v1"
        if base and base[0] == "namespaces" and len(base) >= 3:
            namespace, resource, rest = base[1], base[2], base[3:]
            if namespace == "forbidden":
                return self.status(403, "Forbidden", f'{resource} is forbidden: User "system:serviceaccount:sre:diagnose" cannot list resource "{resource}" in API group "" in the namespace "forbidden"')
            items = data.get(namespace, {}).get(resource, [])
            if rest == []:
                return self.send(200, {"kind": KINDS.get(resource, "Unknown") + "List", "apiVersion": group_version, "metadata": {"resourceVersion": "1"}, "items": items})
            item = next((i for i in items if i["metadata"]["name"] == rest[0]), None)
            if item is None:
                return self.status(404, "NotFound", f'{resource} "{rest[0]}" not found')
            if rest[1:] == ["log"]:
                query = parse_qs(url.query)
                container = query.get("container", [""])[0]
                text = logs.get(f"{namespace}/{rest[0]}/{container}", "")
                lines = int(query.get("tailLines", ["0"])[0] or 0)
                if lines:
                    text = "\n".join(text.splitlines()[-lines:]) + "\n"
                return self.send(200, text, "text/plain")
            return self.send(200, item)
        if base == ["nodes"]:
            return self.send(200, {"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": nodes})
        return self.status(404, "NotFound", "the server could not find the requested resource")

    def jobs_path(self):
        """(namespace, name or None) for /apis/batch/v1/namespaces/NS/jobs[/NAME], else None."""
        parts = [p for p in urlparse(self.path).path.split("/") if p]
        if len(parts) in (6, 7) and parts[:3] == ["apis", "batch", "v1"] and parts[3] == "namespaces" and parts[5] == "jobs":
            return parts[4], (parts[6] if len(parts) == 7 else None)
        return None

    def secrets_path(self):
        """(namespace, name or None) for /api/v1/namespaces/NS/secrets[/NAME], else None."""
        parts = [p for p in urlparse(self.path).path.split("/") if p]
        if len(parts) in (5, 6) and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "secrets":
            return parts[3], (parts[5] if len(parts) == 6 else None)
        return None

    def create_secret(self, namespace, body):
        try:
            secret = json.loads(body)
            name = secret["metadata"]["name"]
        except (ValueError, KeyError) as error:
            return self.status(400, "BadRequest", f"invalid Secret: {error}")
        if secret.get("apiVersion") != "v1" or secret.get("kind") != "Secret":
            return self.status(400, "BadRequest", "expected a v1 Secret")
        with open(request_log + ".secrets", "a") as log:
            log.write(json.dumps(secret) + "\n")
        with JOBS_LOCK:
            if (namespace, name) in SECRETS:
                return self.status(409, "AlreadyExists", f'secrets "{name}" already exists')
            secret["metadata"]["namespace"] = namespace
            secret["metadata"]["uid"] = f"uid-secret-{name}"
            SECRETS[(namespace, name)] = secret
        # As the API server answers: stringData is write-only; the stored form is base64 data.
        shown = {k: v for k, v in secret.items() if k != "stringData"}
        shown["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in secret.get("stringData", {}).items()}
        return self.send(201, shown)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        with open(request_log, "a") as log:
            log.write(json.dumps({"method": "POST", "path": self.path}) + "\n")
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.status(401, "Unauthorized", "Unauthorized")
        secrets = self.secrets_path()
        if secrets is not None and secrets[1] is None:
            return self.create_secret(secrets[0], body)
        target = self.jobs_path()
        if target is None or target[1] is not None:
            return self.status(405, "MethodNotAllowed", "this stand-in creates Jobs only")
        try:
            job = json.loads(body)
            name = job["metadata"]["name"]
        except (ValueError, KeyError) as error:
            return self.status(400, "BadRequest", f"invalid Job: {error}")
        if job.get("apiVersion") != "batch/v1" or job.get("kind") != "Job":
            return self.status(400, "BadRequest", "expected a batch/v1 Job")
        with open(request_log + ".jobs", "a") as log:
            log.write(json.dumps(job) + "\n")
        with JOBS_LOCK:
            if (target[0], name) in JOBS:
                return self.status(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
            job["metadata"]["namespace"] = target[0]
            job["metadata"]["uid"] = f"uid-{name}"
            JOBS[(target[0], name)] = {"job": job, "process": run_pod(job)}
        return self.send(201, job)

    def do_DELETE(self):
        with open(request_log, "a") as log:
            log.write(json.dumps({"method": "DELETE", "path": self.path}) + "\n")
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.status(401, "Unauthorized", "Unauthorized")
        secrets = self.secrets_path()
        if secrets is not None and secrets[1] is not None:
            with JOBS_LOCK:
                removed = SECRETS.pop(secrets, None)
            if removed is None:
                return self.status(404, "NotFound", f'secrets "{secrets[1]}" not found')
            return self.send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "details": {"name": secrets[1], "kind": "secrets"}})
        target = self.jobs_path()
        if target is None or target[1] is None:
            return self.status(405, "MethodNotAllowed", "this stand-in deletes Jobs and Secrets only")
        with JOBS_LOCK:
            entry = JOBS.pop(target, None)
            if entry is not None:
                # The garbage collector: what the Job owned goes with it.
                uid = entry["job"]["metadata"]["uid"]
                for key in [key for key, secret in SECRETS.items()
                            if any(owner.get("uid") == uid for owner in secret["metadata"].get("ownerReferences", []))]:
                    del SECRETS[key]
        if entry is None:
            return self.status(404, "NotFound", f'jobs.batch "{target[1]}" not found')
        if entry["process"].poll() is None:
            try:
                os.killpg(entry["process"].pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        entry["process"].wait()
        return self.send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "details": {"name": target[1], "group": "batch", "kind": "jobs"}})

    def do_PUT(self):
        self.status(405, "MethodNotAllowed", "this stand-in does not update")

    def do_PATCH(self):
        """A JSON merge patch of a Secret's metadata (labels, ownerReferences)."""
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        with open(request_log, "a") as log:
            log.write(json.dumps({"method": "PATCH", "path": self.path, "body": body.decode(errors="replace")}) + "\n")
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.status(401, "Unauthorized", "Unauthorized")
        target = self.secrets_path()
        if target is None or target[1] is None:
            return self.status(405, "MethodNotAllowed", "this stand-in patches Secrets only")
        if self.headers.get("Content-Type") != "application/merge-patch+json":
            return self.status(415, "UnsupportedMediaType", "the body must be application/merge-patch+json")
        try:
            patch = json.loads(body)
        except ValueError as error:
            return self.status(400, "BadRequest", f"invalid patch: {error}")
        with JOBS_LOCK:
            secret = SECRETS.get(target)
            if secret is None:
                return self.status(404, "NotFound", f'secrets "{target[1]}" not found')
            for field, value in patch.get("metadata", {}).items():
                secret["metadata"][field] = value
            shown = {k: v for k, v in secret.items() if k != "stringData"}
        return self.send(200, shown)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(cert, key)
server.socket = tls.wrap_socket(server.socket, server_side=True)
# Written atomically: readers poll for the file and must never see it empty.
with open(port_file + ".tmp", "w") as handle:
    handle.write(str(server.server_address[1]))
os.replace(port_file + ".tmp", port_file)
server.serve_forever()
