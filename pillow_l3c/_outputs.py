"""The one rule for every file our tools write: never over a file they did not write.

``l3c encode|decode|crop`` on one machine and on a cluster (``pillow_l3c.cluster``)
decide each output here:

- an output that would replace one of the run's inputs is refused, even with
  ``--force`` (``l3c decode photo.l3c -o photo.l3c``, or a decode whose .png would
  land on the original photo it was encoded from, are mistakes, not requests);
- an output that exists is skipped when it is not older than its source (an earlier
  run's: a rerun resumes), refused otherwise, unless the user passed ``--force``;
- an output appears only complete, under its name, by a link that fails if the name
  was taken meanwhile (no check-then-write race replaces a file).
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from pillow_l3c.errors import L3cError

WRITE, SKIP = "write", "skip"


class OutputRefusedError(L3cError):
    """An output that would replace a file the run did not write."""


def exists_message(output: str) -> str:
    return f"{output} exists and was not written by l3c from this source (--force replaces it)"


def decide(output: str, exists: bool, newer_than_source: bool, force: bool) -> str:
    """WRITE or SKIP for an output, or raise OutputRefusedError."""
    if not exists or force:
        return WRITE
    if newer_than_source:
        return SKIP
    raise OutputRefusedError(exists_message(output))


def file_ids(paths: Iterable[Path]) -> frozenset[tuple[int, int]]:
    """(device, inode) of each of ``paths`` that exists: what a file is, however it is
    spelled (``./a.png``, a hard link, a symlink to it). Taken once for a run's inputs,
    so that checking every output against all of them costs one stat each."""
    ids = set()
    for path in paths:
        with contextlib.suppress(OSError):
            st = path.stat()
            ids.add((st.st_dev, st.st_ino))
    return frozenset(ids)


def decide_path(src: Path, dst: Path, inputs: frozenset[tuple[int, int]], force: bool) -> str:
    """WRITE or SKIP for ``dst``, the output of ``src``, among the run's inputs
    (``file_ids`` of them; ``src`` is one)."""
    try:
        st = dst.stat()
    except OSError:
        return decide(str(dst), False, False, force)
    if (st.st_dev, st.st_ino) in inputs | file_ids([src]):
        msg = f"its output {dst} would replace an input"
        raise OutputRefusedError(msg)
    if dst.is_dir():
        msg = f"its output {dst} is a folder"
        raise OutputRefusedError(msg)
    try:
        newer = st.st_mtime_ns >= src.stat().st_mtime_ns
    except OSError:
        newer = False
    return decide(str(dst), True, newer, force)


def write_file(dst: Path, write: Callable[[Path], None], force: bool) -> None:
    """Call ``write`` on a temporary name beside ``dst``, then put it in place.

    Without ``force`` the file is linked to ``dst``, which fails if ``dst`` appeared
    meanwhile; with it, renamed over ``dst``. A failure leaves no partial file, and an
    OS error names ``dst``, not the hidden temporary file.
    """
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex[:8]}.partial")
    for parent in dst.parents:
        if parent.exists():
            if not parent.is_dir():
                msg = f"cannot write {dst}: {parent} is a file, not a folder"
                raise NotADirectoryError(msg)
            break
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        if force:
            tmp.replace(dst)
        else:
            _link_new(tmp, dst)
    except OSError as e:
        if isinstance(e, L3cError) or e.errno is None:
            raise
        msg = f"cannot write {dst}: {e.strerror or e}"
        raise type(e)(msg) from None
    finally:
        with contextlib.suppress(OSError):  # e.g. its folder could not be made
            tmp.unlink(missing_ok=True)


def _link_new(tmp: Path, dst: Path) -> None:
    """Give ``tmp`` the name ``dst`` only if that name is free."""
    try:
        os.link(tmp, dst)
    except FileExistsError:
        raise OutputRefusedError(exists_message(str(dst))) from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # A filesystem without hard links: the check and the rename are two steps.
        if dst.exists():
            raise OutputRefusedError(exists_message(str(dst))) from None
        tmp.replace(dst)
