"""Execution-provider selection: one onnxruntime session, on the device it really got.

onnxruntime quietly falls back to the CPU when the CUDA provider cannot start
(missing driver, CUDA or cuDNN libraries), so the provider list a session was
asked for proves nothing; what counts is ``session.get_providers()``.

- ``"cpu"``: the CPU provider only.
- ``"cuda"``: CUDA first (device 0; pick another GPU with ``CUDA_VISIBLE_DEVICES``),
  and a :class:`DeviceError` when the session did not get it — never a silent
  CPU fallback.
- ``"auto"``: CUDA when this onnxruntime build has the CUDA provider, an NVIDIA
  driver is present and a session really gets the provider; otherwise the CPU.
  On a machine without an NVIDIA driver CUDA is not even tried, so a CPU-only
  box (even with ``onnxruntime-gpu`` installed) logs no CUDA errors.

TF32 is off in the CUDA provider (``use_tf32=0``): on Ampere/Hopper GPUs it is
on by default, and its 10-bit mantissa rounds each product far more coarsely
than the runtime's 1e-5 parity with eager PyTorch in fp32 allows.

Threads: by default a session uses ``min(4, CPUs this process may run on)``
intra-op threads, one inter-op thread (sequential execution) and no
spin-waiting, so that on a small shared box (2 cores) idle ORT threads do not
burn the CPU that request handling needs. Pass ``intra_op_threads`` or your
own ``SessionOptions`` to change that. ``SentimentModel`` on the CPU instead
runs that many batches at once on one thread each, unless its caller sizes
the session (:mod:`sentiment_export.serving.concurrent_batches`).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

try:
    import onnxruntime as ort
    from onnxruntime.capi import onnxruntime_pybind11_state as _ort_errors
except ImportError as _missing:  # the base install has no runtime: the [cpu] or [gpu] extra brings one
    raise ImportError(
        "sentiment_export needs onnxruntime, which its extras install: pip install 'sentiment_export[cpu]', "
        "or 'sentiment_export[gpu]' on an NVIDIA GPU machine (from a checkout: pip install '.[cpu]')"
    ) from _missing

from ..artifact.provenance import RUNTIME_DISTRIBUTIONS, distribution_version
from ..cpus import usable_cpus
from ..errors import ArtifactError, DeviceError

logger = logging.getLogger(__name__)

GPU_REQUIREMENT = "onnxruntime-gpu>=1.31.1,<1.33"
"""The [gpu] extra's pin (pyproject.toml), as the install hints name it."""
GPU_INSTALL = f"pip uninstall -y onnxruntime && pip install '{GPU_REQUIREMENT}'"
"""How a CPU-only install gets the CUDA build (the [gpu] extra's pin; both share one module, so the CPU one goes)."""

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
DEVICES = ("auto", "cpu", "cuda")
CUDA_OPTIONS = {"device_id": "0", "use_tf32": "0"}
_MAX_DEFAULT_THREADS = 4
_NVIDIA_DRIVER_FILES = ("/proc/driver/nvidia/version", "/dev/nvidiactl")

# What onnxruntime raises when a model file cannot be turned into a session.
_SESSION_ERRORS = (
    _ort_errors.Fail,
    _ort_errors.InvalidArgument,
    _ort_errors.InvalidGraph,
    _ort_errors.InvalidProtobuf,
    _ort_errors.NoSuchFile,
    _ort_errors.NotImplemented,
    _ort_errors.RuntimeException,
)


def default_intra_op_threads() -> int:
    """CPUs this process may use, at most 4 (an LSTM this size gains little beyond that)."""
    return min(_MAX_DEFAULT_THREADS, usable_cpus())


MAX_INTRA_OP_THREADS = 256
"""The most onnxruntime threads a session may ask for (the CLIs' --ort-threads bound, ``cli.options.MAX_THREADS``);
a larger number creates threads until the machine runs out of them."""


def session_options(
    *, intra_op_threads: int | None = None, base: ort.SessionOptions | None = None
) -> ort.SessionOptions:
    """The runtime's default ``SessionOptions`` (see the module doc), or ``base`` with only the threads set.

    ``base`` is used as given (its thread settings included) unless
    ``intra_op_threads`` is passed too.
    """
    bad_threads = (
        isinstance(intra_op_threads, bool)
        or not isinstance(intra_op_threads, int)
        or not 1 <= intra_op_threads <= MAX_INTRA_OP_THREADS
    )
    if intra_op_threads is not None and bad_threads:
        raise ValueError(f"intra_op_threads must be an integer between 1 and {MAX_INTRA_OP_THREADS}, got {intra_op_threads!r}")
    if base is not None:
        if intra_op_threads is not None:
            base.intra_op_num_threads = intra_op_threads
        return base
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads or default_intra_op_threads()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: no per-session warnings in a server's log
    return options


