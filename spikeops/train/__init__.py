"""Training spiking networks through time: direct surrogate-gradient training
(:mod:`spikeops.train.direct`)."""
from .direct import deep_conv_snn, fit, layer_grad_norms

__all__ = ["deep_conv_snn", "fit", "layer_grad_norms"]
