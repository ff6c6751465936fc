"""compiled_pipeline_problems(): each rule, broken once on a copy of a shipped pipeline."""

import copy
from pathlib import Path

import pytest
import yaml

from azml_components.testing.pipeline_checks import compiled_pipeline_problems

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = list(yaml.safe_load_all(
    (ROOT / "compiled" / "pipelines" / "train_register_deploy.yaml").read_text()))


@pytest.fixture
def docs():
    return copy.deepcopy(SHIPPED)


def _task(docs, name):
    for component in [docs[0]["root"], *docs[0]["components"].values()]:
        if name in component.get("dag", {}).get("tasks", {}):
            return component["dag"]["tasks"][name]
    raise KeyError(name)


def _secret(docs, executor):
    return docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"][executor][
        "secretAsEnv"][0]


def test_the_shipped_pipeline_has_no_problem(docs):
    assert compiled_pipeline_problems(docs) == []


def test_caching_on_for_an_azure_task(docs):
    _task(docs, "deploy-model-2")["cachingOptions"] = {"enableCache": True}
    problems = compiled_pipeline_problems(docs)
    assert len(problems) == 1 and problems[0].startswith("task deploy-model-2: enableCache")
    assert compiled_pipeline_problems(docs, cacheable={"deploy-model-2"}) == []
    # The training step is not Azure-facing: its cache is fine.
    _task(docs, "train-diabetes-model")["cachingOptions"] = {"enableCache": True}
    assert compiled_pipeline_problems(docs, cacheable={"deploy-model-2"}) == []


def test_a_missing_or_renamed_secret_key(docs):
    _secret(docs, "exec-invoke-endpoint")["keyToEnv"].pop()
    _secret(docs, "exec-register-model")["keyToEnv"][0]["envVar"] = "SUBSCRIPTION"
    problems = compiled_pipeline_problems(docs)
    assert [p.split(":")[0] for p in problems] == ["task invoke-endpoint", "task register-model"]
    assert all("the secret must map" in p for p in problems)


def test_another_secret_name(docs):
    secret = _secret(docs, "exec-deploy-model")
    secret["secretName"] = "other"
    secret["secretNameParameter"]["runtimeValue"]["constant"] = "other"
    assert compiled_pipeline_problems(docs) == ["task deploy-model: secret 'other', expected "
                                                "'azcreds'"]
    assert len(compiled_pipeline_problems(docs, secret_name="other")) == 4


def test_optional_needs_backend_2_15(docs):
    _secret(docs, "exec-deploy-model")["optional"] = False
    problems = compiled_pipeline_problems(docs)
    assert len(problems) == 1 and "unknown to KFP backends before 2.15" in problems[0]
    assert compiled_pipeline_problems(docs, oldest_backend=(2, 15)) == []


def test_a_placeholder_left_to_the_component_default(docs):
    del _task(docs, "register-model")["inputs"]["parameters"]["pipeline_run_id"]
    problems = compiled_pipeline_problems(docs)
    assert problems == ["task register-model: input pipeline_run_id is not passed, so the "
                        "component's default '{{$.pipeline_job_uuid}}' arrives as literal text; "
                        "pass it as a task argument"]


def test_a_placeholder_inside_a_longer_argument(docs):
    argument = _task(docs, "register-model")["inputs"]["parameters"]["pipeline_name"]
    argument["runtimeValue"]["constant"] = "run {{$.pipeline_job_name}}"
    problems = compiled_pipeline_problems(docs)
    assert len(problems) == 1 and "stays literal text" in problems[0]


def test_a_placeholder_as_a_pipeline_input_default(docs):
    docs[0]["root"]["inputDefinitions"]["parameters"]["model_name"]["defaultValue"] = (
        "{{$.pipeline_job_name}}")
    problems = compiled_pipeline_problems(docs)
    assert problems == ["pipeline input model_name: default '{{$.pipeline_job_name}}' stays "
                        "literal text"]


def test_no_platform_spec_at_all(docs):
    problems = compiled_pipeline_problems(docs[:1])
    assert len(problems) == 5 and all("the secret must map" in p for p in problems)
