"""The KServe manifest runs our server on the port KServe expects and probes real v2 routes."""

import yaml
from fastapi.testclient import TestClient

from server.__main__ import parse_args
from server.config import ServerConfig
from server.main import create_app
from tests.helpers import ROOT

MANIFEST = ROOT / "deploy" / "k8s" / "kserve-digitlens.yaml"
KSERVE_PORT = 8080  # KServe's default for a custom predictor container


def test_kserve_container_runs_our_server_and_probes_v2_health():
    spec = yaml.safe_load(MANIFEST.read_text())["spec"]["predictor"]
    (container,) = spec["containers"]
    assert container["name"] == "kserve-container"
    command = container["command"]
    assert command[:3] == ["python", "-m", "server"]
    cfg = parse_args(command[3:])
    assert cfg.port == KSERVE_PORT == container["ports"][0]["containerPort"]
    assert cfg.host == "0.0.0.0" and cfg.workers >= 1
    with TestClient(
        create_app(ServerConfig(models=("mnist-mlp",), default_model="mnist-mlp"))
    ) as c:
        for probe in ("readinessProbe", "livenessProbe"):
            get = container[probe]["httpGet"]
            assert get["port"] == KSERVE_PORT
            assert c.get(get["path"]).status_code == 200, get["path"]
