"""Where the shared reference data lives (read-only, never copied into the repo).

``$STORMWATCH_SHARED_DATA`` if set; else the first ``shared/data`` beside the checkout or
one of its parents (the layout of this workplace: ``<work>/main`` beside
``<work>/shared``); else ``/work/shared/data``, where this workplace keeps it for clones
made elsewhere (CI clones into a fresh directory).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_LAST_RESORT = Path("/work/shared/data")


def shared_data(name: str) -> Path:
    """The folder ``name`` (e.g. ``nab``, ``sentiment``) of the shared data."""
    env = os.environ.get("STORMWATCH_SHARED_DATA")
    if env:
        return Path(env) / name
    candidates = [parent / "shared" / "data" for parent in REPO.parents]
    candidates.append(_LAST_RESORT)
    for root in candidates:
        if (root / name).is_dir():
            return root / name
    return REPO.parent / "shared" / "data" / name
