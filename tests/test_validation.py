"""Bad input raises a clear error naming the argument."""
import pytest
import torch

import spikeops
from spikeops import functional as F
from spikeops.kinds import ResetMode, SurrogateKind

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
    (dict(gain=float("inf")), "gain"),
    (dict(gain=torch.tensor([1.0, 1, 1, float("nan"), 1, 1])), "gain"),
    (dict(threshold=float("nan")), "threshold"),
    (dict(threshold=float("inf")), "threshold"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        F.lif(X, **kwargs)


@pytest.mark.parametrize("kwargs,match", [
    (dict(gain=torch.ones(6, dtype=torch.int64)), "gain"),
    (dict(decay="0.5"), "decay"),
    (dict(refractory=2.0), "refractory"),
    (dict(age_init=True), "age_init"),
])
def test_parameters_of_the_wrong_type(kwargs, match):
    with pytest.raises(TypeError, match=match):
        F.lif(X, **kwargs)


def test_non_floating_input():
    with pytest.raises(TypeError, match="x must be a float32 or float64 tensor"):
        F.lif(torch.ones(4, 6, dtype=torch.int32))


def test_half_precision_on_cpu_is_rejected():
    with pytest.raises(TypeError, match="x must be a float32 or float64 tensor on CPU"):
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
    with pytest.raises(ValueError, match=r"state.v\) must have shape \[6\]"):
        F.lif(X, F.LIFState(torch.zeros(5)))
    with pytest.raises(TypeError, match=r"state.refractory\) must have dtype int32, got float32"):
        F.lif(X, F.LIFState(torch.zeros(6), torch.zeros(6)), refractory=1)
    with pytest.raises(TypeError, match="state must be a spikeops.functional.LIFState"):
        F.lif(X, (torch.zeros(6),))


def test_state_on_another_device():
    meta_v = torch.zeros(6, device="meta")
    with pytest.raises(ValueError, match=r"state.v\) is on meta"):
        F.lif(X, F.LIFState(meta_v))


def test_parameter_on_another_device():
    with pytest.raises(ValueError, match=r"threshold \(theta\) is on meta"):
        F.lif(X, threshold=torch.ones(6, device="meta"))


def _op_forward(x, *, reset=ResetMode.subtract, surrogate=SurrogateKind.atan, v0=None, decay=0.5, out=None):
    one = torch.tensor(1.0)
    kw = dict(v0=v0, alpha=one * decay, gamma=one, theta=one, reset=reset, v_reset=0.0, deferred_reset=False)
    if out is not None:
        return torch.ops.spikeops.lif_forward_out(x, **kw, spikes=out[0], v=out[1], saved_h=out[2])
    return torch.ops.spikeops.lif_forward(x, r0=None, a0=None, **kw, refractory=0, detach_reset=False,
                                          surrogate=surrogate, sg_height=1.0, sg_width=2.0, track_age=False,
                                          age_init=1000, return_ages=False, save_for_backward=False)


def test_op_level_checks_name_the_argument():
    x = torch.randn(3, 4)
    with pytest.raises(ValueError, match=r"v0 .* must have shape"):
        _op_forward(x, v0=torch.zeros(3))
    with pytest.raises(ValueError, match="reset must be"):
        _op_forward(x, reset=7)
    with pytest.raises(ValueError, match="surrogate must be"):
        _op_forward(x, surrogate=9)


def test_out_ops_check_what_the_functional_ops_check():
    x = torch.randn(3, 4)
    out = (torch.empty(3, 4), torch.empty(4), torch.empty(3, 4))
    with pytest.raises(ValueError, match=r"decay \(alpha\) must lie in \[0, 1\]"):
        _op_forward(x, decay=1.5)
    with pytest.raises(ValueError, match=r"decay \(alpha\) must lie in \[0, 1\]"):
        _op_forward(x, decay=1.5, out=out)
    with pytest.raises(ValueError, match=r"decay \(alpha\) must lie in \[0, 1\]"):
        torch.ops.spikeops.lif_backward_out(x, x, torch.tensor(-0.5), torch.tensor(1.0), torch.tensor(1.0), 0, 0.0,
                                            False, False, 0, 1.0, 2.0, torch.empty(3, 4))
    with pytest.raises(TypeError, match="spikes must have dtype float32, got float64"):
        _op_forward(x, out=(torch.empty(3, 4, dtype=torch.float64),) + out[1:])


def test_the_python_enums_mirror_the_kernels():
    assert [m.name for m in ResetMode] == ["subtract", "zero", "none"]
    assert [m.name for m in SurrogateKind] == ["atan", "fast_sigmoid", "sigmoid", "triangle", "rectangle", "stdb"]
    assert [m.value for m in SurrogateKind] == list(range(6))
    for cls in (spikeops.surrogate.ATan, spikeops.surrogate.STDB, spikeops.surrogate.Rectangle):
        assert SurrogateKind[cls.name] == cls.kind


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
    with pytest.raises(ValueError, match="width"):
        spikeops.surrogate.Rectangle(width=-1.0, height=1.0)
    with pytest.raises(TypeError, match="width"):
        spikeops.surrogate.FastSigmoid(slope="25")
    with pytest.raises(ValueError, match="beta"):
        spikeops.surrogate.STDB(beta=-1.0)
