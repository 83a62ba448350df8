"""Sensor profiles of cloud-detection: band mapping, DN scaling, band-description check, and the
mask quality each profile keeps on each shipped real scene (benchmarks/data, benchmarks/scenes.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from algorithm.bands import InvalidImageError, InvalidParametersError, check_band_names
from algorithm.detector import load_config, make_detector

from benchmarks.scenes import SCENES, load_scene
from tests.examples.conftest import CLOUD_DETECTION

API = CLOUD_DETECTION / "pesto" / "api"


def _profile(*profiles: str) -> dict:
    from pesto_factory.runtime.configfiles import read_with_profiles

    return read_with_profiles(API / "config.json", profiles)


def test_landsat8_profile_maps_oli_band_ids_and_cascades_with_dl():
    config = load_config(_profile("dl", "landsat8"))
    assert config.algorithm == "dl" and config.inputs.sensor == "landsat8"
    assert config.inputs.band_order == ("blue", "green", "red", "nir", "swir1", "swir2")
    assert config.dl.product_level == "l1c"
    assert config.spectral.cirrus_min == pytest.approx(0.02)
    seven = load_config({"sensor": "landsat8", "band_order": ["B2", "B3", "B4", "B5", "B6", "B7",
                                                              "B9"]})
    assert seven.inputs.band_order[-1] == "cirrus"
    # B8 is Sentinel-2's NIR but Landsat's panchromatic band: not an alias under landsat8.
    assert load_config({"sensor": "landsat8", "band_order": ["B8"]}).inputs.band_order == ("b8",)
    assert load_config(_profile()).inputs.band_order[3] == "nir"  # Sentinel-2 B08
    assert load_config({"sensor": "landsat9"}).inputs.sensor == "landsat8"  # OLI-2: the same


def test_unknown_sensor_is_a_400_naming_the_known_ones():
    with pytest.raises(InvalidParametersError, match="unknown sensor 'spot'.*landsat8"):
        load_config({"sensor": "spot"})


def test_landsat_dn_become_sun_corrected_toa_reflectance():
    from algorithm.bands import prepare_reflectance

    dn = np.full((6, 2, 2), 20000, dtype=np.uint16)
    dn[:, 0, 0] = 0  # fill
    spec = load_config({"sensor": "landsat8", "sun_elevation": 30.0}).inputs
    refl = prepare_reflectance(dn, spec, required=("blue", "swir2"))
    assert refl["blue"][1, 1] == pytest.approx((20000 * 2e-5 - 0.1) / 0.5, rel=1e-6)
    assert not refl.valid[0, 0] and refl.valid[1, 1]  # DN 0 is Landsat's fill
    floats = prepare_reflectance(dn.astype(np.float32) / 1e5, spec, required=("blue",))
    assert floats["blue"][1, 1] == pytest.approx(0.2)  # float input is reflectance already
    no_sun = load_config({"sensor": "landsat8"}).inputs
    with pytest.raises(InvalidImageError, match="sun_elevation"):
        prepare_reflectance(dn, no_sun, required=("blue",))


def test_sentinel2_dn_scale_and_baseline_offset():
    from algorithm.bands import prepare_reflectance

    dn = np.full((6, 1, 1), 3000, dtype=np.uint16)
    plain = prepare_reflectance(dn, load_config({}).inputs, required=("red",))
    assert plain["red"][0, 0] == pytest.approx(0.3)
    shifted = prepare_reflectance(dn, load_config({"offset": -0.1}).inputs, required=("red",))
    assert shifted["red"][0, 0] == pytest.approx(0.2)  # processing baseline >= 04.00


def test_band_descriptions_that_contradict_the_band_order_are_refused():
    spec = load_config({"sensor": "landsat8"}).inputs
    check_band_names(spec, ("B2", "B3", "B4", "B5", "B6", "B7"))
    check_band_names(spec, (None,) * 6)  # nothing described: nothing to check
    check_band_names(spec, ("blue", "green", "red", "nir", "swir1", "swir2"))
    with pytest.raises(InvalidImageError, match=r"band 4 is 'B6' \(swir1\), band_order says nir"):
        check_band_names(spec, ("B2", "B3", "B4", "B6", "B5", "B7"))
    with pytest.raises(InvalidImageError, match="'B8', which sensor landsat8 does not use"):
        check_band_names(spec, ("B2", "B3", "B4", "B8", "B6", "B7"))
    assert InvalidImageError.status_code == 422


# Floors a little under the figures of docs/benchmarks.md (cloud vs rest, 3-class).
FLOORS = {
    ("sentinel2", "spectral"): (0.88, 0.87), ("sentinel2", "dl"): (0.80, 0.78),
    ("landsat8", "spectral"): (0.74, None), ("landsat8", "dl"): (0.43, None),
    ("landsat7", "spectral"): (0.62, 0.63), ("landsat7", "dl"): (0.82, 0.76),
}


def _scene_config(scene, algorithm: str) -> dict:
    profiles = ("dl",) if algorithm == "dl" else ()
    profiles += () if scene.sensor == "sentinel2" else (scene.sensor,)
    return {**_profile(*profiles), **scene.config}


@pytest.mark.parametrize("algorithm", ["spectral", pytest.param("dl", marks=pytest.mark.slow)])
@pytest.mark.parametrize("scene", SCENES, ids=[s.name for s in SCENES])
def test_each_profile_keeps_its_kappa_floor_on_each_shipped_scene(scene, algorithm, s2_crop):
    from examples.quality import score_masks

    image, reference, names = load_scene(scene)
    detector = make_detector(load_config(_scene_config(scene, algorithm)))
    check_band_names(detector.inputs, names)
    score = score_masks(reference, detector.detect(image))
    cloud, three = FLOORS[scene.name, algorithm]
    assert score.kappa_cloud >= cloud, score
    if three is not None:
        assert score.kappa_3class >= three, score


@pytest.mark.slow
def test_dl_normalises_landsat_dn_as_ukis_csmask_was_trained():
    """From DN, the dl profile gives ukis-csmask's own mask of the TOA reflectance."""
    from ukis_csmask.mask import CSmask

    scene = next(s for s in SCENES if s.name == "landsat8")
    image, _, _ = load_scene(scene)
    six = image[:6, :256, :256]
    config = {**_scene_config(scene, "dl"), "band_order": scene.config["band_order"][:6]}
    ours = make_detector(load_config(config)).detect(six)
    sine = np.sin(np.radians(scene.config["sun_elevation"]))
    toa = np.moveaxis((six * 2e-5 - 0.1) / sine, 0, -1).astype(np.float32)
    theirs = CSmask(toa, band_order=["blue", "green", "red", "nir", "swir16", "swir22"],
                    product_level="l1c", providers=["CPUExecutionProvider"]).csm[..., 0]
    assert float((ours == theirs).mean()) > 0.999


