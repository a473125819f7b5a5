#!/usr/bin/env python3
"""A test kubelet: runs the pods bound to one fake Node as local processes (no containers).

It proves the product end to end on a real control plane without Docker: the pods of an rzk
StatefulSet run the real `rzk-server` binary, each on its own loopback address.

What it does (plain HTTPS to the kube-apiserver with a client certificate, stdlib only):
  * registers Node NODE (Ready, capacity, InternalIP 127.0.0.1) and heartbeats its status;
  * provisions volumes: for each Pending PersistentVolumeClaim it creates a hostPath
    PersistentVolume pre-bound to it (claimRef); the real PV controller binds them. The
    directory is VOLUMES/<namespace>/<claim>-<claim uid prefix> (a re-created claim gets a
    new, empty volume) and outlives pods (reclaim policy Retain); a pod uses the directory of
    the volume its claim is bound to;
  * for each pod that kube-scheduler bound to NODE:
      - gives it a stable address 127.0.1.N (kept per namespace/pod name, like a stable DNS
        record; STATE/addresses.json), reported as status.podIP;
      - materialises its volumes: ConfigMap keys are written to files, PVCs map to their
        hostPath directory, emptyDirs are per-pod directories;
      - "pod network namespace" emulation: inside a real pod, a mount path like /data and
        127.0.0.1 are the pod's own. Here every occurrence of a container mount path in the
        command, args, env values and ConfigMap files is rewritten to the host directory, and
        peer DNS names `<pod>.<service>.<namespace>.svc[.<domain>]` are rewritten to the peer
        pod's 127.0.1.N address (the server config accepts IPs). For ZooKeeper configs (a file
        with a clientPort key) it pins every listener to the pod address: clientPortAddress,
        admin.serverAddress and metricsProvider.httpHost are set to the pod IP;
      - runs the init containers' commands (e.g. `sh -c` writing myid) then the container's
        command, with HOSTNAME=<pod name> and the executable looked up on --path (target/debug
        holds rzk-server); restarts it when it exits (restartPolicy Always, with back-off);
      - probes: runs the pod's readiness and liveness probes with their timing
        (initialDelaySeconds, periodSeconds, timeoutSeconds, failureThreshold): exec probes run
        the probe's real command with 127.0.0.1/localhost rewritten to the pod address (the
        pod's own loopback) and `nc` provided by a small shim (STATE/bin/nc, first on PATH, so
        the probe does not depend on which netcat the host has); tcpSocket connects, httpGet fetches. Readiness drives status.conditions
        Ready/ContainersReady; a failing liveness probe restarts the process;
      - on deletion (deletionTimestamp) it stops the process (SIGTERM, then SIGKILL after the
        grace period, capped at 10 s) and removes the pod (grace 0, uid precondition).

Usage: kubelet.py --server https://127.0.0.1:26443 --ca CA --cert CRT --key KEY
                  --state-dir DIR --volumes-dir DIR --path DIR[:DIR...] [--node NAME]
"""

import argparse
import datetime
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

LOG_LOCK = threading.Lock()


def log(*a):
    with LOG_LOCK:
        print(time.strftime("%H:%M:%S"), *a, flush=True)


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Api:
    def __init__(self, server, ca, cert, key):
        self.server = server.rstrip("/")
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.load_cert_chain(cert, key)

    def call(self, method, path, body=None, ctype="application/json", ok404=False):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", ctype)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=15) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            if e.code == 404 and ok404:
                return None
            if e.code == 409 and method == "POST":
                return None
            raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:500]!r}") from None

    def get(self, path, ok404=False):
        return self.call("GET", path, ok404=ok404)


def ruok(host, port, timeout=2.0):
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"ruok")
            s.settimeout(timeout)
            out = b""
            while True:
                b = s.recv(64)
                if not b:
                    break
                out += b
        return out.strip() == b"imok"
    except OSError:
        return False


