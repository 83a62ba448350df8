"""Behaviours that nothing else pinned, each of which could break unnoticed: exact values and
edge cases of the runtime (Retry-After, input roots, padding, retention, profiles, ref reads)."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from pesto_factory.runtime.errors import Forbidden
from pesto_factory.runtime.imageio import InputPolicy, RefImage
from pesto_factory.runtime.imageio.policy import resolve_uri
from pesto_factory.runtime.payload import resolve_inputs
from pesto_factory.runtime.project import ServiceProject
from pesto_factory.runtime.raster import OutputSpec, run_filter
from scipy import ndimage

from tests.conftest import EXAMPLES, wait_until
from tests.runtime.conftest import MISBEHAVING, write_scene
from tests.runtime.imageio import imageio_fixtures
from tests.runtime.test_jobs import wait_status
from tests.runtime.test_payload_refs import SCHEMA, scene  # noqa: F401 - the scene fixture

root = imageio_fixtures.root
policy = imageio_fixtures.policy


@pytest.mark.slow
def test_retry_after_spreads_refused_clients_over_the_seconds_the_pool_can_take(
        service_factory, tmp_path):
    """One worker, queue of one, no job finished yet: the backlog drains at once as far as
    anyone knows, so the first refused clients are told 1 s, as many as the pool can take in
    that second (worker + queue = 2), and the next one 2 s (runtime/jobs/pool.py)."""
    service = service_factory(MISBEHAVING, env={"PESTO_WORKERS": "1", "PESTO_QUEUE": "1"})
    gate = tmp_path / "gate"
    with service.client() as client:
        running = client.post("/jobs", json={"gate": str(gate)}).json()["jobId"]
        wait_status(client, running, "RUNNING")
        assert client.post("/jobs", json={"gate": str(gate)}).status_code == 201
        refused = [client.post("/jobs", json={"gate": str(gate)}) for _ in range(3)]
        assert [r.status_code for r in refused] == [503] * 3
        values = [r.headers["Retry-After"] for r in refused]
        # "2" for the third unless a clock second ended between the calls (a new second's room)
        assert values[:2] == ["1", "1"] and values[2] in ("1", "2"), values
        gate.touch()


def test_a_sibling_folder_of_an_input_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in-evil").mkdir()
    policy = InputPolicy(readable_roots=(tmp_path / "in",))
    assert resolve_uri((tmp_path / "in" / "a.tif").as_uri(), policy) == str(tmp_path / "in/a.tif")
    with pytest.raises(Forbidden, match="in-evil"):
        resolve_uri((tmp_path / "in-evil" / "a.tif").as_uri(), policy)
    with pytest.raises(Forbidden):
        resolve_uri(str(tmp_path / "in" / ".." / "in-evil" / "a.tif"), policy)


def _sum3(blocks: list[np.ndarray]) -> list[np.ndarray]:
    """3 x 3 sums of a padded block (its own border is never in the core's result)."""
    return [ndimage.correlate(blocks[0], np.ones((1, 3, 3)), mode="constant", cval=-1e6)]


def test_run_filter_pads_with_cval_at_the_image_border() -> None:
    image = np.arange(2 * 20 * 30, dtype=np.float64).reshape(2, 20, 30)
    tiled = run_filter(_sum3, [image], margin=1, tile_size=8, workers=1, pad="constant",
                       cval=7.0, outputs=[OutputSpec(2, np.float64)])
    expected = ndimage.correlate(image, np.ones((1, 3, 3)), mode="constant", cval=7.0)
    np.testing.assert_array_equal(tiled[0], expected)


@pytest.mark.slow
def test_retention_deletes_a_jobs_files_not_only_its_row(service_factory, tmp_path: Path) -> None:
    state = tmp_path / "state"
    image = tmp_path / "inputs" / "scene.tif"
    image.parent.mkdir()
    write_scene(image)
    env = {"PESTO_INPUT_ROOTS": str(image.parent)}
    first = service_factory(EXAMPLES / "ndvi", state_dir=state, env=env)
    with first.client() as client:
        job_id = client.post("/jobs", json={"image": image.as_uri()}).json()["jobId"]
        wait_status(client, job_id, "SUCCEEDED")
        listing = client.get(f"/jobs/{job_id}/results").json()
    output = Path(unquote(urlparse(next(r["value"] for r in listing if r["id"] == "ndvi")).path))
    assert output.is_file()
    first.stop()
    second = service_factory(EXAMPLES / "ndvi", state_dir=state,
                             env={**env, "PESTO_RESULT_RETENTION": "0.001"})
    with second.client() as client:
        wait_until(lambda: client.get("/jobs").json() == [], timeout=30, what="retention sweep")
    wait_until(lambda: not output.exists(), timeout=30, what=f"{output} removed")
    assert not output.parent.exists() or not any(output.parent.iterdir())


def test_a_profile_file_needs_no_base_file(tmp_path: Path) -> None:
    """config.dl.json without config.json: the profile's file is the config, and without the
    profile there is none (an empty config)."""
    project = tmp_path / "ndvi"
    shutil.copytree(EXAMPLES / "ndvi", project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "pesto/api/config.json").unlink()
    (project / "pesto/api/config.dl.json").write_text('{"bands": ["red", "nir"]}')
    assert ServiceProject.load(project, ("dl",)).config == {"bands": ["red", "nir"]}
    assert ServiceProject.load(project).config == {}


def test_an_imageref_margin_partly_clipped_at_the_bottom_and_right(scene, policy):  # noqa: F811
    """A 4 x 4 window 2 pixels from the bottom-right corner of the 30 x 40 scene, margin 4:
    4 pixels are read above and left, only 2 below and right."""
    window = {"col_off": 34, "row_off": 24, "width": 4, "height": 4}
    payload = {"scene": str(scene), "first": {"href": scene.as_uri(), "window": window,
                                              "margin": 4}}
    first = resolve_inputs(payload, SCHEMA, policy, georeferenced={"first"})["first"]
    expected = np.arange(2 * 30 * 40, dtype=np.uint16).reshape(2, 30, 40)
    assert isinstance(first, RefImage)
    assert first.margin == (4, 4, 2, 2) and first.ref_margin == 4
    np.testing.assert_array_equal(first.data, expected[:, 20:30, 30:40])
    np.testing.assert_array_equal(first.core().data, expected[:, 24:28, 34:38])


@pytest.mark.parametrize("uri", ["file:///etc/passwd", "/vsicurl/http://host/a.tif",
                                 "https://elsewhere.example/a.tif"])
def test_every_403_of_the_input_policy_carries_a_hint(tmp_path: Path, uri: str) -> None:
    policy = InputPolicy(readable_roots=(tmp_path,), remote_hosts=("data.example",))
    with pytest.raises(Forbidden) as refused:
        resolve_uri(uri, policy, field="image")
    assert refused.value.hint and refused.value.message.startswith("input 'image'")
