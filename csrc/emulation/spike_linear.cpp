// The CUDA kernels of csrc/cuda/spike_linear.cu, compiled for the host emulation.
#include "../cuda/spike_linear.cu"
