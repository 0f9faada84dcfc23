"""``python -m scalinglab``: the same command line as the ``scalinglab`` console script."""

import sys

from scalinglab.cli import main

if __name__ == "__main__":
    sys.exit(main())
