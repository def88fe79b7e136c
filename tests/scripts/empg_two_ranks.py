"""Run under `accelerate launch` with 2 processes: each rank modulates its share of one fixed batch.

Writes every rank's EMPG advantages (gathered) to the JSON file named by argv[1], from rank 0.
"""

import json
import sys

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object

from agentrl.algorithms import empg_advantages

# The global batch: rank 0 holds episodes 0 and 1, rank 1 episodes 2 and 3 (ids are global; both ranks'
# first episode would be "episode 0" with local ids). The ranks hold different numbers of steps.
BATCH = {
    "advantages": [0.5, -1.0, 2.0, 0.3, -0.2, 1.5, 0.7],
    "entropies": [0.2, 1.4, 0.9, 0.05, 0.6, 1.1, 2.3],
    "episode_ids": [0, 1, 0, 2, 3, 2, 2],
    "step_ids": [1, 0, 0, 0, 0, 2, 1],
    "rank": [0, 0, 0, 1, 1, 1, 1],
}

if __name__ == "__main__":
    accelerator = Accelerator(cpu=True)
    assert accelerator.num_processes == 2, accelerator.num_processes
    mine = [i for i, r in enumerate(BATCH["rank"]) if r == accelerator.process_index]

    def tensor(key):
        return torch.tensor([BATCH[key][i] for i in mine])

    values = empg_advantages(
        tensor("advantages"), tensor("entropies"), tensor("episode_ids"), tensor("step_ids"), k=1.3, zeta=0.2
    )
    gathered = gather_object([dict(zip(mine, values.tolist(), strict=True))])
    if accelerator.is_main_process:
        merged = {index: value for part in gathered for index, value in part.items()}
        with open(sys.argv[1], "w") as f:
            json.dump([merged[i] for i in range(len(BATCH["rank"]))], f)
    accelerator.wait_for_everyone()
    torch.distributed.destroy_process_group()  # a gloo group left to interpreter exit can abort a rank
