"""snnTorch's tutorial 5 network (784-1000-10 fully connected, Leaky neurons, 25 steps,
cross entropy on the output membrane at every step) trained on MNIST twice from the same
initial weights: once with snnTorch as the tutorial writes it, once with the one line

    net = spikeops.integrations.snntorch.accelerate(net)

added. Prints the two runs' losses side by side, their test accuracy and wall time.

    python examples/snntorch_tutorial5.py --quick   # 20 steps, a 2,000-image test set (~1 min)
    python examples/snntorch_tutorial5.py           # one epoch (390 steps), the full test set

Exits with status 1 if the accelerated run's losses leave the original's by more than float
rounding allows."""
import argparse
import sys
import time

import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn

from spikeops.datasets import mnist
from spikeops.integrations.snntorch import accelerate

NUM_STEPS = 25


class Net(nn.Module):
    """The tutorial's network, as the tutorial writes it."""

    def __init__(self, beta=0.95):
        super().__init__()
        spike_grad = surrogate.atan()
        self.fc1 = nn.Linear(784, 1000)
        self.lif1 = snn.Leaky(beta=beta, spike_grad=spike_grad)
        self.fc2 = nn.Linear(1000, 10)
        self.lif2 = snn.Leaky(beta=beta, spike_grad=spike_grad)

    def forward(self, x):
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        spk2_rec, mem2_rec = [], []
        for _ in range(NUM_STEPS):
            cur1 = self.fc1(x)
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1)
            spk2, mem2 = self.lif2(cur2, mem2)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)


def train(net, data, steps, batch_size):
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(net.parameters(), lr=5e-4, betas=(0.9, 0.999))
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(data.x_train), generator=g)
    losses = []
    start = time.perf_counter()
    for i in range(steps):
        idx = order[i * batch_size:(i + 1) * batch_size]
        x, y = data.x_train[idx].view(len(idx), -1), data.y_train[idx]
        _, mem_rec = net(x)
        loss = sum(loss_fn(mem_rec[t], y) for t in range(NUM_STEPS))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, time.perf_counter() - start


@torch.no_grad()
def accuracy(net, x, y):
    correct = 0
    for i in range(0, len(x), 1000):
        spk, _ = net(x[i:i + 1000].view(-1, 784))
        correct += (spk.sum(0).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 training steps, 2,000 test images")
    args = parser.parse_args(argv)
    steps, n_test, batch_size = (20, 2000, 128) if args.quick else (390, 10000, 128)
    data = mnist()
    results = {}
    for name in ("snnTorch", "snnTorch + spikeops.accelerate"):
        torch.manual_seed(0)
        net = Net()
        if name != "snnTorch":
            net = accelerate(net)  # the one added line
        losses, seconds = train(net, data, steps, batch_size)
        results[name] = (losses, seconds, accuracy(net, data.x_test[:n_test], data.y_test[:n_test]))
    (a_loss, a_time, a_acc), (b_loss, b_time, b_acc) = results.values()
    print(f"{'step':>4} {'snnTorch loss':>14} {'accelerated loss':>17}")
    for i in range(min(10, steps)):
        print(f"{i:>4} {a_loss[i]:>14.6f} {b_loss[i]:>17.6f}")
    print(f"final loss {a_loss[-1]:.6f} vs {b_loss[-1]:.6f}")
    print(f"test accuracy ({n_test} images): snnTorch {a_acc:.4f}, accelerated {b_acc:.4f}")
    print(f"training time ({steps} steps, batch {batch_size}, {torch.get_num_threads()} threads): snnTorch "
          f"{a_time:.1f} s, accelerated {b_time:.1f} s, speedup {a_time / b_time:.2f}x")
    # The first steps agree to float rounding; later ones may drift apart as rounding differences
    # flip a spike, so the check is on the first five.
    drift = max(abs(p - q) / max(abs(p), 1e-6) for p, q in zip(a_loss[:5], b_loss[:5]))
    print(f"largest relative loss difference over the first 5 steps: {drift:.2e}")
    return 0 if drift < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
