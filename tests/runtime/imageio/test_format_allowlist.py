"""Inputs that name other files (GDAL VRT) cannot slip past the input policy."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pesto_factory.runtime.errors import UnprocessableInput
from pesto_factory.runtime.imageio import InputPolicy, read_bytes, read_image, read_image_ref


def vrt_pointing_at(target: Path) -> str:
    return (f'<VRTDataset rasterXSize="4" rasterYSize="4"><VRTRasterBand dataType="Byte" '
            f'band="1"><SimpleSource><SourceFilename>{target}</SourceFilename><SourceBand>1'
            f'</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>')


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.tif"
    path.parent.mkdir()
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1,
                       dtype="uint8") as dst:
        dst.write(np.full((1, 4, 4), 42, np.uint8))
    return path


def test_inline_vrt_is_refused(secret: Path) -> None:
    policy = InputPolicy(readable_roots=())
    encoded = base64.b64encode(vrt_pointing_at(secret).encode()).decode()
    with pytest.raises(UnprocessableInput, match="not in a supported image format"):
        read_image(encoded, policy)
    with pytest.raises(UnprocessableInput):
        read_bytes(vrt_pointing_at(secret).encode())


def test_vrt_file_inside_the_roots_cannot_reach_outside(secret: Path, tmp_path: Path) -> None:
    root = tmp_path / "inputs"
    root.mkdir()
    (root / "escape.tif").write_text(vrt_pointing_at(secret))
    policy = InputPolicy(readable_roots=(root,))
    with pytest.raises(UnprocessableInput):
        read_image((root / "escape.tif").as_uri(), policy)
    with pytest.raises(UnprocessableInput):
        read_image_ref({"href": (root / "escape.tif").as_uri()}, policy)
