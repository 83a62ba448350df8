"""The pipeline spec: a chain of services written in YAML (schema: schemas/pipeline.json).

    pipeline = load_pipeline("examples/pipelines/cloud_mask.yaml")   # checked, or SpecError
    for step in pipeline.ordered_steps(): ...                         # Step values, Refs inside

The embedded runner (`pesto_factory.adapters.local`) and the Conductor and Airflow generators all read the
`Pipeline` value built here; none of them re-parses the YAML. docs/pipelines.md describes the
format.
"""

from __future__ import annotations

from pesto_factory.adapters.pipeline.describe import (
    DescribeError,
    ServiceDescription,
    collect_describes,
    describe_project,
    describe_view,
    resolve_schema,
)
from pesto_factory.adapters.pipeline.expressions import (
    ExpressionError,
    ResolutionError,
    Scope,
    compile_value,
    map_refs,
    parse_expression,
    read_path,
    resolve,
)
from pesto_factory.adapters.pipeline.inputs import InputError, bind_inputs, parse_input_args
from pesto_factory.adapters.pipeline.loader import DEFAULT_ITEM, load_pipeline, parse_pipeline
from pesto_factory.adapters.pipeline.model import (
    INPUT_TYPES,
    NO_DEFAULT,
    Pipeline,
    PipelineInput,
    Ref,
    RefKind,
    ServiceRef,
    SpecError,
    SpecProblem,
    Step,
    escape_token,
    iter_refs,
)
from pesto_factory.adapters.pipeline.typecheck import check_types, input_schema, output_schema

__all__ = [
    "DEFAULT_ITEM",
    "DescribeError",
    "ServiceDescription",
    "collect_describes",
    "describe_project",
    "describe_view",
    "resolve_schema",
    "INPUT_TYPES",
    "NO_DEFAULT",
    "ExpressionError",
    "InputError",
    "Pipeline",
    "PipelineInput",
    "Ref",
    "RefKind",
    "ResolutionError",
    "Scope",
    "ServiceRef",
    "SpecError",
    "SpecProblem",
    "Step",
    "bind_inputs",
    "check_types",
    "compile_value",
    "escape_token",
    "input_schema",
    "iter_refs",
    "load_pipeline",
    "map_refs",
    "output_schema",
    "parse_expression",
    "parse_input_args",
    "parse_pipeline",
    "read_path",
    "resolve",
]
