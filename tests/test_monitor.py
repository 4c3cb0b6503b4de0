"""spikeops.monitor: the Monitor's records (spikes, membranes, firing rates) against the model's
own outputs and hand-computed values, in multi-step and step-by-step models, for spikeops,
snnTorch and SpikingJelly neurons; hook removal, unchanged gradients, argument errors; and the
raster, membrane and firing-rate plots."""
import copy
import gc
import sys
import weakref

import pytest
import torch
from torch import nn

import spikeops
from spikeops.monitor import Monitor, firing_rate_plot, membrane_plot, raster
from spikeops.nn import FSNeuron, SoftLIF, SubstepLIF

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T, B = 6, 3


def two_layer_net(step_mode="multi"):
    return nn.Sequential(nn.Linear(4, 8), spikeops.LIF(decay=0.8, step_mode=step_mode), nn.Linear(8, 5),
                         spikeops.IF(step_mode=step_mode))


def inputs():
    return torch.rand(T, B, 4) * 2


def hooks_of(model):
    return sum(len(m._forward_hooks) for m in model.modules())


# ----------------------------------------------------------------------------- recording

def test_records_equal_the_layers_outputs_multi_step():
    """Every neuron layer is found; the records are the layers' actual outputs, one per call,
    and two multi-step calls join along time to [2T, B, ...]."""
    net = two_layer_net()
    x1, x2 = inputs(), inputs()
    with Monitor(net) as mon:
        out1, out2 = net(x1), net(x2)
    assert mon.names == ("1", "3")
    hidden1, hidden2 = net[1](net[0](x1)), net[1](net[0](x2))
    assert len(mon.records["1"]) == 2 and len(mon.records["3"]) == 2
    assert torch.equal(mon.records["1"][0], hidden1) and torch.equal(mon.records["3"][1], out2)
    assert mon.spikes("3").shape == (2 * T, B, 5)
    assert torch.equal(mon.spikes("3"), torch.cat([out1, out2]))
    assert torch.equal(mon.spikes("1"), torch.cat([hidden1, hidden2]))
    assert hidden1.sum() > 0  # the comparison is not between all-zero tensors


def test_step_loop_records_stack_to_time_batch_neurons():
    """A model run one step at a time (single-step neurons) gives [T, B, ...] records equal to
    the stacked outputs, and those equal the multi-step model's spikes."""
    single = two_layer_net("single")
    multi = two_layer_net()
    multi.load_state_dict(single.state_dict())
    x = inputs()
    with Monitor(single) as mon:
        outs = [single(x_t) for x_t in x]
    assert len(mon.records["3"]) == T and mon.records["3"][0].shape == (B, 5)
    assert mon.spikes("3").shape == (T, B, 5)
    assert torch.equal(mon.spikes("3"), torch.stack(outs))
    assert torch.equal(mon.spikes("1"), multi[1](multi[0](x)))


def test_firing_rates_equal_hand_computed_means():
    """IF neurons on a constant 0.5 fire at steps 2 and 4 of 6 (1/3); a layer fed zeros never
    fires; the rate covers every call, also calls of different batch sizes."""
    net = nn.Sequential(spikeops.IF(), nn.Linear(2, 2), spikeops.IF())
    with torch.no_grad():
        net[1].weight.zero_()
        net[1].bias.zero_()
    with Monitor(net) as mon:
        out = net(torch.full((T, B, 2), 0.5))
        assert torch.equal(mon.records["0"][0][:, 0, 0], torch.tensor([0., 0., 1., 0., 1., 0.]))
        net(torch.full((T, 1, 2), 0.5))
    rates = mon.firing_rates()
    assert rates == {"0": pytest.approx(1 / 3), "2": 0.0}
    assert out.sum() == 0
    # random spikes: the rate is the number of spikes over neurons x steps of all calls
    lif = nn.Sequential(spikeops.LIF(decay=0.7))
    a, b = torch.rand(T, B, 7) * 2, torch.rand(2 * T, 1, 7) * 2
    with Monitor(lif) as mon:
        sa, sb = lif(a), lif(b)
    want = (sa.sum() + sb.sum()).item() / (sa.numel() + sb.numel())
    assert 0 < want < 1
    assert mon.firing_rates()["0"] == pytest.approx(want, rel=1e-12)


