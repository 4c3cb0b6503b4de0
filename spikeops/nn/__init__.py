"""nn.Module front ends and building blocks: neurons, encoders, readouts,
synapses (Linear layers on spikes among them) and the time-distributed wrapper."""
from . import losses
from .encoders import ConstantEncoder, RateEncoder, encode, encode_constant, encode_delta, encode_latency, encode_rate
from .layers import SharedDropout, TimeDistributed
from .neurons import (ALIF, FSNeuron, IF, LIF, PLIF, RecurrentLIF, SoftLIF, SubstepLIF, SynapticLIF, ZOHLIF,
                      filtered_spike_train)
from .readout import integrate, mean_rate, spike_count
from .synapses import AlphaSynapse, SpikeConv2d, SpikeLinear, SynapticFilter, fuse, synaptic_filter

__all__ = ["LIF", "IF", "SynapticLIF", "PLIF", "RecurrentLIF", "ALIF", "SoftLIF", "filtered_spike_train", "ZOHLIF",
           "SubstepLIF", "FSNeuron", "TimeDistributed", "SharedDropout", "ConstantEncoder", "RateEncoder", "encode",
           "encode_constant", "encode_rate", "encode_latency", "encode_delta", "losses", "mean_rate", "spike_count",
           "integrate", "synaptic_filter", "SynapticFilter", "AlphaSynapse", "SpikeLinear", "SpikeConv2d", "fuse"]
