"""SpikingJelly's convolutional tutorial network (the CSNN of its Fashion-MNIST example:
{Conv3x3-BN-IFNode-MaxPool2} x2, Flatten, Linear-IFNode, Linear-IFNode, 128 channels, ATan
surrogate, multi-step mode, the image fed directly for T = 4 steps, MSE of the output firing
rate against one-hot labels, `functional.reset_net(net)` after every batch, SGD with lr 0.1 and
momentum 0.9) trained on MNIST twice from the same initial weights: with SpikingJelly as written
(its default 'torch' backend), and with the one line

    net = spikeops.integrations.spikingjelly.accelerate(net)

added. Prints the two runs' losses side by side, their test accuracy and wall time.

    python examples/spikingjelly_conv.py --quick   # 8 steps of batch 32, 500 test images (< 1 min)
    python examples/spikingjelly_conv.py           # 200 steps of batch 128, the full test set

On 2 CPU cores one training step of batch 128 takes about 3.5 s with SpikingJelly and 1.5 s
accelerated, so the full size stops after 200 steps (about 20 minutes for both runs and both
test passes). The tutorial's cosine learning-rate schedule steps once per epoch, so within
this first part of an epoch the rate stays 0.1 and it is left out.

Exits with status 1 if the accelerated run's first losses leave the original's by more than
float rounding allows."""
import argparse
import sys

import torch
import torch.nn.functional as F
from spikingjelly.activation_based import functional, layer, neuron, surrogate
from torch import nn

from compare import mnist_batches, report, train_both
from spikeops.datasets import mnist
from spikeops.integrations.spikingjelly import accelerate

T = 4
CHANNELS = 128


class CSNN(nn.Module):
    """The tutorial's network, as the tutorial writes it."""

    def __init__(self, T: int, channels: int):
        super().__init__()
        self.T = T
        self.conv_fc = nn.Sequential(
            layer.Conv2d(1, channels, kernel_size=3, padding=1, bias=False),
            layer.BatchNorm2d(channels),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
            layer.MaxPool2d(2, 2),  # 14 x 14
            layer.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False),
            layer.BatchNorm2d(channels),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
            layer.MaxPool2d(2, 2),  # 7 x 7
            layer.Flatten(),
            layer.Linear(channels * 7 * 7, channels * 4 * 4, bias=False),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
            layer.Linear(channels * 4 * 4, 10, bias=False),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
        )
        functional.set_step_mode(self, step_mode="m")

    def forward(self, x):
        x_seq = x.unsqueeze(0).expand(self.T, -1, -1, -1, -1)  # [N, C, H, W] -> [T, N, C, H, W]
        return self.conv_fc(x_seq).mean(0)  # firing rate [N, 10]


def make_net(accelerated):
    torch.manual_seed(0)
    net = CSNN(T=T, channels=CHANNELS)
    if accelerated:
        net = accelerate(net)  # the one added line
    return net, torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)


def train_step(net, optimizer, x, y):
    optimizer.zero_grad()
    out_fr = net(x)
    loss = F.mse_loss(out_fr, F.one_hot(y, 10).float())
    loss.backward()
    optimizer.step()
    functional.reset_net(net)
    return loss.item()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 training steps of batch 32, 500 test images")
    args = parser.parse_args(argv)
    steps, n_test, batch_size = (8, 500, 32) if args.quick else (200, 10000, 128)
    data = mnist()
    batches = mnist_batches(data, steps, batch_size)

    @torch.no_grad()
    def accuracy(net):
        net.eval()
        correct = 0
        for i in range(0, n_test, 250):
            x, y = data.x_test[i:min(i + 250, n_test)], data.y_test[i:min(i + 250, n_test)]
            correct += (net(x).argmax(1) == y).sum().item()
            functional.reset_net(net)
        return correct / n_test

    return report(train_both(make_net, train_step, accuracy, batches,
                             ("SpikingJelly", "SpikingJelly + accelerate")))


if __name__ == "__main__":
    sys.exit(main())
