"""Serving the built single-page app at `/`, with index.html for client-side routes."""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from edge.errors import error_response

_NOT_BUILT = """<!doctype html><html lang="en"><meta charset="utf-8"><title>Relayline</title>
<body><h1>Relayline edge</h1><p>The web app is not built. Run <code>make run</code>, or build it
with <code>npm --prefix web run build</code>. The API is documented at <a href="/docs">/docs</a>
(HTTP) and <a href="/asyncapi">/asyncapi</a> (WebSocket).</p></body></html>"""

_API_PREFIXES = ("v1/", "docs", "openapi.json", "asyncapi", "healthz", "readyz", "metrics")


def mount_spa(app: FastAPI, dist: Path | None) -> None:
    root = dist.resolve() if dist and (dist / "index.html").is_file() else None

    @app.get("/{path:path}", include_in_schema=False, response_model=None)
    async def spa(path: str, request: Request) -> Response:
        if path.startswith(_API_PREFIXES):
            return error_response(404, "not_found", f"no route {request.url.path}")
        if root is None:
            return HTMLResponse(_NOT_BUILT)
        if path and (candidate := _file_in(root, path)) is not None:
            return FileResponse(candidate)
        return FileResponse(root / "index.html")


def _file_in(root: Path, path: str) -> Path | None:
    """The file `path` names inside `root`, or None: also for a path no file can have (a
    NUL byte raises ValueError, a name longer than the system takes an OSError, which
    must not reach the handler that takes OSErrors for Redis's)."""
    try:
        candidate = (root / path).resolve()
        return candidate if candidate.is_file() and candidate.is_relative_to(root) else None
    except (OSError, ValueError):
        return None
