// The CUDA kernel of csrc/cuda/lif_substep.cu, compiled for the host emulation.
#include "../cuda/lif_substep.cu"