def test_hooks_removed_on_exit_and_remove():
    """After the with block (or remove()) forwards record nothing, the records stay readable,
    and no hook is left on the model; remove() twice is harmless."""
    net = two_layer_net()
    x = inputs()
    with Monitor(net) as mon:
        assert hooks_of(net) == 2
        net(x)
    assert hooks_of(net) == 0
    net(x)
    assert len(mon.records["1"]) == 1 and mon.spikes("1").shape == (T, B, 8)
    mon2 = Monitor(net)
    net(x)
    mon2.remove()
    mon2.remove()
    net(x)
    assert hooks_of(net) == 0 and len(mon2.records["3"]) == 1
    assert "removed" in repr(mon2)


def test_clear_forgets_records_and_keeps_recording():
    """clear() empties the records; the hooks stay and record the next calls."""
    net = two_layer_net()
    x = inputs()
    with Monitor(net) as mon:
        net(x)
        mon.clear()
        assert mon.records == {"1": [], "3": []}
        out = net(x)
    assert torch.equal(mon.spikes("3"), out)


def test_layers_by_name_or_module_any_module_and_tuple_outputs():
    """layers picks modules by name or object (duplicates once); any module's output can be
    recorded (a module other than a neuron counts as one step per call); of a tuple output the
    first element is recorded."""

    class Pair(nn.Module):
        def forward(self, x):
            return x * 2, x - 1

    net = nn.Sequential(nn.Linear(4, 8), spikeops.LIF(decay=0.8), Pair())
    x = inputs()
    with Monitor(net, layers=[net[0], "0", "2", net[1]]) as mon:
        out, _ = net(x)
    assert mon.names == ("0", "2", "1")
    assert torch.equal(mon.records["0"][0], net[0](x).detach())
    assert torch.equal(mon.spikes("0"), net[0](x).detach().unsqueeze(0))
    assert torch.equal(mon.records["2"][0], out)
    with Monitor(net, layers="1") as mon:  # a single name
        net(x)
    assert mon.names == ("1",)


def test_all_spikeops_neuron_kinds_found_and_scaled_spikes_counted_once():
    """FSNeuron, SoftLIF and SubstepLIF are neuron layers too; SubstepLIF's amplitude/dt spikes
    count one spike each in the firing rate."""
    k = torch.tensor([1.0, 0.5, 0.25])
    net = nn.Sequential(SubstepLIF(), nn.Linear(3, 3), FSNeuron(k, k, k), SoftLIF(), nn.ReLU())
    x = torch.rand(40, 2, 3) * 3
    with Monitor(net) as mon:
        net(x)
    assert mon.names == ("0", "2", "3")
    spikes = net[0](x)
    assert spikes.max() > 1  # scaled by amplitude / dt
    assert mon.firing_rates()["0"] == pytest.approx((spikes != 0).double().mean().item())


def test_records_are_copies_on_the_requested_device():
    """Records are copies: modifying the output in place afterwards does not change them;
    to_cpu=False keeps them where the outputs were."""

    class Zero(nn.Module):
        def forward(self, x):
            return x.zero_()

    net = nn.Sequential(nn.Linear(4, 8), spikeops.LIF(decay=0.8), Zero())
    x = inputs()
    with torch.no_grad(), Monitor(net, to_cpu=False) as mon:
        net(x)
    assert torch.equal(mon.spikes("1"), net[1](net[0](x)).detach())
    assert mon.spikes("1").sum() > 0
    assert mon.spikes("1").device == x.device


# ----------------------------------------------------------------------------- gradients

