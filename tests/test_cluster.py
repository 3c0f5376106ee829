"""Many files on a real Dask cluster: a LocalCluster of two worker processes."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import fsspec
import numpy as np
import pytest
from dask.distributed import Client, LocalCluster
from PIL import Image

import pillow_l3c  # noqa: F401  (registers L3C)
from pillow_l3c import cluster
from pillow_l3c.cli import main

from .conftest import IMAGES, PHOTOS

NOT_AN_IMAGE = "UnidentifiedImageError: cannot identify image file (not an image that Pillow reads)"


@pytest.fixture(scope="module")
def client() -> Client:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as lc,
        Client(lc) as c,
    ):
        yield c


def _pixels(path: Path | str) -> np.ndarray:
    with fsspec.open(str(path), "rb") as f, Image.open(io.BytesIO(f.read())) as im:
        return np.asarray(im)


def _mixed_folder(root: Path) -> dict[str, np.ndarray]:
    """Good photos (one in a subfolder), a corrupt file, a CMYK JPEG that L3C refuses and
    a 16-bit RGB PNG that Pillow reads as 8 bits; returns the good ones' pixels by
    output name."""
    (root / "sub").mkdir(parents=True)
    good = {}
    for i, name in enumerate(PHOTOS):
        target = root / ("sub" if i == 0 else ".") / name
        shutil.copy(IMAGES / name, target)
        good[str(Path(target.relative_to(root)).with_suffix(".l3c"))] = _pixels(target)
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    Image.new("CMYK", (16, 16), (1, 2, 3, 4)).save(root / "cmyk.jpg")
    shutil.copy(IMAGES / "ladybird_rgb16_32x24.png", root / "rgb16.png")  # Pillow: 8 bits
    return good


def test_a_folder_with_a_corrupt_file_and_a_refused_mode(client: Client, tmp_path: Path) -> None:
    good = _mixed_folder(tmp_path / "src")
    results = cluster.code_files(
        client, [str(tmp_path / "src")], str(tmp_path / "out"), manifest=str(tmp_path / "m.csv")
    )
    by_name = {Path(r.source).name: r for r in results}
    assert by_name["corrupt.png"].status == "error"
    assert by_name["corrupt.png"].error == NOT_AN_IMAGE
    assert by_name["cmyk.jpg"].error == "OSError: cannot write mode CMYK as L3C"
    assert by_name["rgb16.png"].error.startswith(
        "OSError: it has 16 bits per sample (RGB;16B), which Pillow reads as RGB of 8 bits"
    )  # refused, not stored as its 8-bit copy
    assert sorted(r.status for r in results) == ["done"] * 3 + ["error"] * 3
    for name, pixels in good.items():
        np.testing.assert_array_equal(_pixels(tmp_path / "out" / name), pixels)
    manifest = cluster.read_manifest(str(tmp_path / "m.csv"))
    assert manifest == results
    done = [r for r in manifest if r.status == "done"]
    for r in done:
        assert r.bytes == os.path.getsize(r.output)
        assert r.bpsp == pytest.approx(r.bytes * 8 / (r.pixels * 3))
    # nothing but complete outputs: no temporary file is left
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == sorted(
        ["sub", *(Path(n).name for n in good)]
    )


def test_a_worker_killed_in_the_middle_of_a_run(client: Client, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    photo = _pixels(IMAGES / "storm_256x192.png")
    originals = {}
    for i in range(12):  # distinct files, a few tenths of a second each
        pixels = np.ascontiguousarray(np.rot90(photo, i % 4)[: 120 + i, : 150 + 3 * i])
        Image.fromarray(pixels).save(src / f"p{i:02d}.png")
        originals[f"p{i:02d}.l3c"] = pixels
    before = set(client.scheduler_info()["workers"])
    killed: list[str] = []

    def kill_a_busy_worker(result: cluster.FileResult) -> None:
        if killed:
            return
        busy = [w for w, tasks in client.processing().items() if tasks]
        if busy:
            killed.append(busy[0])
            pid = client.run(os.getpid, workers=busy[:1])[busy[0]]
            os.kill(pid, signal.SIGKILL)  # the worker process dies mid-task

    results = cluster.code_files(
        client, [str(src)], str(tmp_path / "out"), on_result=kill_a_busy_worker
    )
    assert killed, "no worker was busy when the first file finished"
    # a file that the killed worker had written, but not reported, is done on its rerun
    # elsewhere: its complete output is there, so that task finds it "skipped"
    assert {r.status for r in results} <= {"done", "skipped"}
    assert len(results) == 12
    for name, pixels in originals.items():
        np.testing.assert_array_equal(_pixels(tmp_path / "out" / name), pixels)
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed one
    assert killed[0] not in set(client.scheduler_info()["workers"])
    assert before != set(client.scheduler_info()["workers"])


class _Interrupt(Exception):
    pass


def test_an_interrupted_run_resumes(client: Client, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(6):
        shutil.copy(IMAGES / PHOTOS[i % 3], src / f"f{i}.png")
    seen: list[cluster.FileResult] = []

    def interrupt_after_two(result: cluster.FileResult) -> None:
        seen.append(result)
        if len(seen) == 2:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        cluster.code_files(client, [str(src)], str(tmp_path / "out"), on_result=interrupt_after_two)
    results = cluster.code_files(client, [str(src)], str(tmp_path / "out"))
    statuses = {Path(r.source).stem: r.status for r in results}
    assert all(statuses[Path(r.source).stem] == "skipped" for r in seen)
    assert set(statuses.values()) <= {"done", "skipped"}
    assert sum(s == "done" for s in statuses.values()) <= 4
    for i in range(6):
        out = tmp_path / "out" / f"f{i}.l3c"
        np.testing.assert_array_equal(_pixels(out), _pixels(src / f"f{i}.png"))
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".partial")]
    # a rerun with nothing to do skips every file; --force codes them again
    again = cluster.code_files(client, [str(src)], str(tmp_path / "out"))
    assert [r.status for r in again] == ["skipped"] * 6
    assert all(r.bytes > 0 and r.bpsp > 0 for r in again)
    forced = cluster.code_files(client, [str(src)], str(tmp_path / "out"), force=True)
    assert [r.status for r in forced] == ["done"] * 6


def test_memory_urls_and_a_parquet_manifest() -> None:
    """memory:// lives in one process, so its workers are threads of this one."""
    fs = fsspec.filesystem("memory")
    if fs.exists("/l3c-test"):
        fs.rm("/l3c-test", recursive=True)
    originals = {}
    for name in PHOTOS:
        fs.pipe(f"/l3c-test/src/{name}", (IMAGES / name).read_bytes())
        originals[name] = _pixels(IMAGES / name)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as lc,
        Client(lc) as c,
    ):
        enc = cluster.code_files(
            c,
            ["memory://l3c-test/src"],
            "memory://l3c-test/enc",
            manifest="memory://l3c-test/run.parquet",
        )
        dec = cluster.code_files(
            c, ["memory://l3c-test/enc"], "memory://l3c-test/dec", direction="decode"
        )
    assert [r.status for r in enc + dec] == ["done"] * 6
    assert cluster.read_manifest("memory://l3c-test/run.parquet") == enc
    for name, pixels in originals.items():
        np.testing.assert_array_equal(_pixels(f"memory://l3c-test/dec/{name}"), pixels)
    fs.rm("/l3c-test", recursive=True)


