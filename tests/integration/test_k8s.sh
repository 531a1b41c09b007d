#!/usr/bin/env bash
# SPDX-License-Identifier: (BSD-2-Clause OR GPL-2.0-only)
#
# deploy/kubernetes/lbpf.yaml, offline (no cluster):
#  - schema: every document against the Kubernetes API's own generated types
#    (scripts/check-k8s.py, Debian's python3-kubernetes): unknown fields, wrong
#    types and missing required fields fail;
#  - fit: the DaemonSet runs the image `make image` builds, with options lbpfd
#    knows, its policy folder is where the image has it and the ConfigMap is
#    mounted there, bpffs and tracefs are mounted where lbpfd looks, and the
#    metrics port is the same in the command, the port list, the probe and
#    the Prometheus annotation.
. "$(dirname "$0")/../lib.sh"

MANIFEST=$LBPF_TOP/deploy/kubernetes/lbpf.yaml
PY=/usr/bin/python3 # Debian's, where python3-kubernetes is

have_modules() { "$PY" -c 'import yaml, kubernetes' 2>/dev/null; }

test_schema() {
	have_modules || t_skip "no python3-kubernetes and python3-yaml (scripts/deps.sh installs them)"
	local out
	out=$("$PY" "$LBPF_TOP/scripts/check-k8s.py" "$MANIFEST" 2>&1) || t_fail "$out"
	[ "$(echo "$out" | grep -c '^ok ')" = 3 ] || t_fail "expected 3 documents: $out"
}

test_fit() {
	have_modules || t_skip "no python3-yaml (scripts/deps.sh installs it)"
	local version out
	version=$(sed -n 's/^#define LBPF_VERSION "\(.*\)"/\1/p' "$LBPF_TOP/include/lbpf/lbpf.h")
	out=$("$PY" - "$MANIFEST" "$version" "$BUILD/lbpfd" "$LBPF_TOP/scripts/image.sh" <<'PY'
import subprocess, sys, yaml
manifest, version, lbpfd, image_sh = sys.argv[1:]
docs = {d["kind"]: d for d in yaml.safe_load_all(open(manifest)) if d}
ds, cm = docs["DaemonSet"], docs["ConfigMap"]
pod = ds["spec"]["template"]
spec = pod["spec"]
c = spec["containers"][0]
cmd = c["command"]
problems = []
def need(cond, what):
    if not cond:
        problems.append(what)
need(c["image"] == f"localhost/lbpf:{version}", f"image {c['image']} is not localhost/lbpf:{version}")
usage = subprocess.run([lbpfd, "--help"], capture_output=True, text=True)
usage = usage.stdout + usage.stderr
need(cmd[0] == "/usr/bin/lbpfd", "the command is not /usr/bin/lbpfd")
for opt in [a for a in cmd[1:] if a.startswith("--")]:
    need(opt in usage, f"lbpfd has no option {opt}")
def arg(opt):
    return cmd[cmd.index(opt) + 1] if opt in cmd else None
mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
volumes = {v["name"]: v for v in spec["volumes"]}
policy_dir = arg("--policy-dir")
need(policy_dir is not None, "no --policy-dir")
need(policy_dir in open(image_sh).read(), f"the image does not make {policy_dir}")
m = mounts.get(policy_dir)
need(m and volumes[m["name"]].get("configMap", {}).get("name") == cm["metadata"]["name"],
     f"{policy_dir} is not the ConfigMap {cm['metadata']['name']}")
need(all(k.endswith(".lua") for k in cm["data"]), "a ConfigMap key is not NAME.lua")
for path in ("/sys/fs/bpf", "/sys/kernel/tracing"):
    m = mounts.get(path)
    need(m and volumes[m["name"]].get("hostPath", {}).get("path") == path,
         f"{path} is not the host's")
port = int(arg("--metrics").rsplit(":", 1)[1])
need([p["containerPort"] for p in c["ports"]] == [port], "containerPort is not the metrics port")
need(pod["metadata"]["annotations"]["prometheus.io/port"] == str(port), "annotation port")
need(c["livenessProbe"]["httpGet"]["port"] == port, "probe port")
need(spec.get("hostNetwork") and spec.get("hostPID"), "hostNetwork and hostPID")
need(set(c["securityContext"]["capabilities"]["add"]) == {"BPF", "PERFMON", "NET_ADMIN", "SYS_ADMIN", "SYS_NICE"},
     "capabilities")
need({"operator": "Exists"} in spec["tolerations"], "a toleration of every taint")
print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
) || t_fail "$out"
}

t_run k8s/schema test_schema
t_run k8s/fit test_fit
