"""CUDA benchmark of the fused LIF op; same as `python -m spikeops bench --device cuda`."""
import sys

from spikeops.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--device", "cuda", *sys.argv[1:]]))
