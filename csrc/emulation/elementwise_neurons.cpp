// The CUDA kernels of csrc/cuda/elementwise_neurons.cu, compiled for the host emulation.
#include "../cuda/elementwise_neurons.cu"
