"""One measured call in a child process of ``l3c bench``.

The time and memory of one encode or decode of one image by one codec.

Peak memory is a property of a process, so each (image, codec, direction) runs in a
fresh interpreter. The child warms the codec up on an 8x8 image of the measured
image's sample type and channels (for L3C this loads the model), records its resident
memory (the baseline), resets the kernel's high-water mark (``/proc/self/clear_refs``)
and only then times the call: the peak is that of the call alone, and the peak minus
the baseline is what the codec itself allocated.

This is the only module of the benchmark that needs an operating system's memory
accounting: ``/proc`` (Linux) or the ``resource`` module (POSIX). Neither exists on
Windows, where ``unsupported_reason`` says so before any child is started.
"""

from __future__ import annotations

import gc
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from pillow_l3c._bench_args import is_l3c
from pillow_l3c.bench.codecs import CodecFunctions, codec_functions, tiny_image

resource: ModuleType | None
try:
    import resource
except ImportError:  # Windows: no getrusage
    resource = None

MIB = 1024 * 1024


class WarmUpError(Exception):
    """The codec failed on the 8x8 image of the warm-up, before the measured call."""


def unsupported_reason() -> str | None:
    """Why peak memory cannot be measured on this platform (None where it can)."""
    if resource is None and _proc_status_kib("VmHWM") is None:
        return (
            f"peak memory needs /proc or the resource module, and this platform "
            f"({sys.platform}) has neither"
        )
    return None


def _proc_status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            m = re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.MULTILINE)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def _peak_rss_kib() -> int:
    """The resident high-water mark of this process, in KiB.

    VmHWM first: getrusage's ru_maxrss is also at least the RSS that the process had
    when it called exec, i.e. the size of the parent that forked it, which would hide
    the child's own figures.
    """
    hwm = _proc_status_kib("VmHWM")
    if hwm is not None:
        return hwm
    if resource is None:
        msg = unsupported_reason() or "no peak memory on this platform"
        raise OSError(msg)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss // 1024 if sys.platform == "darwin" else rss  # bytes on macOS, KiB on Linux


def _reset_peak() -> bool:
    """Reset the resident high-water mark to the current RSS (Linux >= 4.0).

    Writing "5" to clear_refs resets VmHWM; check that it did, since a kernel may
    refuse the write or ignore it.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    hwm, rss = _proc_status_kib("VmHWM"), _proc_status_kib("VmRSS")
    return hwm is not None and rss is not None and hwm <= rss + 1024


def _warm_both_coders(name: str, device: str | None, tiny: np.ndarray) -> None:
    """Load the model and the classical coder's library before the timing.

    The measured image's tiles may use either coder, and the tiny image only one.
    """
    import pillow_l3c

    model = name[4:] or None
    for coder in ("learned", "classical"):
        pillow_l3c.decode(pillow_l3c.encode(tiny, device=device, model=model, coder=coder))


def measure(spec: dict[str, Any], adapters: CodecFunctions = codec_functions) -> dict[str, Any]:
    """One measured call: spec["direction"] is "encode" or "decode".

    encode: reads spec["pixels"] (.npy), writes the stream to spec["stream"].
    decode: reads spec["stream"], then compares the result with spec["pixels"].
    ``adapters`` gives the codec's functions (a test substitutes a faulty decoder).
    """
    name, direction, device = spec["codec"], spec["direction"], spec.get("device")
    repeat = max(1, int(spec.get("repeat", 1)))
    encode, decode = adapters(name, device)
    # of the measured image's kind: a 16-bit image's warm-up loads its own code paths
    tiny = tiny_image(spec.get("dtype", "uint8"), int(spec.get("channels", 3)))
    try:
        decode(encode(tiny))  # warm-up: loads the model / libraries outside the timing
        if is_l3c(name):  # both of its tile coders: the tiny image may have used only one
            _warm_both_coders(name, device, tiny)
    except Exception as e:  # said as such: its message would name the 8x8 image's shape
        msg = f"warm-up on an 8x8 {tiny.dtype} image failed: {type(e).__name__}: {e}"
        raise WarmUpError(msg) from e
    cuda = is_l3c(name) and str(device or "").startswith("cuda")
    if cuda:
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    if direction == "encode":
        arg: Any = np.load(spec["pixels"])
        call: Callable[[Any], Any] = encode
    else:
        arg = Path(spec["stream"]).read_bytes()
        call = decode
    gc.collect()
    per_call = _reset_peak()
    baseline = _proc_status_kib("VmRSS") or _peak_rss_kib()
    seconds = float("inf")
    out: Any = None
    for _ in range(repeat):
        out = None  # free the previous result before the next call, as a caller would
        t0 = time.perf_counter()
        out = call(arg)
        seconds = min(seconds, time.perf_counter() - t0)
    # The kernel updates its high-water mark lazily (a heap that shrinks by brk does
    # not record the size it had), so it can read a little below the baseline that
    # was resident during the window; the true peak is at least that.
    peak = max(_peak_rss_kib(), baseline)
    result: dict[str, Any] = {
        "seconds": seconds,
        "baseline_rss_kib": baseline,
        "peak_rss_kib": peak,
        # "call": the peak of the timed calls alone; "process": the child's whole life
        "peak_scope": "call" if per_call else "process",
    }
    if cuda:
        import torch

        result["gpu_peak_mib"] = torch.cuda.max_memory_allocated() / MIB
    if is_l3c(name):
        import torch

        result["torch_threads"] = torch.get_num_threads()
    if direction == "encode":
        Path(spec["stream"]).write_bytes(out)
        result["bytes"] = len(out)
    else:
        decoded, original = np.asarray(out), np.load(spec["pixels"])
        exact = decoded.shape == original.shape and decoded.dtype == original.dtype
        exact = exact and bool(np.array_equal(decoded, original))
        result["exact"] = exact
        if not exact:
            if decoded.shape != original.shape or decoded.dtype != original.dtype:
                got, want = f"{decoded.dtype}{decoded.shape}", f"{original.dtype}{original.shape}"
                result["mismatch"] = f"decoded {got}, expected {want}"
            else:
                wrong = int(np.count_nonzero(decoded != original))
                result["mismatch"] = f"{wrong} of {original.size} sub-pixels differ"
    return result


def main(spec_path: str, adapters: CodecFunctions = codec_functions) -> int:
    """Measure the job described in the JSON file ``spec_path``; always 0.

    The result, or the error that stopped it, goes to the file the spec names: the
    parent reads it from there, so that a codec's failure is a report, not a crash.
    """
    spec = json.loads(Path(spec_path).read_text())
    try:
        result = measure(spec, adapters)
    except WarmUpError as e:
        result = {"error": str(e)}
    except Exception as e:  # reported to the parent as this job's error
        result = {"error": f"{type(e).__name__}: {e}"}
    Path(spec["result"]).write_text(json.dumps(result))
    return 0
