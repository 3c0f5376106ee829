"""Many files on a Dask cluster: one task per file, wherever Dask reaches.

    from dask.distributed import Client
    from pillow_l3c.cluster import code_files
    results = code_files(Client("tcp://scheduler:8786"), ["s3://raw/2024/"], "s3://l3c/2024/")

Sources and destinations are fsspec URLs (local paths, ``memory://``, ``s3://`` with
s3fs, ...), so that workers on other machines read and write shared storage. The
rules are those of ``l3c encode DIR -o OUT`` on one machine:

- one task per file; a file that fails (unreadable, a mode L3C refuses) is recorded
  with its error and the others go on. A worker that dies has its tasks run again
  elsewhere (Dask reschedules them; ``retries`` covers errors raised on the way);
- an output appears only when complete (written under a temporary name, then moved),
  and a rerun skips every output that exists and is not older than its source;
- a task codes its file's tiles with ``threads`` torch threads (default one), so the
  worker's own threads are the parallelism and nothing is oversubscribed;
- the run's manifest (CSV, or Parquet through pyarrow for a ``.parquet`` URL) has one
  row per file: source, output, pixels, bytes, bpsp, seconds, status and error.

Needs the ``dask`` extra: ``pip install pillow-l3c[dask]``.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import io
import os
import posixpath
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from pillow_l3c import _format, _metadata, _outputs
from pillow_l3c._optional import require
from pillow_l3c._suffixes import IMAGE_SUFFIXES

ENCODE, DECODE = "encode", "decode"


@dataclass
class FileResult:
    """One row of a run's manifest.

    ``status`` is "done", "skipped" (an earlier run's output is complete) or "error"
    (``error`` says why).
    """

    source: str
    output: str
    pixels: int = 0
    bytes: int = 0
    bpsp: float = 0.0
    seconds: float = 0.0
    status: str = "done"
    error: str = ""


MANIFEST_FIELDS = [f.name for f in fields(FileResult)]


def plan(
    sources: Sequence[str],
    dest: str,
    direction: str = ENCODE,
    storage_options: dict[str, Any] | None = None,
) -> list[tuple[str, str]]:
    """(source URL, output URL) for every file to code.

    A folder stands for the images (or, decoding, the .l3c files) under it, mirrored
    under ``dest``; a file goes to ``dest`` by its name.
    """
    url_to_fs = require("fsspec.core").url_to_fs
    wanted = IMAGE_SUFFIXES if direction == ENCODE else frozenset({".l3c"})
    suffix = ".l3c" if direction == ENCODE else ".png"
    # Absolute here, on the client: a relative path would be resolved by each worker.
    dest_fs, dest_root = url_to_fs(dest, **(storage_options or {}))
    dest_root = dest_root.rstrip("/")
    dest = dest_root if _is_local(dest_fs) else dest_fs.unstrip_protocol(dest_root)
    pairs: list[tuple[str, str]] = []
    for source in sources:
        fs, root = url_to_fs(source, **(storage_options or {}))
        if fs.isdir(root):
            root = root.rstrip("/")
            for path in sorted(fs.find(root)):
                if type(fs) is type(dest_fs) and (path + "/").startswith(dest_root + "/"):
                    continue  # an earlier run's outputs inside the source folder
                if posixpath.splitext(path)[1].lower() in wanted:
                    relative = posixpath.splitext(path[len(root) + 1 :])[0]
                    pairs.append((fs.unstrip_protocol(path), f"{dest}/{relative}{suffix}"))
        else:  # a file; a missing one becomes its row's error
            stem = posixpath.splitext(posixpath.basename(root))[0]
            pairs.append((fs.unstrip_protocol(root), f"{dest}/{stem}{suffix}"))
    return pairs


def _is_local(fs: Any) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols


def code_file(
    source: str,
    output: str,
    direction: str = ENCODE,
    model: str | None = None,
    device: str | None = None,
    threads: int = 1,
    force: bool = False,
    storage_options: dict[str, Any] | None = None,
) -> FileResult:
    """Code one file (a task on a worker); every error becomes the result's ``error``."""
    from fsspec.core import url_to_fs

    _keep_tile_buffers_in_heap()
    start = time.perf_counter()
    result = FileResult(source, output)
    try:
        src_fs, src = url_to_fs(source, **(storage_options or {}))
        dst_fs, dst = url_to_fs(output, **(storage_options or {}))
        if _same_url(src_fs, src, dst_fs, dst):
            msg = f"its output {output} would replace an input"
            raise _outputs.OutputRefusedError(msg)
        if _complete(src_fs, src, dst_fs, dst, force, output) == _outputs.SKIP:
            # The sizes from an earlier run's files: the output's, the .l3c's header.
            result.status = "skipped"
            result.bytes = dst_fs.size(dst)
            coded_fs, coded = (dst_fs, dst) if direction == ENCODE else (src_fs, src)
            head = coded_fs.cat_file(coded, 0, _format.MAX_HEADER_BYTES)
        else:
            data = src_fs.cat_file(src)
            code = _encode if direction == ENCODE else _decode
            out = code(data, model, device, threads)
            _write_complete(dst_fs, dst, out)
            result.bytes = len(out)
            head = (out if direction == ENCODE else data)[: _format.MAX_HEADER_BYTES]
        header = _format.parse_header(head)
        result.pixels = header.width * header.height
        if direction == ENCODE:
            result.bpsp = result.bytes * 8 / (result.pixels * header.planes)
    except Exception as e:  # a task never fails: its row says why
        result.status, result.error = "error", f"{type(e).__name__}: {e}"
    result.seconds = time.perf_counter() - start
    return result


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
_heap_set = False


def _keep_tile_buffers_in_heap() -> None:
    """Serve the codec's buffers from the heap in a Dask worker, once per process.

    Dask starts workers with ``MALLOC_TRIM_THRESHOLD_`` set, and setting it turns off
    glibc's adaptive mmap threshold: every buffer above 128 KiB (a tile's tensors
    are several MB) is then mapped and unmapped on each use, and a file takes far
    longer in a worker than in a plain process (README, "On a cluster"). A 32 MiB
    mmap threshold restores the plain process's speed. Only where that variable is
    set and glibc is the allocator.
    """
    global _heap_set
    if _heap_set:
        return
    _heap_set = True
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, 32 << 20)


