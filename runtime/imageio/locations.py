"""Where images are in a payload: found through the service's schema, at any depth.

A schema value is an *image* when it is one of the shared types (`Image`, `Images`, `ImageRef`,
`ImageRefs`), an array of Image or ImageRef items, or `anyOf`/`oneOf` an Image and an ImageRef
(each value then says which by its JSON type: a string is an Image, an object an ImageRef).
Images may sit in top-level properties or deeper, in objects and arrays (a list of tile results
each holding an ImageRef). An `ImageNode` names one such place by its *path*: property names, and
`EACH` for every item of an array. `image_values` finds the values at a path in a payload;
`replace_images` builds a copy with each of them replaced (by the pixels or header read).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pesto_factory.runtime.imageio.header import HEADER_READ
from pesto_factory.runtime.imageio.writing import PNG_MEDIA_TYPE
from pesto_factory.runtime.project import image_kind

__all__ = [
    "EACH",
    "EITHER",
    "LIST_OF",
    "ImageNode",
    "deref",
    "image_nodes",
    "image_properties",
    "image_type",
    "image_values",
    "replace_images",
    "split_list",
    "value_type",
    "wants_png",
]

LIST_OF = {"Images": "Image", "ImageRefs": "ImageRef"}
EITHER = "Image|ImageRef"  # anyOf an Image and an ImageRef: decided by each value's type
EACH = None  # a path step: every item of an array
_MAX_DEPTH = 12  # of the schema walk (a recursive definition must not loop)


def image_type(schema: Any) -> str | None:
    """The image type of a property: a shared $ref, an array of Image/ImageRef items, or anyOf
    (oneOf) an Image and an ImageRef."""
    if not isinstance(schema, dict):
        return None
    kind = image_kind(schema)
    items = schema.get("items")
    if kind is None and schema.get("type") == "array" and isinstance(items, dict):
        item = image_kind(items)
        kind = f"{item}s" if item in LIST_OF.values() else None
    options = schema.get("anyOf") or schema.get("oneOf")
    if kind is None and isinstance(options, list) and {
            image_kind(o) if isinstance(o, dict) else None for o in options} == {"Image", "ImageRef"}:
        kind = EITHER
    return kind


def value_type(kind: str, value: Any) -> str:
    """The kind of one image value: `Image` or `ImageRef`."""
    kind = LIST_OF.get(kind, kind)
    if kind == EITHER:
        return "ImageRef" if isinstance(value, Mapping) else "Image"
    return kind


def wants_png(schema: Any) -> bool:
    """Whether an output property (or its items) asks for PNG rather than a COG."""
    if not isinstance(schema, dict):
        return False
    items = schema.get("items")
    media = schema.get("contentMediaType") or (
        items.get("contentMediaType") if isinstance(items, dict) else None)
    return media == PNG_MEDIA_TYPE


@dataclass(frozen=True)
class ImageNode:
    """Where images sit in an input schema: the path to them (property names, `EACH` for the
    items of an array) and their kind; `header` when the algorithm wants headers, not pixels."""

    path: tuple[str | None, ...]
    kind: str
    header: bool = False


def image_nodes(schema: dict) -> list[ImageNode]:
    """Every image value of an object schema, at any depth of objects and arrays."""
    definitions = schema.get("definitions") or {}
    found: list[ImageNode] = []

    def walk(node: Any, path: tuple[str | None, ...], depth: int) -> None:
        if depth > _MAX_DEPTH or not isinstance(node, dict):
            return
        kind = image_type(node)
        if kind is not None:
            if path:
                found.append(ImageNode(path, kind, node.get(HEADER_READ[0]) == HEADER_READ[1]))
            return
        node = deref(node, definitions)
        for name, sub in (node.get("properties") or {}).items():
            walk(sub, (*path, name), depth + 1)
        if isinstance(node.get("items"), dict):
            walk(node["items"], (*path, EACH), depth + 1)

    walk(schema, (), 0)
    return found


def _step(label: str, name: str) -> str:
    return f"{label}.{name}" if label else name


def image_values(value: Any, path: tuple[str | None, ...], label: str) -> Iterator[tuple[str, Any]]:
    """(field label, value) of every value of `value` at `path` (as in `image_nodes`)."""
    if not path:
        yield label, value
        return
    step, rest = path[0], path[1:]
    if step is EACH and isinstance(value, list):
        for index, item in enumerate(value):
            yield from image_values(item, rest, f"{label}[{index}]")
    elif step is not EACH and isinstance(value, dict) and step in value:
        yield from image_values(value[step], rest, _step(label, step))


def replace_images(value: Any, path: tuple[str | None, ...], label: str,
                   leaf: Callable[[Any, str], Any]) -> Any:
    """`value` with each value at `path` replaced by `leaf(value, label)`; copies, never edits."""
    if not path:
        return leaf(value, label)
    step, rest = path[0], path[1:]
    if step is EACH:
        if not isinstance(value, list):
            return value
        return [replace_images(item, rest, f"{label}[{i}]", leaf) for i, item in enumerate(value)]
    if not isinstance(value, dict) or step not in value:
        return value
    return {**value, step: replace_images(value[step], rest, _step(label, step), leaf)}


def image_properties(schema: dict) -> dict[str, str]:
    """Top-level property name -> image type, for the properties that are images."""
    properties = schema.get("properties") or {}
    return {name: kind for name, sub in properties.items() if (kind := image_type(sub))}


def split_list(name: str, kind: str, value: Any) -> Iterator[tuple[str, Any]]:
    """(field label, single image value) for a property's value, one or a list."""
    if value is None:
        return
    if kind in LIST_OF and isinstance(value, list):
        yield from ((f"{name}[{i}]", item) for i, item in enumerate(value))
    else:
        yield name, value


def deref(schema: dict, definitions: dict) -> dict:
    """The schema a `#/definitions/X` reference (or a chain of them) stands for."""
    for _ in range(8):  # a chain of $refs, never a loop
        ref = schema.get("$ref")
        if not (isinstance(ref, str) and ref.startswith("#/definitions/")):
            break
        target = definitions.get(ref.removeprefix("#/definitions/"))
        if not isinstance(target, dict):
            break
        schema = target
    return schema
