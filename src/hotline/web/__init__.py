"""The web UI: a Vue single-page app built from `frontend/` into `dist/` beside this file.

The bundle is not kept in git: `./dev demo` and `./dev test` build it (`npm ci && npm run
build` in `frontend/`). `hotline.api.web` serves it; `static` holds the file handling.
"""

from __future__ import annotations

from pathlib import Path

DIST = Path(__file__).resolve().parent / "dist"

BUILD_HINT = "the web UI is not built: run `npm ci && npm run build` in frontend/ (./dev demo does)"


def is_built(dist: Path = DIST) -> bool:
    return (dist / "index.html").is_file()
