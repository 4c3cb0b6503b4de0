"""NIR export and import: round trips through the graph and through a file give the same
spikes; a graph written by snnTorch's exporter imports and reproduces snnTorch's spikes."""
import numpy as np
import pytest
import torch
from torch import nn

nir = pytest.importorskip("nir", reason="nir is a pinned test dependency")
from spikeops.nir import export_nir, import_nir  # noqa: E402
from spikeops.nn import LIF, SynapticFilter, TimeDistributed  # noqa: E402

DT = 1e-3


def louder(model, gain=3.0):
    """Larger, mostly positive weights, so that every layer spikes."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                m.weight.mul_(gain).add_(0.05)
    return model


def mlp():
    torch.manual_seed(0)
    return louder(nn.Sequential(
        TimeDistributed(nn.Linear(12, 30)), LIF(0.9, threshold=0.8, reset="zero"),
        TimeDistributed(nn.Linear(30, 20, bias=False)), LIF(1.0, gain=0.5, reset="zero", v_reset=-0.1),
        TimeDistributed(nn.Linear(20, 6)), SynapticFilter(0.004, DT), LIF(torch.linspace(0.6, 0.95, 6), reset="zero")))


def convnet():
    torch.manual_seed(0)
    return louder(nn.Sequential(
        TimeDistributed(nn.Conv2d(2, 4, 3, padding=1)), LIF(0.8, reset="zero"), TimeDistributed(nn.AvgPool2d(2)),
        TimeDistributed(nn.Flatten()), TimeDistributed(nn.Linear(4 * 4 * 4, 5)), LIF(0.7, reset="zero")))


@pytest.mark.parametrize("make, shape", [(mlp, (12,)), (convnet, (2, 8, 8))])
def test_round_trip_gives_the_same_spikes(make, shape, tmp_path):
    model = make()
    graph = export_nir(model, shape, dt=DT)
    kinds = [type(n).__name__ for n in graph.nodes.values()]
    assert kinds[0] == "Input" and kinds[-1] == "Output"
    nir.write(tmp_path / "model.nir", graph)
    back = import_nir(nir.read(tmp_path / "model.nir"), dt=DT)
    x = torch.rand(20, 5, *shape) * 2
    with torch.no_grad():
        a, b = model(x), back(x)
    assert a.mean() > 0.05
    assert (a != b).float().mean() < 1e-3  # identical up to float rounding of 1 - dt / (dt / (1 - decay))
    if make is mlp:
        assert kinds[1:-1] == ["Affine", "LIF", "Linear", "IF", "Affine", "CubaLIF"]


def test_graph_from_snntorch_exporter_reproduces_snntorch():
    snn = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 20),
                        snn.Leaky(beta=torch.rand(20) * 0.3 + 0.6, threshold=torch.ones(20), reset_mechanism="zero",
                                  init_hidden=True),
                        nn.Linear(20, 4),
                        snn.Leaky(beta=torch.full((4,), 0.8), threshold=torch.full((4,), 0.5), reset_mechanism="zero",
                                  init_hidden=True))
    louder(net, 2.0)
    graph = export_to_nir(net, torch.randn(10))
    ours = import_nir(graph, dt=1e-4)  # snnTorch's exporter writes tau = dt / (1 - beta) with dt = 1e-4
    x = torch.rand(30, 8, 10) * 1.5
    for m in net.modules():
        if hasattr(m, "reset_mem"):
            m.reset_mem()
    with torch.no_grad():
        theirs = torch.stack([net(x[t]) for t in range(30)])
        mine = ours(x)
    assert theirs.mean() > 0.05
    assert torch.equal(mine, theirs)


def test_what_does_not_map_is_named():
    with pytest.raises(ValueError, match="subtract"):
        export_nir(nn.Sequential(TimeDistributed(nn.Linear(2, 3)), LIF(0.5)), (2,))
    with pytest.raises(TypeError, match="no NIR form"):
        export_nir(nn.Sequential(nn.ReLU()), (2,))
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": [3]}),
                                "lif": nir.LIF(tau=np.full(3, 1e-2), r=np.ones(3), v_leak=np.full(3, 0.1),
                                               v_threshold=np.ones(3)),
                                "output": nir.Output(output_type={"output": [3]})},
                         edges=[("input", "lif"), ("lif", "output")])
    with pytest.raises(ValueError, match="v_leak"):
        import_nir(graph)
