// The CUDA kernels of csrc/cuda/lif_forward.cu, compiled for the host emulation.
#include "../cuda/lif_forward.cu"
