"""Outputs: an algorithm's return value to JSON, its images written as COG or PNG files.

Images go under the job's output folder, or, when PESTO_OUTPUT_ROOT is an object store prefix
(s3://bucket/prefix), are written there locally first and then uploaded to
`<prefix>/<job id>/<name>.tif` (`<prefix>/sync/<id>/...` for a synchronous call): the answer
then names s3:// objects, never a local file.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pesto_factory.runtime.errors import AlgorithmFailed
from pesto_factory.runtime.geoimage import GeoImage
from pesto_factory.runtime.imageio import (
    GEOTIFF_MEDIA_TYPE,
    PNG_MEDIA_TYPE,
    encode_base64,
    write_image,
    write_png,
)
from pesto_factory.runtime.imageio.locations import (
    LIST_OF,
    image_type,
    wants_png,
)
from pesto_factory.runtime.imageio.objectstore import ObjectLocation, delete_object, upload
from pesto_factory.runtime.payload.models import EncodedOutputs, OutputFile
from pesto_factory.runtime.payload.schemacheck import (
    _describe,
    _first_error,
)


# --- worker: outputs -------------------------------------------------------------------------
def encode_outputs(result: Any, output_schema: dict, out_dir: Path, *, inline: bool,
                   store: ObjectLocation | None = None) -> EncodedOutputs:
    """The algorithm's return value as JSON; images written into `out_dir` as COGs (or PNGs),
    then, with a `store` prefix, uploaded under it (the local copies removed).

    Nothing written stays behind when the result breaks the output schema (AlgorithmFailed)
    or an upload fails: objects already uploaded for this result are deleted.
    """
    out_dir = Path(out_dir).resolve()
    encoder = _OutputEncoder(out_dir, inline=inline, store=store)
    try:
        value = encoder.encode(result, output_schema)
        error = _first_error(value, output_schema)
        if error is not None:
            pointer, field, fault = _describe(error)
            raise AlgorithmFailed(
                f"the algorithm's output {field!r} breaks the output schema at {pointer}: {fault}")
    except BaseException:
        encoder.discard()
        raise
    return EncodedOutputs(value, tuple(encoder.files))


class _OutputEncoder:
    """Writes image values as `<name>.tif` / `<name>_<i>.tif` (`.png` for image/png) and turns
    the rest into JSON."""

    def __init__(self, out_dir: Path, *, inline: bool, store: ObjectLocation | None) -> None:
        self.out_dir, self.inline, self.store = out_dir, inline, store
        self.files: list[OutputFile] = []

    def encode(self, result: Any, schema: dict) -> Any:
        kind = image_type(schema)
        if kind is not None:
            return self.images("output", kind, result, png=wants_png(schema))
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return _to_json(result, "output")
        mapping = _as_mapping(result)
        if mapping is None:
            raise AlgorithmFailed(
                f"the algorithm returned a {type(result).__name__}, but the output schema "
                f"expects an object with {', '.join(properties) or 'properties'}")
        encoded = {}
        for key, value in mapping.items():
            name = str(key)
            schema = properties.get(name) or {}
            kind = image_type(schema)
            encoded[name] = (self.images(name, kind, value, png=wants_png(schema)) if kind
                             else _to_json(value, name))
        return encoded

    def images(self, name: str, kind: str, value: Any, *, png: bool = False) -> Any:
        if kind not in LIST_OF:
            return self.image(name, kind, value, field=name, png=png)
        if not isinstance(value, (list, tuple)):
            raise AlgorithmFailed(
                f"output {name!r} must be a list of images ({kind}), not {type(value).__name__}")
        return [self.image(f"{name}_{i}", LIST_OF[kind], item, field=f"{name}[{i}]", png=png)
                for i, item in enumerate(value)]

    def image(self, stem: str, kind: str, value: Any, *, field: str, png: bool = False) -> Any:
        if not isinstance(value, (GeoImage, np.ndarray)):
            if value is None or isinstance(value, (str, dict)):
                return _to_json(value, field)  # already a URI, base64 or ImageRef: schema judges
            raise AlgorithmFailed(
                f"output {field!r} must be an image (GeoImage or numpy array) or a URI, "
                f"not {type(value).__name__}")
        suffix, write, media_type = ((".png", write_png, PNG_MEDIA_TYPE) if png
                                     else (".tif", write_image, GEOTIFF_MEDIA_TYPE))
        path = self.out_dir / f"{re.sub(r'[^A-Za-z0-9._-]', '_', stem)}{suffix}"
        try:
            write(value, path)
        except (TypeError, ValueError) as exc:
            raise AlgorithmFailed(f"output {field!r}: cannot write the image: {exc}") from exc
        text = encode_base64(path) if self.inline and kind != "ImageRef" else None
        uri = path.as_uri() if self.store is None else self.put(path)
        self.files.append(OutputFile(name=stem, path=path if self.store is None else uri,
                                     media_type=media_type))
        if kind == "ImageRef":
            return {"href": uri}  # a reference even when inline is asked
        return text if text is not None else uri

    def put(self, path: Path) -> str:
        """Upload a written image to the store (the local copy goes either way): its URI."""
        target = self.store.child(path.name)
        try:
            upload(path, target)
        finally:
            path.unlink(missing_ok=True)
        return target.uri

    def discard(self) -> None:
        for file in self.files:
            if isinstance(file.path, str):
                delete_object(ObjectLocation.parse(file.path))
            else:
                file.path.unlink(missing_ok=True)
        self.files.clear()


def _as_mapping(result: Any) -> Mapping[str, Any] | None:
    """A dict, pydantic model or dataclass result as name -> value (values left as they are)."""
    if isinstance(result, Mapping):
        return result
    fields = getattr(type(result), "model_fields", None)
    if isinstance(fields, dict):
        return {name: getattr(result, name) for name in fields}
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    return None


def _to_json(value: Any, where: str) -> Any:
    """numpy scalars and arrays to JSON numbers and lists; NaN and infinities to null."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return _to_json(value.item(), where)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biu" or (value.dtype.kind == "f" and np.isfinite(value).all()):
            return value.tolist()
        return _to_json(value.tolist(), where)
    if isinstance(value, Mapping):
        return {str(k): _to_json(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, GeoImage):
        raise AlgorithmFailed(
            f"output {where!r} is an image, but the output schema does not type it as "
            "Image, Images, ImageRef or ImageRefs")
    mapping = _as_mapping(value)
    if mapping is not None:
        return _to_json(dict(mapping), where)
    raise AlgorithmFailed(f"output {where!r}: a {type(value).__name__} cannot be written as JSON")