NC_SHIM = """#!%s
# nc shim of the test kubelet (for exec probes): nc [-w SECONDS] [-q N] HOST PORT
# Sends stdin to HOST:PORT, then half-closes and prints what comes back until the peer closes.
import socket, sys
args, timeout = sys.argv[1:], 5.0
rest = []
i = 0
while i < len(args):
    if args[i] in ("-w", "-q", "-W"):
        if args[i] == "-w":
            timeout = float(args[i + 1])
        i += 2
        continue
    rest.append(args[i]); i += 1
host, port = rest[0], int(rest[1])
try:
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    s.sendall(sys.stdin.buffer.read())
    s.shutdown(socket.SHUT_WR)
    while True:
        b = s.recv(4096)
        if not b:
            break
        sys.stdout.buffer.write(b)
except OSError as e:
    print("nc: %%s" %% e, file=sys.stderr)
    sys.exit(1)
"""


def tcp_ok(host, port, timeout=2.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class Addresses:
    """Stable <prefix>.N (default 127.0.1.N) per namespace/pod name, persisted (the test ground's DNS)."""

    def __init__(self, path, prefix="127.0.1"):
        self.path = path
        self.prefix = prefix
        self.lock = threading.Lock()
        try:
            with open(path) as f:
                self.map = json.load(f)
        except (OSError, ValueError):
            self.map = {}

    def get(self, ns, pod):
        key = f"{ns}/{pod}"
        with self.lock:
            if key not in self.map:
                used = set(self.map.values())
                n = next(i for i in range(2, 255) if f"{self.prefix}.{i}" not in used)
                self.map[key] = f"{self.prefix}.{n}"
                tmp = self.path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(self.map, f, indent=1, sort_keys=True)
                os.replace(tmp, self.path)
            return self.map[key]


PEER_DNS = re.compile(r"\b([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.[a-z0-9.-]*[a-z0-9])?\b")


class PodRunner:
    """One pod: its processes, probes and status."""

    def __init__(self, kl, pod):
        self.kl = kl
        self.ns = pod["metadata"]["namespace"]
        self.name = pod["metadata"]["name"]
        self.uid = pod["metadata"]["uid"]
        self.pod = pod
        self.ip = kl.addresses.get(self.ns, self.name)
        self.dir = os.path.join(kl.state_dir, "pods", f"{self.ns}_{self.name}_{self.uid[:8]}")
        self.proc = None
        self.restarts = 0
        self.next_start = 0.0
        self.started_at = None
        self.ready = False
        self.error = None
        self.stopping = False
        self.last_status = None
        self.mounts = {}  # container name -> [(mountPath, hostDir)]
        self.probes = {}  # "readiness"/"liveness" -> timing and result
        self.process_started = 0.0
        self.init_status = {}  # init container name -> {"exitCode", "finishedAt", "message", "count"}
        self.ready_since = now_rfc3339()  # lastTransitionTime of the Ready condition
        self.last_ready = False

    # ---- materialisation ------------------------------------------------------------------
    def rewrite(self, text, mounts):
        for mount_path, host in sorted(mounts, key=lambda m: -len(m[0])):
            text = re.sub(r"(?<![\w./-])" + re.escape(mount_path) + r"(?=$|[/\s\"';:)])", host, text, flags=re.M)

        def dns(m):
            pod, ns = m.group(1), m.group(5)
            return self.kl.addresses.get(ns, pod)

        return PEER_DNS.sub(dns, text)

    def volume_dirs(self):
        api = self.kl.api
        out = {}
        for v in self.pod["spec"].get("volumes") or []:
            name = v["name"]
            if "persistentVolumeClaim" in v:
                claim = v["persistentVolumeClaim"]["claimName"]
                pvc = api.get(f"/api/v1/namespaces/{self.ns}/persistentvolumeclaims/{claim}", ok404=True)
                if pvc is None or pvc["metadata"].get("deletionTimestamp"):
                    raise RuntimeError(f"persistentvolumeclaim {claim} not found (or being deleted)")
                pv = pvc["spec"].get("volumeName")
                pv = api.get(f"/api/v1/persistentvolumes/{pv}", ok404=True) if pv else None
                if pv is None or "hostPath" not in pv["spec"]:
                    raise RuntimeError(f"persistentvolumeclaim {claim} is not bound to a hostPath volume")
                d = pv["spec"]["hostPath"]["path"]
                os.makedirs(d, exist_ok=True)
                out[name] = ("dir", d)
            elif "configMap" in v:
                cm = api.get(f"/api/v1/namespaces/{self.ns}/configmaps/{v['configMap']['name']}", ok404=True)
                if cm is None:
                    raise RuntimeError(f"configmap {v['configMap']['name']} not found")
                out[name] = ("configmap", cm.get("data") or {})
            elif "emptyDir" in v:
                d = os.path.join(self.dir, "emptydir", name)
                os.makedirs(d, exist_ok=True)
                out[name] = ("dir", d)
            else:
                raise RuntimeError(f"volume {name}: only persistentVolumeClaim, configMap, emptyDir are supported")
        return out

    def prepare(self, container, vols):
        """Host dirs for the container's mounts (ConfigMaps rendered with rewriting)."""
        mounts = []
        cm_mounts = []
        for vm in container.get("volumeMounts") or []:
            kind, val = vols[vm["name"]]
            if kind == "dir":
                mounts.append((vm["mountPath"], val))
            else:
                d = os.path.join(self.dir, "configmaps", container["name"], vm["name"])
                os.makedirs(d, exist_ok=True)
                mounts.append((vm["mountPath"], d))
                cm_mounts.append((d, val))
        for d, data in cm_mounts:
            for key, content in data.items():
                content = self.rewrite(content, mounts)
                if re.search(r"^\s*clientPort\s*[=:]", content, flags=re.M):
                    content += (
                        "# test kubelet: listeners pinned to the pod address\n"
                        f"clientPortAddress={self.ip}\nadmin.serverAddress={self.ip}\n"
                        f"metricsProvider.httpHost={self.ip}\n"
                    )
                with open(os.path.join(d, key), "w") as f:
                    f.write(content)
        return mounts

    def env(self, container, mounts):
        env = {
            "PATH": self.kl.path + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.dir,
            "HOSTNAME": self.name,
            "RUST_LOG": os.environ.get("RZK_LOG", "info"),
        }
        for e in container.get("env") or []:
            if "value" in e:
                env[e["name"]] = self.rewrite(e["value"], mounts)
            elif "valueFrom" in e and "fieldRef" in e["valueFrom"]:
                fp = e["valueFrom"]["fieldRef"]["fieldPath"]
                env[e["name"]] = {
                    "metadata.name": self.name,
                    "metadata.namespace": self.ns,
                    "status.podIP": self.ip,
                    "spec.nodeName": self.kl.node,
                }.get(fp, "")
        return env

    def argv(self, container, mounts):
        argv = list(container.get("command") or []) + list(container.get("args") or [])
        if not argv:
            raise RuntimeError(f"container {container['name']}: no command (images are not run here)")
        return [self.rewrite(a, mounts) for a in argv]

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self):
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        spec = self.pod["spec"]
        vols = self.volume_dirs()
        for ic in spec.get("initContainers") or []:
            mounts = self.prepare(ic, vols)
            argv = self.argv(ic, mounts)
            logf = os.path.join(self.dir, "logs", ic["name"] + ".log")
            with open(logf, "ab") as lf:
                pos = lf.tell()
                rc = subprocess.call(argv, env=self.env(ic, mounts), cwd=self.dir, stdout=lf, stderr=lf, timeout=60)
            with open(logf, "rb") as lf:  # terminationMessagePolicy FallbackToLogsOnError: the log tail
                lf.seek(pos)
                tail = lf.read().decode(errors="replace").strip()[-1000:]
            prev = self.init_status.get(ic["name"], {})
            self.init_status[ic["name"]] = {"exitCode": rc, "finishedAt": now_rfc3339(),
                                            "message": tail if rc != 0 else "", "count": prev.get("count", 0) + (rc != 0)}
            if rc != 0:
                raise RuntimeError(f"init container {ic['name']} exited {rc}")
        if len(spec["containers"]) != 1:
            raise RuntimeError("the test kubelet runs pods with exactly one container")
        c = spec["containers"][0]
        mounts = self.prepare(c, vols)
        self.mounts[c["name"]] = mounts
        argv = self.argv(c, mounts)
        lf = open(os.path.join(self.dir, "logs", c["name"] + ".log"), "ab")
        self.proc = subprocess.Popen(argv, env=self.env(c, mounts), cwd=self.dir, stdout=lf, stderr=lf,
                                     start_new_session=True)
        lf.close()
        self.started_at = now_rfc3339()
        self.process_started = time.time()
        log(f"started {self.ns}/{self.name} pid {self.proc.pid} at {self.ip}: {' '.join(argv)}")

    def stop(self, grace=10):
        p = self.proc
        if p is None or p.poll() is not None:
            return
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout=max(1, min(grace, 10)))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        log(f"stopped {self.ns}/{self.name}")

    def run_probe(self, probe):
        """One probe execution against the pod address; True on success."""
        timeout = probe.get("timeoutSeconds", 1)
        if "exec" in probe:
            argv = [re.sub(r"\b(127\.0\.0\.1|localhost)\b", self.ip, a) for a in probe["exec"].get("command") or []]
            c = self.pod["spec"]["containers"][0]
            env = self.env(c, self.mounts.get(c["name"], []))
            env["PATH"] = self.kl.shim_dir + ":" + env["PATH"]
            try:
                return subprocess.call(argv, env=env, cwd=self.dir, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, timeout=timeout + 1) == 0
            except (subprocess.TimeoutExpired, OSError):
                return False
        port = (probe.get("tcpSocket") or probe.get("httpGet") or {}).get("port")
        if isinstance(port, str):
            c = self.pod["spec"]["containers"][0]
            port = next((p["containerPort"] for p in c.get("ports") or [] if p.get("name") == port), None)
        if port is None:
            return True
        if "tcpSocket" in probe:
            return tcp_ok(self.ip, int(port), timeout)
        try:
            path = probe["httpGet"].get("path", "/")
            with urllib.request.urlopen(f"http://{self.ip}:{port}{path}", timeout=timeout) as r:
                return 200 <= r.status < 400
        except (OSError, urllib.error.URLError):
            return False

    def probe(self, kind, probe, running):
        """Probe with the pod's timing; returns the current result (readiness starts False)."""
        st = self.probes.setdefault(kind, {"last": 0.0, "fails": 0, "oks": 0, "result": kind == "liveness"})
        if not running:
            st.update(fails=0, oks=0, result=kind == "liveness", last=0.0)
            return False
        if not probe:
            return True
        now = time.time()
        if now - self.process_started < probe.get("initialDelaySeconds", 0):
            return st["result"]
        if now - st["last"] < probe.get("periodSeconds", 10):
            return st["result"]
        st["last"] = now
        if self.run_probe(probe):
            st["fails"] = 0
            st["oks"] += 1
            if st["oks"] >= probe.get("successThreshold", 1):
                st["result"] = True
        else:
            st["oks"] = 0
            st["fails"] += 1
            if st["fails"] >= probe.get("failureThreshold", 3):
                st["result"] = False
        return st["result"]

    def tick(self):
        """Keep the process running, probe it, return the pod status to report."""
        c = self.pod["spec"]["containers"][0]
        if self.error is None:
            if self.proc is not None and self.proc.poll() is not None:
                log(f"{self.ns}/{self.name} exited with {self.proc.returncode}; restarting")
                self.restarts += 1
                self.proc = None
                self.next_start = time.time() + min(10, 1 + self.restarts)
            if self.proc is None and time.time() >= self.next_start:
                try:
                    self.start()
                except Exception as e:  # noqa: BLE001 - report any failure in the pod status
                    log(f"{self.ns}/{self.name}: start failed: {e}")
                    self.restarts += 1
                    self.next_start = time.time() + min(10, 1 + self.restarts)
                    self.last_error = str(e)
        running = self.proc is not None and self.proc.poll() is None
        # startupProbe: liveness and readiness wait until it succeeds once (per process); failing
        # failureThreshold times in a row restarts the container, as a kubelet does.
        started = running
        startup = c.get("startupProbe")
        if not running:
            self.probes.pop("startup", None)
        elif startup and not self.probes.get("startup", {}).get("result"):
            started = self.probe("startup", startup, running)
            if not started and self.probes["startup"]["fails"] >= startup.get("failureThreshold", 3):
                log(f"{self.ns}/{self.name}: startup probe failed; restarting")
                self.stop(2)
                running = started = False
        if started and not self.probe("liveness", c.get("livenessProbe"), running):
            log(f"{self.ns}/{self.name}: liveness probe failed; restarting")
            self.stop(2)
            running = started = False
        self.ready = started and self.probe("readiness", c.get("readinessProbe"), running)
        t = now_rfc3339()
        if self.ready != self.last_ready:
            self.ready_since, self.last_ready = t, self.ready
        cond = lambda typ, ok: {"type": typ, "status": "True" if ok else "False"}  # noqa: E731

        def ready_cond(typ):
            return {"type": typ, "status": "True" if self.ready else "False", "lastTransitionTime": self.ready_since}
        state = {"running": {"startedAt": self.started_at}} if running else {
            "waiting": {"reason": "ContainerCreating" if self.restarts == 0 else "CrashLoopBackOff"}}
        status = {
            "phase": "Running" if running else "Pending",
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": self.ip,
            "podIPs": [{"ip": self.ip}],
            "startTime": self.pod["status"].get("startTime") or t,
            "conditions": [
                cond("PodScheduled", True),
                cond("Initialized", running or self.restarts > 0),
                ready_cond("ContainersReady"),
                ready_cond("Ready"),
            ],
            "containerStatuses": [{
                "name": c["name"],
                "image": c.get("image", ""),
                "imageID": "",
                "ready": self.ready,
                "started": started,
                "restartCount": self.restarts,
                "state": state,
            }],
        }
        if not running and getattr(self, "last_error", None):
            status["containerStatuses"][0]["state"]["waiting"]["message"] = self.last_error[:500]
        inits = []
        for ic in self.pod["spec"].get("initContainers") or []:
            st = self.init_status.get(ic["name"])
            entry = {"name": ic["name"], "image": ic.get("image", ""), "imageID": "", "ready": False,
                     "restartCount": (st or {}).get("count", 0)}
            if st is None:
                entry["state"] = {"waiting": {"reason": "PodInitializing"}}
            else:
                term = {"exitCode": st["exitCode"], "reason": "Completed" if st["exitCode"] == 0 else "Error",
                        "finishedAt": st["finishedAt"]}
                if st["message"]:
                    term["message"] = st["message"]
                if st["exitCode"] == 0:
                    entry["ready"] = True
                    entry["state"] = {"terminated": term}
                else:  # back-off before the next attempt, like CrashLoopBackOff
                    entry["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
                    entry["lastState"] = {"terminated": term}
            inits.append(entry)
        if inits:
            status["initContainerStatuses"] = inits
        return status


class Kubelet:
    def __init__(self, args):
        self.api = Api(args.server, args.ca, args.cert, args.key)
        self.node = args.node
        self.state_dir = os.path.abspath(args.state_dir)
        self.volumes_dir = os.path.abspath(args.volumes_dir)
        self.path = args.path
        os.makedirs(self.state_dir, exist_ok=True)
        os.makedirs(self.volumes_dir, exist_ok=True)
        self.addresses = Addresses(os.path.join(self.state_dir, "addresses.json"), args.address_prefix)
        self.shim_dir = os.path.join(self.state_dir, "bin")
        os.makedirs(self.shim_dir, exist_ok=True)
        shim = os.path.join(self.shim_dir, "nc")
        with open(shim, "w") as f:
            f.write(NC_SHIM % sys.executable)
        os.chmod(shim, 0o755)
        self.pods = {}  # uid -> PodRunner
        self.stop = threading.Event()
        self.last_heartbeat = 0.0

    # ---- node -------------------------------------------------------------------------------
    def node_status(self):
        t = now_rfc3339()
        conds = []
        for typ, st, reason in [("MemoryPressure", "False", "KubeletHasSufficientMemory"),
                                ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
                                ("PIDPressure", "False", "KubeletHasSufficientPID"),
                                ("Ready", "True", "KubeletReady")]:
            conds.append({"type": typ, "status": st, "reason": reason, "message": "test kubelet",
                          "lastHeartbeatTime": t, "lastTransitionTime": t})
        cap = {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        return {
            "capacity": cap, "allocatable": cap, "conditions": conds,
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": self.node}],
            "nodeInfo": {"machineID": "rzk-test", "systemUUID": "rzk-test", "bootID": "rzk-test",
                         "kernelVersion": os.uname().release, "osImage": "test kubelet", "containerRuntimeVersion": "process://1",
                         "kubeletVersion": "v1.36.3", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"},
        }

    def register(self):
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.node, "labels": {"kubernetes.io/hostname": self.node, "kubernetes.io/os": "linux",
                                                           "kubernetes.io/arch": "amd64", "rzk.dev/test-kubelet": "true"}},
                "spec": {}}
        self.api.call("POST", "/api/v1/nodes", node)
        self.heartbeat()
        log(f"node {self.node} registered")

    def heartbeat(self):
        self.api.call("PATCH", f"/api/v1/nodes/{self.node}/status", {"status": self.node_status()},
                      ctype="application/merge-patch+json")
        self.last_heartbeat = time.time()

    # ---- volumes ----------------------------------------------------------------------------
    def provision(self):
        pvcs = self.api.get("/api/v1/persistentvolumeclaims")["items"]
        for pvc in pvcs:
            if pvc.get("status", {}).get("phase") != "Pending" or pvc["spec"].get("volumeName"):
                continue
            ns, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]
            # One directory per claim object: a re-created claim gets a new, empty volume.
            d = os.path.join(self.volumes_dir, ns, f"{name}-{pvc['metadata']['uid'][:8]}")
            os.makedirs(d, exist_ok=True)
            pv_name = f"pv-{ns}-{name}-{pvc['metadata']['uid'][:8]}"[:253]
            size = pvc["spec"].get("resources", {}).get("requests", {}).get("storage", "1Gi")
            pv = {"apiVersion": "v1", "kind": "PersistentVolume",
                  "metadata": {"name": pv_name, "labels": {"rzk.dev/test-kubelet": "true"}},
                  "spec": {"capacity": {"storage": size},
                           "accessModes": pvc["spec"].get("accessModes") or ["ReadWriteOnce"],
                           "persistentVolumeReclaimPolicy": "Retain",
                           "storageClassName": pvc["spec"].get("storageClassName") or "",
                           "hostPath": {"path": d, "type": "DirectoryOrCreate"},
                           "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns,
                                        "name": name, "uid": pvc["metadata"]["uid"]}}}
            if self.api.get(f"/api/v1/persistentvolumes/{pv_name}", ok404=True) is None:
                self.api.call("POST", "/api/v1/persistentvolumes", pv)
                log(f"provisioned {pv_name} -> {d}")

    # ---- pods -------------------------------------------------------------------------------
    def sync_pods(self):
        sel = urllib.parse.quote(f"spec.nodeName={self.node}")
        pods = self.api.get(f"/api/v1/pods?fieldSelector={sel}")["items"]
        seen = set()
        for pod in pods:
            uid = pod["metadata"]["uid"]
            seen.add(uid)
            r = self.pods.get(uid)
            if pod["metadata"].get("deletionTimestamp"):
                if r is not None:
                    r.stop(pod["metadata"].get("deletionGracePeriodSeconds") or 10)
                    del self.pods[uid]
                ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
                body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                        "preconditions": {"uid": uid}}
                try:
                    self.api.call("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}", body)
                    log(f"removed pod {ns}/{name}")
                except RuntimeError as e:
                    log(f"delete {ns}/{name}: {e}")
                continue
            if r is None:
                r = PodRunner(self, pod)
                self.pods[uid] = r
            r.pod = pod
            status = r.tick()
            comparable = json.dumps({k: v for k, v in status.items() if k != "startTime"}, sort_keys=True)
            if comparable != r.last_status:
                ns, name = r.ns, r.name
                try:
                    self.api.call("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status", {"status": status},
                                  ctype="application/merge-patch+json")
                    r.last_status = comparable
                except RuntimeError as e:
                    log(f"status {ns}/{name}: {e}")
        for uid in list(self.pods):
            if uid not in seen:  # deleted with grace 0 by someone else
                self.pods.pop(uid).stop(1)

    def run(self):
        self.register()
        while not self.stop.is_set():
            try:
                if time.time() - self.last_heartbeat > 10:
                    self.heartbeat()
                self.provision()
                self.sync_pods()
            except Exception as e:  # noqa: BLE001 - keep going; the apiserver may be restarting
                log(f"sync error: {e}")
            self.stop.wait(1.0)
        for r in list(self.pods.values()):
            r.stop(2)
        log("test kubelet stopped")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--node", default="rzk-test-node")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--volumes-dir", required=True)
    ap.add_argument("--path", required=True, help="directories searched first for container commands")
    ap.add_argument("--address-prefix", default="127.0.1",
                    help="pod addresses are PREFIX.N (N = 2..254); another prefix isolates parallel test grounds")
    args = ap.parse_args()
    kl = Kubelet(args)
    signal.signal(signal.SIGTERM, lambda *_: kl.stop.set())
    signal.signal(signal.SIGINT, lambda *_: kl.stop.set())
    kl.run()


if __name__ == "__main__":
    sys.exit(main())
