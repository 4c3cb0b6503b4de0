"""spikeops modules under torch.distributed DistributedDataParallel: 2 processes on the gloo
backend (CPU), each with half the batch, end a training step with the same weights as one
process that sees the whole batch."""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from spikeops.nn import LIF, TimeDistributed

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="torch built without torch.distributed/gloo")
T, BATCH = 6, 16


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(TimeDistributed(nn.Linear(12, 32)), LIF(0.8, learn_threshold=True),
                         TimeDistributed(nn.Linear(32, 4)), LIF(0.9, surrogate="fast_sigmoid"))


def data():
    g = torch.Generator().manual_seed(1)
    return torch.rand(T, BATCH, 12, generator=g) * 1.5, torch.randint(0, 4, (BATCH,), generator=g)


def step(model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    loss = nn.functional.cross_entropy(model(x).mean(0) * 5, y)
    loss.backward()
    opt.step()


def worker(rank, world, port, out_path):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    try:
        model = nn.parallel.DistributedDataParallel(make_model())
        x, y = data()
        half = BATCH // world
        step(model, x[:, rank * half:(rank + 1) * half], y[rank * half:(rank + 1) * half])
        if rank == 0:
            torch.save({k: v.detach().clone() for k, v in model.module.state_dict().items()}, out_path)
        dist.barrier()  # neither process tears gloo down while the other may still talk to it
    finally:
        dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_two_processes_match_one_process_on_the_full_batch(tmp_path):
    out = tmp_path / "ddp.pt"
    mp.start_processes(worker, args=(2, free_port(), str(out)), nprocs=2, join=True, start_method="spawn")
    ddp = torch.load(out)
    single = make_model()
    x, y = data()
    step(single, x, y)
    before = make_model().state_dict()
    after = single.state_dict()
    assert ddp.keys() == after.keys()
    for name, value in after.items():
        torch.testing.assert_close(ddp[name], value, rtol=1e-5, atol=1e-6)
    # the step moved the weights and the learnable threshold
    assert not torch.equal(after["0.module.weight"], before["0.module.weight"])
    assert not torch.equal(after["1.threshold"], before["1.threshold"])
