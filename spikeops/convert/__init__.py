"""ANN-to-SNN conversion: rate conversion with data-based normalisation or threshold
balancing (:mod:`spikeops.convert.rate`), soft-LIF networks to ZOH LIF neurons
(:mod:`spikeops.convert.soft_lif`), FS-neuron conversion (:mod:`spikeops.convert.fs`)."""
from .fs import PUBLISHED_RANGE, FSCode, convert_fs, fit_fs, fs_activity, published_code, relu_code
from .rate import (activation_scales, convert_rate, evaluate, fold_batchnorm, fold_into, layers_of, spiking_layers,
                   threshold_balance)
from .soft_lif import convert_soft_lif, evaluate_window, soft_lif_ann

__all__ = ["activation_scales", "convert_rate", "evaluate", "fold_batchnorm", "fold_into", "layers_of",
           "spiking_layers", "threshold_balance", "convert_soft_lif", "evaluate_window", "soft_lif_ann", "FSCode",
           "convert_fs", "fit_fs", "fs_activity", "relu_code", "published_code", "PUBLISHED_RANGE"]
