"""CPU benchmark of the fused LIF op; same as `python -m spikeops bench`."""
import sys

from spikeops.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
