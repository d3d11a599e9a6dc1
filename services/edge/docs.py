"""`/docs`: Swagger UI served from the installed `swagger-ui-bundle-v2` package, never from a
CDN, so the page works on a machine without internet access. `/asyncapi.json` and
`/asyncapi`: the AsyncAPI document of the WebSocket and the job streams (generated with the
contracts, `contracts.asyncapi`) and a page to read it (`edge.asyncapi_page`)."""

import json

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from contracts import asyncapi
from edge.asyncapi_page import CONTENT_SECURITY_POLICY, render

ASSETS = "/docs/assets"
ASYNCAPI_JSON = "/asyncapi.json"


def mount_docs(app: FastAPI) -> None:
    """Create the app with `docs_url=None, redoc_url=None`, then call this."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
        )

    mount_asyncapi(app)


def mount_asyncapi(app: FastAPI) -> None:
    """The committed document, read once; the page rendered once from it."""
    document = asyncapi.COMMITTED.read_bytes()
    page = render(json.loads(document), ASYNCAPI_JSON)
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY}

    @app.get(ASYNCAPI_JSON, include_in_schema=False)
    async def asyncapi_document() -> Response:
        return Response(document, media_type="application/json")

    @app.get("/asyncapi", include_in_schema=False)
    async def asyncapi_html() -> HTMLResponse:
        return HTMLResponse(page, headers=headers)
