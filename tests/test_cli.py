"""The l3c command line, run in-process through its main()."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pillow_l3c.cli import main

from .conftest import IMAGES


@pytest.fixture
def two_photos(tmp_path: Path) -> list[Path]:
    out = []
    for name in ["ladybird_64x48.png", "citrus_77x53.png"]:
        shutil.copy(IMAGES / name, tmp_path / name)
        out.append(tmp_path / name)
    return out


def test_encode_decode_info_roundtrip(
    tmp_path: Path, two_photos: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["encode", *map(str, two_photos), "-o", str(tmp_path / "enc"), "-q"]) == 0
    encoded = sorted((tmp_path / "enc").glob("*.l3c"))
    assert [p.name for p in encoded] == ["citrus_77x53.l3c", "ladybird_64x48.l3c"]
    assert main(["decode", *map(str, encoded), "-o", str(tmp_path / "dec"), "-q"]) == 0
    for src in two_photos:
        with Image.open(src) as a, Image.open(tmp_path / "dec" / src.name) as b:
            np.testing.assert_array_equal(np.asarray(a.convert("RGB")), np.asarray(b))
    capsys.readouterr()
    assert main(["info", str(encoded[1])]) == 0
    line = capsys.readouterr().out.strip()
    assert (
        "64x48 RGB, 8 bits per sample, format version 3, 1 tile of 512, model poly-small (" in line
    )
    assert line.endswith(" bpsp")


def test_single_output_file_and_default_names(tmp_path: Path, two_photos: list[Path]) -> None:
    assert main(["encode", str(two_photos[0]), "-o", str(tmp_path / "one.l3c")]) == 0
    assert (tmp_path / "one.l3c").read_bytes().startswith(b"\x89L3C")
    assert main(["encode", str(two_photos[1])]) == 0
    assert two_photos[1].with_suffix(".l3c").exists()


def test_errors_give_one_line_and_exit_1(
    tmp_path: Path, two_photos: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.l3c"
    bad.write_bytes(b"\x89L3C\r\n\x1a\n" + bytes(100))
    gray = tmp_path / "gray.tif"
    Image.new("F", (8, 8)).save(gray)  # floating point: refused
    capsys.readouterr()
    assert main(["decode", str(bad), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"l3c: error: {bad}: ")
    assert main(["encode", str(gray), str(two_photos[0]), "-o", str(tmp_path / "o"), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"l3c: error: {gray}: cannot write mode F as L3C"]
    assert not (tmp_path / "o" / "gray.l3c").exists()
    assert (tmp_path / "o" / "ladybird_64x48.l3c").exists()  # the others still run
    assert main(["info", str(tmp_path / "missing.l3c")]) == 1


def test_compare_prints_bpsp_against_png(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(IMAGES / "ladybird_64x48.png")]) == 0
    out = capsys.readouterr().out
    assert "L3C " in out
    assert "PNG " in out
    assert "round trip exact" in out


def _photo_folder(root: Path) -> Path:
    src = root / "photos"
    (src / "sub").mkdir(parents=True)
    shutil.copy(IMAGES / "ladybird_64x48.png", src / "ladybird.png")
    shutil.copy(IMAGES / "citrus_77x53.png", src / "sub" / "citrus.png")
    shutil.copy(IMAGES / "path_96x64.png", src / "sub" / "path.png")
    (src / "notes.txt").write_text("not an image")
    return src


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_folder_encode_mirrors_the_tree_and_resumes(
    tmp_path: Path, jobs: str, capsys: pytest.CaptureFixture[str]
) -> None:
    src, out = _photo_folder(tmp_path), tmp_path / "out"
    assert main(["encode", str(src), "-o", str(out), "-j", jobs, "-q"]) == 0
    encoded = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.l3c"))
    assert encoded == ["ladybird.l3c", "sub/citrus.l3c", "sub/path.l3c"]
    assert not list(out.rglob("*.partial"))
    # An interrupted run: one output missing. The rerun codes only that one.
    (out / "sub" / "path.l3c").unlink()
    before = (out / "ladybird.l3c").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["encode", str(src), "-o", str(out), "-j", jobs]) == 0
    captured = capsys.readouterr()
    assert "2 outputs are up to date, skipped" in captured.err
    assert captured.out.count(" -> ") == 1
    assert "path.l3c" in captured.out
    assert (out / "ladybird.l3c").stat().st_mtime_ns == before
    assert main(["encode", str(src), "-o", str(out), "-j", jobs, "-q", "--force"]) == 0
    assert (out / "ladybird.l3c").stat().st_mtime_ns > before
    # and back, through a pool as well
    assert main(["decode", str(out), "-o", str(tmp_path / "dec"), "-j", jobs, "-q"]) == 0
    with (
        Image.open(src / "sub" / "citrus.png") as a,
        Image.open(tmp_path / "dec" / "sub" / "citrus.png") as b,
    ):
        np.testing.assert_array_equal(np.asarray(a.convert("RGB")), np.asarray(b))


def test_pool_reports_each_failure_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _photo_folder(tmp_path)
    Image.new("F", (8, 8)).save(src / "float.tif")
    assert main(["encode", str(src), "-o", str(tmp_path / "out"), "-j", "2", "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"l3c: error: {src / 'float.tif'}: cannot write mode F as L3C"]
    assert len(list((tmp_path / "out").rglob("*.l3c"))) == 3


def test_missing_input_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["encode", str(tmp_path / "nothing"), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"l3c: error: {tmp_path / 'nothing'}: no such file or folder"]


def test_bench_is_a_subcommand() -> None:
    from pillow_l3c.cli import build_parser

    args = build_parser().parse_args(["bench", "photos", "--codecs", "png", "--limit", "2"])
    assert (args.command, args.limit) == ("bench", 2)


def test_two_inputs_with_one_output_are_not_both_coded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(IMAGES / "citrus_77x53.png", tmp_path / "a.png")
    Image.open(IMAGES / "ladybird_64x48.png").save(tmp_path / "a.bmp")
    assert main(["encode", str(tmp_path), "-o", str(tmp_path / "out"), "-q"]) == 1
    out = tmp_path / "out" / "a.l3c"
    assert capsys.readouterr().err == (
        f"l3c: error: {tmp_path / 'a.png'}: its output {out} is also that of {tmp_path / 'a.bmp'}\n"
    )
    with Image.open(out) as im, Image.open(tmp_path / "a.bmp") as src:
        assert im.tobytes() == src.tobytes()


def test_crop_decodes_a_region(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pillow_l3c import _codec

    with Image.open(IMAGES / "storm_256x192.png") as im:
        storm = im.convert("RGB")
        storm.save(tmp_path / "s.l3c", tile_size=64)
    decoded: list[int] = []
    real = _codec.decode_tile_payload
    monkeypatch.setattr(
        _codec,
        "decode_tile_payload",
        lambda h, coders, tile, payload, level=0: (
            decoded.append(tile.index) or real(h, coders, tile, payload, level)
        ),
    )
    out = tmp_path / "part.png"
    assert main(["crop", str(tmp_path / "s.l3c"), "70,10,130,60", "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 's.l3c'} (70, 10, 130, 60) -> {out}\n"
    assert sorted(decoded) == [1, 2]
    with Image.open(out) as part:
        assert part.tobytes() == storm.crop((70, 10, 130, 60)).tobytes()
    other = tmp_path / "other.png"
    assert main(["crop", str(IMAGES / "storm_256x192.png"), "0,0,8,8", "-o", str(other)]) == 1
    assert "cannot identify image file" in capsys.readouterr().err
    assert main(["crop", str(tmp_path / "s.l3c"), "70,10,1", "-o", str(other)]) == 1
    assert capsys.readouterr().err == (
        "l3c crop: error: argument LEFT,UPPER,RIGHT,LOWER: a box is LEFT,UPPER,RIGHT,LOWER "
        "in pixels, got '70,10,1' (see l3c crop --help)\n"
    )


# --- nothing lost, nothing surprising ---------------------------------------------------


def _encoded(tmp_path: Path, name: str = "a") -> Path:
    shutil.copy(IMAGES / "ladybird_64x48.png", tmp_path / f"{name}.png")
    assert main(["encode", str(tmp_path / f"{name}.png"), "-q"]) == 0
    return tmp_path / f"{name}.l3c"


def test_decode_never_replaces_a_file_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    encoded = _encoded(tmp_path)
    original = tmp_path / "a.png"
    before = original.read_bytes()
    capsys.readouterr()
    assert main(["decode", str(encoded)]) == 1
    assert capsys.readouterr().err == (
        f"l3c: error: {encoded}: {original} exists and was not written by l3c from this "
        "source (--force replaces it)\n"
    )
    assert original.read_bytes() == before
    assert main(["decode", str(encoded), "-o", str(encoded), "--force"]) == 1
    assert capsys.readouterr().err == (
        f"l3c: error: {encoded}: its output {encoded} would replace an input\n"
    )
    assert main(["decode", str(encoded), "--force", "-q"]) == 0  # asked for: replaced
    with Image.open(original) as im, Image.open(IMAGES / "ladybird_64x48.png") as src:
        assert im.tobytes() == src.convert("RGB").tobytes()
    assert not list(tmp_path.glob(".*partial"))


def test_decode_writes_only_lossless_formats_unless_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    encoded = _encoded(tmp_path)
    capsys.readouterr()
    assert main(["decode", str(encoded), "-o", str(tmp_path / "x.jpg")]) == 1
    assert capsys.readouterr().err == (
        f"l3c: error: -o {tmp_path / 'x.jpg'}: JPEG would not store the pixels exactly; write "
        "one of BMP, L3C, PNG, PPM, QOI, TIFF, WEBP, or allow a lossy output "
        "(l3c decode --lossy)\n"
    )
    assert not (tmp_path / "x.jpg").exists()
    assert main(["decode", str(encoded), "-o", str(tmp_path / "x.jpg"), "--lossy", "-q"]) == 0
    with Image.open(tmp_path / "x.jpg") as im:
        assert im.format == "JPEG"
    for suffix in (".webp", ".tiff", ".bmp", ".ppm", ".qoi"):
        out = tmp_path / f"x{suffix}"
        assert main(["decode", str(encoded), "-o", str(out), "-q"]) == 0
        with Image.open(out) as im, Image.open(IMAGES / "ladybird_64x48.png") as src:
            assert im.convert("RGB").tobytes() == src.convert("RGB").tobytes(), suffix


def test_output_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "a.png"
    shutil.copy(IMAGES / "ladybird_64x48.png", src)
    assert main(["encode", str(src), "-o", f"{tmp_path / 'newdir'}/", "-q"]) == 0
    assert (tmp_path / "newdir" / "a.l3c").exists()
    assert main(["encode", str(src), "-o", str(tmp_path / "name"), "-q"]) == 0
    assert (tmp_path / "name" / "a.l3c").exists()
    assert main(["decode", str(tmp_path / "name" / "a.l3c"), "-o", str(tmp_path / "d"), "-q"]) == 0
    assert (tmp_path / "d" / "a.png").exists()
    capsys.readouterr()
    assert main(["encode", str(src), "-o", str(tmp_path / "b.png")]) == 1
    assert capsys.readouterr().err == (
        f"l3c: error: -o {tmp_path / 'b.png'}: l3c encode writes .l3c files "
        "(name the output NAME.l3c, or a folder)\n"
    )
    assert not (tmp_path / "b.png").exists()
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    assert main(["encode", str(src), "-o", str(blocker / "x.l3c")]) == 1
    assert capsys.readouterr().err == (
        f"l3c: error: {src}: cannot write {blocker / 'x.l3c'}: {blocker} is a file, not a folder\n"
    )
    assert main(["decode", str(tmp_path / "name" / "a.l3c"), "-o", str(tmp_path / "x.foo")]) == 1
    assert capsys.readouterr().err == (
        f"l3c: error: -o {tmp_path / 'x.foo'}: no image format that Pillow writes has the "
        "suffix '.foo'\n"
    )
    assert main(["encode", str(src), str(src), "-o", str(tmp_path / "one.l3c")]) == 1
    assert "several inputs need a folder" in capsys.readouterr().err


def test_no_silent_no_ops(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no image here")
    assert main(["encode", str(tmp_path / "empty")]) == 1
    assert capsys.readouterr().err == f"l3c: error: {tmp_path / 'empty'}: a folder without images\n"
    assert main(["decode", str(tmp_path / "empty")]) == 1
    assert capsys.readouterr().err == (
        f"l3c: error: {tmp_path / 'empty'}: a folder without .l3c files\n"
    )
    assert main(["encode", str(tmp_path / "missing.png")]) == 1
    assert (
        capsys.readouterr().err
        == f"l3c: error: {tmp_path / 'missing.png'}: no such file or folder\n"
    )


def test_compare_codes_each_image_in_its_own_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pillow_l3c import _codec

    with Image.open(IMAGES / "ladybird_64x48.png") as im:
        im.convert("L").save(tmp_path / "grey.png")
        rgba = im.convert("RGBA")
        rgba.putalpha(Image.linear_gradient("L").resize(im.size))
        rgba.save(tmp_path / "alpha.png")
        im.convert("P").save(tmp_path / "palette.png")
    Image.new("F", (8, 8)).save(tmp_path / "deep.tif")
    assert main(["compare", str(tmp_path)]) == 1  # the folder: four images, one refused
    captured = capsys.readouterr()
    assert [line for line in captured.err.splitlines() if line.startswith("l3c:")] == [
        f"l3c: error: {tmp_path / 'deep.tif'}: cannot write mode F as L3C"
    ]
    lines = sorted(captured.out.strip().splitlines())
    assert lines[0].startswith(f"{tmp_path / 'alpha.png'}: 64x48 RGBA  L3C ")
    assert lines[1].startswith(f"{tmp_path / 'grey.png'}: 64x48 L  L3C ")
    assert lines[2].startswith(f"{tmp_path / 'palette.png'}: 64x48 P  L3C ")
    with Image.open(tmp_path / "grey.png") as grey:
        data = _codec.encode(np.asarray(grey), "L")
    assert f"L3C {len(data) * 8 / (64 * 48):.3f} bpsp" in lines[1]  # one plane, not three
    assert all(line.endswith("round trip exact") for line in lines)


def test_info_takes_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _encoded(tmp_path, "a")
    _encoded(tmp_path, "b")
    capsys.readouterr()
    assert main(["info", str(tmp_path)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2


def test_usage_errors_are_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["encode"]) == 1
    assert capsys.readouterr().err == (
        "l3c encode: error: the following arguments are required: inputs (see l3c encode --help)\n"
    )
    assert main(["frobnicate"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_version_and_python_m() -> None:
    import subprocess
    import sys

    import pillow_l3c

    for command in (["-m", "pillow_l3c", "--version"], ["-m", "pillow_l3c.cli", "--version"]):
        done = subprocess.run(
            [sys.executable, *command], capture_output=True, text=True, check=False
        )
        assert (done.returncode, done.stdout) == (0, f"l3c {pillow_l3c.__version__}\n")


def test_a_bad_device_is_refused_before_any_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "a.png"
    shutil.copy(IMAGES / "ladybird_64x48.png", src)
    assert main(["encode", str(src), "--device", "gpu"]) == 1
    assert capsys.readouterr().err == (
        'l3c: error: --device: unknown device \'gpu\': use "cpu", "cuda" or "cuda:N"\n'
    )
    assert not (tmp_path / "a.l3c").exists()


def test_ctrl_c_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pillow_l3c import cli

    def interrupted(*args: object, **kwargs: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_encode_one", interrupted)
    src = tmp_path / "a.png"
    shutil.copy(IMAGES / "ladybird_64x48.png", src)
    assert main(["encode", str(src), "-q"]) == 130
    assert capsys.readouterr().err == (
        "l3c: interrupted (outputs are complete or absent: rerun to resume)\n"
    )


def test_an_animation_is_refused_not_cut_to_one_frame(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    frames[0].save(tmp_path / "anim.png", save_all=True, append_images=frames[1:])
    assert main(["encode", str(tmp_path / "anim.png")]) == 1
    assert capsys.readouterr().err == (
        f"l3c: error: {tmp_path / 'anim.png'}: it has 2 frames and an L3C file holds one image\n"
    )


def test_an_os_error_names_the_output_not_the_temporary_file(tmp_path: Path) -> None:
    from pillow_l3c import _outputs

    def denied(tmp: Path) -> None:
        raise PermissionError(13, "Permission denied", str(tmp))

    with pytest.raises(PermissionError) as caught:
        _outputs.write_file(tmp_path / "x.l3c", denied, force=False)
    assert str(caught.value) == f"cannot write {tmp_path / 'x.l3c'}: Permission denied"
    assert list(tmp_path.iterdir()) == []
