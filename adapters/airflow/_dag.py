"""The DAG file of a pipeline spec: its steps as tasks of the generated service operators.

How the spec maps (docs/airflow.md):

- `${inputs.x}`            -> DAG param: `"{{ params['x'] }}"` (native rendering keeps its type)
- `${step}`                -> the task's XComArg `step_task.output` (the whole output object)
- `${step.a.b}`            -> `"{{ pesto_path(ti.xcom_pull(task_ids='step'), 'a', 'b') }}"`, a
                              Jinja macro with the spec's path semantics, plus the dependency
- `foreach` + `as`         -> a `pesto_fan_out` task cutting the items' inputs into batches
                              (at most `max_map_length`, at least `batch_size` items each),
                              `Operator.partial(...).expand(batch=...)` (dynamic task mapping,
                              one service call per item inside each mapped task), and a
                              `pesto_gather` task flattening the batches' outputs in item order
- `${fanout}`              -> the gather task's XComArg: every item's output, in item order
- `${fanout.a}`            -> `"{{ pesto_path(ti.xcom_pull(task_ids='fanout_outputs'), 'a') }}"`
- `outputs`                -> a last `pesto_outputs` task returning them as one XCom
- a step's `airflow` options (over the pipeline's) -> BaseOperator and operator arguments

The DAG renders templates as native objects (`render_template_as_native_obj=True`), so integers
stay integers and lists stay lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pesto_factory.adapters.airflow._names import GenerateError, header, module_name
from pesto_factory.adapters.airflow._options import FAN_OUT_OPTIONS, option_kwargs
from pesto_factory.adapters.pipeline import NO_DEFAULT, Pipeline, Ref, Step, iter_refs, map_refs

if TYPE_CHECKING:
    from pesto_factory.adapters.airflow.generate import OperatorSpec

__all__ = ["dag_source"]

_PARAM_TYPES = {"Image": "string", "ImageRef": "object"}


class _Code(str):
    """Python source to write as it is (not as a string literal)."""


def _literal(value: Any) -> str:
    if isinstance(value, _Code):
        return str(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{str(k)!r}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)


def _path_args(path: tuple[str, ...]) -> str:
    return "".join(f", {part!r}" for part in path)


class _Writer:
    def __init__(self, pipeline: Pipeline, specs: Mapping[str, OperatorSpec]) -> None:
        self.pipeline = pipeline
        self.specs = specs
        self.vars = {step.id: f"{module_name(step.id)}_task" for step in pipeline.steps}
        if len(set(self.vars.values())) != len(self.vars):
            raise GenerateError(f"pipeline {pipeline.name!r}: step ids {sorted(self.vars)} give "
                                "clashing Python names")
        self.task_ids = {step.id for step in pipeline.steps}
        self.imports: set[str] = set()
        # What reads a step's output: its task, or the gather task of a fan-out step.
        self.out_vars = dict(self.vars)
        self.out_ids = {step.id: step.id for step in pipeline.steps}
        for step in pipeline.steps:
            if step.fan_out:
                self.out_vars[step.id] = f"{module_name(step.id)}_outputs"
                self.out_ids[step.id] = self._free_task_id(f"{step.id}_outputs")

    def _free_task_id(self, wanted: str) -> str:
        while wanted in self.task_ids:
            wanted += "_"
        self.task_ids.add(wanted)
        return wanted

    def ref(self, ref: Ref, where: str) -> _Code:
        if ref.kind == "input":
            if not ref.path:
                return _Code(repr(f"{{{{ params[{ref.name!r}] }}}}"))
            return _Code(repr(f"{{{{ pesto_path(params[{ref.name!r}]{_path_args(ref.path)}) }}}}"))
        if ref.kind == "item":
            raise GenerateError(f"{where}: {ref.text}: the Airflow generator maps over items "
                                "given whole as a step input (`tile: ${tile}` or "
                                "`${tile.field}`), not inside a literal")
        if not ref.path:
            var = self.out_vars[ref.name]
            return _Code(var if self.pipeline.step(ref.name).fan_out else f"{var}.output")
        pull = f"ti.xcom_pull(task_ids={self.out_ids[ref.name]!r})"
        return _Code(repr(f"{{{{ pesto_path({pull}{_path_args(ref.path)}) }}}}"))

    def value(self, value: Any, where: str) -> str:
        return _literal(map_refs(value, lambda ref: self.ref(ref, where)))

    def kwargs(self, step: Step, spec: OperatorSpec, names: list[str]) -> list[str]:
        lines, loose = [], {}
        for name in names:
            code = self.value(step.inputs[name], f"step {step.id!r}, input {name!r}")
            if spec.has_param(name):
                lines.append(f"{name}={code},")
            else:
                loose[name] = _Code(code)
        if loose:
            lines.append(f"inputs={_literal(loose)},")
        return lines

    def options(self, step: Step) -> tuple[list[str], dict[str, Any]]:
        """The step's `airflow` options (over the pipeline's) as constructor argument lines,
        and the fan-out's batching options."""
        merged = {**self.pipeline.airflow, **step.airflow}
        if "doc_md" not in merged and step.description:
            merged["doc_md"] = " ".join(step.description.split())
        lines, imports = option_kwargs(merged)
        self.imports |= imports
        return lines, {key: merged[key] for key in FAN_OUT_OPTIONS if key in merged}

    def step(self, step: Step) -> list[str]:
        spec = self.specs[step.service]
        var = self.vars[step.id]
        options, fan_out = self.options(step)
        if not step.fan_out:
            body = [f"task_id={step.id!r},", *self.kwargs(step, spec, list(step.inputs)),
                    *options]
            return [f"{var} = {spec.class_name}(", *_indent(body), ")"]
        bindings: dict[str, list[str]] = {}
        static = []
        for name, value in step.inputs.items():
            if isinstance(value, Ref) and value.kind == "item":
                if not spec.has_param(name):
                    raise GenerateError(f"step {step.id!r}: input {name!r} of service "
                                        f"{step.service!r} cannot be mapped over")
                bindings[name] = list(value.path)
            elif any(ref.kind == "item" for _, ref in iter_refs(value)):
                self.ref(next(r for _, r in iter_refs(value) if r.kind == "item"),
                         f"step {step.id!r}, input {name!r}")
            else:
                static.append(name)
        assert step.foreach is not None
        source = self.value(Ref(step.foreach.kind, step.foreach.name), f"step {step.id!r}")
        items_var = f"{module_name(step.id)}_items"
        items_id = self._free_task_id(f"{step.id}_items")
        # the mapped inputs come in each batch: None here satisfies required parameters
        body = [f"task_id={step.id!r},", *self.kwargs(step, spec, static),
                *(f"{name}=None," for name in bindings), *options]
        batching = [f"{key}={value!r}," for key, value in fan_out.items()]
        return [f"{items_var} = pesto_fan_out.override(task_id={items_id!r})(",
                *_indent([f"{source},", f"{list(step.foreach.path)!r},", f"{bindings!r},",
                          *batching]),
                ")",
                f"{var} = {spec.class_name}.partial(", *_indent(body),
                f").expand(batch={items_var})",
                f"{self.out_vars[step.id]} = pesto_gather.override("
                f"task_id={self.out_ids[step.id]!r})({var}.output)"]

    def outputs(self) -> list[str]:
        if not self.pipeline.outputs:
            return []
        values = {name: _Code(self.value(value, f"output {name!r}"))
                  for name, value in self.pipeline.outputs.items()}
        task_id = self._free_task_id("outputs")
        lines = [f"outputs_task = pesto_outputs.override(task_id={task_id!r})({{",
                 *_indent([f"{name!r}: {code}," for name, code in values.items()], 1), "})"]
        upstream = list(dict.fromkeys(ref.name for _, ref in self.pipeline.output_refs()
                                      if ref.kind == "step"))
        if upstream:
            lines.append(f"[{', '.join(self.out_vars[s] for s in upstream)}] >> outputs_task")
        return lines

    def params(self) -> list[str]:
        lines = []
        for name, declared in self.pipeline.inputs.items():
            kind = _PARAM_TYPES.get(declared.type, declared.type)
            args = [] if declared.default is NO_DEFAULT else [repr(declared.default)]
            if declared.default is None:
                kind = [kind, "null"]
            args.append(f"type={kind!r}")
            if declared.description:
                args.append(f"description={' '.join(declared.description.split())!r}")
            lines.append(f"{name!r}: Param({', '.join(args)}),")
        return lines


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's isort order of imported names: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2, name)


