"""Training curves of a run: the history as JSON data and as a PNG plot."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sentiment_export.export.curves import RUN_HISTORY_FILENAME, RUN_PLOT_FILENAME, render_curves
from sentiment_export.fileio import atomic_write_bytes, atomic_write_text


def save_curves(
    history: list[dict[str, Any]], run_dir: str | os.PathLike[str], *, title: str = ""
) -> tuple[Path, Path]:
    """Write ``history.json`` and ``curves.png`` (losses, and the other series, against steps) into ``run_dir``.

    The plot comes from the export's renderer, so a run's curves and an artifact's look the same.
    """
    run_dir = Path(run_dir)
    data_path, plot_path = run_dir / RUN_HISTORY_FILENAME, run_dir / RUN_PLOT_FILENAME
    atomic_write_text(data_path, json.dumps(history, indent=2) + "\n")
    atomic_write_bytes(plot_path, render_curves(history, title=title))
    return data_path, plot_path
