"""docs/cluster.md: its code runs as shown, and what it says about compiled YAML holds."""

import re
from pathlib import Path

import yaml

from azml_components.testing.pipeline_checks import compiled_pipeline_problems

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "cluster.md"
MARKER = "<!-- tested: tests/test_cluster_readme.py runs this block -->"


def _tested_block() -> str:
    text = PAGE.read_text()
    assert text.count(MARKER) == 1
    block = re.match(r"\s*```python\n(.*?)\n```", text.split(MARKER, 1)[1], re.DOTALL)
    assert block, "the marker must sit right above a ```python block"
    return block.group(1)


def test_standalone_component_snippet_compiles_to_a_pipeline_the_backend_accepts(
        tmp_path, monkeypatch):
    (tmp_path / "compiled").symlink_to(ROOT / "compiled")
    monkeypatch.chdir(tmp_path)
    exec(compile(_tested_block(), str(PAGE), "exec"), {"__name__": "cluster_docs"})
    compiled = tmp_path / "deploy_registered.yaml"
    # Secret, keys and caching as this package's pipelines have them, on 2.15+ ...
    assert compiled_pipeline_problems(compiled, oldest_backend=(2, 15)) == []
    # ... and, as the page says, plain kfp-kubernetes writes `optional`, which 2.14 refuses.
    problems = compiled_pipeline_problems(compiled)
    assert len(problems) == 1 and "['optional']" in problems[0]
    task = yaml.safe_load_all(compiled.read_text()).__next__()["root"]["dag"]["tasks"]
    assert task["deploy-model"]["cachingOptions"].get("enableCache", False) is False


def test_the_same_with_use_azure_credentials_suits_every_supported_backend(tmp_path):
    from kfp import compiler, dsl
    from kfp.components import load_component_from_file

    from azml_components import use_azure_credentials

    register = load_component_from_file(str(ROOT / "compiled/components/register_model.yaml"))

    @dsl.pipeline(name="register-only")
    def register_only(model_uri: str, resource_group: str, workspace_name: str):
        use_azure_credentials(register(
            model_uri=model_uri, model_name="m", resource_group=resource_group,
            workspace_name=workspace_name, pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            pipeline_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER))

    compiler.Compiler().compile(register_only, str(tmp_path / "p.yaml"))
    assert compiled_pipeline_problems(tmp_path / "p.yaml") == []

    # Unwired, a task from the loaded YAML is cached and has no secret, like any kfp task.
    @dsl.pipeline(name="register-unwired")
    def register_unwired(model_uri: str):
        register(model_uri=model_uri, model_name="m", resource_group="rg", workspace_name="ws",
                 pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                 pipeline_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER)

    compiler.Compiler().compile(register_unwired, str(tmp_path / "unwired.yaml"))
    problems = compiled_pipeline_problems(tmp_path / "unwired.yaml")
    assert [p.split(";")[0].split(" (")[0] for p in problems] == [
        "task register-model: enableCache is on",
        "task register-model: the secret must map ['AZ_CLIENT_ID', 'AZ_CLIENT_SECRET', "
        "'AZ_SUBSCRIPTION_ID', 'AZ_TENANT_ID'] to variables of the same names"]


def test_standalone_component_yaml_has_no_secret_and_caching_on_as_documented():
    # What someone who uploads compiled/components/*.yaml on its own gets.
    for path in sorted((ROOT / "compiled" / "components").glob("*.yaml")):
        problems = compiled_pipeline_problems(path)
        task = path.stem.replace("_", "-")
        expected = [f"task {task}: enableCache is on", f"task {task}: the secret must map"]
        placeholders = {"register-model": [("pipeline_run_id", "pipeline_job_uuid"),
                                           ("pipeline_name", "pipeline_job_name")],
                        "deploy-model": [("pipeline_run_id", "pipeline_job_uuid"),
                                         ("pipeline_name", "pipeline_job_name")],
                        "deploy-batch-model": [("pipeline_run_id", "pipeline_job_uuid"),
                                               ("pipeline_name", "pipeline_job_name")],
                        "safe-rollout": [("pipeline_run_id", "pipeline_job_uuid"),
                                         ("pipeline_name", "pipeline_job_name")],
                        "promote-model": [("pipeline_run_id", "pipeline_job_uuid"),
                                          ("pipeline_name", "pipeline_job_name")],
                        "recover-rollout": [("pipeline_run_id", "pipeline_job_uuid")],
                        "recover-batch-jobs": [("pipeline_run_id", "pipeline_job_uuid")],
                        "recover-command-jobs": [("pipeline_run_id", "pipeline_job_uuid")],
                        "run-command-job": [("pipeline_run_id", "pipeline_job_uuid"),
                                            ("pipeline_name", "pipeline_job_name"),
                                            ("pipeline_task_name", "pipeline_task_name")],
                        "score-batch": [("pipeline_run_id", "pipeline_job_uuid"),
                                        ("pipeline_task_name", "pipeline_task_name")]}
        expected[:0] = [f"pipeline input {name}: default '{{{{$.{value}}}}}' stays literal"
                        for name, value in placeholders.get(task, [])]
        assert len(problems) == len(expected), (path.name, problems)
        for start in expected:
            assert sum(p.startswith(start) for p in problems) == 1, (path.name, start, problems)
