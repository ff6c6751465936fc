"""use_azure_credentials: the azcreds secret as environment variables and no KFP cache."""

import pytest
import yaml
from kfp import compiler, dsl, local

from azml_components import delete_endpoint, pins, use_azure_credentials
from azml_components.testing.kfp_backend import kfp_backend_rules
from tests.helpers import unique, workspace


def _compiled_task(tmp_path, **options) -> tuple[dict, dict]:
    @dsl.pipeline(name="one-task")
    def one_task():
        use_azure_credentials(
            delete_endpoint(endpoint_name="e", resource_group="rg", workspace_name="ws"),
            **options)

    compiler.Compiler().compile(one_task, str(tmp_path / "p.yaml"))
    spec, platform = yaml.safe_load_all((tmp_path / "p.yaml").read_text())
    task = spec["root"]["dag"]["tasks"]["delete-endpoint"]
    secret = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"][
        "exec-delete-endpoint"]["secretAsEnv"]
    return task, secret


def test_defaults_map_all_four_keys_turn_caching_off_and_leave_optional_out(tmp_path):
    task, secret = _compiled_task(tmp_path)
    assert task["cachingOptions"].get("enableCache", False) is False
    assert len(secret) == 1 and "optional" not in secret[0]
    assert secret[0]["secretName"] == "azcreds"
    assert secret[0]["secretNameParameter"] == {"runtimeValue": {"constant": "azcreds"}}
    assert [(m["secretKey"], m["envVar"]) for m in secret[0]["keyToEnv"]] == [
        (k, k) for k in pins.CREDENTIAL_ENV_VARS]


def test_optional_secret_and_opting_back_into_the_cache(tmp_path):
    task, secret = _compiled_task(tmp_path, secret_name="other", optional=True,
                                  enable_caching=True)
    assert task["cachingOptions"] == {"enableCache": True}
    assert secret[0]["optional"] is True and secret[0]["secretName"] == "other"


@pytest.mark.parametrize(("enable_caching", "azure_calls"), [(False, 2), (True, 1)])
def test_a_cache_hit_would_skip_the_azure_step(standin, tmp_path, enable_caching, azure_calls):
    # kfp.local's cache (off unless asked for) honours the same per-task setting the KFP driver
    # does: with caching on, the second identical run never reaches Azure and still succeeds.
    ws = workspace()
    name = unique(f"never-created-{str(enable_caching).lower()}")

    @dsl.pipeline(name="clean-up")
    def clean_up():
        use_azure_credentials(delete_endpoint(endpoint_name=name, **ws),
                              enable_caching=enable_caching)

    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path),
               enable_caching=True)
    standin.clear_requests()
    with kfp_backend_rules():
        clean_up()
        clean_up()
    reads = [r for r in standin.requests()
             if r["method"] == "GET" and r["path"].lower().endswith(f"/onlineendpoints/{name}")]
    assert len(reads) == azure_calls
