"""Generate Airflow code from describe documents and pipeline specs.

- `operator_spec(service, describe)`: what the operator of one service looks like (an
  `OperatorSpec`: class name, connection id, typed parameters from the input schema).
- `operators_source(specs)`: a Python module with one `PestoProcessOperator` subclass per
  service (`class CloudDetectionOperator(PestoProcessOperator)`), keyword-only parameters typed
  from the input schema, the schema's defaults, the describe document's text as docstring, and
  the service's name and default connection (`pesto_<service>`) baked in.
- `dag_source(pipeline, specs, operators_module=...)`: a DAG file using those operators
  (see `pesto_factory.adapters.airflow._dag`).
- `emit(pipeline, describes, out_dir)`: both files, written atomically.

Nothing here imports Airflow: the generated text does. Every generated file opens with a header
naming the generator and saying not to edit it by hand.
"""

from __future__ import annotations

import dataclasses
import keyword
import os
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pesto_factory.adapters.airflow._dag import dag_source
from pesto_factory.adapters.airflow._names import GenerateError, header, module_name
from pesto_factory.adapters.pipeline import Pipeline, describe_view, output_schema, resolve_schema

__all__ = ["BASE_TEMPLATE_FIELDS", "EmittedFiles", "GenerateError", "OperatorSpec", "ParamSpec", "RESERVED_NAMES",
           "dag_source", "emit", "header", "module_name", "operator_spec", "operators_source", "with_airflow_options"]

#: Other attributes and methods of BaseOperator and PestoProcessOperator (Airflow 3.3): an
#: input of one of these names would shadow them (`label` is a property).
_OPERATOR_ATTRIBUTES = frozenset({
    'add_inlets', 'add_outlets', 'as_setup', 'as_teardown', 'calls', 'dag_id', 'defer',
    'deserialization_allowed_class_fields', 'downstream_list', 'dry_run', 'execute',
    'execute_complete', 'expand_start_trigger_args', 'get_closest_mapped_task_group',
    'get_dag', 'get_direct_relative_ids', 'get_direct_relatives', 'get_flat_relative_ids',
    'get_flat_relatives', 'get_needs_expansion', 'get_serialized_fields',
    'get_template_env', 'get_upstreams_follow_setups', 'get_upstreams_only_setups',
    'get_upstreams_only_setups_and_teardowns', 'has_dag', 'has_on_failure_callback',
    'has_on_retry_callback', 'has_on_skipped_callback', 'has_on_success_callback',
    'has_retry_policy', 'inherits_from_empty_operator', 'inherits_from_skipmixin',
    'is_async', 'is_mapped', 'is_setup', 'is_teardown', 'iter_mapped_dependants',
    'iter_mapped_task_groups', 'label', 'leaves', 'node_id', 'on_failure_fail_dagrun',
    'on_kill', 'operator_class', 'operator_name', 'overwrite_rtif_after_execution',
    'partial', 'payload', 'prepare_for_execution', 'prepare_template', 'render_template',
    'render_template_fields', 'resolve_template_files', 'resume_execution',
    'returns_dag_result', 'roots', 'serialize_for_task_group', 'set_downstream',
    'set_upstream', 'shallow_copy_attrs', 'start_from_trigger', 'start_trigger_args',
    'task_type', 'template_ext', 'template_fields_renderers', 'ui_color', 'ui_fgcolor',
    'unmap', 'update_relative', 'upstream_list',
})

#: Constructor arguments of BaseOperator and PestoProcessOperator: a service input of one of
#: these names is passed in `inputs={...}` rather than as a typed parameter.
RESERVED_NAMES = frozenset({
    "task_id", "owner", "email", "email_on_retry", "email_on_failure", "retries", "retry_delay",
    "retry_exponential_backoff", "max_retry_delay", "retry_policy", "start_date", "end_date",
    "depends_on_past", "ignore_first_depends_on_past", "wait_for_past_depends_before_skipping",
    "wait_for_downstream", "dag", "params", "default_args", "priority_weight", "weight_rule",
    "queue", "pool", "pool_slots", "sla", "execution_timeout", "on_execute_callback",
    "on_failure_callback", "on_success_callback", "on_retry_callback",
    "on_skipped_callback", "pre_execute", "post_execute", "trigger_rule", "resources",
    "run_as_user", "task_concurrency", "map_index_template", "max_active_tis_per_dag",
    "max_active_tis_per_dagrun", "executor", "executor_config", "do_xcom_push",
    "multiple_outputs", "inlets", "outlets", "task_group", "doc", "doc_md", "doc_json",
    "doc_yaml", "doc_rst", "task_display_name", "logger_name", "allow_nested_operators",
    "render_template_as_native_obj", "has_on_execute_callback",
    "inputs", "pesto_conn_id", "deferrable", "poll_interval", "job_timeout", "process_timeout",
    "batch", "max_parallel", "max_poll_interval", "busy_timeout", "reference_outputs",
    "operator_extra_links", "service_name", "input_names", "template_fields", "log", "output",
    "kwargs", "self",
}) | _OPERATOR_ATTRIBUTES

