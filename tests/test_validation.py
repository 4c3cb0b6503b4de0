"""Bad input raises a clear error naming the argument."""
import pytest
import torch

import spikeops
from spikeops import functional as F

X = torch.randn(4, 6)


@pytest.mark.parametrize("kwargs,match", [
    (dict(decay=1.5), "decay"),
    (dict(decay=-0.1), "decay"),
    (dict(decay=torch.full((6,), 1.2)), "decay"),
    (dict(threshold=0.0), "threshold"),
    (dict(threshold=-1.0), "threshold"),
    (dict(threshold=torch.tensor([1.0, 1, 1, 1, 1, 0])), "threshold"),
    (dict(tau=0.5), "tau"),
    (dict(decay=0.5, tau=2.0), "decay or tau"),
    (dict(reset="soft"), "reset"),
    (dict(surrogate="gaussian"), "surrogate"),
    (dict(refractory=-1), "refractory"),
    (dict(refractory=2, deferred_reset=True), "deferred_reset"),
    (dict(age_init=-5), "age_init"),
    (dict(v_reset=float("nan")), "v_reset"),
    (dict(decay=torch.ones(5)), "decay"),
    (dict(gain=torch.ones(6, dtype=torch.int64)), "gain"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises((ValueError, RuntimeError), match=match):
        F.lif(X, **kwargs)


def test_non_floating_input():
    with pytest.raises(ValueError, match="x must be a floating point"):
        F.lif(torch.ones(4, 6, dtype=torch.int32))


def test_half_precision_on_cpu_is_rejected():
    with pytest.raises(RuntimeError, match="x must be float32 or float64"):
        F.lif(torch.randn(4, 6).half())


def test_zero_time_steps():
    with pytest.raises(ValueError, match="T >= 1"):
        F.lif(torch.randn(0, 6))
    with pytest.raises(ValueError, match="T >= 1"):
        F.lif(torch.tensor(1.0))


def test_not_a_tensor():
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        F.lif([[1.0, 2.0]])


def test_state_of_wrong_shape_or_type():
    with pytest.raises(ValueError, match=r"state.v must have shape \(6,\)"):
        F.lif(X, F.LIFState(torch.zeros(5)))
    with pytest.raises(ValueError, match="state.refractory must be int32"):
        F.lif(X, F.LIFState(torch.zeros(6), torch.zeros(6)), refractory=1)
    with pytest.raises(ValueError, match="state must be a spikeops.functional.LIFState"):
        F.lif(X, (torch.zeros(6),))


def test_state_on_another_device():
    meta_v = torch.zeros(6, device="meta")
    with pytest.raises(ValueError, match="state.v is on meta"):
        F.lif(X, F.LIFState(meta_v))


def test_parameter_on_another_device():
    with pytest.raises(ValueError, match="threshold is on meta"):
        F.lif(X, threshold=torch.ones(6, device="meta"))


def test_op_level_checks_name_the_argument():
    x = torch.randn(3, 4)
    one = torch.tensor(1.0)
    with pytest.raises(RuntimeError, match="v0 .* must have shape"):
        torch.ops.spikeops.lif_forward(x, torch.zeros(3), None, None, one * 0.5, one, one, 0, 0.0, 0, False, False,
                                       0, 1.0, 2.0, False, 1000, False, False)
    with pytest.raises(RuntimeError, match="reset must be"):
        torch.ops.spikeops.lif_forward(x, None, None, None, one * 0.5, one, one, 7, 0.0, 0, False, False,
                                       0, 1.0, 2.0, False, 1000, False, False)
    with pytest.raises(RuntimeError, match="surrogate must be"):
        torch.ops.spikeops.lif_forward(x, None, None, None, one * 0.5, one, one, 0, 0.0, 0, False, False,
                                       9, 1.0, 2.0, False, 1000, False, False)


def test_backward_without_saved_state_is_an_error():
    x = torch.randn(3, 4, requires_grad=True)
    one = torch.tensor(1.0)
    s = torch.ops.spikeops.lif_forward(x, None, None, None, one * 0.5, one, one, 0, 0.0, 0, False, False, 0, 1.0,
                                       2.0, False, 1000, False, False)[0]
    with pytest.raises(RuntimeError, match="save_for_backward=False"):
        s.sum().backward()


def test_module_arguments():
    with pytest.raises(ValueError, match="step_mode"):
        spikeops.LIF(step_mode="both")
    with pytest.raises(ValueError, match="stateful"):
        spikeops.LIF(step_mode="single", stateful=False)
    with pytest.raises(ValueError, match="reset"):
        spikeops.LIF(reset="hard")
    lif = spikeops.LIF(step_mode="single")
    lif(torch.zeros(3))
    with pytest.raises(ValueError, match="reset_state"):
        lif(torch.zeros(4))


def test_surrogate_arguments():
    with pytest.raises(ValueError, match="width"):
        spikeops.surrogate.Rectangle(width=0.0)
    with pytest.raises(ValueError, match="height"):
        spikeops.surrogate.ATan(height=float("inf"))
    with pytest.raises(ValueError, match="beta"):
        spikeops.surrogate.STDB(beta=-1.0)
