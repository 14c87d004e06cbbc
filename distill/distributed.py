"""Running under `torchrun`: one process per device, torch.distributed DDP (gloo on CPU, nccl
on CUDA). Single-process runs never touch torch.distributed. Students too large for one
device: wrap the model with torch's FSDP (`torch.distributed.fsdp.fully_shard`) where `wrap`
puts DDP; the loop's sums, normaliser and rank-0 writes stay as they are."""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import distributed as dist
from torch import nn

from distill.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class World:
    """This process's rank among `size` processes (rank 0 of 1 when not under torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over every rank (float64 on the wire)."""
        if self.size == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=_wire_device())
        dist.all_reduce(t)
        return [float(v) for v in t.cpu()]

    def all_true(self, flag: bool) -> bool:
        """True when `flag` holds on every rank: every rank then takes the same branch."""
        return flag if self.size == 1 else self.sum([0.0 if flag else 1.0])[0] == 0.0

    def gather(self, value: Any) -> list[Any]:
        """Every rank's `value`, in rank order (each rank gets the whole list)."""
        if self.size == 1:
            return [value]
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, value)
        return out

    def broadcast(self, value: Any) -> Any:
        """Rank 0's `value`, on every rank."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def _wire_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def init(device: torch.device) -> tuple[World, torch.device]:
    """Join the process group torchrun describes (WORLD_SIZE, RANK, LOCAL_RANK); on CUDA
    each process takes the GPU of its local rank. Returns the world and the device to use."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World(), device
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ConfigError(f"local rank {local} has no GPU: use --nproc_per_node <= GPUs")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(_shutdown)
    return World(rank=rank, size=size, local_rank=local), device


def _shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """DDP around `model` when there are several ranks (it averages gradients in backward)."""
    if world.size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def local_slice(indices: Any, world: World) -> Any:
    """This rank's contiguous share of one global micro-batch of window indices."""
    if len(indices) % world.size:
        raise ConfigError(
            f"batch size {len(indices)} is not divisible by {world.size} processes: "
            "the global batch is split evenly across ranks"
        )
    per = len(indices) // world.size
    return indices[world.rank * per : (world.rank + 1) * per]
