"""snnTorch's tutorial 5 network (784-1000-10 fully connected, Leaky neurons, 25 steps,
cross entropy on the output membrane at every step) trained on MNIST twice from the same
initial weights: once with snnTorch as the tutorial writes it, once with the one line

    net = spikeops.integrations.snntorch.accelerate(net)

added. Prints the two runs' losses side by side, their test accuracy and wall time.

    python examples/snntorch_tutorial5.py --quick   # 20 steps, a 2,000-image test set (~1 min)
    python examples/snntorch_tutorial5.py           # one epoch (390 steps), the full test set

Exits with status 1 if the accelerated run's first losses leave the original's by more than
float rounding allows."""
import argparse
import sys

import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn

from compare import mnist_batches, report, train_both
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


def make_net(accelerated):
    torch.manual_seed(0)
    net = Net()
    if accelerated:
        net = accelerate(net)  # the one added line
    return net, torch.optim.Adam(net.parameters(), lr=5e-4, betas=(0.9, 0.999))


def train_step(net, optimizer, x, y):
    loss_fn = nn.CrossEntropyLoss()
    _, mem_rec = net(x.view(len(x), -1))
    loss = sum(loss_fn(mem_rec[t], y) for t in range(NUM_STEPS))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 training steps, 2,000 test images")
    args = parser.parse_args(argv)
    steps, n_test, batch_size = (20, 2000, 128) if args.quick else (390, 10000, 128)
    data = mnist()
    batches = mnist_batches(data, steps, batch_size)

    @torch.no_grad()
    def accuracy(net):
        x, y = data.x_test[:n_test], data.y_test[:n_test]
        spk = torch.cat([net(x[i:i + 1000].view(-1, 784))[0] for i in range(0, n_test, 1000)], dim=1)
        return (spk.sum(0).argmax(1) == y).float().mean().item()

    return report(train_both(make_net, train_step, accuracy, batches, ("snnTorch", "snnTorch + accelerate")))


if __name__ == "__main__":
    sys.exit(main())
