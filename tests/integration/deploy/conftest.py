"""The deploy integration tests reuse the renderer and checks of tests/unit/deploy."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "deploy"))