def _encode(data: bytes, model: str | None, device: str | None, threads: int) -> bytes:
    from PIL import Image, UnidentifiedImageError

    from pillow_l3c._sources import check_source

    out = io.BytesIO()
    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        msg = "cannot identify image file (not an image that Pillow reads)"
        raise UnidentifiedImageError(msg) from None
    with im:
        check_source(im)
        im.save(out, "L3C", model=model, device=device, workers=threads)
    return out.getvalue()


def _decode(data: bytes, model: str | None, device: str | None, threads: int) -> bytes:
    """PNG bytes of an .l3c file, its metadata kept as ``l3c decode`` keeps it.

    ``model`` is unused: the file names its own.
    """
    from PIL import Image

    from pillow_l3c import L3cImagePlugin, _codec, _deep_files

    header, sections = _codec.read_header(io.BytesIO(data))
    if _deep_files.is_deep_colour(header):  # no Pillow mode: the PNG written here
        out = io.BytesIO()
        _deep_files.write_png_with_metadata(out, _codec.decode(data, device, threads)[1], sections)
        return out.getvalue()
    with Image.open(io.BytesIO(data), formats=["L3C"]) as im:
        pixels = _codec.decode(data, device, threads)[1]
        decoded = L3cImagePlugin.image_like(im, pixels)
    out = io.BytesIO()
    _metadata.save_exact(decoded, out, "PNG")  # PNG holds every kind of metadata L3C does
    return out.getvalue()