def test_cli_on_a_scheduler(
    client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _mixed_folder(tmp_path / "src")
    address = client.scheduler.address
    argv = ["encode", str(tmp_path / "src"), "-o", str(tmp_path / "out"), "--scheduler", address]
    assert main([*argv, "-q"]) == 1  # three files failed
    err = capsys.readouterr().err
    assert f"l3c: error: file://{tmp_path}/src/corrupt.png: {NOT_AN_IMAGE}" in err
    rows = cluster.read_manifest(str(tmp_path / "out" / "l3c-encode-manifest.csv"))
    assert sorted(r.status for r in rows) == ["done"] * 3 + ["error"] * 3
    dec = ["decode", str(tmp_path / "out"), "-o", str(tmp_path / "back"), "--scheduler", address]
    assert main([*dec, "-q"]) == 0
    assert len(list((tmp_path / "back").rglob("*.png"))) == 3


def test_without_dask_the_option_says_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    argv = ["encode", str(IMAGES), "-o", str(tmp_path), "--scheduler", "local:2"]
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        "l3c: error: --scheduler: this needs dask (dask.distributed is not installed): "
        "pip install 'pillow-l3c[dask]'\n"
    )


def test_importing_the_package_and_its_cli_imports_no_dask() -> None:
    code = (
        "import sys, pillow_l3c, pillow_l3c.cli; print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('dask', 'distributed', 'fsspec', 'pyarrow')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_two_sources_with_one_output_are_not_both_coded(client: Client, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    shutil.copy(IMAGES / "citrus_77x53.png", tmp_path / "src" / "a.png")
    Image.open(IMAGES / "ladybird_64x48.png").save(tmp_path / "src" / "a.bmp")
    results = cluster.code_files(client, [str(tmp_path / "src")], str(tmp_path / "out"))
    out = tmp_path / "out" / "a.l3c"
    assert [r.status for r in results] == ["done", "error"]
    assert results[1].error == (
        f"ValueError: its output {out} is also that of file://{tmp_path}/src/a.bmp"
    )
    np.testing.assert_array_equal(_pixels(out), _pixels(tmp_path / "src" / "a.bmp"))


def test_plan_makes_a_relative_destination_absolute_and_skips_it_inside_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos" / "out").mkdir(parents=True)
    shutil.copy(IMAGES / "citrus_77x53.png", tmp_path / "photos" / "a.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "photos" / "out" / "earlier.png")
    pairs = cluster.plan(["photos"], "photos/out")
    assert pairs == [(f"file://{tmp_path}/photos/a.png", f"{tmp_path}/photos/out/a.l3c")]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--scheduler", "local:abc"],
            "l3c: error: --scheduler local:abc: local:N needs a number of workers, got 'abc'\n",
        ),
        (
            ["--scheduler", "local:2", "-j", "2"],
            (
                "l3c: error: -j has no effect with --scheduler (the workers' threads are the "
                "parallelism)\n"
            ),
        ),
        (["--manifest", "m.csv"], "l3c: error: --manifest needs --scheduler\n"),
    ],
)
def test_cluster_options_that_cannot_work_say_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    assert main(["encode", str(IMAGES), "-o", str(tmp_path), "-q", *options]) == 1
    assert capsys.readouterr().err == message


def test_to_l3c_codes_tiles_on_the_cluster(client: Client, tmp_path: Path) -> None:
    import dask.array as da

    from pillow_l3c import dask_array

    photo = _pixels(IMAGES / "storm_256x192.png")
    expected = io.BytesIO()
    Image.fromarray(photo).save(expected, "L3C", tile_size=64)
    # the client is the active scheduler: the 12 tile tasks run in the worker processes
    dask_array.to_l3c(da.from_array(photo, chunks=64), str(tmp_path / "x.l3c"), tile_size=64)
    assert (tmp_path / "x.l3c").read_bytes() == expected.getvalue()
