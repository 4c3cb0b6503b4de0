"""Command line: ``python -m spikeops info|demo|hw|bench``."""
from __future__ import annotations

import argparse
import sys


def _info(_args) -> int:
    import torch

    import spikeops

    print(f"spikeops {spikeops.__version__}")
    print(f"torch {torch.__version__}")
    print(f"cpu isa: {spikeops.cpu_isa()}")
    print(f"cuda kernels built: {'yes' if spikeops.cuda_built else 'no'}")
    print(f"threads: {torch.get_num_threads()}")
    return 0


def _bench(args) -> int:
    if args.peers:
        from .benchmarks import peers

        return peers.main(args)
    if args.device == "cuda":
        from .benchmarks import cuda

        return cuda.main(args)
    from .benchmarks import cpu

    return cpu.main(args)


def _demo(args) -> int:
    from .apps import demo

    return demo.main(args)


def _hw(args) -> int:
    from .apps import hardware

    return hardware.main(args)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="spikeops", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, torch, CPU ISA in use, whether CUDA kernels were built").set_defaults(
        func=_info)
    d = sub.add_parser("demo", help="the main job: every conversion and training method on MNIST, one table")
    d.add_argument("--quick", action="store_true", help="the 8x8 digits instead of MNIST (about a minute)")
    d.add_argument("--out", default="demo-results", help="folder for table.md, results.json, accuracy_vs_T.png")
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=_demo)
    h = sub.add_parser("hw", help="fixed-point (Loihi-style) emulation of a converted network on the digits, "
                                  "float vs fixed accuracy and energy")
    h.add_argument("--model", default=None,
                   help="a whole nn.Sequential saved with torch.save: a ReLU ANN for 1x8x8 inputs (rate-converted) "
                        "or a spikeops SNN; default: train the demo ANN")
    h.add_argument("--T", type=int, default=32, help="time steps")
    h.add_argument("--draws", type=int, default=3, help="Poisson input draws to average")
    h.add_argument("--ann-epochs", dest="ann_epochs", type=int, default=30)
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--out", default="hw-results", help="folder for table.md and results.json")
    h.set_defaults(func=_hw)
    b = sub.add_parser("bench", help="benchmark the fused LIF op against memory bandwidth and the reference")
    b.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="benchmark the CPU or the CUDA kernels")
    b.add_argument("--quick", action="store_true", help="small shapes and few repeats (a smoke run)")
    b.add_argument("--repeats", type=int, default=None, help="timed repeats per row (default 15 on CPU, 20 on CUDA; quick 3)")
    b.add_argument("--peers", action="store_true", help="spikeops vs snnTorch, SpikingJelly, Norse and Sinabs "
                                                        "(those installed) on the same shapes and dynamics")
    b.add_argument("--out", default="bench/results", help="folder for the JSON and Markdown results")
    b.set_defaults(func=_bench)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