def _complete(src_fs: Any, src: str, dst_fs: Any, dst: str, force: bool, output: str) -> str:
    """SKIP when an earlier run's output is there, else WRITE; or refuse (``_outputs``).

    Present is complete (outputs appear only when complete); where the filesystems
    tell times, it must also not be older than its source, and one that is older was
    not written from this source: it is replaced only with ``force``.
    """
    exists = dst_fs.exists(dst)
    newer = True
    if exists:
        try:
            newer = dst_fs.modified(dst) >= src_fs.modified(src)
        except (NotImplementedError, OSError, TypeError):
            newer = True
    return _outputs.decide(output, exists, newer, force)


def _same_url(src_fs: Any, src: str, dst_fs: Any, dst: str) -> bool:
    return type(src_fs) is type(dst_fs) and src.rstrip("/") == dst.rstrip("/")


def _write_complete(fs: Any, path: str, data: bytes) -> None:
    """Write under a temporary name beside ``path``, then move it into place."""
    parent, _, name = path.rpartition("/")
    if parent:
        fs.makedirs(parent, exist_ok=True)
    tmp = f"{parent}/.{name}.{uuid.uuid4().hex[:12]}.partial" if parent else f".{name}.partial"
    try:
        fs.pipe_file(tmp, data)
        fs.mv(tmp, path)
    finally:
        if fs.exists(tmp):
            fs.rm(tmp)


def code_files(
    client: Any,
    sources: Sequence[str],
    dest: str,
    direction: str = ENCODE,
    model: str | None = None,
    device: str | None = None,
    threads: int = 1,
    force: bool = False,
    manifest: str | None = None,
    storage_options: dict[str, Any] | None = None,
    retries: int = 2,
    on_result: Callable[[FileResult], None] | None = None,
) -> list[FileResult]:
    """Code every file of ``sources`` into ``dest`` on ``client``'s cluster.

    One task per file; returns one result per file in plan order and writes them to
    ``manifest`` (a URL) when given. ``on_result`` sees each result as it arrives (an
    exception it raises stops the run and cancels the tasks not started).
    """
    distributed = require("dask.distributed")
    if direction not in (ENCODE, DECODE):
        msg = f"direction must be {ENCODE!r} or {DECODE!r}, not {direction!r}"
        raise ValueError(msg)
    pairs = plan(sources, dest, direction, storage_options)
    if model is not None and direction == ENCODE:
        from pillow_l3c import _model

        _model.find(model)  # an unknown name fails once, before any task
    results: list[FileResult | None] = [None] * len(pairs)
    report = on_result or (lambda result: None)
    first_source: dict[str, str] = {}
    for i, (src, dst) in enumerate(pairs):
        if dst in first_source:  # a.png and a.bmp would both become a.l3c: not coded
            msg = f"ValueError: its output {dst} is also that of {first_source[dst]}"
            results[i] = FileResult(src, dst, status="error", error=msg)
            report(results[i])
        first_source.setdefault(dst, src)
    futures = {
        client.submit(
            code_file,
            src,
            dst,
            direction,
            model,
            device,
            threads,
            force,
            storage_options,
            key=f"l3c-{direction}-{uuid.uuid4().hex}",
            retries=retries,
        ): i
        for i, (src, dst) in enumerate(pairs)
        if results[i] is None
    }
    try:
        for future in distributed.as_completed(list(futures)):
            i = futures[future]
            try:
                result = future.result()
            except Exception as e:  # e.g. KilledWorker: the file killed its workers
                result = FileResult(*pairs[i], status="error", error=f"{type(e).__name__}: {e}")
            results[i] = result
            report(result)
    except BaseException:
        client.cancel(list(futures))
        raise
    done = [r for r in results if r is not None]
    if manifest:
        write_manifest(done, manifest, storage_options)
    return done


