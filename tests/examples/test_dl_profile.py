"""The `dl` profile of cloud-detection over a real runtime: the ukis-csmask CNN, offline.

The ONNX model is read from the ukis-csmask wheel: the service starts and answers with every
proxy pointing at a closed port, so any attempt to download would fail the test.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import free_port, start_service
from tests.examples.conftest import EXAMPLES, read_raster

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")]


@pytest.fixture(scope="module")
def dl_service(tmp_path_factory):
    from examples.scenes import copy_sentinel2_crop

    root = tmp_path_factory.mktemp("dl")
    crop = copy_sentinel2_crop(root / "inputs")
    dead = f"http://127.0.0.1:{free_port()}"
    env = {"PESTO_INPUT_ROOTS": str(root / "inputs"), "HTTP_PROXY": dead, "HTTPS_PROXY": dead,
           "http_proxy": dead, "https_proxy": dead, "NO_PROXY": "127.0.0.1,localhost",
           "no_proxy": "127.0.0.1,localhost"}
    service = start_service(EXAMPLES / "cloud-detection", root / "state", env=env,
                            profiles=("dl",))
    service.crop = crop
    yield service
    service.stop()


def test_dl_profile_runs_the_cnn_from_the_wheel_on_the_crop(dl_service):
    crop = dl_service.crop
    with dl_service.client() as http:
        describe = http.get("/describe").json()
        config = http.get("/config").json()
        window = {"col_off": 0, "row_off": 0, "width": 512, "height": 512}
        response = http.post("/process", json={"tile": {"href": crop.image.as_uri(),
                                                        "window": window, "margin": 40}})
    assert describe["profiles"] == ["dl"] and config["algorithm"] == "dl"
    assert "ukis-csmask" in describe["description"]
    assert response.status_code == 200, response.text
    result = response.json()
    mask = read_raster(result["mask"]["href"])[0][0]
    reference = read_raster(crop.mask)[0][0]
    assert mask.shape == (512, 512) and set(np.unique(mask)) <= {0, 1, 2}
    agreement = float((mask == reference).mean())
    assert agreement > 0.85, agreement  # a real model, not a constant
    assert result["cloud_fraction"] == pytest.approx((mask == 1).mean())
    assert result["valid_pixels"] == 512 * 512
