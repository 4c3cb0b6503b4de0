"""Norse parity: spikeops.integrations.norse against Norse's own LIFBoxCell, step by step and
fused over T (LIFBox): same spikes, membrane and input gradients."""
import pytest
import torch
from torch import nn

pytest.importorskip("norse", reason="Norse is a pinned test dependency")
import norse.torch as nt  # noqa: E402
from norse.torch.functional.lif_box import LIFBoxParameters  # noqa: E402
from norse.torch.functional.reset import reset_subtract  # noqa: E402

from spikeops.integrations import norse as so  # noqa: E402

PARAMS = {
    "default": LIFBoxParameters(),
    "leak_reset_threshold": LIFBoxParameters(tau_mem_inv=torch.tensor(200.0), v_leak=torch.tensor(0.2),
                                             v_th=torch.tensor(0.9), v_reset=torch.tensor(-0.1)),
    "per_neuron": LIFBoxParameters(tau_mem_inv=torch.linspace(50, 300, 20), v_th=torch.linspace(0.5, 1.5, 20)),
    "subtract": LIFBoxParameters(reset_method=reset_subtract),
}


def run_cell(cell, x):
    state, zs, vs = None, [], []
    for t in range(x.shape[0]):
        z, state = cell(x[t], state)
        zs.append(z)
        vs.append(state.v)
    return torch.stack(zs), torch.stack(vs)


@pytest.mark.parametrize("name", list(PARAMS))
def test_cell_and_fused_parity(name):
    torch.manual_seed(0)
    p = PARAMS[name]
    theirs = nt.LIFBoxCell(p, dt=0.001)
    ours = so.accelerate(nt.LIFBoxCell(p, dt=0.001))
    assert isinstance(ours, so.LIFBoxCell)
    x = (torch.randn(40, 3, 20) * 20 + 30).requires_grad_()
    w = torch.randn(40, 3, 20)
    z1, v1 = run_cell(theirs, x)
    z2, v2 = run_cell(ours, x)
    assert torch.equal(z1, z2) and z1.sum() > 100
    torch.testing.assert_close(v2, v1, rtol=1e-5, atol=1e-5)
    g1 = torch.autograd.grad((z1 * w).sum() + v1.sum(), x, retain_graph=True)[0]
    g2 = torch.autograd.grad((z2 * w).sum() + v2.sum(), x)[0]
    torch.testing.assert_close(g2, g1, rtol=1e-4, atol=1e-5)
    z3, state = so.LIFBox(p, dt=0.001)(x)
    assert torch.equal(z3, z1)
    torch.testing.assert_close(state.v, v1[-1], rtol=1e-5, atol=1e-5)
    g3 = torch.autograd.grad((z3 * w).sum() + state.v.sum(), x)[0]
    g1_last = torch.autograd.grad((z1 * w).sum() + v1[-1].sum(), x)[0]
    torch.testing.assert_close(g3, g1_last, rtol=1e-4, atol=1e-5)


def test_accelerate_inside_a_model():
    model = nn.ModuleDict({"fc": nn.Linear(5, 7), "lif": nt.LIFBoxCell()})
    so.accelerate(model)
    assert isinstance(model["lif"], so.LIFBoxCell)


@pytest.mark.parametrize("p, match", [
    (LIFBoxParameters(method="tanh"), "method"),
    (LIFBoxParameters(reset_method=reset_subtract, v_leak=torch.tensor(0.1)), "v_leak"),
    (LIFBoxParameters(v_reset=torch.tensor([0.0, 0.1])), "v_reset"),
    (LIFBoxParameters(tau_mem_inv=torch.tensor(5000.0)), "tau_mem_inv"),
])
def test_configurations_that_do_not_map_are_named(p, match):
    with pytest.raises(ValueError, match=match):
        so.accelerate(nt.LIFBoxCell(p))


def test_neurons_left_alone_are_reported_or_refused():
    from spikeops.integrations import NotAccelerated

    model = nn.Sequential(nt.LIFBoxCell(), nt.LIFCell())
    with pytest.warns(UserWarning, match="LIFCell: not supported yet"):
        so.accelerate(model)
    assert isinstance(model[0], so.LIFBoxCell) and type(model[1]) is nt.LIFCell
    with pytest.raises(NotAccelerated, match="LIFCell"):
        so.accelerate(nn.Sequential(nt.LIFCell()), strict=True)
