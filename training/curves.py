"""Training curves of a run: the history as JSON data and as a PNG plot."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

from sentiment_export.fileio import atomic_write_bytes, atomic_write_text

HISTORY_FILENAME = "history.json"
PLOT_FILENAME = "curves.png"


def save_curves(
    history: list[dict[str, Any]], run_dir: str | os.PathLike[str], *, title: str = ""
) -> tuple[Path, Path]:
    """Write ``history.json`` and ``curves.png`` (loss and validation accuracy against steps) into ``run_dir``."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    data_path, plot_path = run_dir / HISTORY_FILENAME, run_dir / PLOT_FILENAME
    atomic_write_text(data_path, json.dumps(history, indent=2) + "\n")

    steps = [entry["step"] for entry in history]
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))
    loss_axes.plot(steps, [entry["train_loss"] for entry in history], marker="o", label="train")
    loss_axes.plot(steps, [entry["val_loss"] for entry in history], marker="o", label="validation")
    loss_axes.set(xlabel="optimizer step", ylabel="binary cross-entropy", title="loss")
    loss_axes.legend()
    accuracy_axes.plot(steps, [100 * entry["val_accuracy"] for entry in history], marker="o", color="tab:green")
    accuracy_axes.set(xlabel="optimizer step", ylabel="%", title="validation accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    atomic_write_bytes(plot_path, buffer.getvalue())
    return data_path, plot_path
