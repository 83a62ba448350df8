"""Sample scenes for the demo, tests and benchmarks: the real Sentinel-2 crop and synthetic scenes.

Masks use the cloud-detection class codes (0 clear, 1 cloud, 2 cloud shadow, 255 nodata).

- The real 512 x 512 Sentinel-2 L1C crop (6 bands of top-of-atmosphere reflectance, blue green
  red nir swir1 swir2) and its hand-made reference mask ship in the repository as GeoTIFFs,
  examples/data/ (source and licence in examples/data/README.md): `sentinel2_crop()` names
  them, `copy_sentinel2_crop` puts them where a service may read them, `load_sentinel2_crop`
  reads the pixels. The source has no georeferencing, so the files have no CRS and no
  geotransform: none is invented. `convert_sentinel2_npz` made them from the source archive
  (`python examples/scenes.py NPZ` writes them again).
- `write_synthetic_scene`: a made-up but plausible scene (farmland parcels, texture, a lake,
  cumulus clouds with soft edges and their shadows offset from them) in UTM zone 31N, with the
  true mask returned, written as a COG. The same seed gives the same pixels.

Files are written by the runtime's one GeoTIFF writer (temporary name renamed on success).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import DTypeLike
from pesto_factory.schemas.errors import UnprocessableInput

__all__ = [
    "BAND_ORDER",
    "CropFiles",
    "SyntheticScene",
    "SampleDataError",
    "CROP_IMAGE",
    "CROP_MASK",
    "convert_sentinel2_npz",
    "copy_sentinel2_crop",
    "load_sentinel2_crop",
    "sentinel2_crop",
    "write_cog",
    "write_synthetic_scene",
]

log = logging.getLogger(__name__)

BAND_ORDER: tuple[str, ...] = ("blue", "green", "red", "nir", "swir1", "swir2")
MASK_NODATA = 255
#: The real crop and its reference mask, as shipped in the repository.
DATA = Path(__file__).resolve().parent / "data"
CROP_IMAGE = DATA / "sentinel2_l1c_512.tif"
CROP_MASK = DATA / "sentinel2_l1c_512_mask.tif"
_CROP_SOURCE = "ukis-csmask tests/testfiles/sentinel2.npz (Copernicus Sentinel data)"
# Reference codes of the crop (0 shadow, 1-3 clear, 4 cloud) -> ours (0 clear, 1 cloud, 2 shadow).
_CROP_CODES = np.array([2, 0, 0, 0, 1], dtype=np.uint8)


class SampleDataError(UnprocessableInput, ValueError):
    """A sample source file is missing or not what it should be; names the file and field."""


@dataclass(frozen=True)
class CropFiles:
    """The real crop written as files: 6-band float32 image and uint8 reference mask."""

    image: Path
    mask: Path


@dataclass(frozen=True)
class SyntheticScene:
    """A written synthetic scene and its truth (class codes, nodata = 255)."""

    path: Path
    mask: np.ndarray  # uint8 (H, W)
    band_order: tuple[str, ...]
    crs: str
    transform: Any  # affine.Affine
    nodata: float
    mask_path: Path | None = None


def write_cog(path: Path, data: np.ndarray, *, crs: Any = None, transform: Any = None,
              nodata: float | None = None, band_names: Sequence[str] = (),
              resampling: str = "average", tags: dict[str, str] | None = None) -> Path:
    """Write a (bands, rows, cols) array as a COG with overviews (`resampling`), atomically:
    the runtime's one writer with the sample layout (256 px blocks, as GDAL's COG default)."""
    from pesto_factory.runtime.imageio.writing import write_geotiff

    return write_geotiff(path, data, crs=crs, transform=transform, nodata=nodata,
                         overviews=True, resampling=resampling, blocksize=256,
                         band_names=band_names, tags=tags)


def _load_crop(npz_path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not npz_path.is_file():
        raise SampleDataError(f"{npz_path}: no such file")
    try:
        with np.load(npz_path) as archive:
            img, msk = archive["img"], archive["msk"]
    except KeyError as exc:
        raise SampleDataError(f"{npz_path}: missing array {exc} (need 'img' and 'msk')") from None
    except (OSError, ValueError) as exc:
        raise SampleDataError(f"{npz_path}: not a readable .npz archive ({exc})") from exc
    if img.ndim != 3 or img.shape[2] != len(BAND_ORDER):
        raise SampleDataError(f"{npz_path}: 'img' must be (rows, cols, 6), got {img.shape}")
    if msk.shape[:2] != img.shape[:2]:
        raise SampleDataError(f"{npz_path}: 'msk' shape {msk.shape} does not match 'img' {img.shape}")
    msk = msk.reshape(msk.shape[:2])
    bad = np.setdiff1d(np.unique(msk), np.arange(len(_CROP_CODES)))
    if bad.size:
        raise SampleDataError(f"{npz_path}: 'msk' has unknown reference codes {bad.tolist()}")
    return img, msk


def sentinel2_crop() -> CropFiles:
    """The shipped crop: examples/data/sentinel2_l1c_512.tif and its _mask.tif."""
    for path in (CROP_IMAGE, CROP_MASK):
        if not path.is_file():
            raise SampleDataError(f"{path}: no such file (it ships with the repository)")
    return CropFiles(image=CROP_IMAGE, mask=CROP_MASK)


def copy_sentinel2_crop(out_dir: str | os.PathLike) -> CropFiles:
    """The shipped crop copied into `out_dir` (where a service's input roots let it read)."""
    files, out_dir = sentinel2_crop(), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return CropFiles(image=Path(shutil.copy2(files.image, out_dir / files.image.name)),
                     mask=Path(shutil.copy2(files.mask, out_dir / files.mask.name)))


def load_sentinel2_crop(files: CropFiles | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The crop as (6, H, W) float32 reflectance and its (H, W) uint8 mask in our class codes."""
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    files = files or sentinel2_crop()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # no CRS: none invented
        with rasterio.open(files.image) as image, rasterio.open(files.mask) as mask:
            return image.read(), mask.read(1)


def convert_sentinel2_npz(npz_path: str | os.PathLike, out_dir: str | os.PathLike) -> CropFiles:
    """The source archive as `<stem>.tif` (6 x float32 reflectance) and `<stem>_mask.tif`
    (uint8), as small as lossless gets (ZSTD level 22; float reflectance compresses best
    without a predictor here): how examples/data/ was made."""
    from pesto_factory.runtime.imageio.writing import write_geotiff

    npz_path, out_dir = Path(npz_path), Path(out_dir)
    img, msk = _load_crop(npz_path)
    image_data = np.ascontiguousarray(np.moveaxis(img.astype(np.float32), -1, 0))
    smallest = {"codec": "zstd", "level": 22, "predictor": 1}
    image = write_geotiff(out_dir / f"{npz_path.stem}.tif", image_data, band_names=BAND_ORDER,
                          tags={"SOURCE": _CROP_SOURCE, "BAND_ORDER": ",".join(BAND_ORDER)},
                          **smallest)
    mask = write_geotiff(out_dir / f"{npz_path.stem}_mask.tif", _CROP_CODES[msk][np.newaxis],
                         nodata=MASK_NODATA, band_names=("cloud_mask",), **smallest,
                         tags={"CLASSES": "0=clear,1=cloud,2=cloud shadow,255=nodata",
                               "SOURCE": _CROP_SOURCE})
    return CropFiles(image=image, mask=mask)


def write_synthetic_scene(
    path: str | os.PathLike,
    *,
    height: int,
    width: int,
    seed: int,
    bands: int = 6,
    dtype: DTypeLike = np.float32,
    clouds: bool = True,
    nodata_border: int = 0,
    pixel_size: float = 30.0,
    origin: tuple[float, float] = (399960.0, 5000040.0),
    crs: str = "EPSG:32631",
    mask_path: str | os.PathLike | None = None,
) -> SyntheticScene:
    """Write a synthetic scene COG (float32 reflectance or uint16 DN = 10000 x reflectance).

    `bands` takes the first n of blue, green, red, nir, swir1, swir2. `nodata_border` pixels on
    every side are nodata (0 in every band, 255 in the mask). `origin` is the (x, y) of the
    top-left corner in `crs`. `mask_path`, if given, also receives the true mask as a COG.
    """
    from affine import Affine

    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.uint16)):
        raise SampleDataError(f"dtype must be float32 or uint16, got {dtype}")
    if not 1 <= bands <= len(BAND_ORDER):
        raise SampleDataError(f"bands must be 1..{len(BAND_ORDER)}, got {bands}")
    if height < 1 or width < 1 or nodata_border < 0 or pixel_size <= 0:
        raise SampleDataError(f"invalid size {height}x{width}, nodata_border {nodata_border} "
                              f"or pixel_size {pixel_size}")
    reflectance, truth = _render_scene(height, width, seed=seed, clouds=clouds)
    reflectance = reflectance[:bands]
    if dtype == np.uint16:
        data = np.clip(np.rint(reflectance * 10000.0), 1, 65535).astype(np.uint16)
    else:
        data = reflectance.astype(np.float32)
    if nodata_border:
        frame = np.ones((height, width), dtype=bool)
        frame[nodata_border:height - nodata_border, nodata_border:width - nodata_border] = False
        data[:, frame] = 0
        truth[frame] = MASK_NODATA
    transform = Affine(pixel_size, 0.0, origin[0], 0.0, -pixel_size, origin[1])
    band_order = BAND_ORDER[:bands]
    out = write_cog(Path(path), data, crs=crs, transform=transform, nodata=0,
                    band_names=band_order, tags={"SYNTHETIC_SEED": str(seed)})
    written_mask = None
    if mask_path is not None:
        written_mask = write_cog(Path(mask_path), truth[np.newaxis], crs=crs, transform=transform,
                                 nodata=MASK_NODATA, band_names=("cloud_mask",),
                                 resampling="nearest")
    return SyntheticScene(path=out, mask=truth, band_order=band_order, crs=crs,
                          transform=transform, nodata=0.0, mask_path=written_mask)


# Typical top-of-atmosphere reflectance (blue, green, red, nir, swir1, swir2) of each cover,
# read off the real crop: crops, bare soil, woodland, water, and the top of a thick cumulus.
_SPECTRA = np.array([
    [0.115, 0.105, 0.075, 0.450, 0.250, 0.120],  # crops
    [0.150, 0.160, 0.190, 0.300, 0.380, 0.300],  # bare soil
    [0.100, 0.085, 0.060, 0.330, 0.180, 0.080],  # woodland
    [0.100, 0.080, 0.060, 0.040, 0.020, 0.015],  # water
], dtype=np.float32)
# Light scattered by the atmosphere into the sensor (strong in blue): a shadow does not dim it.
_PATH_RADIANCE = np.array([0.080, 0.055, 0.035, 0.015, 0.005, 0.002], dtype=np.float32)
_CLOUD_SPECTRUM = np.array([0.45, 0.43, 0.44, 0.55, 0.45, 0.33], dtype=np.float32)
_SHADOW_OFFSET = (14, -18)  # rows, cols from a cloud to its shadow (pixels)
_OPAQUE = 0.35  # cloud opacity from which a pixel counts as cloud (or as shadow, shifted)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Zero-mean, unit-std noise with blobs about `scale` pixels wide: white noise on a coarse
    grid, blurred there (isotropic blobs, cheap) and upsampled with cubic splines."""
    from scipy import ndimage

    if scale <= 4:  # fine texture: blur full-resolution noise directly
        field = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), 0.7 * scale)
        return (field - field.mean()) / (field.std() + 1e-6)
    coarse = rng.standard_normal((int(shape[0] / scale) + 4, int(shape[1] / scale) + 4))
    coarse = ndimage.gaussian_filter(coarse, 0.7, mode="wrap")
    field = ndimage.zoom(coarse, scale, order=3, mode="mirror", grid_mode=True)
    field = field[:shape[0], :shape[1]].astype(np.float32)
    return (field - field.mean()) / (field.std() + 1e-6)


