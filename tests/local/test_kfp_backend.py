"""kfp_backend_rules(): the KFP 2.x launcher's artifact rules around kfp.local tasks.

The expected messages and verdicts are the launcher's, read from kubeflow/pipelines at tag
2.17.0: backend/src/v2/objectstore/config.go (ParseBucketConfigForArtifactURI, KeyFromURI) and
backend/src/v2/component/launcher_v2.go (fetchNonDefaultBuckets, downloadArtifacts,
uploadOutputArtifacts). No Azure here: tiny components hand an artifact from one task to the next.
"""

import pytest
from kfp import dsl, local

from azml_components.testing import kfp_backend
from azml_components.testing.kfp_backend import (
    BackendRuleError,
    KfpLocalChanged,
    artifact_uri_error,
    input_artifact_problems,
    kfp_backend_rules,
    output_artifact_problems,
)


@pytest.mark.parametrize(("uri", "verdict"), [
    ("gs://bucket/a/b", None),
    ("s3://bucket/key", None),
    ("minio://mlpipeline/v2/artifacts/x", None),
    ("mem://bucket/x", None),
    # The pattern takes a third slash into the scheme, which then matches none of the four.
    ("s3:///bucket/key", "unsupported Cloud bucket"),
    ("https://ml.azure.com/model/x", "unsupported Cloud bucket"),
    ("azureml://subscriptions/s/models/m/versions/1", "unsupported Cloud bucket"),
    ("file:///tmp/x", "unsupported Cloud bucket"),
    ("/tmp/outside/the/root", "unrecognized uri format"),
    ("GS://bucket/x", "unrecognized uri format"),  # schemes are lower case only
    ("gs://", "unrecognized uri format"),  # no bucket
    ("", "unrecognized uri format"),
])
def test_artifact_uri_error_follows_parse_bucket_config_for_artifact_uri(uri, verdict):
    error = artifact_uri_error(uri)
    if verdict is None:
        assert error is None
    else:
        assert verdict in error and f'"{uri}"' in error


class _A:
    def __init__(self, uri, metadata=None):
        self.uri, self.metadata = uri, metadata or {}


ROOT = "/runs/root"


def test_inputs_under_the_root_or_in_a_bucket_pass_and_others_fail_the_task():
    ok = {"a": [_A(ROOT + "/p/t/a")], "b": [_A("gs://other/x")], "c": [_A("oci://img:1")]}
    assert input_artifact_problems(ok, ROOT) == []
    bad = input_artifact_problems({"model": [_A("https://ml.azure.com/x")]}, ROOT)
    assert bad == [
        'failed to fetch non default buckets: failed to parse bucketConfig for output artifact '
        '"model" with uri "https://ml.azure.com/x": parse bucket config failed: unsupported '
        'Cloud bucket: "https://ml.azure.com/x"'
    ]
    # The default bucket is a plain prefix test (strings.HasPrefix), as the launcher does it.
    assert input_artifact_problems({"a": [_A(ROOT + "-sibling/x")]}, ROOT) == []


def test_later_artifacts_of_a_list_need_a_bucket_opened_for_a_first_one():
    # fetchNonDefaultBuckets opens buckets for the first artifact of each input only;
    # downloadArtifacts then fails for a list member in another bucket and skips one it has
    # no local path for (https).
    same = {"xs": [_A("gs://b1/x"), _A("gs://b1/y"), _A("https://skipped/z")]}
    assert input_artifact_problems(same, ROOT) == []
    other = input_artifact_problems({"xs": [_A("gs://b1/x"), _A("s3://b2/y")]}, ROOT)
    assert other == ["failed to get bucket when downloading input artifact xs with bucket key "
                     "s3://b2"]
    workspace = {"xs": [_A("gs://b1/x"), _A("s3://b2/y", {"_kfp_workspace": True})]}
    assert input_artifact_problems(workspace, ROOT) == []


def test_outputs_moved_to_another_bucket_fail_and_other_schemes_are_not_uploaded():
    assert output_artifact_problems({"m": [_A(ROOT + "/p/t/m")]}, ROOT) == ([], [])
    failed, _ = output_artifact_problems({"m": [_A("s3://elsewhere/m")]}, ROOT)
    assert failed == ['failed to upload output artifact "m": URI "s3://elsewhere/m" does not '
                      f'have expected bucket prefix "{ROOT}"']
    failed, skipped = output_artifact_problems({"m": [_A("https://ml.azure.com/m")]}, ROOT)
    assert failed == [] and "Skipping uploading" in skipped[0]
    failed, _ = output_artifact_problems({"m": [_A(ROOT + "/")]}, ROOT)
    assert "has empty key" in failed[0]


