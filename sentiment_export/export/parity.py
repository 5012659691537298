"""The verification gate: exported models must give eager PyTorch's answers, or nothing ships.

Kept apart from export (as optimum keeps ``export`` and
``validate_model_outputs`` apart) so that ``verify ARTIFACT`` re-runs exactly
the check that export ran. Each exported model -- the TorchScript file
reloaded from disk, the ONNX model and the int8 ONNX model in onnxruntime
(CPU), and the AOTInductor ``model.pt2`` when there is one -- runs the same id matrices as eager PyTorch: real texts of mixed
lengths, at batch sizes 1, odd and large, one text longer than the spec's
``max_length``, an empty text, and a matrix padded wider than ``max_length``
(none of these is the export's trace example shape). Checks go names and
dtypes, then shapes, then values; every failure is collected and the worst
cases are reported before :class:`ParityError` is raised.
"""

from __future__ import annotations

import json
import math
import os
import random
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..artifact import signature
from ..artifact.loader import load_artifact
from ..errors import ArtifactError, ParityError
from ..modeling.from_artifact import load_eager_model
from ..modeling.net import ProbabilityModel, SentimentNet
from ..serving.known_answer import FP32_ATOL  # one tolerance for the gate and the known-answer check
from ..serving.providers import create_session, session_options
from ..text.encoder import TextEncoder

INT8_ATOL = 0.05
"""Largest allowed |int8 score - eager score|: int8 rounding moves a score, and the amount moves with the
CPU's integer kernels (AVX2, VNNI and AMX give different roundings), so the gate bounds it."""

INT8_MIN_LABEL_AGREEMENT = 0.99
"""Smallest allowed share of the *decisive* texts (eager score more than ``INT8_ATOL`` from 0.5) on which
the int8 label (p >= 0.5) matches eager's. A flip inside that band is within the tolerance: on a small
model a few verification texts score 0.49-0.51, and counting them made the gate pass on one CPU and
fail on another for the same model."""

BATCH_SIZES = (1, 7, 64)
"""Batch of one, an odd size, and a large one."""

VERIFICATION_TEXTS = 200
"""Real texts in the verification set (plus an empty, a one-word and an over-long text)."""

_WORST_CASES = 5
_WIDER_THAN_MAX = 17  # columns of padding beyond max_length in the wide-matrix check

Runner = Callable[[np.ndarray], np.ndarray]
"""(batch, sequence) int64 ids -> (batch,) float32 probabilities."""


def select_verification_texts(
    pool: Sequence[str], encoder: TextEncoder, *, count: int = VERIFICATION_TEXTS, seed: int = 0
) -> list[str]:
    """``count`` texts of ``pool`` spread over its token lengths, plus edge cases, in a mixed order.

    Picks texts at evenly spaced length (character) quantiles (so short and long ones
    are both in), adds the empty text, a one-word text and a text longer than
    ``max_length`` tokens, and shuffles with ``seed`` so that every batch
    mixes lengths (and so needs padding).
    """
    if not pool:
        raise ValueError("the verification pool is empty; pass the texts of a non-empty test file")
    by_length = sorted(pool, key=len)  # characters: a cheap stand-in for token counts
    step = max(1, len(by_length) / count)
    chosen = [by_length[min(len(by_length) - 1, int(i * step))] for i in range(min(count, len(by_length)))]
    longest = by_length[-1] if encoder.tokenize(by_length[-1]) else "good"  # a token-less pool would never grow
    over_long = longest
    while len(encoder.tokenize(over_long)) <= encoder.spec.max_length:
        over_long = f"{over_long} {longest}"
    chosen += ["", "good", over_long]
    random.Random(seed).shuffle(chosen)
    return chosen


