"""The DAG file of a pipeline spec: its steps as tasks of the generated service operators.

How the spec maps (docs/airflow.md):

- `${inputs.x}`            -> DAG param: `"{{ params['x'] }}"` (native rendering keeps its type)
- `${step}`                -> the task's XComArg `step_task.output` (the whole output object)
- `${step.a.b}`            -> `"{{ pesto_path(ti.xcom_pull(task_ids='step'), 'a', 'b') }}"`, a
                              Jinja macro with the spec's path semantics, plus the dependency
- `foreach` + `as`         -> a `pesto_fan_out` task listing the calls' keyword arguments, and
                              `Operator.partial(...).expand_kwargs(...)` (dynamic task mapping)
- `${fanout}`              -> the mapped task's XComArg: its outputs in map-index order
- `${fanout.a}`            -> `fanout_task.output.map(_fanout_a)`, per item
- `outputs`                -> a last `pesto_outputs` task returning them as one XCom

The DAG renders templates as native objects (`render_template_as_native_obj=True`), so integers
stay integers and lists stay lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pesto_factory.adapters.airflow._names import GenerateError, header, module_name
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
        self.functions: dict[str, str] = {}
        self.vars = {step.id: f"{module_name(step.id)}_task" for step in pipeline.steps}
        if len(set(self.vars.values())) != len(self.vars):
            raise GenerateError(f"pipeline {pipeline.name!r}: step ids {sorted(self.vars)} give "
                                "clashing Python names")
        self.task_ids = {step.id for step in pipeline.steps}

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
        var = self.vars[ref.name]
        if not ref.path:
            return _Code(f"{var}.output")
        if self.pipeline.step(ref.name).fan_out:
            name = f"_{module_name(ref.name)}_{'_'.join(module_name(p) for p in ref.path)}"
            self.functions[name] = (f"def {name}(output: Any) -> Any:\n"
                                    f'    """{ref.text} of one item."""\n'
                                    f"    return pesto_path(output{_path_args(ref.path)})\n")
            return _Code(f"{var}.output.map({name})")
        pull = f"ti.xcom_pull(task_ids={ref.name!r})"
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

    def step(self, step: Step) -> list[str]:
        spec = self.specs[step.service]
        var = self.vars[step.id]
        if not step.fan_out:
            body = [f"task_id={step.id!r},", *self.kwargs(step, spec, list(step.inputs))]
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
        body = [f"task_id={step.id!r},", *self.kwargs(step, spec, static)]
        return [f"{items_var} = pesto_fan_out.override(task_id={items_id!r})(",
                *_indent([f"{source},", f"{list(step.foreach.path)!r},", f"{bindings!r},"]),
                ")",
                f"{var} = {spec.class_name}.partial(", *_indent(body),
                f").expand_kwargs({items_var})"]

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
            lines.append(f"[{', '.join(self.vars[s] for s in upstream)}] >> outputs_task")
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
            tasks.append(f"[{', '.join(writer.vars[d] for d in step.depends_on)}] >> "
                         f"{writer.vars[step.id]}")
    tasks += writer.outputs()
    classes = sorted({specs[step.service].class_name for step in pipeline.steps})
    description = " ".join(pipeline.description.split())
    dag_args = [f"dag_id={pipeline.name!r},", f"description={description!r},",
                "schedule=None,", "params={", *_indent(writer.params()), "},",
                "render_template_as_native_obj=True,",
                'user_defined_macros={"pesto_path": pesto_path},', 'tags=["pesto"],']
    lines = [header(source=source).rstrip("\n"),
             f'"""Airflow DAG of the pipeline {pipeline.name!r}: {description}',
             "", "Run it: python THIS_FILE, or trigger it with its params; each service's "
             "connection is", "`pesto_<service>` (see docs/airflow.md).", '"""', "",
             "from __future__ import annotations", "",
             *(["from typing import Any", ""] if writer.functions else []),
             "from airflow.sdk import DAG, Param", "",
             "from pesto_factory.adapters.airflow.tasks import pesto_fan_out, pesto_outputs, pesto_path",
             f"from {operators_module} import {', '.join(classes)}", ""]
    for function in writer.functions.values():
        lines += ["", function]
    lines += ["", "with DAG(", *_indent(dag_args), ") as dag:", *_indent(tasks), "", "",
              'if __name__ == "__main__":', "    dag.test()", ""]
    return "\n".join(lines)