#: PestoProcessOperator.template_fields (this module does not import Airflow; a test checks).
BASE_TEMPLATE_FIELDS = ("inputs", "pesto_conn_id", "batch")

_JSON_TYPES = {"integer": "int", "number": "float", "string": "str", "boolean": "bool",
               "array": "list[Any]", "object": "dict[str, Any]", "null": "None"}


@dataclass(frozen=True)
class ParamSpec:
    """One typed keyword-only parameter of a generated operator (one service input)."""

    name: str
    annotation: str
    required: bool
    default: str  # Python source of the default ("None" for an optional input without one)
    doc: str


@dataclass(frozen=True)
class OperatorSpec:
    """The generated operator of one service."""

    service: str
    class_name: str
    conn_id: str
    params: tuple[ParamSpec, ...]
    passed_in_inputs: tuple[str, ...]  # inputs whose names cannot be parameters
    title: str
    doc: str
    reference_outputs: tuple[str, ...] = ()  # outputs that are ImageRef objects

    def has_param(self, name: str) -> bool:
        return any(param.name == name for param in self.params)


@dataclass(frozen=True)
class EmittedFiles:
    """What `emit` wrote."""

    operators: Path
    dag: Path


def _class_name(service: str) -> str:
    words = [word for word in re.split(r"[^0-9A-Za-z]+", service) if word]
    name = "".join(word[:1].upper() + word[1:] for word in words) or "Service"
    if name[0].isdigit():
        name = f"Service{name}"
    return f"{name}Operator"


def _resolve(schema: Any, root: Mapping[str, Any]) -> Any:
    """`schema` with its `$ref`s followed (the pipeline adapters' one resolver); {} if unknown."""
    resolved, _ = resolve_schema(schema, root)
    return resolved if resolved is not None else {}


def _annotation(schema: Any, root: Mapping[str, Any]) -> str:
    schema = _resolve(schema, root)
    if not isinstance(schema, Mapping):
        return "Any"
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            parts = [_annotation(sub, root) for sub in schema[key]]
            return _union(parts)
    kind = schema.get("type")
    if isinstance(kind, str):
        return _JSON_TYPES.get(kind, "Any")
    if isinstance(kind, list):
        return _union([_JSON_TYPES.get(str(k), "Any") for k in kind])
    return "Any"


def _union(parts: Sequence[str]) -> str:
    unique = list(dict.fromkeys(one for part in parts for one in part.split(" | ")))
    return "Any" if "Any" in unique or not unique else " | ".join(unique)


def _text(value: Any) -> str:
    """Free text made safe inside a triple-quoted docstring."""
    return " ".join(str(value or "").split()).replace("\\", "\\\\").replace('"""', "'''")


def _param(name: str, schema: Any, root: Mapping[str, Any], required: bool) -> ParamSpec:
    annotation = _annotation(schema, root)
    described = schema if isinstance(schema, Mapping) else {}
    default = "None"
    doc = _text(described.get("description") or _resolve(described, root).get("description"))
    if "default" in described and not isinstance(described["default"], (dict, list)):
        default = repr(described["default"])
        doc += f" (default {default})"
    elif "default" in described:
        doc += f" (default {described['default']!r}: the service's when None)"
    elif required:
        doc += " (required)"
    if not required or default != "None":
        annotation = annotation if default != "None" else _union([annotation, "None"])
    return ParamSpec(name, annotation, required and default == "None", default, doc)


def operator_spec(service: str, describe: Mapping[str, Any]) -> OperatorSpec:
    """The operator of `service` from its describe document (`input` is its input schema)."""
    describe = describe_view(describe, f"describe document of {service!r}")
    schema = describe.get("input")
    if not isinstance(schema, Mapping):
        raise GenerateError(f"describe document of {service!r}: no input schema ('input')")
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    params, passed = [], []
    for name, sub in properties.items():
        if name.isidentifier() and not keyword.iskeyword(name) and name not in RESERVED_NAMES:
            params.append(_param(name, sub, schema, name in required))
        else:
            passed.append(name)
    params.sort(key=lambda param: not param.required)  # keeps each group's schema order
    title = _text(describe.get("title") or service)
    label = " ".join(str(describe.get(key)) for key in ("name", "version") if describe.get(key))
    doc = _text(describe.get("description"))
    return OperatorSpec(service=service, class_name=_class_name(service),
                        reference_outputs=_reference_outputs(describe),
                        conn_id=f"pesto_{module_name(service).lower()}", params=tuple(params),
                        passed_in_inputs=tuple(passed), title=f"{title} ({label})" if label
                        else title, doc=doc)


def _reference_outputs(describe: Mapping[str, Any]) -> tuple[str, ...]:
    """Output fields that are ImageRef objects (an object schema with an `href` property)."""
    schema = output_schema(describe)
    found = []
    for name, sub in (schema.get("properties") or {}).items():
        resolved = _resolve(sub, schema)
        if isinstance(resolved, Mapping) and "href" in (resolved.get("properties") or {}):
            found.append(name)
    return tuple(found)


