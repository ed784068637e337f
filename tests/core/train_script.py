"""A tiny deterministic training run, driven by tests/core/test_training.py in a subprocess.

usage: python train_script.py OUT_DIR [--kill-at STEP] [--dropout P] [--batch-size B]
Works under torchrun too (the trainer splits each global batch across the ranks).
Writes OUT_DIR/final.safetensors with the trained weights.
"""

import argparse
import os
import signal

import torch
from safetensors.torch import save_file
from torch import nn

from scisft import LoRAConfig, Plan, Rule, TrainConfig, Trainer
from scisft.distributed import is_main

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--kill-at", type=int, default=-1)
parser.add_argument("--dropout", type=float, default=0.0)
parser.add_argument("--batch-size", type=int, default=8)
parser.add_argument("--epochs", type=int, default=4)
args = parser.parse_args()

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Dropout(args.dropout), nn.Linear(16, 1)).double()
Plan([Rule("0", LoRAConfig(rank=4, dropout=args.dropout))], train=["3.bias"]).apply(model, "a")
g = torch.Generator().manual_seed(1)
x = torch.randn(64, 3, generator=g, dtype=torch.float64)
y = torch.sin(x).sum(1, keepdim=True)
data = [(x[i], y[i]) for i in range(64)]
calls = 0


def loss_fn(net, batch):
    global calls
    calls += 1
    if calls == args.kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    xb = torch.stack([b[0] for b in batch])
    yb = torch.stack([b[1] for b in batch])
    return ((net(xb) - yb) ** 2).mean()


config = TrainConfig(
    epochs=args.epochs, batch_size=args.batch_size, lr=0.02, checkpoint_every=3, seed=5, progress=False, ema_decay=0.9
)
Trainer(model, loss_fn, config, args.out, collate=list).fit(data, data[:16])
world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
if is_main():
    print(f"world size {world}")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, os.path.join(args.out, "final.safetensors"))
