"""Training spiking networks through time: direct surrogate-gradient training
(:mod:`spikeops.train.direct`) and hybrid conversion + STDB fine-tuning
(:mod:`spikeops.train.hybrid`); and the ANN a conversion starts from
(:mod:`spikeops.train.ann`)."""
from .ann import accuracy, train_ann
from .direct import deep_conv_snn, fit, layer_grad_norms
from .hybrid import fine_tune_stdb, start_at_half_threshold, use_rathi2020_neurons

__all__ = ["train_ann", "accuracy", "deep_conv_snn", "fit", "layer_grad_norms", "fine_tune_stdb", "start_at_half_threshold",
           "use_rathi2020_neurons"]
