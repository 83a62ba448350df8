"""Fixtures of the example tests: the cloud-detection project on sys.path, real data, and the
tiling -> cloud-detection -> merge chain as three real services.

The cloud-detection project's `algorithm` package is imported the way the runtime imports it:
with the project folder (examples/cloud-detection) on sys.path. Other projects' packages, also
named `algorithm`, are imported under an alias (`load_example_package`).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CLOUD_DETECTION = REPO / "examples" / "cloud-detection"
if str(CLOUD_DETECTION) not in sys.path:
    sys.path.insert(0, str(CLOUD_DETECTION))


@pytest.fixture(scope="session")
def s2_crop() -> tuple[np.ndarray, np.ndarray]:
    """The real Sentinel-2 crop: (6, 512, 512) float32 reflectance, reference mask (our codes)."""
    from examples.scenes import load_sentinel2_crop

    return load_sentinel2_crop()


def _tiled(detect, image: np.ndarray, *, tile: int, margin: int, **kwargs) -> np.ndarray:
    """Run `detect` tile by tile, each read with `margin` context (clipped at the image edges),
    and paste the cores: plain slicing, the same geometry as the raster engine's grids."""
    rows, cols = image.shape[1:]
    out = np.full((rows, cols), 254, dtype=np.uint8)
    for r0 in range(0, rows, tile):
        for c0 in range(0, cols, tile):
            r1, c1 = min(r0 + tile, rows), min(c0 + tile, cols)
            rr0, cc0 = max(r0 - margin, 0), max(c0 - margin, 0)
            rr1, cc1 = min(r1 + margin, rows), min(c1 + margin, cols)
            sub_kwargs = {k: (v[rr0:rr1, cc0:cc1] if isinstance(v, np.ndarray) else v)
                          for k, v in kwargs.items()}
            block = detect(image[:, rr0:rr1, cc0:cc1], **sub_kwargs)
            out[r0:r1, c0:c1] = block[r0 - rr0:r1 - rr0, c0 - cc0:c1 - cc0]
    return out


@pytest.fixture
def tiled():
    """`tiled(detect, image, tile=, margin=, **per_pixel_kwargs)`: a tile-by-tile run."""
    return _tiled


# --- the example chain over real runtimes ----------------------------------------------------
EXAMPLES = REPO / "examples"


def load_example_package(project: str, alias: str):
    """A project's `algorithm` package imported as `alias` (every project names it `algorithm`)."""
    import importlib.util

    if alias in sys.modules:
        return sys.modules[alias]
    folder = EXAMPLES / project / "algorithm"
    spec = importlib.util.spec_from_file_location(
        alias, folder / "__init__.py", submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Chain:
    """The three services of the chain, each a real runtime on 127.0.0.1, sharing one folder."""

    root: Path
    tiling: Any
    detection: Any
    merge: Any

    def call(self, service, payload: dict, *, expect: int = 200) -> dict:
        with service.client() as http:
            response = http.post("/process", json=payload)
        assert response.status_code == expect, response.text
        return response.json()

    def detect_all(self, tiles: list[dict]) -> list[dict]:
        """Every tile through cloud-detection, two at a time (the service has two workers)."""
        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(lambda tile: self.call(self.detection, {"tile": tile}), tiles))

    def run(self, scene_uri: str, *, tile_size: int, margin: int = 40,
            seed: int = 0) -> tuple[dict, dict]:
        """tiling -> each tile through cloud-detection (shuffled) -> merge (shuffled again)."""
        tiling = self.call(self.tiling, {"scene": scene_uri, "tile_size": tile_size,
                                         "margin": margin})
        rng = random.Random(seed)
        tiles = list(tiling["tiles"])
        rng.shuffle(tiles)
        results = self.detect_all(tiles)
        rng.shuffle(results)
        return tiling, self.call(self.merge, {"scene": scene_uri, "tiles": results})


@pytest.fixture(scope="session")
def chain(tmp_path_factory) -> Iterator[Chain]:
    """tiling, cloud-detection (2 workers) and merge, all reading under one root folder."""
    from tests.conftest import start_service

    root = tmp_path_factory.mktemp("chain")
    (root / "inputs").mkdir()
    env = {"PESTO_INPUT_ROOTS": str(root)}
    started = []
    try:
        for name, workers in (("tiling", 1), ("cloud-detection", 2), ("merge", 1)):
            started.append(start_service(EXAMPLES / name, root / f"state-{name}",
                                         env={**env, "PESTO_WORKERS": str(workers)}))
        yield Chain(root, *started)
    finally:
        for service in started:
            service.stop()


def read_raster(uri_or_path: str | Path):
    """(pixels, profile) of a raster given by file:// URI or path."""
    import rasterio

    path = unquote(urlparse(uri_or_path).path) if str(uri_or_path).startswith("file:") \
        else str(uri_or_path)
    with rasterio.open(path) as src:
        return src.read(), src.profile


def whole_scene_mask(path: Path, config: dict | None = None) -> np.ndarray:
    """The detector run once on the whole scene, in this process: what the chain must equal."""
    from algorithm.detector import load_config, make_detector

    data, profile = read_raster(path)
    return make_detector(load_config(config)).detect(data, nodata=profile["nodata"])
