// The CUDA kernels of csrc/cuda/lif_backward.cu, compiled for the host emulation.
#include "../cuda/lif_backward.cu"