def write_manifest(
    results: Sequence[FileResult], url: str, storage_options: dict[str, Any] | None = None
) -> None:
    """One row per file: Parquet (pyarrow) when ``url`` ends in .parquet, else CSV."""
    fsspec = require("fsspec")
    rows = [asdict(r) for r in results]
    if url.endswith(".parquet"):
        pa = require("pyarrow", extra="dask")
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(rows) if rows else pa.table({k: [] for k in MANIFEST_FIELDS})
        with fsspec.open(url, "wb", **(storage_options or {})) as f:
            pq.write_table(table, f)
        return
    with fsspec.open(url, "w", newline="", **(storage_options or {})) as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def read_manifest(url: str, storage_options: dict[str, Any] | None = None) -> list[FileResult]:
    """The rows of a manifest written by ``write_manifest`` (CSV or Parquet)."""
    fsspec = require("fsspec")
    if url.endswith(".parquet"):
        import pyarrow.parquet as pq

        with fsspec.open(url, "rb", **(storage_options or {})) as f:
            rows = pq.read_table(f).to_pylist()
    else:
        with fsspec.open(url, "r", newline="", **(storage_options or {})) as f:
            rows = list(csv.DictReader(f))
    return [
        FileResult(
            r["source"],
            r["output"],
            int(r["pixels"]),
            int(r["bytes"]),
            float(r["bpsp"]),
            float(r["seconds"]),
            r["status"],
            r["error"] or "",
        )
        for r in rows
    ]


def connect(address: str) -> Any:
    """A Client for ``address``.

    ``address`` is a scheduler's (``tcp://host:8786``), or ``local`` / ``local:N`` for a
    cluster of N worker processes on this machine.
    """
    distributed = require("dask.distributed")
    if address == "local" or address.startswith("local:"):
        count = address.partition(":")[2]
        if count and not (count.isdigit() and int(count) > 0):
            msg = f"local:N needs a number of workers, got {count!r}"
            raise ValueError(msg)
        workers = int(count) if count else None
        cluster = distributed.LocalCluster(n_workers=workers, processes=True)
        return distributed.Client(cluster)
    return distributed.Client(address, timeout=30)


def run_cli(args: Any) -> int:
    """Run ``l3c encode|decode ... --scheduler ADDRESS`` on a cluster.

    One line per file as the local mode prints, errors on stderr, exit status 1 if any
    file failed.
    """
    import sys

    from tqdm import tqdm

    if args.output is None:
        print("l3c: error: --scheduler needs -o/--output (a folder URL)", file=sys.stderr)
        return 1
    direction = args.command
    manifest = args.manifest or f"{args.output.rstrip('/')}/l3c-{direction}-manifest.csv"
    failures = 0

    def show(r: FileResult) -> None:
        nonlocal failures
        if r.status == "error":
            failures += 1
            tqdm.write(f"l3c: error: {r.source}: {r.error}", file=sys.stderr)
        elif r.status == "skipped":
            bar.set_postfix_str("skipped up-to-date outputs")
        else:
            bpsp = f" ({r.bpsp:.3f} bpsp)" if direction == ENCODE else ""
            tqdm.write(f"{r.source} -> {r.output}{bpsp}", file=sys.stdout)
        bar.update()

    try:
        client = connect(args.scheduler)
    except (ValueError, OSError) as e:  # a bad address, a scheduler that does not answer
        print(f"l3c: error: --scheduler {args.scheduler}: {e}", file=sys.stderr)
        return 1
    with client:
        if not args.quiet:
            print(f"l3c: {client.dashboard_link or args.scheduler}", file=sys.stderr)
        bar = tqdm(unit="file", disable=args.quiet, file=sys.stderr)
        try:
            code_files(
                client,
                args.inputs,
                args.output,
                direction,
                model=getattr(args, "model", None),
                device=args.device,
                force=args.force,
                manifest=manifest,
                on_result=show,
            )
        except ValueError as e:  # an unknown model name
            print(f"l3c: error: {e}", file=sys.stderr)
            return 1
        finally:
            bar.close()
    if not args.quiet:
        print(f"l3c: manifest {manifest}", file=sys.stderr)
    return 1 if failures else 0
