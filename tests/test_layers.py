"""The one dependency rule, enforced: layer contracts (import-linter, pyproject.toml) and a serving
process that really never imports torch."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """import-linter on the packages under ``root`` with the project's contracts, in its own process (it
    reconfigures logging, which would silence the loggers later tests read).

    The process runs without ``site`` (``-S``), with ``root`` and then this environment's site-packages as
    plain path entries: no .pth file runs, so an editable install's import hook (scikit-build-core's
    redirect, which maps the package to the checkout it was installed from) cannot stand in for ``root``.
    """
    code = f"import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(config_filename={str(REPO / 'pyproject.toml')!r}, no_cache=True))"
    search = [str(root), *site.getsitepackages(), sysconfig.get_paths()["purelib"]]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(search))}
    return subprocess.run([sys.executable, "-S", "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_layer_contracts_are_kept() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_contract_is_reported(tmp_path: Path) -> None:
    """The contracts can fail: a text-layer module that imports torch breaks the forbidden contract."""
    package = tmp_path / "sentiment_export"
    for layer in ("text", "data", "artifact", "serving", "modeling", "export", "cli"):
        (package / layer).mkdir(parents=True)
        (package / layer / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "text" / "leak.py").write_text("import torch\n")
    (tmp_path / "training").mkdir()
    (tmp_path / "training" / "__init__.py").write_text("")
    result = _lint_imports(tmp_path)
    assert result.returncode == 1 and "BROKEN" in result.stdout, result.stdout + result.stderr


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