@pytest.mark.parametrize("record", [("spikes",), ("spikes", "membrane")])
def test_gradients_unchanged_and_graph_not_kept(record):
    """Backward through a monitored model gives the gradients of the unmonitored one; records
    carry no graph and keep no output alive."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), spikeops.LIF(decay=0.8, learn_threshold=True), nn.Linear(8, 5),
                        spikeops.LIF(decay=0.9, learn_decay=True))
    twin = copy.deepcopy(net)
    x = inputs()
    weights = torch.linspace(-1, 1, T * B * 5).view(T, B, 5)
    (twin(x) * weights).sum().backward()
    with Monitor(net, record=record) as mon:
        out = net(x)
        (out * weights).sum().backward()
    for (name, p), (_, q) in zip(net.named_parameters(), twin.named_parameters()):
        assert p.grad is not None and torch.equal(p.grad, q.grad), name
    for calls in list(mon.records.values()) + list(mon.membrane_records.values()):
        for rec in calls:
            assert rec.grad_fn is None and not rec.requires_grad
    ref = weakref.ref(out)
    del out
    gc.collect()
    assert ref() is None


# ----------------------------------------------------------------------------- membrane (spikeops LIF)

def test_membrane_of_lif_multi_step_is_the_pre_spike_membrane():
    """IF neurons on a constant 0.5 (threshold 1, reset by subtraction): the membrane before the
    spike test is 0.5, 1.0, 1.5, 1.0, 1.5, 1.0, and spikes are where it exceeds the threshold."""
    net = nn.Sequential(spikeops.IF())
    with Monitor(net, record=("spikes", "membrane")) as mon:
        assert net[0].record_membrane is True
        net(torch.full((T, B, 2), 0.5))
    assert net[0].record_membrane is False
    v = mon.membrane("0")
    assert v.shape == (T, B, 2)
    want = torch.tensor([0.5, 1.0, 1.5, 1.0, 1.5, 1.0]).view(T, 1, 1).expand(T, B, 2)
    torch.testing.assert_close(v, want)
    assert torch.equal(mon.spikes("0"), (v > 1.0).float())


def test_membrane_of_lif_step_loop_stacks_and_switch_restored():
    """Single-step LIF membranes ([B, ...] per call) stack to [T, B, ...], equal to those of the
    multi-step neuron; a record_membrane the user had switched on stays on after removal."""
    x = torch.rand(T, B, 5) * 1.5
    multi = nn.Sequential(spikeops.LIF(decay=0.8))
    single = nn.Sequential(spikeops.LIF(decay=0.8, step_mode="single"))
    single[0].record_membrane = True
    with Monitor(multi, record="membrane") as mon_multi:
        multi(x)
    with Monitor(single, record=["membrane"]) as mon_single:
        for x_t in x:
            single(x_t)
    assert single[0].record_membrane is True and multi[0].record_membrane is False
    assert mon_single.membrane_records["0"][0].shape == (B, 5)
    assert mon_single.membrane("0").shape == (T, B, 5)
    torch.testing.assert_close(mon_single.membrane("0"), mon_multi.membrane("0"))
    assert mon_single.records["0"] == []  # spikes were not asked for


# ----------------------------------------------------------------------------- argument errors

def test_bad_record_and_layer_arguments_name_them():
    """Unknown record kinds, unknown layer names (valid names listed, truncated), foreign
    modules, wrong types and models without neurons raise, naming the argument."""
    net = two_layer_net()
    with pytest.raises(ValueError, match="record.*voltage"):
        Monitor(net, record=("spikes", "voltage"))
    with pytest.raises(ValueError, match="record"):
        Monitor(net, record=())
    with pytest.raises(TypeError, match="record"):
        Monitor(net, record=1)
    with pytest.raises(ValueError, match=r"layers: 'nope'.*valid names: '0', '1', '2', '3'"):
        Monitor(net, layers=["nope"])
    big = nn.Sequential(*[nn.Identity() for _ in range(30)], spikeops.IF())
    with pytest.raises(ValueError, match=r"'11' and 19 more"):
        Monitor(big, layers=["1", "missing"])
    with pytest.raises(ValueError, match="not a module of the model"):
        Monitor(net, layers=[spikeops.IF()])
    with pytest.raises(TypeError, match="layers"):
        Monitor(net, layers=[3])
    with pytest.raises(ValueError, match="layers is empty"):
        Monitor(net, layers=[])
    with pytest.raises(ValueError, match="no neuron modules"):
        Monitor(nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(TypeError, match="model"):
        Monitor("net")
    assert hooks_of(net) == 0 and hooks_of(big) == 0


@pytest.mark.parametrize("layer", ["0", "2"])
def test_membrane_of_a_layer_without_one_raises_naming_it(layer):
    """record='membrane' on a Linear or a SoftLIF fails at construction, naming the layer,
    and attaches nothing."""
    net = nn.Sequential(nn.Linear(4, 4), spikeops.LIF(decay=0.8), SoftLIF())
    with pytest.raises(ValueError, match=f"layer '{layer}'.*no membrane"):
        Monitor(net, layers=["1", layer], record=("spikes", "membrane"))
    assert hooks_of(net) == 0 and not getattr(net[1], "record_membrane", False)


def test_accessor_errors():
    """Unmonitored names, kinds not recorded, empty records and calls of different shapes
    raise clear errors; the firing rate still covers calls of different shapes."""
    net = two_layer_net()
    mon = Monitor(net)
    with pytest.raises(ValueError, match="nothing recorded"):
        mon.spikes("1")
    assert all(r != r for r in mon.firing_rates().values())  # NaN before any call
    net(inputs())
    net(torch.rand(T, 1, 4))
    mon.remove()
    with pytest.raises(ValueError, match="'0' is not monitored; monitored: '1', '3'"):
        mon.spikes("0")
    with pytest.raises(ValueError, match="membrane is not recorded"):
        mon.membrane("1")
    with pytest.raises(ValueError, match="different shapes"):
        mon.spikes("1")
    assert 0 <= mon.firing_rates()["1"] <= 1
    only_membrane = Monitor(net, record="membrane")
    only_membrane.remove()
    with pytest.raises(ValueError, match="spikes are not recorded"):
        only_membrane.firing_rates()


# ----------------------------------------------------------------------------- peers

def test_snntorch_model_accelerated_with_spikeops():
    """An snnTorch model in its own step loop, accelerated by spikeops: its Leaky is found by
    default, the spikes and membranes equal those the loop returned, also with init_hidden."""
    snn = pytest.importorskip("snntorch")
    from spikeops.integrations import snntorch as so

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 6)
            self.lif = snn.Leaky(beta=0.8, threshold=0.7)

        def forward(self, x):
            mem, spikes, mems = None, [], []
            for x_t in x:
                spk, mem = self.lif(self.fc(x_t), mem)
                spikes.append(spk)
                mems.append(mem)
            return torch.stack(spikes), torch.stack(mems)

    net = so.accelerate(Net())
    assert isinstance(net.lif, so.Leaky)
    x = inputs()
    with Monitor(net, record=("spikes", "membrane")) as mon:
        spikes, mems = net(x)
    assert mon.names == ("lif",)
    assert spikes.sum() > 0
    assert torch.equal(mon.spikes("lif"), spikes) and torch.equal(mon.membrane("lif"), mems)

    seq = so.accelerate(nn.Sequential(nn.Linear(4, 6), snn.Leaky(beta=0.8, init_hidden=True)))
    with Monitor(seq, record=("spikes", "membrane")) as mon:
        outs, mems = [], []
        for x_t in x:
            outs.append(seq(x_t))
            mems.append(seq[1].mem.clone())
    assert torch.equal(mon.spikes("1"), torch.stack(outs)) and torch.equal(mon.membrane("1"), torch.stack(mems))


def test_spikingjelly_model_multi_and_single_step():
    """A SpikingJelly model: in multi-step mode the spikes equal the output and the membrane is
    v_seq (store_v_seq on while attached, then restored); in single-step mode the records stack
    to [T, B, ...]; its spikeops-accelerated copy records the same spikes."""
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import functional, layer, neuron

    from spikeops.integrations import spikingjelly as so

    net = nn.Sequential(layer.Linear(4, 6), neuron.LIFNode(tau=2.0, v_threshold=0.5))
    functional.set_step_mode(net, "m")
    x = inputs()
    with Monitor(net, record=("spikes", "membrane")) as mon:
        assert net[1].store_v_seq is True
        out = net(x)
        v_seq = net[1].v_seq.clone()
    assert net[1].store_v_seq is False
    assert out.sum() > 0
    assert torch.equal(mon.spikes("1"), out) and torch.equal(mon.membrane("1"), v_seq)
    assert mon.membrane("1").shape == (T, B, 6)

    functional.reset_net(net)  # its membrane is part of the graph, which deepcopy refuses
    fast = so.accelerate(copy.deepcopy(net))
    with Monitor(fast) as mon_fast:
        fast(x)
    assert torch.equal(mon_fast.spikes("1"), out)

    functional.set_step_mode(net, "s")
    functional.reset_net(net)
    with Monitor(net, record=("spikes", "membrane")) as mon:
        outs, vs = [], []
        for x_t in x:
            outs.append(net(x_t))
            vs.append(net[1].v.clone())
    assert torch.equal(mon.spikes("1"), torch.stack(outs)) and torch.equal(mon.spikes("1"), out)
    assert torch.equal(mon.membrane("1"), torch.stack(vs))
    torch.testing.assert_close(mon.membrane("1"), v_seq)  # SpikingJelly's two modes round differently


# ----------------------------------------------------------------------------- plots

def assert_png(path):
    data = path.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_SIGNATURE)


def test_raster_marks_every_spike_and_writes_png(tmp_path):
    """The raster has one mark per non-zero entry at (step, neuron) of the chosen batch element,
    neurons flattened; the PNG is written; an existing axes is drawn on."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    spikes = (torch.rand(20, 3, 2, 5) < 0.2).float()
    fig = raster(spikes, tmp_path / "raster.png", sample=1, title="layer 1")
    assert isinstance(fig, Figure)
    assert_png(tmp_path / "raster.png")
    ax = fig.axes[0]
    assert ax.get_title() == "layer 1"
    marks = sorted((float(seg[0][0]), float(seg[0][1] + seg[1][1]) / 2) for seg in ax.collections[0].get_segments())
    flat = spikes[:, 1].reshape(20, 10)
    want = sorted((float(t), float(n)) for t, n in flat.nonzero().tolist())
    assert len(want) > 0 and marks == want

    host = Figure()
    ax = host.add_subplot()
    assert raster(spikes[:, 0, 0], ax=ax) is host and len(ax.collections) == 1


