"""One polyphase network pass cut into bands of rows, with the integers of the whole.

So that two threads can share a one-tile image (pillow_l3c/_threads.py, ``run_all``):
each runs a band of the target grid's rows. Every integer ``ExactPolyphase`` gives a
target pixel depends on nearby rows only: its neighbour gather reads rows r - 1 .. r + 1
of the known sub-images (``diag_neighbours``, ``cross_neighbours``), each 3 x 3
convolution of the trunk one row further, and the heads (1 x 1) the pixel alone. A
band run with ``halo`` rows of context beyond each of its sides therefore holds, in its
own rows, the very integers of the whole pass: what the cut changes (zero padding and
clamped gathers at the band's edges) reaches only the halo rows, which are dropped.
They are the same integers, not merely close ones, because every sum is exact in any
order and any shape of call (pillow_l3c/network/exact.py); tests/test_rows.py checks
``torch.equal`` on photos and the bytes of whole files. It lives with the tile coder, not
in ``pillow_l3c.network``, which the codec never imports (that is training code).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from pillow_l3c._threads import run_all, spare_threads

if TYPE_CHECKING:
    from torch import Tensor

# Rows a neighbour gather reaches beyond its pixel's own (diag: a[r + 1]; cross:
# b[r - 1]). A model whose gather reached further would need this raised; the
# band tests would then fail, not the files.
GATHER_REACH = 1
# Fewer target rows than this per band, and a split costs more in halo and hand-off
# than the second thread wins.
MIN_BAND_ROWS = 24
MAX_PARTS = 8  # bands of one pass at most, however many threads are idle
# Less work than this in a step (target pixels), and handing half of it to another
# thread costs more than it saves: the coarse scales run in the calling thread.
MIN_SHARED_PIXELS = 8192

Mixture = tuple["Tensor", "Tensor", "Tensor"]


@dataclass(frozen=True)
class Band:
    """Rows ``top`` .. ``bottom`` - 1 of a pass's target grid: their trunk features
    (1, C, rows, w) and neighbour sums (1, 3, rows, w), as the whole pass has them."""

    top: int
    bottom: int
    feat: Tensor
    s4: Tensor


def halo(net: Any, stage: int) -> int | None:
    """Context rows a band of ``stage`` needs beyond each side: the gather's reach plus
    each convolution's (kernel // 2 x dilation); None for a stage this module cannot
    vouch for (a stride, or no convolutions found), which is then never cut."""
    stages = list(net.stages.children())
    if stage >= len(stages):
        return None
    reach = 0
    found = False
    for _, conv in stages[stage].named_modules():
        weight = getattr(conv, "weight", None)
        if weight is None or weight.dim() != 4:
            continue
        found = True
        if tuple(getattr(conv, "stride", (1, 1))) != (1, 1):
            return None
        reach += (int(weight.shape[2]) // 2) * int(conv.dilation[0])
    return GATHER_REACH + reach if found else None


def band_rows(height: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` bands of nearly equal height covering rows 0 .. height - 1, in order."""
    cuts = [height * i // parts for i in range(parts + 1)]
    return [(cuts[i], cuts[i + 1]) for i in range(parts)]


def parts_for(height: int, most: int) -> int:
    """How many bands (1 .. ``most``) a grid of ``height`` rows is worth cutting into."""
    return max(1, min(most, height // MIN_BAND_ROWS))


@dataclass(frozen=True)
class Pass:
    """One call of ``net.features``: a stage, the known sub-images it reads (a, b, c,
    indexed by the target's rows, as ``features`` takes them) and its target grid."""

    stage: int
    known: tuple[Tensor, Tensor, Tensor]
    height: int
    width: int


def whole_features(net: Any, p: Pass) -> Band:
    """The pass uncut: ``net.features`` exactly as the codec always called it."""
    feat, s4 = net.features(p.stage, *p.known, p.height, p.width)
    return Band(0, p.height, feat, s4)


def band_features(net: Any, p: Pass, rows: tuple[int, int], halo_rows: int) -> Band:
    """Rows ``rows`` of the pass: each known sub-image cut to the band, its halo, and
    the gather's reach below."""
    top, bottom = rows
    height = p.height
    first = max(0, top - halo_rows)
    last = min(height, bottom + halo_rows)
    cut = [t[..., first : min(last + GATHER_REACH, t.shape[-2]), :] for t in p.known]
    feat, s4 = net.features(p.stage, cut[0], cut[1], cut[2], last - first, p.width)
    keep = slice(top - first, bottom - first)
    return Band(top, bottom, feat[..., keep, :], s4[..., keep, :])


def band_mixture(net: Any, stage: int, k: int, band: Band, target: Tensor) -> Mixture:
    """``net.mixture`` of one band: its pixels' columns of the whole pass's, in order."""
    return net.mixture(stage, k, band.feat, band.s4, target[..., band.top : band.bottom, :])


class Runner:
    """A tile's network passes, whole or in bands on the threads its codec call lends
    it (``_threads.spare_threads``): none lent, and every pass runs whole, in this
    thread, as it always has.

    With as many threads as passes (stage 1's c and d on two), each pass runs whole on
    its own thread, with no halo to pay; with more threads than passes (stage 0's b),
    passes are cut into bands of rows. Only on the CPU: a GPU pass is not the
    bottleneck there, and the codec already overlaps tiles on it."""

    def __init__(self, net: Any, device_type: str) -> None:
        self.net = net
        cpu = device_type == "cpu" and getattr(net, "family", "") == "polyphase"
        self.halos = [halo(net, s) for s in range(2)] if cpu else None

    def _halo(self, stage: int) -> int | None:
        return None if self.halos is None else self.halos[stage]

    def features(self, passes: list[Pass]) -> list[list[Band]]:
        """Each pass's bands, top to bottom (one band when it runs whole)."""
        useful = sum(
            parts_for(p.height, MAX_PARTS) if self._halo(p.stage) is not None else 1 for p in passes
        )
        big = sum(p.height * p.width for p in passes) >= MIN_SHARED_PIXELS
        with spare_threads(useful - 1 if self.halos is not None and big else 0) as lent:
            if not lent:
                return [[whole_features(self.net, p)] for p in passes]
            each = -(-(1 + lent) // len(passes))  # bands per pass, rounded up
            tasks: list[Callable[[], Band]] = []
            owners: list[int] = []
            for i, p in enumerate(passes):
                halo_rows = self._halo(p.stage)
                parts = 1 if halo_rows is None else parts_for(p.height, each)
                if parts == 1:
                    tasks.append(partial(whole_features, self.net, p))
                else:
                    rows = band_rows(p.height, parts)
                    tasks += [partial(band_features, self.net, p, r, halo_rows) for r in rows]
                owners += [i] * parts
            out: list[list[Band]] = [[] for _ in passes]
            for i, band in zip(owners, run_all(tasks, min(lent, len(tasks) - 1)), strict=True):
                out[i].append(band)
            return out

    def mixtures(
        self, stage: int, k: int, bands: list[list[Band]], targets: list[Tensor]
    ) -> list[Mixture]:
        """The mixtures of channel ORDER[k] over every band of every pass, in order:
        the grids of one stream, as ``_joined`` concatenates them."""
        tasks = [
            partial(band_mixture, self.net, stage, k, band, target)
            for pass_bands, target in zip(bands, targets, strict=True)
            for band in pass_bands
        ]
        pixels = sum(b.feat.shape[2] * b.feat.shape[3] for pass_bands in bands for b in pass_bands)
        big = self.halos is not None and pixels >= MIN_SHARED_PIXELS
        with spare_threads(len(tasks) - 1 if big else 0) as lent:
            return run_all(tasks, lent)
