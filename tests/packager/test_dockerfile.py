"""Dockerfile rendering: layer order, the cache cut of each level, wheelhouse vs index installs."""

from __future__ import annotations

import pytest
from pesto_factory.packager.dockerfile import (
    CacheLevel,
    DockerfileSpec,
    Resource,
    render_dockerfile,
)

WHEEL = "pesto_factory-0.1.0-py3-none-any.whl"


def _spec(**changes) -> DockerfileSpec:
    values = dict(image="acme/svc:1.0.0-gpu", base_image="localhost/pybase:bookworm",
                  runtime_wheel=WHEEL, runtime_version="0.1.0", pip=("scipy>=1.11",),
                  resources=(Resource("model", "/opt/model"), Resource("lib", "/opt/lib", True)),
                  environments=(("MODE", "fast mode"),), profiles=("gpu",),
                  labels=(("io.pesto.gpu", "true"),))
    values.update(changes)
    return DockerfileSpec(**values)


def _position(text: str, fragment: str) -> int:
    assert fragment in text, f"{fragment!r} not in Dockerfile:\n{text}"
    return text.index(fragment)


def test_layers_go_from_stable_to_volatile() -> None:
    text = render_dockerfile(_spec())
    order = [_position(text, fragment) for fragment in (
        "FROM localhost/pybase:bookworm", f"pip install --no-cache-dir /opt/pesto/wheels/runtime/{WHEEL}",
        'pip install --no-cache-dir "scipy>=1.11"', "COPY resources/model/ /opt/model/",
        "COPY service /opt/pesto/service", "COPY version.json", "CMD [\"pesto-runtime\", \"serve\"")]
    assert order == sorted(order)


def test_runtime_image_essentials() -> None:
    text = render_dockerfile(_spec())
    assert "EXPOSE 8080" in text
    assert "HEALTHCHECK" in text and "/api/v1/health" in text
    assert "USER 10001:10001" in text and "useradd" in text
    assert 'PESTO_PROFILES="gpu"' in text and 'MODE="fast mode"' in text
    assert 'PYTHONPATH="/opt/lib"' in text  # only the python-type resource
    assert 'io.pesto.gpu="true"' in text
    assert "ARG PESTO_CACHE_BUST" not in text  # no cache level: nothing to cut


@pytest.mark.parametrize(("level", "before", "after"), [
    (CacheLevel.C1, "/opt/pesto/wheels/runtime/" + WHEEL, '"scipy>=1.11"'),
    (CacheLevel.C2, "COPY resources/lib/", "COPY service"),
    (CacheLevel.C3, "COPY service", "COPY version.json"),
])
def test_cache_level_cuts_after_its_layer(level: CacheLevel, before: str, after: str) -> None:
    text = render_dockerfile(_spec(cache=level))
    cut = _position(text, "ARG PESTO_CACHE_BUST")
    assert text.count("ARG PESTO_CACHE_BUST") == 1
    assert _position(text, before) < cut < _position(text, after)
    # the first RUN after the ARG uses it, so a new value invalidates the cache from there
    assert text.index('RUN echo "build $PESTO_CACHE_BUST"') > cut


def test_cut_moves_down_when_a_layer_is_absent() -> None:
    text = render_dockerfile(_spec(pip=(), resources=(), cache=CacheLevel.C1))
    assert _position(text, WHEEL) < _position(text, "ARG PESTO_CACHE_BUST") < _position(
        text, "COPY service")


def test_wheelhouse_installs_offline() -> None:
    text = render_dockerfile(_spec(wheelhouse=True, constraints=True))
    assert "COPY wheels/runtime /opt/pesto/wheels/runtime" in text
    assert ("pip install --no-cache-dir --no-index --find-links /opt/pesto/wheels/runtime "
            "-c /opt/pesto/wheels/constraints.txt") in text
    assert "COPY wheels/requirements /opt/pesto/wheels/requirements" in text
    assert '--find-links /opt/pesto/wheels/requirements "scipy>=1.11"' in text
    index = render_dockerfile(_spec())
    assert "--no-index" not in index and "wheels/requirements" not in index
