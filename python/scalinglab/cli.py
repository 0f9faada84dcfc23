"""Command line: ``scalinglab <command> [options]`` (also ``python -m scalinglab``).

``scalinglab --version`` prints the version.

Commands
--------
demo
    Random-feature ridge on scikit-learn's digits over a sweep of the number of features N:
    prints a table and the fitted exponent of test error against N, writes a CSV and a PNG.
reproduce
    The gallery of the source papers' headline results: figures, data, provenance and an
    index page (``--quick`` for small sizes, ``--list`` to list the entries).
sweep
    Run (or resume) a sweep described by a TOML file into a result store on a Dask cluster
    (embedded LocalCluster by default; ``--scheduler`` for a running one).
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

    reproduce = commands.add_parser(
        "reproduce",
        help="the gallery of the papers' headline results (figures, data, index page)",
        description=(
            "Reproduce headline results of the source papers (simulation against theory) on the "
            "sweep runner. Each entry writes OUT/NAME/figure.png, data.csv and provenance.json; "
            "OUT/index.md and OUT/index.html show every figure with its claim and the measured "
            "numbers. Interrupted runs resume."
        ),
    )
    reproduce.add_argument("names", nargs="*", metavar="NAME", help="entries (default: all)")
    reproduce.add_argument("--list", action="store_true", help="list the entries and exit")
    reproduce.add_argument("--quick", action="store_true",
                           help="small sizes: the whole gallery in a few minutes on 2 cores")
    reproduce.add_argument("--out", default="scalinglab-gallery", metavar="DIR",
                           help="output folder (default: ./scalinglab-gallery)")
    reproduce.add_argument("--workers", type=_positive_int, default=None, metavar="K",
                           help="worker processes of the embedded cluster (default: one per core)")
    reproduce.add_argument("--no-progress", action="store_true", help="no progress bars")

    sweep = commands.add_parser(
        "sweep",
        help="run or resume a sweep from a TOML spec into a result store",
        description=(
            "Run the sweep described by SPEC (TOML: [sweep] function/seeds/rng/name, [fixed] "
            "parameters, [grid] product axes, [zip] zipped axes; see scalinglab.sweep.load_spec) "
            "into the store DIR, one atomic Parquet record per (point, seed). Finished records "
            "are never recomputed; a store made by another sweep is refused."
        ),
    )
    sweep.add_argument("spec", metavar="SPEC.toml", help="the sweep spec")
    sweep.add_argument("--store", required=True, metavar="DIR", help="result store directory")
    sweep.add_argument("--resume", action="store_true",
                       help="continue an existing store of the same sweep")
    sweep.add_argument("--workers", type=_positive_int, default=None, metavar="K",
                       help="worker processes of the embedded cluster (default: one per core)")
    sweep.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="address of a running Dask scheduler, e.g. tcp://host:8786")
    sweep.add_argument("--n-threads", type=_positive_int, default=None, metavar="N",
                       help="threads per task (default: cores // workers; 1 on a scheduler)")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _run_reproduce(args) -> int:
    from scalinglab.gallery import ENTRIES, reproduce

    if args.list:
        for entry in ENTRIES.values():
            print(f"{entry.name:22s} {entry.title}: {entry.claim}")
        return 0
    mode = "quick" if args.quick else "full"
    print(f"scalinglab reproduce ({mode}): writing into {args.out}", flush=True)
    reproduce(args.names, out=args.out, quick=args.quick, workers=args.workers,
              progress=False if args.no_progress else None,
              log=lambda line: print(line, flush=True))
    print(f"index: {args.out}/index.html and {args.out}/index.md")
    return 0


def _run_sweep(args) -> int:
    from scalinglab import sweep as sweeps

    definition = sweeps.load_spec(args.spec)
    client = None
    if args.scheduler is not None:
        from distributed import Client

        client = Client(args.scheduler)
    try:
        summary = sweeps.run(definition, args.store, client=client, workers=args.workers,
                             n_threads=args.n_threads, resume=args.resume,
                             progress=False if args.no_progress else None)
    finally:
        if client is not None:
            client.close()
    print(f"{definition.name}: {summary.computed} records computed, {summary.skipped} already "
          f"done, {summary.corrupt} corrupt redone, in {summary.wall_s:.1f} s; store: {summary.store}")
    return 0


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
        if args.command == "sweep":
            return _run_sweep(args)
        if args.command == "reproduce":
            return _run_reproduce(args)
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
