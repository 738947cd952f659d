"""Serving the web UI on the API's app: `mount_web(app)` (called last by `create_app`).

Routes added (GET and HEAD only, not in the OpenAPI schema):

- `/assets/{file}`: built, content-hashed files (see `hotline.web.static`); 404 if missing.
- any other path without a file extension outside `/api`: the SPA's `index.html`.
- a path that names an existing top-level file of the build (`/favicon.svg`): that file.

Everything else falls through to the normal 404 / 405 problem+json answers. The routes match
only GET/HEAD, so a POST to an unknown path is still 404 (not 405), and `/api/*` never gets
the HTML shell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from hotline.web import BUILD_HINT, DIST, is_built
from hotline.web.static import (
    ASSET_CACHE,
    FILE_CACHE,
    HTML_HEADERS,
    INDEX_CACHE,
    file_response,
    is_app_route,
    resolve,
)

_METHODS = ("GET", "HEAD")


class _WebRoute(Route):
    """A route that matches by a predicate on the path, and only for GET/HEAD."""

    def __init__(self, label: str, endpoint: Any, predicate: Any) -> None:
        super().__init__(label, endpoint, methods=list(_METHODS), include_in_schema=False)
        self._predicate = predicate

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] not in _METHODS:
            return Match.NONE, {}
        if not self._predicate(scope["path"]):
            return Match.NONE, {}
        return Match.FULL, {"endpoint": self.endpoint, "path_params": {}}


def mount_web(app: FastAPI, dist: Path | None = None) -> None:
    """Serve the built UI from `dist` (default `hotline/web/dist`).

    Calling it again only changes the directory served (tests point it at a fake build).
    """
    app.state.web_dist = dist or DIST
    if getattr(app.state, "web_mounted", False):
        return
    app.state.web_mounted = True

    def root_of(request: Request) -> Path:
        root: Path = request.app.state.web_dist
        return root

    async def asset(request: Request) -> Response:
        relative = request.url.path.removeprefix("/assets/")
        path = resolve(root_of(request) / "assets", relative)
        if path is None:
            raise HTTPException(404, "no such file")
        return file_response(path, request.headers, cache_control=ASSET_CACHE)

    async def shell(request: Request) -> Response:
        root = root_of(request)
        if not is_built(root):
            raise HTTPException(404, BUILD_HINT)
        top = request.url.path.lstrip("/")
        if top and "/" not in top and top != "index.html":
            path = resolve(root, top)
            if path is not None:
                return file_response(path, request.headers, cache_control=FILE_CACHE)
        if not is_app_route(request.url.path):
            raise HTTPException(404, "no such file")
        return file_response(
            root / "index.html", request.headers, cache_control=INDEX_CACHE, extra=HTML_HEADERS
        )

    def shell_path(path: str) -> bool:
        return not (path == "/api" or path.startswith(("/api/", "/assets/")))

    app.router.routes.append(_WebRoute("/assets/{file}", asset, lambda p: p.startswith("/assets/")))
    app.router.routes.append(_WebRoute("/{app_route}", shell, shell_path))
