"""Files of the built web UI: safe path resolution, pre-compressed variants, cache headers.

- `/assets/…` are content-hashed by the build: cached for a year (`immutable`), and sent as the
  `.br` / `.gz` file the build made beside them when the client accepts that encoding.
- `index.html` answers every route of the single-page app and is never cached stale
  (`no-cache`: revalidated each time, so a new release is picked up at once).
- A path that names a file (has a dot in its last segment) and does not exist stays a 404, and
  so does anything under `/api`: the app shell is not a catch-all for typos in API calls.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath

from starlette.datastructures import Headers
from starlette.responses import FileResponse

ASSET_CACHE = "public, max-age=31536000, immutable"
FILE_CACHE = "public, max-age=3600"
INDEX_CACHE = "no-cache"

# Preferred first. The build writes `<file>.br` and `<file>.gz` for compressible files.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))

# Prefixes that never fall back to the app shell.
RESERVED_PREFIXES = ("/api", "/assets")

# What the browser may do on hotline's pages (the SPA needs nothing more; Element Plus sets
# inline style attributes, the TOTP QR code is a data: image).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
HTML_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def accepted_encodings(header: str | None) -> set[str]:
    """Content codings the client accepts (`Accept-Encoding`), ignoring those with q=0."""
    accepted: set[str] = set()
    for part in (header or "").split(","):
        name, _, params = part.strip().partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            accepted.add(name)
    if "*" in accepted:
        accepted.update(name for name, _ in ENCODINGS)
    return accepted


def resolve(root: Path, relative: str) -> Path | None:
    """The regular file `relative` names inside `root`, or None (never a path outside root)."""
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    parts = PurePosixPath(relative).parts
    if not parts or any(p in ("", ".", "..") or p.startswith("/") for p in parts):
        return None
    candidate = root.joinpath(*parts)
    try:
        resolved = candidate.resolve(strict=True)
        resolved.relative_to(root.resolve())
    except (OSError, ValueError):
        return None
    return resolved if resolved.is_file() else None


def media_type(path: Path) -> str:
    kind, _ = mimetypes.guess_type(path.name)
    if path.suffix in (".js", ".mjs"):
        kind = "text/javascript"
    if kind is None:
        return "application/octet-stream"
    if kind.startswith("text/") or kind in ("image/svg+xml", "application/json"):
        return f"{kind}; charset=utf-8"
    return kind


def file_response(
    path: Path, request_headers: Headers, *, cache_control: str, extra: dict[str, str] | None = None
) -> FileResponse:
    """Send `path`, or its pre-compressed sibling when the client accepts that encoding."""
    headers = {"Cache-Control": cache_control, **(extra or {})}
    accepted = accepted_encodings(request_headers.get("accept-encoding"))
    send = path
    variants = [(coding, path.with_name(path.name + suffix)) for coding, suffix in ENCODINGS]
    if any(v.is_file() for _, v in variants):
        headers["Vary"] = "Accept-Encoding"
        for coding, variant in variants:
            if coding in accepted and variant.is_file():
                send = variant
                headers["Content-Encoding"] = coding
                break
    return FileResponse(send, media_type=media_type(path), headers=headers)


def is_app_route(path: str) -> bool:
    """A path the single-page app's router handles (served index.html)."""
    for prefix in RESERVED_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return False
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return "." not in last
