"""snnTorch's tutorial 6 convolutional network (12C5-MP2-64C5-MP2-FC10, Leaky neurons with
init_hidden, 50 steps, fast-sigmoid surrogate, the rate cross-entropy loss, `utils.reset(net)`
before every batch) trained on MNIST twice from the same initial weights: with snnTorch as the
tutorial writes it, and with the one line

    net = spikeops.integrations.snntorch.accelerate(net)

added. Prints the two runs' losses side by side, their test accuracy and wall time.

    python examples/snntorch_tutorial6.py --quick   # 10 steps of batch 64, 500 test images (~1 min)
    python examples/snntorch_tutorial6.py           # 200 steps of batch 128, the full test set

Exits with status 1 if the accelerated run's first losses leave the original's by more than
float rounding allows."""
import argparse
import sys

import snntorch as snn
import snntorch.functional as SF
import torch
from snntorch import surrogate, utils
from torch import nn

from compare import mnist_batches, report, train_both
from spikeops.datasets import mnist
from spikeops.integrations.snntorch import accelerate

NUM_STEPS = 50


def tutorial_net():
    """The tutorial's network, as the tutorial writes it."""
    spike_grad = surrogate.fast_sigmoid(slope=25)
    beta = 0.5
    return nn.Sequential(nn.Conv2d(1, 12, 5), nn.MaxPool2d(2),
                         snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
                         nn.Conv2d(12, 64, 5), nn.MaxPool2d(2),
                         snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True),
                         nn.Flatten(),
                         nn.Linear(64 * 4 * 4, 10),
                         snn.Leaky(beta=beta, spike_grad=spike_grad, init_hidden=True, output=True))


def forward_pass(net, num_steps, data):
    mem_rec, spk_rec = [], []
    utils.reset(net)  # resets hidden states for all LIF neurons in net
    for _ in range(num_steps):
        spk_out, mem_out = net(data)
        spk_rec.append(spk_out)
        mem_rec.append(mem_out)
    return torch.stack(spk_rec), torch.stack(mem_rec)


def make_net(accelerated):
    torch.manual_seed(0)
    net = tutorial_net()
    if accelerated:
        net = accelerate(net)  # the one added line
    return net, torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.9, 0.999))


def train_step(net, optimizer, x, y):
    spk_rec, _ = forward_pass(net, NUM_STEPS, x)
    loss_val = SF.ce_rate_loss()(spk_rec, y)
    optimizer.zero_grad()
    loss_val.backward()
    optimizer.step()
    return loss_val.item()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 training steps of batch 64, 500 test images")
    args = parser.parse_args(argv)
    steps, n_test, batch_size = (10, 500, 64) if args.quick else (200, 10000, 128)
    data = mnist()
    batches = mnist_batches(data, steps, batch_size)

    @torch.no_grad()
    def accuracy(net):
        x, y = data.x_test[:n_test], data.y_test[:n_test]
        spk = torch.cat([forward_pass(net, NUM_STEPS, x[i:i + 500])[0] for i in range(0, n_test, 500)], dim=1)
        return SF.accuracy_rate(spk, y)

    return report(train_both(make_net, train_step, accuracy, batches, ("snnTorch", "snnTorch + accelerate")))


if __name__ == "__main__":
    sys.exit(main())
