"""A convolutional spiking network written with spikeops' own modules (16C5-MP2-LIF-32C5-MP2-LIF-
FC128-LIF-FC10-LIF, layers applied to all time steps at once with `spikeops.nn.TimeDistributed`,
multi-step `spikeops.LIF` neurons, rate-coded input spikes over 16 steps, the rate
cross-entropy loss) trained on MNIST twice from the same initial weights and the same input
spikes: once with its neurons in pure PyTorch (`spikeops.reference.lif`, a Python loop over
time, autograd for the backward pass), once on spikeops' fused kernels.

    python examples/spikeops_scratch.py --quick   # 10 steps of batch 64, 1,000 test images (< 1 min)
    python examples/spikeops_scratch.py           # one epoch (390 steps of batch 128), the full test set

The full size takes about 6 minutes on 2 CPU cores; the convolutions and pooling, not the neurons,
take most of each step there.

Exits with status 1 if the kernels' first losses leave pure PyTorch's by more than float
rounding allows."""
import argparse
import sys

import torch
from torch import nn

import spikeops
from compare import mnist_batches, report, train_both
from spikeops.datasets import mnist
from spikeops.nn import TimeDistributed, encode_rate
from spikeops.nn.losses import accuracy as rate_accuracy
from spikeops.nn.losses import rate_cross_entropy

NUM_STEPS = 16
DECAY = 0.9


class ReferenceLIF(nn.Module):
    """The same neuron as ``spikeops.LIF(decay)``, in pure PyTorch."""

    def __init__(self, decay):
        super().__init__()
        self.decay = decay

    def forward(self, x):
        return spikeops.reference.lif(x, decay=self.decay)[0]


class Net(nn.Module):
    """Input ``[B, 1, 28, 28]`` in [0, 1]; output spikes ``[T, B, 10]``."""

    def __init__(self, neuron):
        super().__init__()
        self.features = nn.Sequential(
            TimeDistributed(nn.Conv2d(1, 16, 5)), TimeDistributed(nn.MaxPool2d(2)), neuron(DECAY),
            TimeDistributed(nn.Conv2d(16, 32, 5)), TimeDistributed(nn.MaxPool2d(2)), neuron(DECAY),
            TimeDistributed(nn.Flatten()),
            TimeDistributed(nn.Linear(32 * 4 * 4, 128)), neuron(DECAY),
            TimeDistributed(nn.Linear(128, 10)), neuron(DECAY))
        # the network draws its own input spikes, so both runs see the same ones
        self.generator = torch.Generator().manual_seed(0)

    def forward(self, x):
        return self.features(encode_rate(x, NUM_STEPS, generator=self.generator))


def make_net(kernels):
    torch.manual_seed(0)
    net = Net(spikeops.LIF if kernels else ReferenceLIF)
    return net, torch.optim.Adam(net.parameters(), lr=2e-3)


def train_step(net, optimizer, x, y):
    loss = rate_cross_entropy(net(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 training steps of batch 64, 1,000 test images")
    args = parser.parse_args(argv)
    steps, n_test, batch_size = (10, 1000, 64) if args.quick else (390, 10000, 128)
    data = mnist()
    batches = mnist_batches(data, steps, batch_size)

    @torch.no_grad()
    def accuracy(net):
        x, y = data.x_test[:n_test], data.y_test[:n_test]
        spk = torch.cat([net(x[i:i + 500]) for i in range(0, n_test, 500)], dim=1)
        return rate_accuracy(spk, y)

    return report(train_both(make_net, train_step, accuracy, batches, ("pure PyTorch", "spikeops kernels")))


if __name__ == "__main__":
    sys.exit(main())
