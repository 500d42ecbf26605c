"""PyTorch CPU running the same DCGAN training step as the simulator's program (benchmark-only; torch
is not a dependency of lergan_cc).

The Table V DCGAN as ``examples/dcgan.lergan`` compiles it: G = dense 100->1024x4x4 (+bias), batch
norm, ReLU, four 5x5 stride-2 T-CONVs (pads 2, output_padding 1; +bias), batch norm and ReLU
between them, tanh at the end; D = four 5x5 stride-2 convolutions (pads 2; +bias), batch norm on
D2-D4, leaky ReLU 0.2, dense 16384->1 and sigmoid. One step = the D step on a real and a fake
batch, then the G step on the same noise (G forward again), plain SGD, the saturating G loss.

Usage: python benchmarks/sim_torch_dcgan.py [--batch 64] [--runs 3] [--threads N]
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch
from torch import nn


def generator() -> nn.Module:
    layers: list[nn.Module] = [nn.Linear(100, 1024 * 16), nn.Unflatten(1, (1024, 4, 4)), nn.BatchNorm2d(1024),
                               nn.ReLU()]
    chans = [1024, 512, 256, 128, 3]
    for i, (c, m) in enumerate(itertools.pairwise(chans)):
        layers.append(nn.ConvTranspose2d(c, m, 5, 2, padding=2, output_padding=1))
        layers += [nn.BatchNorm2d(m), nn.ReLU()] if i < 3 else [nn.Tanh()]
    return nn.Sequential(*layers)


def discriminator() -> nn.Module:
    layers: list[nn.Module] = []
    chans = [3, 128, 256, 512, 1024]
    for i, (c, m) in enumerate(itertools.pairwise(chans)):
        layers.append(nn.Conv2d(c, m, 5, 2, padding=2))
        if i > 0:
            layers.append(nn.BatchNorm2d(m))
        layers.append(nn.LeakyReLU(0.2))
    layers += [nn.Flatten(), nn.Linear(1024 * 16, 1), nn.Sigmoid()]
    return nn.Sequential(*layers)


def step(g: nn.Module, d: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
         noise: torch.Tensor, real: torch.Tensor) -> None:
    bce = nn.BCELoss()
    opt_d.zero_grad()
    fake = g(noise)
    loss_d = bce(d(real), torch.ones(len(real), 1)) + bce(d(fake.detach()), torch.zeros(len(real), 1))
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    loss_g = torch.log(1 - d(g(noise))).mean()  # saturating: G minimises log(1 - D(G(z)))
    loss_g.backward()
    opt_g.step()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    g, d = generator(), discriminator()
    opt_g, opt_d = torch.optim.SGD(g.parameters(), lr=2e-4), torch.optim.SGD(d.parameters(), lr=2e-4)
    noise, real = torch.randn(args.batch, 100), torch.rand(args.batch, 3, 64, 64) * 2 - 1
    step(g, d, opt_g, opt_d, noise, real)  # warm-up
    times, cpu = [], []
    for _ in range(args.runs):
        t, c = time.perf_counter(), time.process_time()
        step(g, d, opt_g, opt_d, noise, real)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    print(f"torch {torch.__version__} threads={torch.get_num_threads()} batch={args.batch}: "
          f"best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s per training step "
          f"(cpu median {sorted(cpu)[len(cpu) // 2]:.3f} s)")


if __name__ == "__main__":
    main()
