"""Command line: ``python -m spikeops info|demo|hw|bench``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

SEED_MAX = 2 ** 32 - 1  # the data splits' random_state takes seeds in [0, 2^32 - 1]


def _int_at_least(text: str, lo: int, hi=None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < lo or (hi is not None and value > hi):
        bounds = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
        raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (counts: repeats, time steps, draws, epochs)."""
    return _int_at_least(text, 1)


def random_seed(text: str) -> int:
    """argparse type: a random seed, an integer in [0, 2^32 - 1]."""
    return _int_at_least(text, 0, SEED_MAX)


def _path_kind(text: str) -> str:
    """"file", "dir", "other" or "missing"; ArgumentTypeError for what cannot be a path here."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got an empty string")
    try:
        path = Path(text)
        if not path.exists():
            return "missing"
        return "file" if path.is_file() else "dir" if path.is_dir() else "other"
    except (OSError, ValueError) as e:  # a name too long, a NUL byte
        raise argparse.ArgumentTypeError(f"not a usable path: {getattr(e, 'strerror', None) or e}") from None


def existing_file(text: str) -> str:
    """argparse type: the path of an existing file."""
    if _path_kind(text) != "file":
        raise argparse.ArgumentTypeError(f"no such file: {text!r}")
    return text


def output_dir(text: str) -> str:
    """argparse type: a folder to write results to (created if missing; not an existing file)."""
    if _path_kind(text) not in ("dir", "missing"):
        raise argparse.ArgumentTypeError(f"{text!r} exists and is not a folder")
    return text


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


def build_parser() -> argparse.ArgumentParser:
    """The parser of every subcommand; ``parse_args`` checks every option before any work starts."""
    parser = argparse.ArgumentParser(prog="spikeops", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, torch, CPU ISA in use, whether CUDA kernels were built").set_defaults(
        func=_info)
    d = sub.add_parser("demo", help="the main job: every conversion and training method on MNIST, one table")
    d.add_argument("--quick", action="store_true", help="the 8x8 digits instead of MNIST (about a minute)")
    d.add_argument("--out", type=output_dir, default="demo-results",
                   help="folder for table.md, results.json, accuracy_vs_T.png")
    d.add_argument("--seed", type=random_seed, default=0)
    d.set_defaults(func=_demo)
    h = sub.add_parser("hw", help="fixed-point (Loihi-style) emulation of a converted network on the digits, "
                                  "float vs fixed accuracy and energy")
    h.add_argument("--model", type=existing_file, default=None,
                   help="a whole nn.Sequential saved with torch.save: a ReLU ANN for 1x8x8 inputs (rate-converted) "
                        "or a spikeops SNN; default: train the demo ANN")
    h.add_argument("--T", type=positive_int, default=32, help="time steps")
    h.add_argument("--draws", type=positive_int, default=3, help="Poisson input draws to average")
    h.add_argument("--ann-epochs", dest="ann_epochs", type=positive_int, default=30)
    h.add_argument("--seed", type=random_seed, default=0)
    h.add_argument("--out", type=output_dir, default="hw-results", help="folder for table.md and results.json")
    h.set_defaults(func=_hw)
    b = sub.add_parser("bench", help="benchmark the fused LIF op against memory bandwidth and the reference")
    b.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="benchmark the CPU or the CUDA kernels")
    b.add_argument("--quick", action="store_true", help="small shapes and few repeats (a smoke run)")
    b.add_argument("--repeats", type=positive_int, default=None,
                   help="timed repeats per row (default 15 on CPU, 20 on CUDA, 5 on CPU with --peers; quick 3)")
    b.add_argument("--peers", action="store_true", help="spikeops vs snnTorch, SpikingJelly, Norse and Sinabs "
                                                        "(those installed) on the same shapes and dynamics")
    b.add_argument("--out", type=output_dir, default="bench/results", help="folder for the JSON and Markdown results")
    b.set_defaults(func=_bench)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
