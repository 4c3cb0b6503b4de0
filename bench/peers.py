"""Peer benchmark (spikeops vs snnTorch, SpikingJelly, Norse, Sinabs); same as
`python -m spikeops bench --peers`."""
import sys

from spikeops.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--peers", *sys.argv[1:]]))