def _import_from(module: str, names: list[str]) -> str:
    """An import statement as ruff's isort writes it (wrapped past 100 characters)."""
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= 100:
        return line
    return f"from {module} import (\n" + "".join(f"    {name},\n" for name in names) + ")"


def _indent(lines: list[str], levels: int = 1) -> list[str]:
    return ["    " * levels + line for line in lines]


def dag_source(pipeline: Pipeline, specs: Mapping[str, OperatorSpec], *,
               operators_module: str, source: str) -> str:
    """The DAG file of `pipeline`, importing the operators `specs` from `operators_module`."""
    writer = _Writer(pipeline, specs)
    tasks: list[str] = []
    for step in pipeline.ordered_steps():
        tasks += writer.step(step)
    for step in pipeline.ordered_steps():
        if step.depends_on:
            tasks.append(f"[{', '.join(writer.out_vars[d] for d in step.depends_on)}] >> "
                         f"{writer.vars[step.id]}")
    tasks += writer.outputs()
    classes = sorted({specs[step.service].class_name for step in pipeline.steps})
    description = " ".join(pipeline.description.split())
    params = writer.params()
    dag_args = [f"dag_id={pipeline.name!r},", f"description={description!r},",
                "schedule=None,", "params={", *_indent(params), "},",
                "render_template_as_native_obj=True,",
                'user_defined_macros={"pesto_path": pesto_path},', 'tags=["pesto"],']
    sdk = sorted({"DAG", *(["Param"] if params else [])}
                 | {name for name in writer.imports if name != "timedelta"}, key=_isort_key)
    fan_out = any(step.fan_out for step in pipeline.steps)
    helpers = [*(["pesto_fan_out", "pesto_gather"] if fan_out else []),
               *(["pesto_outputs"] if pipeline.outputs else []), "pesto_path"]
    third_party = sorted([
        _import_from("airflow.sdk", sdk),
        _import_from("pesto_factory.adapters.airflow.tasks", helpers),
        _import_from(operators_module, classes)])
    lines = [header(source=source).rstrip("\n"),
             f'"""Airflow DAG of the pipeline {pipeline.name!r}: {description}'.rstrip(),
             "", "Run it: python THIS_FILE '{\"param\": value, ...}' (the run's conf: params without a",
             "default need one), or trigger it with its params; each service's connection is",
             "`pesto_<service>` (see docs/airflow.md).", '"""', "",
             "from __future__ import annotations", "",
             *(["from datetime import timedelta", ""] if "timedelta" in writer.imports else []),
             *third_party, ""]
    lines += ["with DAG(", *_indent(dag_args), ") as dag:", *_indent(tasks), "", "",
              'if __name__ == "__main__":', "    import json", "    import sys", "",
              "    from airflow.sdk.exceptions import ParamValidationError", "",
              "    try:",
              "        dag.test(run_conf=json.loads(sys.argv[1]) if len(sys.argv) > 1 else None)",
              "    except ParamValidationError as error:",
              "        sys.exit(f\"{error}: give the run's conf as JSON: python {sys.argv[0]} "
              "'{{\\\"name\\\": value}}'\")", ""]
    return "\n".join(lines)
