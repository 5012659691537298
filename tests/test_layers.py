"""The one dependency rule, enforced: layer contracts (import-linter, pyproject.toml) and a serving
process that really never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

REPO = Path(__file__).resolve().parents[1]


def test_layer_contracts_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert lint_imports(config_filename=str(REPO / "pyproject.toml"), no_cache=True) == 0


def test_a_broken_contract_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The contracts can fail: a text-layer module that imports torch breaks the forbidden contract."""
    package = tmp_path / "sentiment_export"
    for layer in ("text", "data", "artifact", "serving", "modeling", "export", "cli"):
        (package / layer).mkdir(parents=True)
        (package / layer / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "text" / "leak.py").write_text("import torch\n")
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [name for name in sys.modules if name == "sentiment_export" or name.startswith(("sentiment_export.", "training"))]:
        monkeypatch.delitem(sys.modules, name)
    assert lint_imports(config_filename=str(REPO / "pyproject.toml"), no_cache=True) == 1


_SERVE_WITHOUT_TORCH = """
import json, sys
from sentiment_export import SentimentModel
model = SentimentModel.load(sys.argv[1])
predictions = [p.to_dict() for p in model.predict(["Great product, works well.", "Broke after a day."])]
print(json.dumps({"torch_loaded": "torch" in sys.modules, "predictions": predictions}))
"""


def test_serving_never_imports_torch(exported_artifact: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _SERVE_WITHOUT_TORCH, str(exported_artifact)],
        capture_output=True, text=True, check=True, cwd=REPO, timeout=120,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(report["predictions"]) == 2
    assert report["torch_loaded"] is False, "SentimentModel.load(...).predict(...) imported torch"
