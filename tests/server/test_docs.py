"""/docs is served from the vendored Swagger UI: every asset from the server itself."""

import re

import pytest
from fastapi.testclient import TestClient

from server.docs import ASSETS_URL, install_docs


@pytest.fixture(scope="module")
def client():
    from fastapi import FastAPI

    app = FastAPI(title="t", docs_url=None)
    install_docs(app)
    with TestClient(app) as c:
        yield c


def test_docs_page_loads_nothing_from_another_host(client):
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert {u for u in urls if u.startswith(ASSETS_URL)}, urls  # the assets are ours
    assert not [u for u in urls if "//" in u], urls  # and nothing else is fetched


@pytest.mark.parametrize(
    ("name", "kind"),
    [("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "text/css")],
)
def test_vendored_assets_are_served(client, name, kind):
    r = client.get(f"{ASSETS_URL}/{name}")
    assert r.status_code == 200 and kind in r.headers["content-type"]
    assert len(r.content) > 10_000


def test_create_app_uses_the_offline_docs():
    from server.main import create_app

    routes = {getattr(r, "path", None) for r in create_app().routes}
    assert "/docs" in routes and ASSETS_URL in routes


def test_every_route_that_reads_an_image_says_so_in_its_schema():
    """The image routes read their body themselves, so FastAPI's schema had no request
    body for them and /docs had no way to send an image."""
    from server.config import ServerConfig
    from server.docs import IMAGE_ROUTES
    from server.main import create_app

    with TestClient(create_app(ServerConfig(models=("mnist-mlp",)))) as c:
        paths = c.get("/openapi.json").json()["paths"]
    v1_posts = {p for p, ops in paths.items() if p.startswith("/v1/") and "post" in ops}
    assert v1_posts == set(IMAGE_ROUTES)
    for path in IMAGE_ROUTES:
        content = paths[path]["post"]["requestBody"]["content"]
        assert content["image/png"]["schema"]["format"] == "binary", path
        assert "files" in content["multipart/form-data"]["schema"]["properties"], path
