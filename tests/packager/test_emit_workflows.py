"""`packager pipeline emit` (a chain, both engines in one call) and `packager build
--emit-workflows` (one project: its TaskDef, its operator module, a one-step DAG and workflow).

The committed workflows/ and dags/ must be exactly what `pipeline emit` writes for the example
chain. The one-step DAG is parsed by Airflow's own DAG bag (in a subprocess with its own
AIRFLOW_HOME); the one-step workflow goes through the Conductor SDK's models.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pesto_factory.packager.cli import main
from pesto_factory.packager.cli.build import BuildCommand
from pesto_factory.packager.workflows import service_pipeline

from tests.packager.conftest import NDVI, REPO

SPEC = REPO / "examples" / "pipelines" / "cloud_mask.yaml"
CHAIN_FILES = {"taskdefs.json": "workflows", "cloud-mask.workflow.json": "workflows",
               "cloud_mask.py": "dags", "cloud_mask_operators.py": "dags"}
REGENERATE = ("packager pipeline emit examples/pipelines/cloud_mask.yaml "
              "--conductor-out workflows --airflow-out dags")

#: Parses one DAG folder with Airflow's DAG bag; prints import errors and each DAG's tasks.
_PARSE = """
import json, sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
folder = sys.argv[1]
bag = BundleDagBag(dag_folder=folder, bundle_path=Path(folder), bundle_name="dags-folder")
print("RESULT " + json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()},
                              "dags": {d: sorted(t.task_id for t in dag.tasks)
                                       for d, dag in bag.dags.items()}}))
"""


def test_the_committed_workflows_and_dags_equal_pipeline_emit(tmp_path: Path, capsys) -> None:
    assert main(["pipeline", "emit", str(SPEC), "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("wrote ") == 4
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(CHAIN_FILES)
    for name, folder in CHAIN_FILES.items():
        committed = (REPO / folder / name).read_text(encoding="utf-8")
        assert committed == (tmp_path / name).read_text(encoding="utf-8"), (
            f"{folder}/{name} differs from a fresh generation: run `{REGENERATE}`")


def test_pipeline_emit_splits_the_engines_folders(tmp_path: Path) -> None:
    conductor, airflow = tmp_path / "workflows", tmp_path / "dags"
    assert main(["pipeline", "emit", str(SPEC), "--conductor-out", str(conductor),
                 "--airflow-out", str(airflow), "--out", str(tmp_path / "unused")]) == 0
    assert sorted(p.name for p in conductor.iterdir()) == ["cloud-mask.workflow.json",
                                                          "taskdefs.json"]
    assert sorted(p.name for p in airflow.iterdir()) == ["cloud_mask.py",
                                                        "cloud_mask_operators.py"]
    assert not (tmp_path / "unused").exists()


def test_pipeline_emit_names_an_unknown_service(tmp_path: Path, capsys) -> None:
    code = main(["pipeline", "emit", str(SPEC), "-o", str(tmp_path), "--describe", "nope=x.json"])
    assert code == 1
    assert "--describe nope: no such service" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("given", "expected"), [
    (["--emit-workflows"], ["--emit-workflows=<workspace>/workflows"]),
    (["--emit-workflows", "--no-image"], ["--emit-workflows=<workspace>/workflows", "--no-image"]),
    (["--emit-workflows", "out", "p"], ["--emit-workflows", "out", "p"]),
    (["--emit-workflows=out"], ["--emit-workflows=out"]),
])
def test_emit_workflows_takes_an_optional_folder(given: list[str], expected: list[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr("pesto_factory.packager.cli._common.ProfileCommand.parse_args",
                        lambda self, ctx, args: seen.append(args) or args)
    BuildCommand(name="build").parse_args(None, given)
    assert seen == [expected]


def test_the_service_pipeline_takes_inputs_with_defaults_or_required() -> None:
    describe = {
        "name": "pesto/odd svc", "title": "Odd", "version": "2.0.0",
        "input": {"type": "object", "required": ["image", "tile"],
                  "properties": {
                      "image": {"$ref": "#/definitions/Image"},
                      "tile": {"$ref": "#/definitions/ImageRef"},
                      "level": {"type": ["integer", "null"], "default": None},
                      "mode": {"type": "string"},  # optional, no default: left out
                      "box": {"$ref": "#/definitions/Box", "default": {}}},
                  "definitions": {"Image": {"type": "string"}, "Box": {"type": "object"}}},
        "output": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"mask": {"type": "string"}}}}}},
    }
    pipeline = service_pipeline(describe, NDVI)
    assert pipeline.name == "odd-svc" and list(pipeline.services) == ["odd-svc"]
    assert {name: item.type for name, item in pipeline.inputs.items()} == {
        "image": "Image", "tile": "ImageRef", "level": "integer", "box": "object"}
    assert pipeline.inputs["level"].default is None
    assert [step.id for step in pipeline.steps] == ["odd-svc"]
    assert list(pipeline.outputs) == ["mask"]


@pytest.mark.slow
def test_build_emit_workflows_writes_the_services_files_beside_the_image(
        ndvi: Path, workspace: Path, tmp_path: Path, capsys) -> None:
    from conductor.client.http.api_client import ApiClient

    assert main(["build", str(ndvi), "--no-image", "--emit-workflows"]) == 0
    assert "workflows" in capsys.readouterr().err
    folder = workspace / "pesto" / "ndvi" / "1.0.0" / "workflows"
    assert sorted(p.name for p in folder.iterdir()) == [
        "ndvi.py", "ndvi.workflow.json", "ndvi_operators.py", "taskdefs.json"]

    task_defs = json.loads((folder / "taskdefs.json").read_text())
    assert [task["name"] for task in task_defs] == ["pesto_ndvi"]
    workflow = json.loads((folder / "ndvi.workflow.json").read_text())
    client = ApiClient()
    for value, model in ((workflow, "WorkflowDef"), (task_defs[0], "TaskDef")):
        back = client.sanitize_for_serialization(client._ApiClient__deserialize(value, model))
        assert {key: back[key] for key in value} == value  # no field the SDK does not know
    assert [task["name"] for task in workflow["tasks"]] == ["pesto_ndvi"]
    assert workflow["inputParameters"] == ["image", "red_band", "nir_band"]
    assert set(workflow["outputParameters"]) == {"ndvi", "mean"}

    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(tmp_path / "airflow"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "PYTHONPATH": os.pathsep.join([str(folder), str(REPO)])})
    done = subprocess.run([sys.executable, "-c", _PARSE, str(folder)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    parsed = json.loads(lines[-1].removeprefix("RESULT "))
    assert parsed == {"errors": {}, "dags": {"ndvi": ["ndvi", "outputs"]}}
