"""One rank of data-parallel training with PyTorch's DistributedDataParallel, as ``torchrun`` starts it.

``python -m torch.distributed.run --standalone --nproc-per-node N -m course_lab.claims.pytorch_ddp OUT STEPS``
starts N processes; ``torchrun`` gives each its ``RANK``, ``WORLD_SIZE`` and the address of the
rendezvous, and this module does the rest: the gloo backend (the CPU one), the CNN notebook's
model wrapped in ``DistributedDataParallel``, and the notebook's training step. Each rank trains on
its share of every global batch of 128; rank 0 writes the losses, the time and how far apart the
replicas' weights ended up to ``OUT`` (JSON). Run only as a process of its own, never imported by
the package.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from course_utils.system import usable_cpus

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .common import BATCH_SIZE, fixed_batches
from .pytorch_cnn import _notebook, _versions


def main(out: str, steps: int) -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    notebook = _notebook()  # seeded: every rank builds the same initial weights, which DDP broadcasts anyway
    torch.set_num_threads(max(1, usable_cpus() // world))
    model = DistributedDataParallel(notebook["model"])
    notebook["model"] = model  # the notebook's train_step calls `model`: now the replicated one

    # The same global batches as one process sees: rank r takes every world-th image of each batch
    # of 128, so that the ranks' shares make up exactly that batch.
    x, y = fixed_batches(steps, channels_first=True)
    images, labels = torch.from_numpy(x), torch.from_numpy(y)
    local = BATCH_SIZE // world
    losses, seconds = [], []
    model.train()
    for step in range(steps):
        batch = slice(step * BATCH_SIZE + rank, (step + 1) * BATCH_SIZE, world)
        began = time.perf_counter()
        loss = notebook["train_step"](images[batch], labels[batch]).detach()
        seconds.append(time.perf_counter() - began)
        dist.all_reduce(loss)  # the mean of the ranks' losses is the loss of the global batch
        losses.append(float(loss) / world)
    weights = torch.cat([parameter.detach().flatten() for parameter in model.module.parameters()])
    replicas = [torch.empty_like(weights) for _ in range(world)]
    dist.all_gather(replicas, weights)
    if rank == 0:
        result = {
            **_versions(),
            "replicas": world,
            "local_batch": local,
            "losses": losses,
            "step_seconds": seconds,
            "replica_max_difference": float(max((replica - weights).abs().max() for replica in replicas)),
            "threads_per_replica": torch.get_num_threads(),
            "launcher": "torchrun" if "TORCHELASTIC_RUN_ID" in os.environ else "other",
        }
        Path(out).write_text(json.dumps(result))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