@pytest.fixture(scope="module")
def landsat8_service(tmp_path_factory):
    """A service started with `-p landsat8`, and the shipped crop as the usual 6-band stack."""
    import rasterio

    from tests.conftest import start_service

    root = tmp_path_factory.mktemp("landsat8")
    inputs = root / "inputs"
    inputs.mkdir()
    scene = next(s for s in SCENES if s.name == "landsat8")
    with rasterio.open(scene.image) as src:
        profile = {**src.profile, "count": 6}
        data, names = src.read()[:6], src.descriptions[:6]
    files = {"good": inputs / "b2-b7.tif", "swapped": inputs / "swapped.tif"}
    for path, described in ((files["good"], names),
                            (files["swapped"], ("B2", "B3", "B4", "B6", "B5", "B7"))):
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
            dst.descriptions = described
    from examples.scenes import copy_sentinel2_crop

    crop = copy_sentinel2_crop(inputs)
    files.update(sentinel2=crop.image, sentinel2_mask=crop.mask)
    service = start_service(CLOUD_DETECTION, root / "state", profiles=("landsat8",),
                            env={"PESTO_INPUT_ROOTS": str(inputs)})
    service.files, service.scene = files, scene
    yield service
    service.stop()


@pytest.mark.slow
def test_landsat8_service_masks_dn_checks_bands_and_takes_a_sensor_per_call(landsat8_service):
    from urllib.parse import unquote, urlparse

    from examples.quality import score_mask_files

    scene, files = landsat8_service.scene, landsat8_service.files
    window = {"col_off": 0, "row_off": 0, "width": 512, "height": 512}

    def run(name: str, **inputs):
        tile = {"href": files[name].as_uri(), "window": window, "margin": 0}
        with landsat8_service.client() as http:
            return http.post("/process", json={"tile": tile, **inputs})

    sun = {"sun_elevation": scene.config["sun_elevation"]}
    response = run("good", **sun)
    assert response.status_code == 200, response.text
    mask = unquote(urlparse(response.json()["mask"]["href"]).path)
    score = score_mask_files(mask, scene.mask)
    assert score.kappa_cloud >= 0.60, score  # 6 bands: no cirrus test (docs/benchmarks.md)
    response = run("swapped", **sun)
    assert response.status_code == 422, response.text
    assert "band 4 is 'B6' (swir1), band_order says nir" in response.text
    response = run("good")  # Landsat DN without the scene's sun elevation
    assert response.status_code == 422 and "sun_elevation" in response.text, response.text
    response = run("good", sensor="sentinel2")  # Landsat band ids are not Sentinel-2's
    assert response.status_code == 422 and "sensor sentinel2" in response.text, response.text
    response = run("sentinel2", sensor="sentinel2")  # another sensor profile for this call
    assert response.status_code == 200, response.text
    mask = unquote(urlparse(response.json()["mask"]["href"]).path)
    assert score_mask_files(mask, files["sentinel2_mask"]).kappa_cloud >= 0.88


def test_a_per_call_sensor_gets_its_own_fitted_detector():
    from algorithm.process import Process

    process = Process()
    process.on_start(_profile())
    landsat = process._detector("landsat9", 45.0)
    assert landsat.params.cirrus_min == pytest.approx(0.02)
    assert landsat.inputs.sensor == "landsat8" and landsat.inputs.sun_elevation == 45.0
    assert process._detector(None, None) is process.detector


@pytest.mark.slow
def test_a_per_call_sensor_shares_the_loaded_cnn():
    from algorithm.process import Process

    process = Process()
    process.on_start(_profile("dl"))
    landsat = process._detector("landsat8", 45.0)
    assert landsat.session is process.detector.session
    assert landsat.inputs.dn_scale == pytest.approx(2e-5)
