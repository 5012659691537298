"""Specs from an artifact are checked before use: shipped rule sets are trusted by fingerprint, others opt-in."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from sentiment_export import ArtifactError, SentimentModel, load_artifact
from sentiment_export.cli.main import main
from sentiment_export.fileio import sha256_file
from sentiment_export.text.rules import RULE_FIELDS, rules_fingerprint, trusted_fingerprints, untrusted_rules_problem
from sentiment_export.text.spec import PreprocessingSpec
from training.presets import PRESETS

from model_file_edits import reembed

CATASTROPHIC_STEP = {"pattern": "((a+)+)$", "replacement": "$1"}
"""Backtracks exponentially in Python's re: 'a' * 26 + '!' takes seconds, each two more characters x4."""


def _with_spec(source: Path, target: Path, spec: dict) -> Path:
    """A copy of the artifact whose spec.json (and model.pt's embedded copy) is ``spec``, the manifest rehashed
    (file hashes and model.pt's record table), as someone who wrote such an artifact would."""
    copy = Path(shutil.copytree(source, target))
    text = json.dumps(spec, indent=2) + "\n"
    (copy / "spec.json").write_text(text, encoding="utf-8")
    records = reembed(copy / "model.pt", lambda files: {**files, "spec.json": text})
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["torchscript"]["records"] = records
    for name in ("spec.json", "model.pt"):
        manifest["files"][name].update(sha256=sha256_file(copy / name), size=(copy / name).stat().st_size)
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return copy


@pytest.fixture
def hostile_artifact(exported_artifact: Path, tmp_path: Path) -> Path:
    spec = json.loads((exported_artifact / "spec.json").read_text(encoding="utf-8"))
    spec["tokenizer_steps"].insert(0, CATASTROPHIC_STEP)
    return _with_spec(exported_artifact, tmp_path / "hostile", spec)


def test_every_preset_ships_a_trusted_rule_set() -> None:
    for name, preset in PRESETS.items():
        assert rules_fingerprint(preset.spec().to_dict()) in trusted_fingerprints(), name


def test_fields_that_are_not_rules_do_not_change_the_fingerprint() -> None:
    base = PreprocessingSpec()
    other = base.with_overrides(max_length=7, truncation_side="left", padding_side="left")
    assert rules_fingerprint(other.to_dict()) == rules_fingerprint(base.to_dict())
    assert set(RULE_FIELDS) <= set(base.to_dict())


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"url_pattern": "(a+)+b"}, r"url_pattern = \"\(a\+\)\+b\""),
        ({"lowercase": False}, r"lowercase = false"),
        ({"digit_pattern": "[0-9]+"}, r"digit_pattern"),
    ],
)
def test_a_changed_rule_is_named(change: dict, named: str) -> None:
    spec = {**PreprocessingSpec().to_dict(), **change}
    problem = untrusted_rules_problem(spec)
    assert problem is not None and "not a rule set sentiment_export ships" in problem
    assert re.search(named, problem)


def test_changed_and_removed_steps_are_named_once_each() -> None:
    spec = PreprocessingSpec().to_dict()
    steps = spec["tokenizer_steps"]
    spec["tokenizer_steps"] = [steps[0], {"pattern": "(x+)+y", "replacement": ""}, *steps[2:5], *steps[7:]]
    problem = untrusted_rules_problem(spec)
    assert problem is not None
    assert re.search(r"tokenizer_steps: step 1 \{\"pattern\": \"\(x\+\)\+y\".* is not a shipped step; shipped steps 5\.\.6 are missing$", problem)


def test_a_hostile_spec_is_refused_at_load_naming_the_step_and_the_opt_in(hostile_artifact: Path) -> None:
    with pytest.raises(ArtifactError, match=r"spec\.json: its preprocessing rules .* tokenizer_steps: step 0 [^;]*\(a\+\)\+[^;]* is not a "
                       r"shipped step\. .*trust_custom_rules=True \(CLI: --trust-custom-rules\)"):
        load_artifact(hostile_artifact)
    with pytest.raises(ArtifactError, match=r"not a rule set sentiment_export ships"):
        SentimentModel.load(hostile_artifact, device="cpu")


def test_with_the_opt_in_a_custom_spec_loads_and_scores(hostile_artifact: Path) -> None:
    artifact = load_artifact(hostile_artifact, trust_custom_rules=True)
    assert artifact.encoder().spec.tokenizer_steps[0] == CATASTROPHIC_STEP
    model = SentimentModel.load(hostile_artifact, device="cpu", trust_custom_rules=True)
    assert len(model.predict(["aaa!", "fine"])) == 2  # short texts: the pattern is slow only on long runs


@pytest.mark.parametrize("command", [["info"], ["verify"], ["predict", "--device", "cpu", "good"]])
def test_the_cli_refuses_a_custom_spec_with_usage_or_check_status(hostile_artifact: Path, command: list[str], capsys) -> None:
    argv = [command[0], *(["--artifact"] if command[0] == "predict" else []), str(hostile_artifact), *command[1:]]
    status = main(argv)
    err = capsys.readouterr().err
    assert status == (1 if command[0] == "verify" else 2)
    assert err.startswith("error: ") and "--trust-custom-rules" in err and "Traceback" not in err


def test_info_with_the_opt_in_reads_a_custom_spec(hostile_artifact: Path, capsys) -> None:
    assert main(["info", "--trust-custom-rules", str(hostile_artifact)]) == 0
    assert capsys.readouterr().out.startswith("tiny 1.0.0")


def test_the_server_refuses_a_custom_spec_unless_told_to_trust_it(hostile_artifact: Path) -> None:
    from sentiment_export.serving.http.errors import ServeError
    from sentiment_export.serving.http.registry import load_models

    with pytest.raises(ServeError, match=r"cannot serve .*not a rule set sentiment_export ships.*--trust-custom-rules"):
        load_models([hostile_artifact], device="cpu", precision="fp32", threads=1)
    registry = load_models([hostile_artifact], device="cpu", precision="fp32", threads=1, trust_custom_rules=True)
    assert registry.get("tiny").model.predict(["fine"])
