"""Windowed reads from GeoTIFF/COG, lossless atomic writes, files-to-files filtering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from pesto_factory.runtime.raster import (
    NotARasterError,
    OutputSpec,
    RasterInputError,
    TileProcessingError,
    TilingError,
    Window,
    raster_info,
    read_tile,
    read_window,
    regular_grid,
    run_filter,
    run_filter_to_files,
    write_raster,
)
from rasterio.errors import RasterioIOError
from rasterio.transform import from_origin

from tests.runtime.raster import funcs

TRANSFORM = from_origin(600000, 5000000, 10, 10)


def write(path: Path, data: np.ndarray, *, nodata=0, driver="GTiff", **options) -> Path:
    with rasterio.open(path, "w", driver=driver, width=data.shape[2], height=data.shape[1],
                       count=data.shape[0], dtype=data.dtype, crs="EPSG:32631",
                       transform=TRANSFORM, nodata=nodata, **options) as out:
        out.write(data)
    return path


@pytest.fixture
def scene(tmp_path: Path) -> tuple[Path, np.ndarray]:
    data = np.random.default_rng(11).integers(1, 4000, size=(3, 90, 70)).astype(np.uint16)
    return write(tmp_path / "scene.tif", data, tiled=True, blockxsize=32, blockysize=32), data


def test_read_window_clips_at_the_borders_and_reports_the_margin(scene):
    path, data = scene
    inner = read_window(path, Window(10, 20, 15, 12), margin=4)
    np.testing.assert_array_equal(inner.data, data[:, 16:36, 6:29])
    assert inner.margin == (4, 4, 4, 4)
    np.testing.assert_array_equal(inner.core().data, data[:, 20:32, 10:25])
    assert inner.transform == TRANSFORM @ TRANSFORM.translation(6, 16)
    assert inner.crs.to_epsg() == 32631 and inner.nodata == 0

    corner = read_window(path, Window(60, -5, 20, 15), margin=3, bands=[2])
    np.testing.assert_array_equal(corner.data, data[1:2, 0:13, 57:70])
    assert corner.margin == (0, 3, 3, 0)
    assert corner.core().data.shape == (1, 10, 10)  # the window itself, clipped


def test_read_tile_reads_the_read_window(scene):
    path, data = scene
    grid = regular_grid(90, 70, tile_size=32, margin=5)
    tile = grid[4]
    image = read_tile(path, tile)
    np.testing.assert_array_equal(image.data, data[(slice(None), *tile.read.slices)])
    assert image.margin == tile.margins
    np.testing.assert_array_equal(image.core().data, data[(slice(None), *tile.core.slices)])


def test_window_outside_and_bad_files(scene, tmp_path: Path):
    path, _ = scene
    with pytest.raises(TilingError, match="inside the 90 x 70 raster"):
        read_window(path, Window(100, 100, 5, 5))
    text = tmp_path / "notes.tif"
    text.write_text("not an image")
    with pytest.raises(NotARasterError, match="notes.tif: not a raster") as info:
        read_window(text, Window(0, 0, 5, 5))
    assert info.value.source == str(text)
    with pytest.raises(NotARasterError, match="missing.tif: no such file"):
        raster_info(tmp_path / "missing.tif")
    with pytest.raises(NotARasterError, match="notes.tif"):
        run_filter(funcs.uniform5, [path, text], margin=2)


@pytest.mark.parametrize("driver", ["GTiff", "COG"])
@pytest.mark.parametrize(("dtype", "nodata"), [("uint8", 255), ("int16", -1), ("float32", np.nan)])
def test_write_raster_is_lossless(tmp_path: Path, driver, dtype, nodata):
    data = (np.random.default_rng(2).normal(50, 20, size=(2, 300, 260))).astype(dtype)
    path = write_raster(tmp_path / "out.tif", data, crs="EPSG:32631", transform=TRANSFORM,
                        nodata=nodata, driver=driver)
    with rasterio.open(path) as written:
        np.testing.assert_array_equal(written.read(), data)
        assert written.dtypes[0] == dtype
        assert written.crs.to_epsg() == 32631 and written.transform == TRANSFORM
        assert written.nodata == nodata or (np.isnan(nodata) and np.isnan(written.nodata))
        if driver == "COG":
            assert written.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif"]


def test_booleans_are_written_as_bytes(tmp_path: Path):
    mask = np.random.default_rng(3).random((1, 20, 30)) > 0.5
    with rasterio.open(write_raster(tmp_path / "mask.tif", mask)) as written:
        assert written.dtypes[0] == "uint8"
        np.testing.assert_array_equal(written.read(), mask)


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch):
    with pytest.raises(RasterInputError, match="output folder does not exist"):
        write_raster(tmp_path / "nowhere" / "out.tif", np.zeros((1, 4, 4), np.uint8))
    with pytest.raises(RasterInputError, match="cannot store <U1"):
        write_raster(tmp_path / "out.tif", np.full((1, 4, 4), "a"))

    def disk_full(self, *args, **kwargs):
        raise RasterioIOError("No space left on device")

    monkeypatch.setattr(rasterio.io.DatasetWriter, "write", disk_full)
    with pytest.raises(RasterInputError, match="out.tif: cannot write the raster: No space left"):
        write_raster(tmp_path / "out.tif", np.zeros((1, 4, 4), np.uint8))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_files_to_files_equals_the_whole_image(scene, tmp_path: Path, workers):
    path, data = scene
    out = tmp_path / "smooth.tif"
    [written] = run_filter_to_files(funcs.uniform5, [path], [out], margin=2, tile_size=32,
                                    workers=workers, driver="COG")
    with rasterio.open(written) as result:
        np.testing.assert_array_equal(result.read(), funcs.uniform5([data])[0])
        assert result.transform == TRANSFORM and result.crs.to_epsg() == 32631
        assert result.nodata == 0 and result.dtypes[0] == "uint16"  # same dtype: nodata kept


def test_files_to_files_with_declared_outputs(scene, tmp_path: Path):
    path, data = scene
    outs = [tmp_path / "ratio.tif", tmp_path / "peak.tif"]
    specs = [OutputSpec(1, "float32", nodata=-1.0), OutputSpec(3, "uint16")]
    run_filter_to_files(funcs.two_in_two_out, [path, path], outs, margin=1, outputs=specs,
                        tile_size=40, workers=2)
    with rasterio.open(outs[0]) as ratio, rasterio.open(outs[1]) as peak:
        assert (ratio.dtypes[0], ratio.nodata, peak.nodata) == ("float32", -1.0, None)
        np.testing.assert_array_equal(peak.read(), funcs.two_in_two_out([data, data])[1])


def test_files_of_different_sizes_are_refused(scene, tmp_path: Path):
    path, data = scene
    small = write(tmp_path / "small.tif", data[:, :50])
    with pytest.raises(RasterInputError, match=r"input 1 \(.*small.tif\) is 50 x 70 pixels"):
        run_filter_to_files(funcs.uniform5, [path, small], [tmp_path / "o.tif"], margin=2)
    assert not (tmp_path / "o.tif").exists()


def test_failing_filter_writes_no_output(scene, tmp_path: Path):
    path, data = scene
    marked = data.copy()
    marked[0, 80, 60] = 7777
    source = write(tmp_path / "marked.tif", marked)
    with pytest.raises(TileProcessingError, match="fails_on_marker"):
        run_filter_to_files(funcs.fails_on_marker, [source], [tmp_path / "o.tif"], margin=0,
                            tile_size=32, workers=2, outputs=[OutputSpec(3, "uint16")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["marked.tif", "scene.tif"]


def test_outputs_need_one_path_each(scene, tmp_path: Path):
    path, _ = scene
    with pytest.raises(TilingError, match="one path per output"):
        run_filter_to_files(funcs.two_in_two_out, [path, path], [tmp_path / "a.tif"], margin=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.tif"]
