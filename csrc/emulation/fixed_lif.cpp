// The CUDA kernels of csrc/cuda/fixed_lif.cu, compiled for the host emulation.
#include "../cuda/fixed_lif.cu"