@dataclass
class BackendReport:
    """How one exported model compared with eager PyTorch."""

    name: str
    precision: str  # "fp32" or "int8"
    max_abs_diff: float = 0.0
    label_agreement: float = 1.0
    decisive_label_agreement: float = 1.0
    texts: int = 0
    worst: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class ParityReport:
    """Every backend's figures and failures, with the tolerances and shapes they were checked at."""

    fp32_atol: float
    int8_atol: float
    int8_min_label_agreement: float
    batch_sizes: list[int]
    shapes: list[list[int]]
    texts: int
    backends: dict[str, BackendReport]

    @property
    def passed(self) -> bool:
        return all(backend.passed for backend in self.backends.values())

    @property
    def failures(self) -> list[str]:
        return [f"{name}: {failure}" for name, backend in self.backends.items() for failure in backend.failures]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able figures for the manifest (shapes summarised, not listed)."""
        widths = [shape[1] for shape in self.shapes]
        return {
            "passed": self.passed,
            "fp32_atol": self.fp32_atol,
            "int8_atol": self.int8_atol,
            "int8_min_label_agreement": self.int8_min_label_agreement,
            "texts": self.texts,
            "batch_sizes": self.batch_sizes,
            "batches": len(self.shapes),
            "sequence_lengths": {"min": min(widths), "max": max(widths)},
            "backends": {
                name: {key: value for key, value in asdict(backend).items() if key != "name"} | {"passed": backend.passed}
                for name, backend in self.backends.items()
            },
        }

    def describe(self) -> str:
        """A few human lines: verdict, per-backend figures, and each failure with its worst cases."""
        lines = [
            f"parity {'passed' if self.passed else 'FAILED'} on {self.texts} texts, {len(self.shapes)} batches "
            f"(batch sizes {self.batch_sizes}, sequence lengths {min(s[1] for s in self.shapes)}.."
            f"{max(s[1] for s in self.shapes)}); fp32 tolerance {self.fp32_atol:g}, "
            f"int8 tolerance {self.int8_atol:g} and label agreement >= {self.int8_min_label_agreement:.0%} "
            f"on texts scored more than {self.int8_atol:g} from 0.5"
        ]
        for name, backend in self.backends.items():
            lines.append(
                f"  {name} ({backend.precision}): max abs diff {backend.max_abs_diff:.3g}, "
                f"label agreement {backend.label_agreement:.2%} -> {'ok' if backend.passed else 'FAIL'}"
            )
            for failure in backend.failures:
                lines.append(f"    - {failure}")
            if not backend.passed:
                for case in backend.worst:
                    lines.append(
                        f"      text {case['text_index']} (batch size {case['batch_size']}): eager "
                        f"{case['eager']:.6f}, {name} {case['exported']:.6f}, diff {case['abs_diff']:.3g}"
                    )
        return "\n".join(lines)

    def raise_for_failures(self) -> None:
        """Raise :class:`ParityError` with :meth:`describe` as its message if any check failed."""
        if not self.passed:
            raise ParityError(
                self.describe() + "\nThe exported models disagree with eager PyTorch; no artifact is written. "
                "Check the export (eval mode, opset, dynamic axes) and re-export."
            )


def torch_runner(forward: Callable[[torch.Tensor], torch.Tensor]) -> Runner:
    """A runner of any torch callable from ids to probabilities, without autograd."""

    def run(ids: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return forward(torch.from_numpy(ids)).numpy()

    return run


def eager_runner(model: SentimentNet) -> Runner:
    """The reference: eager PyTorch, eval mode, on the CPU."""
    return torch_runner(ProbabilityModel(model).eval())


def torchscript_runner(path: Path) -> Runner:
    """The TorchScript file as a C++ program would load it: from disk, on the CPU."""
    with warnings.catch_warnings():
        # TorchScript is what libtorch loads; this gate checks exactly that file.
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.load` is deprecated", category=DeprecationWarning)
        module = torch.jit.load(str(path), map_location="cpu").eval()
    return torch_runner(module)


def onnx_runner(path: Path) -> tuple[Runner, list[str]]:
    """An onnxruntime CPU session over ``path``, and its signature problems (names, dtypes)."""
    session = create_session(Path(path), device="cpu", options=session_options())
    problems = signature.session_problems(session)
    input_name = signature.input_names()[0]

    def run(ids: np.ndarray) -> np.ndarray:
        return session.run(None, {input_name: ids})[0]

    return run, problems


def _verification_batches(
    encoder: TextEncoder, texts: Sequence[str], batch_sizes: Sequence[int]
) -> list[tuple[int, list[int], np.ndarray]]:
    """(batch size, text indices, ids) for every batch: each batch size over all texts, plus a wide matrix."""
    rows = [encoder.encode_ids(text) for text in texts]
    batches = []
    for size in batch_sizes:
        for start in range(0, len(rows), size):
            indices = list(range(start, min(start + size, len(rows))))
            batches.append((size, indices, encoder.pad([rows[i] for i in indices])))
    wide = list(range(min(len(rows), max(batch_sizes))))
    width = encoder.spec.max_length + _WIDER_THAN_MAX
    batches.append((len(wide), wide, encoder.pad([rows[i] for i in wide], length=width)))
    return batches


def check_parity(
    model: SentimentNet,
    encoder: TextEncoder,
    texts: Sequence[str],
    *,
    torchscript: Path,
    onnx: Path,
    onnx_int8: Path,
    pt2: Path | None = None,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    fp32_atol: float = FP32_ATOL,
    int8_atol: float = INT8_ATOL,
    int8_min_label_agreement: float = INT8_MIN_LABEL_AGREEMENT,
) -> ParityReport:
    """Compare the exported model files with eager ``model`` on ``texts``; never raises for a mismatch.

    ``pt2`` (optional) is the AOTInductor package, checked like TorchScript.

    Returns a :class:`ParityReport`; call its ``raise_for_failures()`` to gate
    on it. A backend that crashes on some shape (a frozen batch or sequence
    dimension) is recorded as a failure naming that shape.
    """
    if not texts:
        raise ValueError("check_parity needs at least one text")
    batches = _verification_batches(encoder, texts, batch_sizes)
    eager = eager_runner(model)
    references = [eager(ids) for _, _, ids in batches]
    backends: list[tuple[BackendReport, Runner | None]] = []
    for name, precision, path, loader in (
        ("torchscript", "fp32", torchscript, lambda p: (torchscript_runner(p), [])),
        ("onnx", "fp32", onnx, onnx_runner),
        ("onnx_int8", "int8", onnx_int8, onnx_runner),
        *([("pt2", "fp32", pt2, _aoti_loader)] if pt2 is not None else []),
    ):
        report = BackendReport(name, precision)
        runner = None
        try:
            runner, problems = loader(path)
            report.failures += problems
        except Exception as error:  # noqa: BLE001 -- any load failure is a gate failure, reported, not raised
            report.failures.append(f"cannot load {path}: {_first_line(error)}")
        backends.append((report, runner))
    for report, runner in backends:
        if runner is not None:
            _compare(report, runner, batches, references, fp32_atol, int8_atol, int8_min_label_agreement)
    return ParityReport(
        fp32_atol=fp32_atol,
        int8_atol=int8_atol,
        int8_min_label_agreement=int8_min_label_agreement,
        batch_sizes=list(batch_sizes),
        shapes=[list(ids.shape) for _, _, ids in batches],
        texts=len(texts),
        backends={report.name: report for report, _ in backends},
    )


def _aoti_loader(path: Path) -> tuple[Runner, list[str]]:
    from .pt2 import aoti_runner  # imports torch._inductor: only when there is a model.pt2

    return aoti_runner(path), []


def _compare(
    report: BackendReport,
    runner: Runner,
    batches: list[tuple[int, list[int], np.ndarray]],
    references: list[np.ndarray],
    fp32_atol: float,
    int8_atol: float,
    int8_min_label_agreement: float,
) -> None:
    cases: list[dict[str, Any]] = []
    for (size, indices, ids), expected in zip(batches, references):
        try:
            got = np.asarray(runner(ids))
        except Exception as error:  # noqa: BLE001 -- a crash at some shape is the trap this gate exists for
            report.failures.append(f"fails on input shape {list(ids.shape)}: {_first_line(error)}")
            continue
        if got.shape != expected.shape or got.dtype != np.float32:
            report.failures.append(
                f"returned shape {list(got.shape)} {got.dtype} for input {list(ids.shape)}; "
                f"expected {list(expected.shape)} float32"
            )
            continue
        for index, eager_value, exported_value in zip(indices, expected.tolist(), got.tolist()):
            finite = math.isfinite(exported_value) and math.isfinite(eager_value)
            diff = abs(exported_value - eager_value) if finite else math.inf
            cases.append(
                {
                    "text_index": index,
                    "batch_size": size,
                    "eager": eager_value,
                    "exported": exported_value,
                    "abs_diff": diff,
                    "label_agrees": (exported_value >= 0.5) == (eager_value >= 0.5),
                }
            )
    if not cases:
        return
    non_finite = [case for case in cases if not (math.isfinite(case["eager"]) and math.isfinite(case["exported"]))]
    if non_finite:
        named = ", ".join(
            f"text {case['text_index']} (batch size {case['batch_size']}): eager {case['eager']}, exported {case['exported']}"
            for case in non_finite[:_WORST_CASES]
        )
        report.failures.append(f"{len(non_finite)} scores are not finite (NaN or inf): {named}")
    report.texts = len({case["text_index"] for case in cases})
    report.max_abs_diff = max(case["abs_diff"] for case in cases)
    report.label_agreement = sum(case["label_agrees"] for case in cases) / len(cases)
    if report.precision == "fp32":
        report.worst = [
            {key: value for key, value in case.items() if key != "label_agrees"}
            for case in sorted(cases, key=lambda case: -case["abs_diff"])[:_WORST_CASES]
        ]
        if report.max_abs_diff > fp32_atol:
            over = sum(case["abs_diff"] > fp32_atol for case in cases)
            report.failures.append(
                f"max abs diff {report.max_abs_diff:.3g} > tolerance {fp32_atol:g} ({over} of {len(cases)} scores)"
            )
    else:
        disagreeing = [case for case in cases if not case["label_agrees"]]
        report.worst = [
            {key: value for key, value in case.items() if key != "label_agrees"}
            for case in sorted(disagreeing or cases, key=lambda case: -case["abs_diff"])[:_WORST_CASES]
        ]
        decisive = [case for case in cases if abs(case["eager"] - 0.5) > int8_atol]
        if decisive:
            report.decisive_label_agreement = sum(case["label_agrees"] for case in decisive) / len(decisive)
        if report.max_abs_diff > int8_atol:
            over = sum(case["abs_diff"] > int8_atol for case in cases)
            report.failures.append(
                f"max abs diff {report.max_abs_diff:.3g} > int8 tolerance {int8_atol:g} ({over} of {len(cases)} scores)"
            )
        if report.decisive_label_agreement < int8_min_label_agreement:
            flipped = sum(not case["label_agrees"] for case in decisive)
            report.failures.append(
                f"label agreement {report.decisive_label_agreement:.2%} < {int8_min_label_agreement:.0%} on the "
                f"{len(decisive)} scores more than {int8_atol:g} from 0.5 ({flipped} labels differ)"
            )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


def verification_record(texts: Sequence[str], model: SentimentNet, encoder: TextEncoder) -> str:
    """``verification.json``: the gate's texts with eager PyTorch's probability for each (one text per batch).

    ``verify ARTIFACT`` re-runs the gate on these texts; other runtimes (the
    C++ demo) can check their scores against the probabilities.
    """
    eager = eager_runner(model)
    probabilities = [float(eager(encoder.encode([text]))[0]) for text in texts]
    record = {"texts": list(texts), "eager_probabilities": probabilities}
    return json.dumps(record, ensure_ascii=False, indent=1) + "\n"


def read_verification_texts(path: Path) -> list[str]:
    """The texts of a ``verification.json`` written by :func:`verification_record`."""
    record = json.loads(Path(path).read_text(encoding="utf-8"))
    return list(record["texts"])


def verify_artifact(path: str | os.PathLike[str], *, trust_custom_rules: bool = False, **tolerances: float) -> ParityReport:
    """Re-check an artifact: the loader's checks (format, every sha256), then the parity gate again.

    Runs the gate on the texts in the artifact's ``verification.json``, with
    eager PyTorch rebuilt from ``weights.safetensors``, at the batch sizes the
    export used. ``tolerances`` (``fp32_atol``, ``int8_atol``, ``int8_min_label_agreement``)
    override the defaults; ``trust_custom_rules`` as for :func:`load_artifact`. Raises :class:`ArtifactError` for a broken
    artifact; returns the report (call ``raise_for_failures()`` to gate).
    """
    artifact = load_artifact(path, trust_custom_rules=trust_custom_rules)
    try:
        texts = read_verification_texts(artifact.file("verification"))
    except (ValueError, KeyError, TypeError) as error:
        raise ArtifactError(f"artifact {artifact.root}: verification.json is not a list of texts ({error}); re-export") from error
    batch_sizes = artifact.manifest.parity.batch_sizes if artifact.manifest.parity else list(BATCH_SIZES)
    return check_parity(
        load_eager_model(artifact),
        artifact.encoder(),
        texts,
        torchscript=artifact.file("torchscript"),
        onnx=artifact.file("onnx"),
        onnx_int8=artifact.file("onnx_int8"),
        pt2=artifact.file("pt2") if artifact.file("pt2").is_file() else None,
        batch_sizes=batch_sizes,
        **tolerances,
    )