def _templated(annotation: str) -> str:
    """What a parameter accepts in a DAG: its value, a Jinja template (a string rendered to
    the value) or an XComArg (resolved at run time)."""
    if annotation == "Any":
        return annotation
    parts = annotation.split(" | ")
    optional = ["None"] if "None" in parts else []
    return _union([*(part for part in parts if part != "None"), "str", "XComArg", *optional])


def _operator_class(spec: OperatorSpec) -> str:
    lines = [f"class {spec.class_name}(PestoProcessOperator):",
             f'    """{spec.title}: one call of the service {spec.service!r}.', ""]
    lines += textwrap.wrap(spec.doc, 92, initial_indent="    ", subsequent_indent="    ")
    lines.append("")
    for param in spec.params:
        lines += textwrap.wrap(f":param {param.name}: {param.doc}", 92, initial_indent="    ",
                               subsequent_indent="        ")
    lines += textwrap.wrap(f":param pesto_conn_id: the service's Airflow connection (default "
                           f"{spec.conn_id!r})", 92, initial_indent="    ",
                           subsequent_indent="        ")
    if spec.passed_in_inputs:
        lines.append(f"    Inputs passed in `inputs={{...}}`: {', '.join(spec.passed_in_inputs)}.")
    lines += ["", "    Values may be Jinja templates or XComArgs; the other keyword arguments "
              "are", "    PestoProcessOperator's and BaseOperator's.", '    """', ""]
    names = tuple(param.name for param in spec.params)
    lines += [f"    service_name: ClassVar[str | None] = {spec.service!r}",
              f"    input_names: ClassVar[tuple[str, ...]] = {names!r}",
              f"    reference_outputs: ClassVar[tuple[str, ...]] = {spec.reference_outputs!r}",
              f"    template_fields: Sequence[str] = {(*BASE_TEMPLATE_FIELDS, *names)!r}", "",
              "    def __init__(", "        self,", "        *,"]
    for param in spec.params:
        default = "" if param.required else f" = {param.default}"
        lines.append(f"        {param.name}: {_templated(param.annotation)}{default},")
    lines += [f"        pesto_conn_id: str = {spec.conn_id!r},", "        **kwargs: Any,",
              "    ) -> None:", "        super().__init__(pesto_conn_id=pesto_conn_id, **kwargs)"]
    lines += [f"        self.{param.name} = {param.name}" for param in spec.params]
    return "\n".join(lines) + "\n"


def operators_source(specs: Sequence[OperatorSpec], *, source: str) -> str:
    """The module of the generated operators (`source` names what it was generated from)."""
    names = [spec.class_name for spec in specs]
    if len(set(names)) != len(names):
        raise GenerateError(f"two services give the same operator class name: {names}")
    services = ", ".join(spec.service for spec in specs)
    parts = [header(source=source),
             f'"""Airflow operators of the PESTO services {services}.\n\nEach class calls one '
             "service (its connection: `pesto_conn_id`) and returns\nits outputs (image "
             'references) as XCom. Generated from the describe documents.\n"""\n',
             "from __future__ import annotations\n",
             "from collections.abc import Sequence\nfrom typing import Any, ClassVar\n",
             "from airflow.sdk import XComArg\n"
             "from pesto_factory.adapters.airflow.operators.pesto import PestoProcessOperator\n",
             f"__all__ = {sorted(names)!r}\n"]
    head = "\n".join(part.rstrip("\n") + "\n" for part in parts)
    return head + "\n\n" + "\n\n".join(_operator_class(spec) for spec in specs)


def _write(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def with_airflow_options(pipeline: Pipeline, options: Mapping[str, Any]) -> Pipeline:
    """`pipeline` with `options` (None values ignored) over its pipeline-level `airflow`
    options, as the command line gives them; a step's own options still win."""
    chosen = {name: value for name, value in options.items() if value is not None}
    if not chosen:
        return pipeline
    return dataclasses.replace(pipeline, airflow=MappingProxyType({**pipeline.airflow,
                                                                   **chosen}))


def emit(pipeline: Pipeline, describes: Mapping[str, Mapping[str, Any]], out_dir: Path, *,
         source: str | None = None) -> EmittedFiles:
    """Write `<name>_operators.py` and `<name>.py` (the DAG) for `pipeline` into `out_dir`."""
    missing = [name for name in pipeline.services if name not in describes]
    if missing:
        raise GenerateError(f"pipeline {pipeline.name!r}: no describe document of service(s) "
                            f"{', '.join(missing)}")
    used = [name for name in pipeline.services if any(s.service == name for s in pipeline.steps)]
    specs = {name: operator_spec(name, describes[name]) for name in used}
    source = source or (pipeline.source.name if pipeline.source else pipeline.name)
    base = module_name(pipeline.name)
    operators = operators_source(list(specs.values()), source=source)
    dag = dag_source(pipeline, specs, operators_module=f"{base}_operators", source=source)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = EmittedFiles(out_dir / f"{base}_operators.py", out_dir / f"{base}.py")
    _write(files.operators, operators)
    _write(files.dag, dag)
    return files
