"""The KubeRay manifest runs an audit that our command accepts, on the Ray engine, from
object storage, with the image that holds Ray."""

from __future__ import annotations

import shlex

import yaml

from model.audit.__main__ import parse_args
from model.audit.engines import PRELOAD_ENV, PRELOAD_MODULES
from model.audit.inputs import is_uri
from tests.helpers import ROOT


def test_the_rayjob_runs_an_audit_our_command_accepts():
    job = yaml.safe_load((ROOT / "deploy" / "k8s" / "rayjob-audit.yaml").read_text())
    assert job["kind"] == "RayJob" and job["apiVersion"] == "ray.io/v1"
    command = shlex.split(job["spec"]["entrypoint"])
    assert command[:4] == ["python", "-m", "digitlens", "audit"]
    args = parse_args(command[4:])  # every flag is one the audit knows
    assert args.engine == "ray" and all(is_uri(i) for i in args.inputs)
    cluster = job["spec"]["rayClusterSpec"]
    pinned = (ROOT / "requirements-ray.txt").read_text()
    assert f"=={cluster['rayVersion']}" in pinned  # the cluster runs the Ray we test
    head = cluster["headGroupSpec"]["template"]["spec"]
    mounts = {m["mountPath"] for m in head["containers"][0]["volumeMounts"]}
    assert any(args.out.startswith(m) for m in mounts)  # the report lands on the volume
    dockerfile = (ROOT / "deploy" / "audit.Dockerfile").read_text()
    assert "requirements-ray.txt" in dockerfile
    assert "PYTHONPATH=/app" in dockerfile  # (where the workers' preload finds DigitLens)
    images = {head["containers"][0]["image"]} | {
        g["template"]["spec"]["containers"][0]["image"] for g in cluster["workerGroupSpecs"]
    }
    assert images == {"digitlens-audit:latest"}
    for group in cluster["workerGroupSpecs"]:  # actors start with DigitLens imported
        env = {e["name"]: e["value"] for e in group["template"]["spec"]["containers"][0]["env"]}
        assert env[PRELOAD_ENV] == PRELOAD_MODULES