def installed_runtimes() -> dict[str, str]:
    """The onnxruntime distributions installed here, name -> version (both share the module ``onnxruntime``)."""
    versions = {name: distribution_version(name) for name in RUNTIME_DISTRIBUTIONS}
    return {name: version for name, version in versions.items() if version is not None}


@functools.lru_cache(maxsize=1)
def warn_if_both_runtimes() -> None:
    """Warn once per process when the CPU and GPU distributions are both installed.

    They write the same files, so whichever was installed last decides which
    build ``import onnxruntime`` gets, and a later ``pip install`` of one
    silently breaks the other.
    """
    found = installed_runtimes()
    if len(found) > 1:
        logger.warning(
            "both onnxruntime %s and onnxruntime-gpu %s are installed; they overwrite each other's files, "
            "so which build runs depends on install order. Keep one: pip uninstall -y onnxruntime onnxruntime-gpu "
            f"&& pip install '{GPU_REQUIREMENT}' (GPU) or pip install onnxruntime==1.32.0 (CPU)",
            found["onnxruntime"], found["onnxruntime-gpu"],
        )


def cuda_in_build() -> bool:
    """Whether this onnxruntime build has the CUDA provider at all (``onnxruntime-gpu``)."""
    return CUDA in ort.get_available_providers()


def nvidia_driver_present() -> bool:
    """Whether an NVIDIA kernel driver is loaded, without touching any CUDA library."""
    return any(Path(name).exists() for name in _NVIDIA_DRIVER_FILES)


def _create(model_path: Path, providers: list, options: ort.SessionOptions) -> ort.InferenceSession:
    try:
        return ort.InferenceSession(str(model_path), sess_options=options, providers=providers)
    except _SESSION_ERRORS as error:
        raise ArtifactError(f"onnxruntime cannot load the model {model_path}: {error}") from error


def _cuda_unavailable(reason: str) -> DeviceError:
    return DeviceError(
        f"device='cuda' was requested but {reason}. On an NVIDIA GPU machine install the CUDA build of "
        f"onnxruntime in place of the CPU one: {GPU_INSTALL} (the [gpu] extra; 1.31 wheels are built for CUDA 13 "
        "with cuDNN 9; see the README's GPU section), or load with device='auto' or device='cpu'"
    )


def _preload_cuda_libraries() -> None:
    """Load CUDA and cuDNN from the ``nvidia-*`` wheels (or a compatible torch) before the CUDA provider.

    Serving never imports torch, which would otherwise have loaded them; without
    this the provider finds them only on the system's library path. What cannot
    be loaded is left to the session, whose failure names it.
    """
    preload = getattr(ort, "preload_dlls", None)  # onnxruntime >= 1.21
    if preload is not None:
        try:
            preload()
        except OSError as error:
            logger.debug("onnxruntime.preload_dlls: %s", error)


def create_session(model_path: Path, *, device: str, options: ort.SessionOptions) -> ort.InferenceSession:
    """One ``InferenceSession`` on ``device`` (``auto``/``cpu``/``cuda``), checked against what it got.

    Raises ``ValueError`` for an unknown device, :class:`DeviceError` when
    ``device="cuda"`` and the session did not get the CUDA provider, and
    :class:`ArtifactError` when onnxruntime cannot load the model file.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    warn_if_both_runtimes()
    if device == "cpu":
        return _create(model_path, [CPU], options)
    if device == "cuda" and not cuda_in_build():
        raise _cuda_unavailable(
            f"this onnxruntime {ort.__version__} has no CUDA provider "
            f"(it has {', '.join(ort.get_available_providers())})"
        )
    if device == "auto" and not (cuda_in_build() and nvidia_driver_present()):
        return _create(model_path, [CPU], options)
    _preload_cuda_libraries()
    session = _create(model_path, [(CUDA, dict(CUDA_OPTIONS)), CPU], options)
    if CUDA in session.get_providers():
        return session
    if device == "cuda":
        raise _cuda_unavailable(
            "onnxruntime could not start its CUDA provider (no usable GPU, or the CUDA / cuDNN "
            "libraries its build needs are missing: onnxruntime logs which one)"
        )
    return session  # auto: the same session, which fell back to the CPU provider