@dsl.component(base_image="python:3.11-slim")
def produce(out: dsl.Output[dsl.Artifact], move_to: str = ""):
    with open(out.path, "w") as f:
        f.write("files")
    out.metadata["kind"] = "test"
    if move_to:
        out.uri = move_to


@dsl.component(base_image="python:3.11-slim")
def consume(item: dsl.Input[dsl.Artifact], run_id: str = dsl.PIPELINE_JOB_ID_PLACEHOLDER) -> str:
    # Metadata only, like this package's components: kfp.local then never notices the URI.
    return item.metadata["kind"]


@dsl.pipeline(name="hand-over")
def hand_over(move_to: str = ""):
    produced = produce(move_to=move_to)
    consume(item=produced.outputs["out"], run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER)


@dsl.pipeline(name="hand-over-default")
def hand_over_without_run_id():
    consume(item=produce().outputs["out"])


@pytest.fixture
def kfp_local(tmp_path):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    return tmp_path


def test_a_pipeline_that_keeps_the_assigned_uri_runs_and_every_task_is_checked(kfp_local):
    with kfp_backend_rules() as rules:
        hand_over()
    assert rules.checked == ["produce", "consume"]
    assert rules.violations == [] and rules.warnings == []


def test_an_https_uri_fails_the_next_task_before_it_runs(kfp_local):
    # Without the rules kfp.local hands the https "artifact" on as if it were storage.
    hand_over(move_to="https://ml.azure.com/registries/x")
    with pytest.raises(BackendRuleError, match="unsupported Cloud bucket") as failure:
        with kfp_backend_rules() as rules:
            hand_over(move_to="https://ml.azure.com/registries/x")
    assert isinstance(failure.value.__cause__, RuntimeError)  # kfp.local's own FAILURE
    assert not isinstance(failure.value, RuntimeError)
    assert rules.checked == ["produce", "consume"]
    # consume ran in the first run only.
    assert len(list(kfp_local.glob("hand-over-*/consume/executor_output.json"))) == 1
    assert any("Skipping uploading" in w for w in rules.warnings)


def test_an_output_moved_to_another_bucket_fails_its_own_task(kfp_local):
    with pytest.raises(BackendRuleError, match="does not have expected bucket prefix"):
        with kfp_backend_rules() as rules:
            hand_over(move_to="gs://another-bucket/out")
    assert rules.checked == ["produce"]


def test_a_single_component_run_is_checked_too(kfp_local):
    with pytest.raises(BackendRuleError, match="does not have expected bucket prefix"):
        with kfp_backend_rules():
            produce(move_to="minio://other/out")


def test_a_placeholder_left_to_the_component_default_is_reported(kfp_local):
    with kfp_backend_rules() as rules:
        hand_over_without_run_id()
    assert len(rules.warnings) == 1
    assert "'run_id'" in rules.warnings[0] and "{{$.pipeline_job_uuid}}" in rules.warnings[0]


def test_nested_blocks_share_one_set_of_rules(kfp_local):
    with kfp_backend_rules() as outer:
        with kfp_backend_rules() as inner:
            hand_over()
    assert inner is outer and outer.checked == ["produce", "consume"]
    from kfp.local import task_dispatcher

    assert task_dispatcher.run_single_task_implementation.__name__ == (
        "run_single_task_implementation") and not hasattr(
        task_dispatcher.run_single_task_implementation, "__wrapped__")


def test_another_kfp_version_or_changed_internals_refuse_to_check(monkeypatch):
    import kfp
    from kfp.local import task_dispatcher

    monkeypatch.setattr(kfp, "__version__", "2.18.0")
    with pytest.raises(KfpLocalChanged, match="2.18.0"):
        with kfp_backend_rules():
            pass
    monkeypatch.setattr(kfp, "__version__", kfp_backend.TESTED_KFP_VERSIONS[0])

    def run_single_task_implementation(pipeline_resource_name, component_name, arguments):
        raise AssertionError("never called")

    monkeypatch.setattr(task_dispatcher, "run_single_task_implementation",
                        run_single_task_implementation)
    with pytest.raises(KfpLocalChanged, match="parameters"):
        with kfp_backend_rules():
            pass
