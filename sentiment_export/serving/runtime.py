"""SentimentModel: load an artifact and score raw text through onnxruntime, on CUDA or the CPU.

What a text's score means, for every input:

- ``score`` is P(positive) from the artifact's ONNX model; ``label`` is
  ``"positive"`` iff ``score >= 0.5``.
- A text is encoded by the artifact's own :class:`TextEncoder` (spec.json +
  vocab.txt, nothing else) and truncated by the spec to ``max_length`` tokens.
  A text of megabytes is therefore scored on its first ``max_length`` tokens
  (with the spec's ``truncation_side="right"``); tokenizing it takes time and
  memory linear in its length, and the runtime keeps only the kept ids.
- The empty string and whitespace-only text have no tokens. The model reads
  a row with no tokens as one PAD step, so every such text gets the same
  score: the model's answer with no evidence (:attr:`SentimentModel.empty_score`),
  computed once on load. It is a real model output, not a placeholder;
  callers that want "no text" handled differently check ``text.strip()``
  themselves.
- fp32: a text's score does not depend on the other texts of the call, their
  order or the batch size (within 1e-5): texts are sorted by length, batched,
  each batch is padded only to its own longest text, and the order is restored.
- int8 (``model.int8.onnx``, onnxruntime dynamic quantization) is an
  approximation: activations are quantized with one scale per run, computed
  over the whole padded batch, so a text's int8 score moves with its
  batch-mates and differs from fp32 (by how much: benchmarks/README.md,
  "int8"); labels agree with fp32 on >= 99% of texts (checked at export and
  tested). Use fp32 when a score must be reproducible text by text.

Inputs are validated by :func:`sentiment_export.serving.inputs.as_text_list`; devices
and threads are chosen by :mod:`sentiment_export.serving.providers` (read its doc for
the defaults and the GPU rules). On the CPU a call's batches run
concurrently by default, one onnxruntime thread each
(:mod:`sentiment_export.serving.concurrent_batches`); the batches, and so
every score, are the same as when they run one after the other.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..artifact import signature
from ..artifact.loader import Artifact, load_artifact
from ..text.encoder import TextEncoder
from ..errors import ArtifactError
from .concurrent_batches import ConcurrentBatches, check_concurrent_batches
from .counts import check_count
from .inputs import Texts, as_text_list
from .providers import CUDA, create_session, default_intra_op_threads, ort, session_options

logger = logging.getLogger(__name__)

PRECISIONS = {"fp32": "onnx", "int8": "onnx_int8"}
"""Precision -> the artifact file role that holds that model."""

THRESHOLD = 0.5
POSITIVE = "positive"
NEGATIVE = "negative"
DEFAULT_BATCH_SIZE = 32
"""Texts per onnxruntime run at most: with the two bounds below, the fastest plan swept on a 2-core CPU for
the three presets' networks, fp32 and int8, short and long texts, calls of 32 to 1,000 texts (the sweep:
benchmarks/README.md, "Decisions")."""

PADDED_IDS_PER_TEXT = 64
"""On the CPU a batch also holds at most ``batch_size * 64`` padded ids (:mod:`sentiment_export.text.batching`):
the longest texts of a call go in smaller batches instead of padding the largest one."""

MIN_BATCHES_PER_CALL = 4
"""On the CPU a call of at least 4 texts is cut into at least 4 batches, so that a call of 32 texts keeps
the concurrent runs busy instead of one; the same cut whatever the concurrency, so the same scores (int8's
depend on the batch-mates). Neither bound applies on CUDA, where large batches cost little more than small
ones (not measured there)."""


@dataclass(frozen=True)
class Prediction:
    """One text's result: ``label`` is ``"positive"`` iff ``score`` (P(positive)) >= 0.5."""

    label: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict ``{"label": str, "score": float}``."""
        return asdict(self)


MAX_BATCH_SIZE = 4096
"""Texts per onnxruntime run at most: a batch is padded to its longest text and held whole in memory
(the server's --max-batch-size has the same bound)."""


def batch_plan(batch_size: int, *, on_gpu: bool) -> dict[str, int | None]:
    """How the runtime cuts a call into batches: :meth:`TextEncoder.score_length_sorted`'s keyword arguments.

    On the CPU at most ``batch_size`` texts and ``batch_size *`` :data:`PADDED_IDS_PER_TEXT`
    padded ids per batch, and at least :data:`MIN_BATCHES_PER_CALL` batches; on CUDA
    batches of ``batch_size``. The benchmarks batch their torch ways with it too.
    """
    if on_gpu:
        return {"batch_size": batch_size}
    return {"batch_size": batch_size, "max_padded_ids": batch_size * PADDED_IDS_PER_TEXT, "min_batches": MIN_BATCHES_PER_CALL}


def check_batch_size(batch_size: int) -> int:
    """``batch_size`` if it is an int in [1, :data:`MAX_BATCH_SIZE`]; else TypeError / ValueError naming the bounds."""
    return check_count("batch_size", batch_size, MAX_BATCH_SIZE)


class SentimentModel:
    """An artifact's ONNX model behind one onnxruntime session, scoring raw strings.

    Build it with :meth:`load`. Thread-safe for concurrent ``predict`` calls
    (onnxruntime sessions are); holds no state between calls.
    """

    def __init__(
        self,
        artifact: Artifact,
        encoder: TextEncoder,
        session: ort.InferenceSession,
        *,
        precision: str,
        batch_size: int,
        concurrent_batches: int = 1,
    ) -> None:
        self.artifact = artifact
        self.encoder = encoder
        self.session = session
        self.precision = precision
        self.batch_size = batch_size
        self.concurrent_batches = check_concurrent_batches(concurrent_batches)
        self._map_batches = ConcurrentBatches(concurrent_batches) if concurrent_batches > 1 else map
        self._on_gpu = CUDA in session.get_providers()
        self._input_name = signature.input_names()[0]
        self._output_name = signature.output_names()[0]
        self._check_signature()
        # Warm-up: the first run allocates and initialises kernels; doing it here keeps it out of
        # the first request. The result is also the score of every token-less text.
        self.empty_score = float(self._run(np.full((1, 1), encoder.spec.pad_id, dtype=np.int64))[0])

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        device: str = "auto",
        precision: str = "fp32",
        batch_size: int = DEFAULT_BATCH_SIZE,
        intra_op_threads: int | None = None,
        session_options: ort.SessionOptions | None = None,
        concurrent_batches: int | None = None,
        encoder_backend: str = "auto",
        public_key: str | os.PathLike[str] | None = None,
        trust_custom_rules: bool = False,
    ) -> SentimentModel:
        """Load and verify the artifact at ``path`` (directory, .tar.gz or .zip) and start a session.

        ``device``: ``"auto"`` (CUDA when it really works, else CPU), ``"cpu"``
        or ``"cuda"`` (a :class:`DeviceError` when CUDA cannot be used).
        ``precision``: ``"fp32"`` (``model.onnx``) or ``"int8"``
        (``model.int8.onnx``, dynamically quantized weights: faster on CPU,
        labels agree with fp32 on >= 99% of texts). ``batch_size``: texts per
        onnxruntime run at most (on the CPU fewer for long texts and for small
        calls: :data:`PADDED_IDS_PER_TEXT`, :data:`MIN_BATCHES_PER_CALL`).
        ``concurrent_batches``: batches scored at once, each by its own
        ``session.run``; ``intra_op_threads`` / ``session_options``:
        one run's threads (see :mod:`sentiment_export.serving.providers`; no
        spinning). Defaults: on the CPU, as many concurrent batches as
        :func:`default_intra_op_threads` (the usable CPUs, at most 4) with one
        thread each; when ``intra_op_threads`` or ``session_options`` is
        given, one batch at a time on those threads; on CUDA, one batch at a
        time. ``encoder_backend``: the :class:`TextEncoder` backend
        (``"auto"``, ``"python"`` or ``"native"``; same ids either way).
        ``public_key``: a PEM public key; the artifact must then be signed by
        its private half with every file unchanged (see
        :mod:`sentiment_export.signing`), checked before any session starts.
        ``trust_custom_rules``: accept a spec whose rules are not a rule set
        sentiment_export ships (see :func:`load_artifact`; Python's ``re`` has
        no time bound, so only for artifacts from a source you trust).

        Raises :class:`ArtifactError` for a missing, corrupted or unloadable
        artifact (:class:`SignatureError` when the signature check fails), :class:`DeviceError` as above, and ``ValueError`` /
        ``TypeError`` for bad options.
        """
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {precision!r}")
        check_batch_size(batch_size)  # before the (slow) artifact checks
        sized_by_caller = intra_op_threads is not None or session_options is not None
        if concurrent_batches is None:
            concurrent_batches = 1 if sized_by_caller else default_intra_op_threads()
        check_concurrent_batches(concurrent_batches)
        if not sized_by_caller and concurrent_batches > 1:
            intra_op_threads = 1
        options = _session_options_for(intra_op_threads, session_options)
        artifact = load_artifact(path, public_key=public_key, trust_custom_rules=trust_custom_rules)
        # the native encoder splits a call's texts over as many threads as batches run at once
        encoder = artifact.encoder(backend=encoder_backend, native_threads=concurrent_batches)
        if encoder.spec.padding_side != "right":
            raise ArtifactError(
                f"artifact {artifact.root}: its spec pads on the {encoder.spec.padding_side!r}, but SentimentNet "
                "reads right-padded ids; re-export the artifact with padding_side='right'"
            )
        session = create_session(artifact.file(PRECISIONS[precision]), device=device, options=options)
        on_gpu = CUDA in session.get_providers()
        model = cls(
            artifact, encoder, session, precision=precision, batch_size=batch_size,
            concurrent_batches=1 if on_gpu else concurrent_batches,
        )
        logger.info("loaded %r (%s) on %s", artifact, precision, ", ".join(model.providers))
        if precision == "int8" and model.device == "cuda":
            logger.warning(
                "int8 on CUDA is slower than fp32: onnxruntime has no CUDA kernel for the quantized LSTM "
                "(DynamicQuantizeLSTM), so it runs on the CPU between copies (figures: benchmarks/README.md, "
                "GPU); use precision='fp32' on GPUs"
            )
        return model

    @property
    def batch_size(self) -> int:
        """Texts per onnxruntime run at most; settable (validated) between calls."""
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self._batch_size = check_batch_size(value)

    @property
    def providers(self) -> list[str]:
        """The execution providers the session really has, in priority order."""
        return self.session.get_providers()

    @property
    def device(self) -> str:
        """``"cuda"`` when the session runs on the CUDA provider, else ``"cpu"``."""
        return "cuda" if self._on_gpu else "cpu"

    def __repr__(self) -> str:
        return f"SentimentModel({self.artifact!r}, precision={self.precision!r}, providers={self.providers})"

    def _check_signature(self) -> None:
        problems = signature.session_problems(self.session)
        if problems:
            raise ArtifactError(
                f"artifact {self.artifact.root}: the {self.precision} ONNX model does not match the declared signature: "
                f"{'; '.join(problems)}; re-export it"
            )

    def _run(self, input_ids: np.ndarray) -> np.ndarray:
        """(B, T) int64 -> (B,) float32 probabilities."""
        (probability,) = self.session.run([self._output_name], {self._input_name: input_ids})
        return probability.reshape(-1)

    def predict_proba(self, texts: Texts, *, plan: Mapping[str, int | None] | None = None) -> np.ndarray:
        """P(positive) of each text, in input order, as a float32 array of shape ``(len(texts),)``.

        A single ``str`` (or UTF-8 ``bytes``) is one text. Raises ``TypeError``
        / ``ValueError`` naming the offending index for input that is not
        text (see :func:`sentiment_export.serving.inputs.as_text_list`).
        ``plan`` replaces how the call is cut into batches (the keyword
        arguments of :meth:`TextEncoder.score_length_sorted`; default
        :func:`batch_plan` of the model's batch size), so that a benchmark
        can compare plans through the same path users run.
        """
        rows = self.encoder.encode_ids_batch(as_text_list(texts))
        if plan is None:
            plan = batch_plan(self.batch_size, on_gpu=self._on_gpu)
        else:
            check_batch_size(plan.get("batch_size"))  # a plan's batch is held whole in memory too
        # right padding (checked on load), each batch only to its own longest row
        return self.encoder.score_length_sorted(rows, self._run, **plan, map_batches=self._map_batches)

    def predict(self, texts: Texts) -> list[Prediction]:
        """One :class:`Prediction` per text, in input order (a list even for a single ``str``)."""
        return [
            Prediction(POSITIVE if score >= THRESHOLD else NEGATIVE, float(score))
            for score in self.predict_proba(texts)
        ]


def _session_options_for(intra_op_threads: int | None, options: ort.SessionOptions | None) -> ort.SessionOptions:
    if options is not None and not isinstance(options, ort.SessionOptions):
        raise TypeError(f"session_options must be an onnxruntime.SessionOptions, got {type(options).__name__}")
    return session_options(intra_op_threads=intra_op_threads, base=options)
