"""Command line: ``scalinglab <command> [options]`` (also ``python -m scalinglab``).

``scalinglab --version`` prints the version.

Commands
--------
demo
    Random-feature ridge on scikit-learn's digits over a sweep of the number of features N:
    prints a table and the fitted exponent of test error against N, writes a CSV and a PNG.
"""

from __future__ import annotations

import argparse
import sys


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``scalinglab`` command."""
    parser = argparse.ArgumentParser(
        prog="scalinglab",
        description="Simulate, predict and fit neural scaling laws in solvable models.",
    )
    from scalinglab import __version__

    parser.add_argument("--version", action="version", version=f"scalinglab {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    demo = commands.add_parser(
        "demo",
        help="random-feature ridge on scikit-learn's digits: test error against N",
        description=(
            "Random-feature ridge regression (ReLU features) on scikit-learn's bundled digits "
            "over a log grid of feature counts N, from one streamed Gram pass. Prints the test "
            "errors and the fitted exponent alpha of test MSE ~ E + c N^-alpha, and writes "
            "digits_scaling.csv and digits_scaling.png into --out."
        ),
    )
    demo.add_argument("--out", default="scalinglab-demo", metavar="DIR",
                      help="output folder (default: ./scalinglab-demo)")
    demo.add_argument("--rng", type=_non_negative_int, default=0, metavar="SEED",
                      help="seed of the split and the features (default: 0)")
    demo.add_argument("--n-threads", type=_non_negative_int, default=0, metavar="N",
                      help="threads, 0 = all cores (default: 0)")
    demo.add_argument("--ridge", type=float, default=None,
                      help="ridge in the per-sample convention (default: 1e-5)")
    demo.add_argument("--quick", action="store_true",
                      help="widths 16..1024 instead of 16..8192 (a few seconds)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _run_demo(args) -> int:
    from scalinglab.demo import DEFAULT_RIDGE, run_demo

    result = run_demo(
        args.out,
        rng=args.rng,
        n_threads=args.n_threads,
        quick=args.quick,
        ridge=DEFAULT_RIDGE if args.ridge is None else args.ridge,
        progress=not args.no_progress,
    )
    print(result.report())
    return 0


def main(argv=None) -> int:
    """Entry point of the ``scalinglab`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return _run_demo(args)
    except (ValueError, TypeError, ImportError, MemoryError) as error:
        print(f"scalinglab {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"scalinglab {args.command}: interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
