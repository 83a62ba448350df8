"""Test cases: payloads from files, comparison with tolerances, readable diffs, exit codes."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from pesto_factory.packager.cases import load_cases, read_payload_dir
from pesto_factory.packager.compare import Tolerance, compare_outputs, json_diff
from pesto_factory.runtime.imageio import write_geotiff

from tests.packager.conftest import run_cli


def _tif(path: Path, data: np.ndarray, *, crs: str = "EPSG:32631", x0: float = 0.0) -> Path:
    return write_geotiff(path, data, crs=crs, transform=Affine(1.0, 0.0, x0, 0.0, -1.0, 100.0),
                         driver="GTiff")


def test_payload_from_files_and_folders(tmp_path: Path) -> None:
    folder = tmp_path / "input"
    folder.mkdir()
    (folder / "name.string").write_text("abc\n")
    (folder / "count.int").write_text("7")
    (folder / "ratio.float").write_text("0.25")
    (folder / "options.json").write_text('{"a": [1, 2]}')
    (folder / "aoi.geojson").write_text('{"type": "Polygon", "coordinates": []}')
    image = _tif(folder / "image.tif", np.ones((1, 2, 2), np.uint8))
    for index in (10, 2, 1):  # numeric names: a list in numeric order
        (folder / "values").mkdir(exist_ok=True)
        (folder / "values" / f"{index}.int").write_text(str(index))
    (folder / "named").mkdir()
    (folder / "named" / "x.float").write_text("1.5")
    payload = read_payload_dir(folder)
    assert payload == {
        "name": "abc", "count": 7, "ratio": 0.25, "options": {"a": [1, 2]},
        "aoi": {"type": "Polygon", "coordinates": []},
        "image": base64.b64encode(image.read_bytes()).decode(),
        "values": [1, 2, 10], "named": {"x": 1.5}}


def test_bad_case_files_are_named(tmp_path: Path) -> None:
    from pesto_factory.runtime.errors import ProjectError

    folder = tmp_path / "input"
    folder.mkdir()
    (folder / "x.int").write_text("seven")
    with pytest.raises(ProjectError, match=r"x\.int: cannot read a int value"):
        read_payload_dir(folder)
    (folder / "x.int").unlink()
    (folder / "x.bin").write_text("")
    with pytest.raises(ProjectError, match="unknown test file type .bin"):
        read_payload_dir(folder)


def _expected(tmp_path: Path, **files: object) -> dict:
    case = tmp_path / "pesto" / "tests" / "c"
    (case / "input").mkdir(parents=True, exist_ok=True)
    for name, value in files.items():
        path = case / "output" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(value, np.ndarray):
            _tif(path, value)
        else:
            path.write_text(str(value))
    return load_cases(tmp_path)[0].expected


def test_floats_and_images_within_tolerance(tmp_path: Path) -> None:
    data = np.linspace(0, 1, 12, dtype=np.float32).reshape(1, 3, 4)
    expected = _expected(tmp_path, **{"mean.float": "0.5", "img.tif": data})
    near = base64.b64encode(_tif(tmp_path / "near.tif", data + 1e-7).read_bytes()).decode()
    assert compare_outputs(expected, {"mean": 0.5000001, "img": near}, Tolerance()) == []


def test_image_differences_are_named(tmp_path: Path) -> None:
    data = np.zeros((1, 3, 4), np.float32)
    expected = _expected(tmp_path, **{"img.tif": data})

    def diff(path: Path) -> list[str]:
        encoded = base64.b64encode(path.read_bytes()).decode()
        return compare_outputs(expected, {"img": encoded}, Tolerance())

    changed = data.copy()
    changed[0, 1, 1] = 0.5
    assert diff(_tif(tmp_path / "a.tif", changed)) == [
        "/img: 1 of 12 pixel values differ (largest difference 0.5; rtol=1e-05, atol=1e-06)"]
    assert "image dtype expected float32, got float64" in diff(
        _tif(tmp_path / "b.tif", data.astype(np.float64)))[0]
    assert "image CRS expected EPSG:32631, got EPSG:4326" in diff(
        _tif(tmp_path / "c.tif", data, crs="EPSG:4326"))[0]
    assert "image transform expected" in diff(_tif(tmp_path / "d.tif", data, x0=5.0))[0]
    assert "image shape (bands, rows, cols) expected (1, 3, 4), got (1, 4, 3)" in diff(
        _tif(tmp_path / "e.tif", np.zeros((1, 4, 3), np.float32)))[0]


def test_json_and_strings_are_exact(tmp_path: Path) -> None:
    expected = _expected(tmp_path, **{"meta.json": '{"a": [1, 2], "b": "x"}',
                                      "label.string": "cloud", "n.int": "3"})
    lines = compare_outputs(expected, {"meta": {"a": [1, 3], "c": 1}, "label": "Cloud",
                                       "n": 3, "other": True}, Tolerance())
    assert sorted(lines) == sorted([
        "/meta/a/1: expected 2, got 3", "/meta/b: missing (expected 'x')",
        "/meta/c: unexpected 1", "/label: expected 'cloud', got 'Cloud'",
        "/other: not expected (add output/other.* to check it)"])
    assert json_diff({"x": 1}, {"x": True}) == ["/x: expected 1, got true"]


def test_failing_case_and_describe_exit_1_with_a_diff(ndvi: Path) -> None:
    case = ndvi / "pesto" / "tests" / "field" / "output"
    (case / "mean.float").write_text("0.5\n")
    describe = ndvi / "pesto" / "tests" / "expected_describe.json"
    document = json.loads(describe.read_text())
    document["title"] = "Old title"
    describe.write_text(json.dumps(document))
    done = run_cli("test", ndvi)
    assert done.returncode == 1
    assert "FAIL describe" in done.stdout and "/title: expected 'Old title', got 'NDVI'" in done.stdout
    assert "FAIL case field" in done.stdout and "/mean: expected 0.5" in done.stdout
    assert "2 of 2 check(s) failed" in done.stderr
    assert "Traceback" not in done.stderr


def test_algorithm_error_is_a_failed_case(ndvi: Path) -> None:
    (ndvi / "pesto" / "tests" / "field" / "input" / "red_band.int").write_text("9")
    done = run_cli("test", ndvi, "--case", "field")
    assert done.returncode == 1
    assert "FAIL case field" in done.stdout and "red_band=9" in done.stdout
