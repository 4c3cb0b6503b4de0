// The CUDA kernels of csrc/cuda/lif_fixed.cu, compiled for the host emulation.
#include "../cuda/lif_fixed.cu"
