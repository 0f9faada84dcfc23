"""Files that are never seen half-written: write to a temporary file, flush, rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path, write) -> None:
    """Create or replace ``path`` with what ``write(temporary_path)`` writes, atomically.

    The temporary file lives in the same folder (a rename within one file system is atomic on
    POSIX), is flushed to disk before the rename, and is removed if ``write`` fails; a reader
    sees either the old file or the complete new one, even if the process is killed midway.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}.",
                                         suffix=path.suffix)
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    try:  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)