def test_membrane_plot_traces_threshold_and_png(tmp_path):
    """One trace per chosen neuron (the first 8 by default) with the membrane's values, a dashed
    threshold line, and a PNG."""
    pytest.importorskip("matplotlib")
    v = torch.randn(15, 2, 20)
    fig = membrane_plot(v, tmp_path / "membrane.png", sample=1, neurons=[3, 17], threshold=0.75)
    assert_png(tmp_path / "membrane.png")
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3
    for line, n in zip(lines, [3, 17]):
        assert list(line.get_ydata()) == pytest.approx(v[:, 1, n].tolist())
    assert lines[2].get_linestyle() == "--" and list(lines[2].get_ydata()) == [0.75, 0.75]
    assert len(membrane_plot(v[:, 0]).axes[0].get_lines()) == 8
    with pytest.raises(ValueError, match="neurons"):
        membrane_plot(v, neurons=[20])


def test_firing_rate_plot_bars_from_a_monitor(tmp_path):
    """The bars are the monitor's firing rates, one per layer, and the PNG is written."""
    pytest.importorskip("matplotlib")
    net = two_layer_net()
    with Monitor(net) as mon:
        net(inputs())
    rates = mon.firing_rates()
    fig = firing_rate_plot(rates, tmp_path / "rates.png")
    assert_png(tmp_path / "rates.png")
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == pytest.approx(list(rates.values()))
    assert [t.get_text() for t in ax.get_xticklabels()] == list(rates)
    with pytest.raises(TypeError, match="rates"):
        firing_rate_plot([0.1, 0.2])
    with pytest.raises(ValueError, match="rates"):
        firing_rate_plot({})


def test_plot_argument_errors():
    """Non-tensors, tensors of rank < 2 and out-of-range samples raise, naming the argument."""
    pytest.importorskip("matplotlib")
    with pytest.raises(TypeError, match="spikes"):
        raster([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="spikes"):
        raster(torch.zeros(5))
    with pytest.raises(ValueError, match="sample"):
        raster(torch.zeros(5, 2, 3), sample=2)
    with pytest.raises(TypeError, match="membrane"):
        membrane_plot(None)
    with pytest.raises(ValueError, match="membrane"):
        membrane_plot(torch.zeros(()))


def test_plots_without_matplotlib_say_how_to_install(monkeypatch):
    """Without matplotlib the plots raise ImportError naming the package to install."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        raster(torch.zeros(4, 3))
    with pytest.raises(ImportError, match="pip install matplotlib"):
        firing_rate_plot({"a": 0.5})