def _land(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """(6, H, W) cloud-free ground: irregular parcels of crops/soil/woodland, a lake, texture."""
    rows, cols = np.indices(shape)
    parcel = 24
    warp_r = 6 * _smooth_noise(rng, shape, 40)
    warp_c = 6 * _smooth_noise(rng, shape, 40)
    pr = np.clip((rows + warp_r) // parcel, 0, None).astype(int)
    pc = np.clip((cols + warp_c) // parcel, 0, None).astype(int)
    grid = (int(pr.max()) + 1, int(pc.max()) + 1)
    cover = rng.choice(3, size=grid, p=[0.55, 0.35, 0.10])[pr, pc]
    gain = rng.uniform(0.85, 1.15, size=grid).astype(np.float32)[pr, pc]
    water = _smooth_noise(rng, shape, max(shape) / 8) > 2.0
    cover[water] = 3
    gain[water] = 1.0
    # Pixel noise plus a slow drift. Blob texture 3-10 px wide is avoided on purpose: the
    # ukis-csmask CNN reads it as cloud or shadow on otherwise clear ground.
    texture = 1.0 + 0.04 * _smooth_noise(rng, shape, 1) + 0.05 * _smooth_noise(rng, shape, 30)
    return _SPECTRA[cover].transpose(2, 0, 1) * (gain * texture)[np.newaxis]


def _shift(field: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """`field` moved by (rows, cols), zeros where nothing moved in (no wrap-around)."""
    out = np.zeros_like(field)
    dr, dc = offset
    h, w = field.shape
    out[max(dr, 0):h + min(dr, 0), max(dc, 0):w + min(dc, 0)] = \
        field[max(-dr, 0):h - max(dr, 0), max(-dc, 0):w - max(dc, 0)]
    return out


def _render_scene(height: int, width: int, *, seed: int, clouds: bool
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(6, H, W) float32 reflectance and the uint8 (H, W) truth mask."""
    rng = np.random.default_rng(seed)
    shape = (height, width)
    ground = _land(rng, shape)
    truth = np.zeros(shape, dtype=np.uint8)
    if not clouds:
        return ground.astype(np.float32), truth
    field = _smooth_noise(rng, shape, 18) + 0.5 * _smooth_noise(rng, shape, 6)
    opacity = np.clip((field - 1.1) / 0.8, 0.0, 1.0)
    opacity = opacity * opacity * (3 - 2 * opacity)  # smoothstep: soft cloud edges
    shade = 1.0 - 0.65 * _shift(opacity, _SHADOW_OFFSET)
    path = _PATH_RADIANCE[:, None, None]
    shaded = path + (ground - path) * shade[np.newaxis]
    brightness = 0.85 + 0.3 * opacity
    scene = (1 - opacity)[np.newaxis] * shaded \
        + (opacity * brightness)[np.newaxis] * _CLOUD_SPECTRUM[:, None, None]
    cloud = opacity >= _OPAQUE
    truth[(_shift(opacity, _SHADOW_OFFSET) >= _OPAQUE) & ~cloud] = 2
    truth[cloud] = 1
    return scene.astype(np.float32), truth


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/scenes.py SENTINEL2_NPZ  (rewrites examples/data/)")
    written = convert_sentinel2_npz(sys.argv[1], DATA)
    print(f"wrote {written.image} and {written.mask}")
