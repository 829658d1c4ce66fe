"""The Kubernetes training manifests run commands that `training.train` accepts, as a cluster
whose size and addresses agree with the pods they create."""

from __future__ import annotations

import json
import re
import shlex

import yaml

from tests.helpers import ROOT
from training.train import parse_args

K8S = ROOT / "deploy" / "k8s"


def _docs(name: str) -> dict[str, dict]:
    return {d["kind"]: d for d in yaml.safe_load_all((K8S / name).read_text())}


def test_tfjob_runs_multiworker_and_only_the_chief_mounts_the_artifacts():
    specs = _docs("tfjob-training.yaml")["TFJob"]["spec"]["tfReplicaSpecs"]
    assert specs["Chief"]["replicas"] == 1  # one writer of the model, card and logs
    for role, spec in specs.items():
        container = spec["template"]["spec"]["containers"][0]
        assert container["name"] == "tensorflow"  # the name the operator looks for
        cfg = parse_args(container["args"])  # every flag is one train.py knows
        assert cfg.distribute == "multiworker", role
        mounts = {m["name"] for m in container["volumeMounts"]}
        assert ("artifacts" in mounts) == (role == "Chief"), role
        assert cfg.output.startswith("/artifacts/") and cfg.run_dir.startswith("/artifacts/")


def test_indexed_job_cluster_matches_its_pods():
    docs = _docs("indexed-job-training.yaml")
    job, service = docs["Job"], docs["Service"]
    spec = job["spec"]
    pod = spec["template"]["spec"]
    assert spec["completionMode"] == "Indexed"
    assert pod["subdomain"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"

    script = pod["containers"][0]["args"][0]
    raw = re.search(r'TF_CONFIG="(.*?)" &&', script, re.S).group(1)
    config = json.loads(raw.replace('\\"', '"').replace("$JOB_COMPLETION_INDEX", "0"))
    hosts = config["cluster"]["worker"]
    assert len(hosts) == spec["completions"] == spec["parallelism"]
    port = service["spec"]["ports"][0]["port"]
    name = job["metadata"]["name"]
    assert hosts == [f"{name}-{i}.{service['metadata']['name']}:{port}" for i in range(len(hosts))]
    assert pod["containers"][0]["ports"][0]["containerPort"] == port

    command = shlex.split(script.split("exec ", 1)[1])
    assert command[:3] == ["python", "-m", "training.train"]
    assert parse_args(command[3:]).distribute == "multiworker"
