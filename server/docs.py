"""The interactive API docs (/docs) from the vendored Swagger UI: no CDN, works offline.

FastAPI's own /docs page loads Swagger UI's script and CSS from a CDN
(cdn.jsdelivr.net) and its favicon from fastapi.tiangolo.com. Here the same page
takes them from `server/vendor/swagger-ui-dist/`, fetched and hash-checked by
`scripts/vendor_web.py`.

The routes that take an image read their body themselves (raw bytes or a form), so
FastAPI's schema has no request body for them and the page offered no way to send one:
`image_body` adds it (a file picker for an image, or a form of files).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: The vendored Swagger UI (swagger-ui-dist, pinned in scripts/vendor_web.py).
SWAGGER_DIR = Path(__file__).with_name("vendor") / "swagger-ui-dist"
DOCS_URL = "/docs"
ASSETS_URL = "/docs-assets"


#: The routes whose body is an image (raw, or files in a form).
IMAGE_ROUTES = (
    "/v1/predict",
    "/v1/explain",
    "/v1/read",
    "/v1/counterfactual",
    "/v1/neighbours",
    "/v1/activations",
)
_FILE = {"type": "string", "format": "binary"}
IMAGE_BODY = {
    "required": True,
    "content": {
        **{t: {"schema": _FILE} for t in ("image/png", "image/jpeg", "image/webp")},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"files": {"type": "array", "items": _FILE}},
                "required": ["files"],
            }
        },
    },
}


def image_body(app: FastAPI) -> None:
    """Give the image routes their request body in the OpenAPI schema (and so /docs)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            for path in IMAGE_ROUTES:
                post = schema["paths"].get(path, {}).get("post")
                if post is not None:
                    post.setdefault("requestBody", IMAGE_BODY)
        return app.openapi_schema

    app.openapi = openapi


def install_docs(app: FastAPI) -> None:
    """Serve /docs with local Swagger UI assets (create the app with docs_url=None)."""
    image_body(app)
    app.mount(ASSETS_URL, StaticFiles(directory=SWAGGER_DIR), name="docs-assets")
    redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get(DOCS_URL, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API docs",
            oauth2_redirect_url=redirect,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
        )

    @app.get(redirect, include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
