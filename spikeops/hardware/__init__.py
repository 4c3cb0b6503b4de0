"""Fixed-point hardware emulation (docs/math.md §8): quantise a float SNN to the integer
(Loihi-style) neuron, run it in integers beside the float network, and estimate its energy
against the ANN.

    fixed = hardware.quantize(snn)
    print(hardware.compare(snn, fixed, x, y, T, encoder="rate"))              # or a DataLoader of (x, y)
    print(hardware.energy_report(snn, x, T, encoder="rate", ann=ann, ann_input=x[:1]))
"""
from .energy import EnergyCosts, energy_report
from .fixed import FixedLayer, FixedNetwork, compare, quantize, quantize_bias, quantize_weights, weight_exponent

__all__ = ["EnergyCosts", "energy_report", "FixedLayer", "FixedNetwork", "compare", "quantize", "quantize_bias",
           "quantize_weights", "weight_exponent"]
