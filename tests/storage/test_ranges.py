"""An ImageRef window of a large COG in the store is read with range requests of the blocks it
needs, not the whole object: GDAL's own network statistics count the bytes."""

from __future__ import annotations

import ctypes
import json
from pathlib import Path

import numpy as np
import pytest
from pesto_factory.runtime.imageio import InputPolicy, read_image_ref
from pesto_factory.runtime.imageio.objectstore import ObjectLocation, _gdal, upload
from pesto_factory.runtime.imageio.writing import write_image

from tests.storage.conftest import BUCKET

SIZE, TILE, MARGIN = 4096, 512, 16


def network_bytes(action) -> tuple[int, int]:
    """(bytes downloaded, requests) by GDAL's network layer while `action()` runs."""
    gdal = _gdal()
    gdal.VSINetworkStatsGetAsSerializedJSON.restype = ctypes.c_void_p
    gdal.VSINetworkStatsGetAsSerializedJSON.argtypes = [ctypes.c_void_p]
    gdal.VSICurlClearCache()
    gdal.VSINetworkStatsReset()
    action()
    pointer = gdal.VSINetworkStatsGetAsSerializedJSON(None)
    stats = json.loads(ctypes.string_at(pointer).decode())
    gdal.VSIFree(ctypes.c_void_p(pointer))
    methods = stats.get("methods", {})
    received = sum(m.get("downloaded_bytes", 0) for m in methods.values())
    requests = sum(m.get("count", 0) for m in methods.values())
    return received, requests


@pytest.mark.slow
def test_one_tile_reads_a_small_part_of_a_large_cog(s3_env, prefix, tmp_path: Path, capsys,
                                                    monkeypatch):
    monkeypatch.setenv("CPL_VSIL_NETWORK_STATS_ENABLED", "YES")
    rng = np.random.default_rng(5)
    data = rng.integers(0, 4000, (1, SIZE, SIZE), dtype=np.uint16)
    local = write_image(data, tmp_path / "large.tif")
    target = ObjectLocation("s3", BUCKET, f"{prefix}/large.tif")
    upload(local, target)
    policy = InputPolicy(readable_roots=(), remote_hosts=(BUCKET,))
    ref = {"href": target.uri, "margin": MARGIN,
           "window": {"col_off": 2048, "row_off": 1024, "width": TILE, "height": TILE}}
    read = {}
    received, requests = network_bytes(lambda: read.update(image=read_image_ref(ref, policy)))
    image = read["image"]
    expected = data[:, 1024 - MARGIN:1024 + TILE + MARGIN, 2048 - MARGIN:2048 + TILE + MARGIN]
    assert (image.data == expected).all() and image.margin == (MARGIN,) * 4
    size = local.stat().st_size
    with capsys.disabled():
        print(f"\n  one {TILE}x{TILE} tile (+{MARGIN} margin) of a {SIZE}x{SIZE} uint16 COG "
              f"({size / 1e6:.1f} MB): {received / 1e6:.2f} MB in {requests} requests "
              f"({received / size:.1%} of the object)")
    # the window + margin touches 2 x 3 of the 8 x 8 blocks; GDAL merges neighbouring ranges
    assert 0 < received < 0.2 * size
    aligned = {"href": target.uri, "window": {"col_off": 2048, "row_off": 1024,
                                              "width": TILE, "height": TILE}}
    one_block, _ = network_bytes(lambda: read_image_ref(aligned, policy))
    with capsys.disabled():
        print(f"  the same tile block-aligned, no margin: {one_block / 1e6:.2f} MB "
              f"({one_block / size:.1%})")
    assert 0 < one_block < 0.05 * size
