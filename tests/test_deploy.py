"""The deployment files are well-formed and point at the server's real endpoints."""

import yaml

from tests.helpers import ROOT

K8S = ROOT / "deploy" / "k8s"


def load(name):
    return list(yaml.safe_load_all((K8S / name).read_text()))[0]


def test_deployment_probes_hit_the_health_endpoints():
    container = load("deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["limits"]["memory"]
    assert container["ports"][0]["containerPort"] == 8000


def test_service_and_hpa_target_the_deployment():
    assert load("service.yaml")["spec"]["selector"] == {"app": "digitlens"}
    hpa = load("hpa.yaml")["spec"]
    assert hpa["scaleTargetRef"]["name"] == "digitlens" and hpa["minReplicas"] >= 1


def test_dockerfile_runs_the_server_as_non_root():
    text = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["python", "-m", "server"' in text and "USER digitlens" in text
    for path in ("requirements.txt", "model/", "server/"):
        assert path in text
