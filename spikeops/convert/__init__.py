"""ANN-to-SNN conversion: rate conversion with data-based normalisation or threshold
balancing (:mod:`spikeops.convert.rate`)."""
from .rate import (activation_scales, convert_rate, evaluate, fold_batchnorm, layers_of, spiking_layers,
                   threshold_balance)

__all__ = ["activation_scales", "convert_rate", "evaluate", "fold_batchnorm", "layers_of", "spiking_layers",
           "threshold_balance"]
