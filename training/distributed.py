"""The process group: one process by default, several under ``torchrun`` (DistributedDataParallel).

Rank and world size come from the environment torchrun sets (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``). Backend: NCCL when training on GPUs, gloo on
CPU. A single process uses the same interface with no-op collectives, so the
training loop has one code path.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from sentiment_export.errors import DeviceError

from .config import DEVICES

logger = logging.getLogger(__name__)

COLLECTIVE_TIMEOUT = timedelta(minutes=10)
"""How long a process waits in a collective for the others before it gives up with an error."""


def resolve_device(choice: str, *, local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA when available else CPU; ``cuda`` without a usable GPU raises :class:`DeviceError`."""
    if choice not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {choice!r}")
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceError(
            "--device cuda was requested but torch.cuda.is_available() is False "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); "
            "use --device cpu or --device auto, or install a CUDA build of torch"
        )
    return torch.device("cuda", local_rank)


@dataclass
class DistContext:
    """This process's place in the job, and the few collectives training needs."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and prints progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum of ``values`` over all processes (float64)."""
        if not self.distributed:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self._collective_device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()

    def gather_objects(self, obj: Any) -> list[Any]:
        """``obj`` of every process, in rank order, on every process."""
        if not self.distributed:
            return [obj]
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, obj)
        return gathered

    def broadcast_object(self, obj: Any) -> Any:
        """The main process's ``obj``, on every process."""
        if not self.distributed:
            return obj
        holder = [obj]
        dist.broadcast_object_list(holder, src=0)
        return holder[0]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    @property
    def _collective_device(self) -> torch.device:
        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")


def setup(device_choice: str) -> DistContext:
    """Join the process group when started by torchrun (``WORLD_SIZE`` > 1), else a single-process context."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_choice, local_rank=local_rank)
    context = DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=device)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, timeout=COLLECTIVE_TIMEOUT)
        logger.info("rank %d of %d joined the %s process group on %s", rank, world_size, backend, device)
    return context


def teardown(context: DistContext) -> None:
    """Leave the process group (a no-op for a single process)."""
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()
