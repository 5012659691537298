"""Training curves as a PNG: one renderer for the training run and for an export without a run directory."""

from __future__ import annotations

import io
from typing import Any

RUN_HISTORY_FILENAME = "history.json"
RUN_PLOT_FILENAME = "curves.png"
"""What a training run directory holds beside its checkpoint (training/curves.py writes them; export copies them)."""


def render_curves(history: list[dict[str, Any]], *, title: str = "") -> bytes:
    """PNG of every numeric series in ``history``: losses on the left, the rest on the right."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    axis_key = "step" if history and all("step" in entry for entry in history) else None
    xs = [entry[axis_key] for entry in history] if axis_key else list(range(1, len(history) + 1))
    keys = sorted({k for e in history for k, v in e.items() if isinstance(v, (int, float)) and k not in ("step", "epoch")})
    figure, (loss_axes, other_axes) = plt.subplots(1, 2, figsize=(10, 4))
    for key in keys:
        axes = loss_axes if "loss" in key else other_axes
        axes.plot(xs, [entry.get(key, float("nan")) for entry in history], marker="o", label=key)
    loss_axes.set(xlabel=axis_key or "evaluation", title="loss")
    other_axes.set(xlabel=axis_key or "evaluation", title="other metrics")
    for axes in (loss_axes, other_axes):
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend()
    if title or not history:
        figure.suptitle(title or "no training history recorded")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()
