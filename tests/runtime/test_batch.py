"""deploy_batch_model's and score_batch's runtime through the real SDK against the stand-in:
input rules before any write, a custom scoring script over a folder of CSV files, a failing
script's error, SIGTERM cancelling the Azure job; a killed score_batch's job taken over by its
retry, and cancelled by recover_batch_jobs.
"""

from __future__ import annotations

import io
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from azml_local.resources.compute_clusters import COMPUTE_NAME, MAX_NODES
from azml_local.resources.kubernetes_computes import CLUSTER as KUBERNETES
from azure.ai.ml import MLClient
from azure.ai.ml.constants._endpoint import EndpointInvokeFields

from azml_components.runtime.batch import (
    azml_batch_options,
    azml_deploy_batch_model,
    azml_score_batch,
)
from azml_components.runtime.batch_jobs import azml_recover_batch_jobs
from azml_components.runtime.calls import azml_enum_text
from azml_components.runtime.register import azml_register_model
from tests import child_call, crash
from tests.helpers import (
    azure_writes,
    diabetes_rows,
    ml_client,
    unique,
    workspace,
    write_custom_model,
)

pytestmark = pytest.mark.timeout(900)

BATCH_SCORE_PY = '''
import os
import time

import joblib
import numpy as np

model = None


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "model.joblib"))


def run(mini_batch):
    rows = []
    for path in mini_batch:
        if os.path.basename(path).startswith("slow"):
            time.sleep(120)
        if os.path.basename(path).startswith("gated"):
            # Held until the test opens the gate: a file of the same name in AZML_TEST_GATES.
            gate = os.path.join(os.environ.get("AZML_TEST_GATES", "/nonexistent"),
                                os.path.basename(path))
            deadline = time.time() + 1800
            while not os.path.exists(gate) and time.time() < deadline:
                time.sleep(0.2)
        data = np.loadtxt(path, delimiter=",", ndmin=2)
        rows += [(os.path.basename(path), i, float(p), len(mini_batch))
                 for i, p in enumerate(model.predict(data))]
    return rows
'''
FAILING_SCORE_PY = '''
def init():
    pass


def run(mini_batch):
    raise RuntimeError("scoring exploded on purpose")
'''

# The shape of azureml-examples' custom-outputs-parquet/code/batch_driver.py: init() reads
# AZUREML_BI_OUTPUT_PATH, run() writes one file per input file there (the input's rows with a
# prediction column; CSV here, as the scoring environment has no parquet engine) and returns
# the mini-batch.
CUSTOM_OUTPUT_PY = '''
import os
from pathlib import Path

import joblib
import numpy as np


def init():
    global model, output_path
    output_path = os.environ["AZUREML_BI_OUTPUT_PATH"]
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "model.joblib"))


def run(mini_batch):
    for file_path in mini_batch:
        data = np.loadtxt(file_path, delimiter=",", ndmin=2)
        scored = np.column_stack([data, model.predict(data)])
        np.savetxt(os.path.join(output_path, Path(file_path).stem + ".scored.csv"), scored,
                   delimiter=",")
    return mini_batch
'''


@pytest.fixture(scope="module")
def client(standin) -> MLClient:
    return ml_client()


@pytest.fixture(scope="module")
def custom(standin, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("batch-runtime")
    model_dir, code_dir, model = write_custom_model(root)
    (code_dir / "score.py").write_text(BATCH_SCORE_PY)
    failing = root / "failing"
    failing.mkdir()
    (failing / "score.py").write_text(FAILING_SCORE_PY)
    (failing / "conda.yaml").write_text((code_dir / "conda.yaml").read_text())
    custom_output = root / "custom-output"
    custom_output.mkdir()
    (custom_output / "batch_driver.py").write_text(CUSTOM_OUTPUT_PY)
    registered = azml_register_model(**workspace(), model_name=unique("batch-model"),
                                     model_path=str(model_dir))
    return {"model": model, "model_id": registered["asset_id"], "code": str(code_dir),
            "failing": str(failing), "custom_output": str(custom_output),
            "conda": (code_dir / "conda.yaml").read_text()}


def _options(code: str, **changes) -> dict:
    return {"compute": COMPUTE_NAME, "code_path": code, "conda_file": "conda.yaml",
            "mini_batch_size": 2, **changes}


def _folder(root: Path, names: list) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = diabetes_rows(2 * len(names))
    for i, name in enumerate(names):
        np.savetxt(root / name, rows[2 * i:2 * i + 2], delimiter=",")
    return root


@pytest.mark.parametrize(("changes", "message"), [
    ({"mini_batch_size": 0}, "mini_batch_size: 0 must be at least 1"),
    ({"error_threshold": -2}, "error_threshold: -2 must be at least -1"),
    ({"output_action": "append_column"}, "output_action: 'append_column' is not one of"),
    ({"compute": ""}, "compute: '' must name a compute cluster"),
    ({"output_file_name": "out/p.csv"}, "output_file_name: 'out/p.csv' must be a file name"),
    ({"conda_file": ""}, "a scoring script needs an environment"),
    ({"max_retries": -1}, "max_retries: -1 must be at least 0"),
    ({"output_action": "summary_only", "output_file_name": "p.csv"},
     "output_file_name: 'p.csv' is only for output_action append_row"),
    ({"environment_version": "2"}, "environment_version: needs environment_name"),
])
def test_bad_deployment_inputs_fail_before_any_write(standin, custom, changes, message):
    standin.clear_requests()
    with pytest.raises(ValueError, match=message):
        azml_deploy_batch_model(**workspace(), endpoint_name=unique("bad"),
                                deployment_name="blue", model_id=custom["model_id"],
                                options=_options(custom["code"], **changes))
    assert azure_writes(standin.requests()) == []


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "dataset / input_uri: give exactly one"),
    ({"input_path": "IN", "input_uri": "azureml://datastores/d/paths/x/"},
     "dataset / input_uri: give exactly one"),
    ({"input_path": "/no/such/folder"}, "dataset: '/no/such/folder' does not exist"),
    ({"input_path": "EMPTY"}, "dataset: the folder .* has no files to score"),
    ({"input_uri": "s3://bucket/x"}, "input_uri: 's3://bucket/x' must be"),
])
def test_bad_score_inputs_fail_before_any_write(standin, tmp_path, kwargs, message):
    (tmp_path / "empty" / "sub").mkdir(parents=True)  # folders, but no file to score
    folders = {"IN": str(tmp_path), "EMPTY": str(tmp_path / "empty")}
    kwargs = {k: folders.get(v, v) for k, v in kwargs.items()}
    standin.clear_requests()
    with pytest.raises(ValueError, match=message):
        azml_score_batch(**workspace(), endpoint_name="any-endpoint",
                         output_dir=str(tmp_path / "out"), **kwargs)
    assert azure_writes(standin.requests()) == []


@pytest.fixture(scope="module")
def scoring_endpoint(custom) -> str:
    # A batch endpoint whose default deployment scores CSV files.
    endpoint = unique("batch")
    azml_deploy_batch_model(**workspace(), endpoint_name=endpoint, deployment_name="blue",
                            model_id=custom["model_id"], options=_options(custom["code"]))
    return endpoint


def _datastore_uri(path: str) -> str:
    return f"azureml://datastores/workspaceblobstore/paths/{path}"


def _upload(client: MLClient, blob: str, data: bytes) -> None:
    from azure.storage.blob import ContainerClient

    store = client.datastores.get("workspaceblobstore", include_secrets=True)
    account = f"{store.protocol or 'https'}://{store.account_name}.blob.{store.endpoint}"
    with ContainerClient(account, store.container_name,
                         credential=store.credentials.account_key) as container:
        container.upload_blob(blob, data, overwrite=True)


@pytest.mark.parametrize("form", ["short", "long", "folder"])
def test_an_input_uri_with_nothing_there_submits_no_job(client, scoring_endpoint, standin,
                                                        tmp_path, form):
    # Azure would start the job and fail it when it reads its input; the datastore is looked
    # into first. A path that only begins like an existing blob is not one.
    prefix = unique("nothing")
    _upload(client, f"{prefix}/data.csv.bak", b"1,2\n")
    path = {"short": f"{prefix}/data.csv", "long": f"{prefix}/data.csv",
            "folder": f"{prefix}/in/"}[form]
    uri = _datastore_uri(path)
    if form == "long":
        ws = workspace()
        uri = (f"azureml://subscriptions/{ws['subscription_id']}/resourcegroups/"
               f"{ws['resource_group']}/workspaces/{ws['workspace_name']}/datastores/"
               f"workspaceblobstore/paths/{path}")
    standin.clear_requests()
    with pytest.raises(ValueError, match=r"input_uri: .* does not exist \(no file at or under"):
        azml_score_batch(**workspace(), endpoint_name=scoring_endpoint, input_uri=uri,
                         output_dir=str(tmp_path / "out"))
    assert azure_writes(standin.requests()) == []


def test_an_input_uri_with_files_is_scored(client, custom, scoring_endpoint, tmp_path):
    # The look into the datastore lets existing data through, and gives the job the input type
    # of what is there (uri_file for a file, uri_folder for a folder): a folder named like a
    # file and a file with no extension are scored too, where a type guessed from the name
    # would fail the job.
    prefix = unique("there")
    rows = diabetes_rows(4)
    parts = []
    for i in range(2):
        buffer = io.BytesIO()
        np.savetxt(buffer, rows[2 * i:2 * i + 2], delimiter=",")
        parts.append(buffer.getvalue())
    _upload(client, f"{prefix}/in/a.csv", parts[0])
    _upload(client, f"{prefix}/in/b.csv", parts[1])
    _upload(client, f"{prefix}/v1.2/a.csv", parts[0])
    _upload(client, f"{prefix}/rows", parts[0])
    cases = [(f"{prefix}/in/a.csv", 2), (f"{prefix}/in/", 4), (f"{prefix}/in", 4),
             (f"{prefix}/v1.2", 2), (f"{prefix}/rows", 2)]
    for path, count in cases:
        out = tmp_path / unique("out")
        scored = azml_score_batch(**workspace(), endpoint_name=scoring_endpoint,
                                  input_uri=_datastore_uri(path), output_dir=str(out),
                                  poll_seconds=0.5)
        assert scored["status"] == "Completed", (path, scored)
        lines = (out / "predictions.csv").read_text().splitlines()
        assert np.allclose([float(line.split(",")[2]) for line in lines],
                           custom["model"].predict(rows[:count])), path


@pytest.mark.parametrize("where", ["file", "under a file"])
def test_a_predictions_path_that_is_a_file_submits_no_job(scoring_endpoint, standin, tmp_path,
                                                          where):
    # The whole job used to run, then the download ended in a raw FileExistsError.
    (tmp_path / "taken").write_text("not a folder")
    output = tmp_path / "taken" if where == "file" else tmp_path / "taken" / "out"
    folder = _folder(tmp_path / "in", ["a.csv"])
    standin.clear_requests()
    with pytest.raises(ValueError, match="predictions: .*(is an existing file|cannot be made)"):
        azml_score_batch(**workspace(), endpoint_name=scoring_endpoint,
                         input_path=str(folder), output_dir=str(output))
    requests = standin.requests()
    assert azure_writes(requests) == []
    # Nor was the dataset uploaded (an upload starts by reading the datastore's credentials).
    assert not [r for r in requests if "/datastores/" in r["path"]]


def test_a_jobs_own_settings_reach_the_job(client, custom, scoring_endpoint, tmp_path):
    # The deployment groups 2 files per run() and writes predictions.csv into the job's folder;
    # this job asks for 1 file per run(), its own file name and its own datastore folder, as
    # `az ml batch-endpoint invoke --mini-batch-size --output-file-name --output-path` does.
    # Each row carries the size of the mini-batch run() was given.
    folder = _folder(tmp_path / "in", ["a.csv", "b.csv", "c.csv"])
    where = unique("own-output")
    scored = azml_score_batch(
        **workspace(), endpoint_name=scoring_endpoint, input_path=str(folder),
        output_dir=str(tmp_path / "out"), poll_seconds=0.5,
        overrides={"mini_batch_size": 1, "output_file_name": "ones.csv",
                   "output_path": _datastore_uri(where) + "/", "error_threshold": 0,
                   "max_retries": 1, "retry_timeout_seconds": 60, "instance_count": 1},
    )
    assert scored["status"] == "Completed" and scored["files"] == ["ones.csv"]
    assert scored["output_uri"] == _datastore_uri(f"{where}/ones.csv")
    assert scored["job_settings"]["mini_batch_size"] == 1
    lines = (tmp_path / "out" / "ones.csv").read_text().splitlines()
    assert [line.split(",")[3] for line in lines] == ["1"] * 6
    # The file is where the job was told to write it, and the deployment kept its settings.
    assert client.batch_deployments.get("blue", scoring_endpoint).mini_batch_size == 2


@pytest.mark.parametrize(("overrides", "message"), [
    ({"output_path": _datastore_uri("x").replace("workspaceblobstore", "no-such-store")},
     "output_path: datastore 'no-such-store' is not a datastore of this workspace"),
    ({"instance_count": MAX_NODES + 1}, f"instance_count: {MAX_NODES + 1} must be at most"),
])
def test_job_settings_that_name_the_workspace_are_read_first(scoring_endpoint, standin,
                                                             tmp_path, overrides, message):
    folder = _folder(tmp_path / "in", ["a.csv"])
    standin.clear_requests()
    with pytest.raises(ValueError, match=message):
        azml_score_batch(**workspace(), endpoint_name=scoring_endpoint, input_path=str(folder),
                         output_dir=str(tmp_path / "out"), overrides=overrides)
    assert azure_writes(standin.requests()) == []


def _blobs(client: MLClient, prefix: str) -> dict:
    from azure.storage.blob import ContainerClient

    store = client.datastores.get("workspaceblobstore", include_secrets=True)
    account = f"{store.protocol or 'https'}://{store.account_name}.blob.{store.endpoint}"
    with ContainerClient(account, store.container_name,
                         credential=store.credentials.account_key) as container:
        return {b.name: (b.etag, b.last_modified)
                for b in container.list_blobs(name_starts_with=prefix)}


def test_a_dataset_is_uploaded_once_per_content(client, scoring_endpoint, tmp_path):
    # The same files under another local path (the next run's artifact) are the same content:
    # scored from the same LocalUpload/<the SDK's content hash>/ folder, not uploaded again.
    first = _folder(tmp_path / "run1" / "rows", ["a.csv", "b.csv"])
    second = _folder(tmp_path / "run2" / "rows", ["a.csv", "b.csv"])
    scored = azml_score_batch(**workspace(), endpoint_name=scoring_endpoint,
                              input_path=str(first), output_dir=str(tmp_path / "o1"),
                              poll_seconds=0.5)
    uri = scored["input_uri"]
    assert "/paths/LocalUpload/" in uri and uri.endswith("/rows/")
    prefix = uri.split("/paths/", 1)[1]
    uploaded = _blobs(client, prefix)
    assert {name.rsplit("/", 1)[-1] for name in uploaded} == {"a.csv", "b.csv"}
    again = azml_score_batch(**workspace(), endpoint_name=scoring_endpoint,
                             input_path=str(second), output_dir=str(tmp_path / "o2"),
                             poll_seconds=0.5)
    assert again["input_uri"] == uri and again["job_name"] != scored["job_name"]
    assert _blobs(client, prefix) == uploaded  # no blob written again
    (second / "b.csv").write_text("1,2,3,4,5,6,7,8,9,10\n")  # other content: another folder
    changed = azml_score_batch(**workspace(), endpoint_name=scoring_endpoint,
                               input_path=str(second), output_dir=str(tmp_path / "o3"),
                               poll_seconds=0.5)
    assert changed["input_uri"] != uri


def test_a_data_asset_input_is_scored(client, custom, scoring_endpoint, standin, tmp_path):
    # azureml:NAME:VERSION end to end: the version is read first (its type is the input's),
    # a missing version is refused before anything is written.
    from azure.ai.ml.entities import Data

    name = unique("score-data")
    folder = _folder(tmp_path / "in", ["a.csv", "b.csv"])
    client.data.create_or_update(Data(name=name, version="1", type="uri_folder",
                                      path=str(folder)))
    client.data.create_or_update(Data(name=name, version="2", type="uri_file",
                                      path=str(folder / "b.csv")))
    for version, count in (("1", 4), ("2", 2)):
        out = tmp_path / f"out{version}"
        scored = azml_score_batch(**workspace(), endpoint_name=scoring_endpoint,
                                  input_uri=f"azureml:{name}:{version}", output_dir=str(out),
                                  poll_seconds=0.5)
        assert scored["status"] == "Completed"
        assert len((out / "predictions.csv").read_text().splitlines()) == count
    standin.clear_requests()
    with pytest.raises(ValueError, match=f"input_uri: data asset '{name}' has no version '3'"):
        azml_score_batch(**workspace(), endpoint_name=scoring_endpoint,
                         input_uri=f"azureml:{name}:3", output_dir=str(tmp_path / "o3"))
    assert azure_writes(standin.requests()) == []


def test_options_defaults_are_the_specs():
    options = azml_batch_options(compute=COMPUTE_NAME)
    assert (options["mini_batch_size"], options["error_threshold"], options["output_action"],
            options["output_file_name"]) == (10, -1, "append_row", "predictions.csv")
    # summary_only has no append_row file: no name is sent (azure-ai-ml refuses one).
    assert azml_batch_options(compute=COMPUTE_NAME,
                              output_action="summary_only")["output_file_name"] == ""


def test_the_custom_outputs_sample_deploys_and_its_files_are_the_predictions(
        client, custom, tmp_path):
    # azureml-examples cli/endpoints/batch/deploy-models/custom-outputs-parquet/deployment.yml,
    # field for field (model, endpoint and compute are this workspace's; the conda file is the
    # cached scoring environment's; description as the "Customize outputs" page's SDK tab):
    # summary_only used to fail in the SDK ("the output_file_name need not to be specified").
    endpoint = unique("heart-classifier")
    environment = unique("batch-mlflow-xgboost")
    options = {
        "compute": COMPUTE_NAME, "code_path": custom["custom_output"],
        "scoring_script": "batch_driver.py", "environment_name": environment,
        "image": "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest",
        "conda_file": custom["conda"], "instance_count": 2, "max_concurrency_per_instance": 2,
        "mini_batch_size": 2, "output_action": "summary_only", "max_retries": 3,
        "retry_timeout_seconds": 300, "error_threshold": -1, "logging_level": "info",
        "description": "A heart condition classifier based on XGBoost",
        "tags": {"team": "heart", "stage": "test"},
    }
    result = azml_deploy_batch_model(
        **workspace(), endpoint_name=endpoint, deployment_name="classifier-xgboost-custom",
        model_id=custom["model_id"], options=options,
        lineage={"kfp_run_id": "run-42", "kfp_pipeline": "{{$.pipeline_job_name}}"})
    got = client.batch_deployments.get("classifier-xgboost-custom", endpoint)
    assert azml_enum_text(got.output_action).lower() == "summary_only"
    assert not got.output_file_name and result["output_file_name"] == ""
    assert (got.mini_batch_size, got.max_concurrency_per_instance, got.error_threshold,
            got.resources.instance_count, got.retry_settings.timeout,
            got.retry_settings.max_retries) == (2, 2, -1, 2, 300, 3)
    assert got.description == options["description"] == result["description"]
    # The user's tags and the KFP run (a placeholder KFP did not fill in is left out).
    assert got.tags == {"team": "heart", "stage": "test", "kfp_run_id": "run-42"}
    assert f"/environments/{environment}/versions/1" in got.environment
    registered = client.environments.get(environment, version="1")
    assert registered.image == options["image"]
    # A second deployment of the same environment reuses its version (same content).
    azml_deploy_batch_model(**workspace(), endpoint_name=endpoint, deployment_name="again",
                            model_id=custom["model_id"], options=options, set_default=False)
    assert [e.version for e in client.environments.list(environment)] == ["1"]

    names = ["a.csv", "b.csv", "c.csv"]
    out = tmp_path / "out"
    scored = azml_score_batch(**workspace(), endpoint_name=endpoint,
                              input_path=str(_folder(tmp_path / "in", names)),
                              output_dir=str(out), poll_seconds=0.5)
    # The files the script wrote to AZUREML_BI_OUTPUT_PATH are the predictions output.
    assert scored["files"] == ["a.scored.csv", "b.scored.csv", "c.scored.csv"]
    rows = diabetes_rows(6)
    for i, name in enumerate(scored["files"]):
        table = np.loadtxt(out / name, delimiter=",", ndmin=2)
        assert np.allclose(table[:, :-1], rows[2 * i:2 * i + 2])
        assert np.allclose(table[:, -1], custom["model"].predict(rows[2 * i:2 * i + 2]))


def test_a_registered_environment_names_the_deployments_environment(client, custom):
    # environment as azureml:NAME:VERSION, as deploy_model takes it: no conda file, no new
    # environment version.
    import yaml
    from azure.ai.ml.entities import Environment

    name = unique("batch-env")
    client.environments.create_or_update(Environment(
        name=name, version="3", conda_file=yaml.safe_load(custom["conda"]),
        image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"))
    endpoint = unique("batch")
    result = azml_deploy_batch_model(
        **workspace(), endpoint_name=endpoint, deployment_name="blue",
        model_id=custom["model_id"],
        options=_options(custom["code"], conda_file="", environment=f"azureml:{name}:3"))
    assert result["environment_id"].endswith(f"/environments/{name}/versions/3")
    got = client.batch_deployments.get("blue", endpoint)
    assert got.environment.endswith(f"/environments/{name}/versions/3")
    assert [e.version for e in client.environments.list(name)] == ["3"]


def test_deploy_and_score_a_folder_of_csv_files(client, custom, tmp_path):
    endpoint = unique("batch")
    result = azml_deploy_batch_model(**workspace(), endpoint_name=endpoint,
                                     deployment_name="blue", model_id=custom["model_id"],
                                     options=_options(custom["code"], output_file_name="p.csv"))
    assert result["created_endpoint"] is True and result["default_deployment"] == "blue"
    assert client.batch_endpoints.get(endpoint).defaults.deployment_name == "blue"
    names = ["a.csv", "b.csv", "c.csv"]
    scored = azml_score_batch(**workspace(), endpoint_name=endpoint,
                              input_path=str(_folder(tmp_path / "in", names)),
                              output_dir=str(tmp_path / "out"), poll_seconds=0.5)
    assert scored["status"] == "Completed" and scored["deployment_name"] == "blue"
    # The SDK left "blue" in its shared invoke headers; a later online invoke in this process
    # would be sent to a deployment "blue" (a CI failure, stop 18): score_batch clears it.
    assert EndpointInvokeFields.MODEL_DEPLOYMENT not in EndpointInvokeFields.DEFAULT_HEADER
    assert scored["files"] == ["p.csv"] and scored["job_name"] in scored["studio_url"]
    lines = (tmp_path / "out" / "p.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == [n for n in names for _ in range(2)]
    assert np.allclose([float(line.split(",")[2]) for line in lines],
                       custom["model"].predict(diabetes_rows(6)))
    # Updating the deployment keeps the endpoint; a second deployment need not be default.
    again = azml_deploy_batch_model(**workspace(), endpoint_name=endpoint,
                                    deployment_name="green", model_id=custom["model_id"],
                                    options=_options(custom["failing"]), set_default=False)
    assert again["created_endpoint"] is False and again["default_deployment"] == "blue"


def test_a_failing_scoring_script_fails_with_the_jobs_error(client, custom, tmp_path):
    endpoint = unique("batch")
    azml_deploy_batch_model(**workspace(), endpoint_name=endpoint, deployment_name="bad",
                            model_id=custom["model_id"],
                            options=_options(custom["failing"], error_threshold=0,
                                             max_retries=0))
    with pytest.raises(RuntimeError, match=r"ended Failed: (.|\n)*error_threshold(.|\n)*"
                       r"scoring exploded on purpose"):
        azml_score_batch(**workspace(), endpoint_name=endpoint,
                         input_path=str(_folder(tmp_path / "in", ["a.csv"])),
                         output_dir=str(tmp_path / "out"), poll_seconds=0.5)


def test_a_failed_new_deployment_on_a_new_endpoint_is_removed(client, custom, standin):
    # The deployment's operation fails in Azure (the inputs were fine): the deployment and the
    # endpoint this call created are deleted.
    endpoint = unique("batch")
    standin.lro_fault(path_regex=f"/batchEndpoints/{endpoint}/deployments/blue$",
                      outcome="Failed", delay_seconds=1, count=1)
    with pytest.raises(RuntimeError) as raised:
        azml_deploy_batch_model(**workspace(), endpoint_name=endpoint, deployment_name="blue",
                                model_id=custom["model_id"], options=_options(custom["code"]))
    message = str(raised.value)
    assert f"deploying 'blue' to batch endpoint '{endpoint}'" in message, message
    assert "deleting failed batch deployment 'blue': done" in message, message
    assert f"deleting batch endpoint '{endpoint}' created by this run: done" in message, message
    assert endpoint not in {e.name for e in client.batch_endpoints.list()}


@pytest.mark.parametrize(("changes", "message"), [
    ({"compute": "gpu-cluster"}, "compute: 'gpu-cluster' is not a compute of this workspace"),
    ({"compute": KUBERNETES}, f"compute: '{KUBERNETES}' is a kubernetes compute"),
    ({"instance_count": MAX_NODES + 1}, f"instance_count: {MAX_NODES + 1} must be at most "
                                        f"{MAX_NODES}"),
])
def test_the_compute_is_checked_before_any_write(standin, custom, changes, message):
    standin.clear_requests()
    with pytest.raises(ValueError, match=message):
        azml_deploy_batch_model(**workspace(), endpoint_name=unique("bad"),
                                deployment_name="blue", model_id=custom["model_id"],
                                options=_options(custom["code"], **changes))
    assert azure_writes(standin.requests()) == []


def test_sigterm_while_waiting_cancels_the_job(client, custom, tmp_path):
    endpoint = unique("batch")
    azml_deploy_batch_model(**workspace(), endpoint_name=endpoint, deployment_name="blue",
                            model_id=custom["model_id"], options=_options(custom["code"]))
    folder = _folder(tmp_path / "in", ["slow.csv"])
    child = child_call.start("azml_components.runtime.batch:azml_score_batch", **workspace(),
                             endpoint_name=endpoint, input_path=str(folder),
                             output_dir=str(tmp_path / "out"), poll_seconds=0.5)
    try:
        deadline = time.monotonic() + 120
        jobs = []
        while time.monotonic() < deadline:
            jobs = [j for j in client.batch_endpoints.list_jobs(endpoint)]
            if jobs and client.jobs.get(jobs[0].name).status == "Running":
                break
            time.sleep(0.5)
        child.send_signal(signal.SIGTERM)
        report = child_call.outcome(child, timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert report["error"] == "InterruptedError", report
    assert "cancelled by SIGTERM" in report["message"]
    assert "cancelling batch job" in report["message"] and "done" in report["message"]
    assert client.jobs.get(jobs[0].name).status == "Canceled"


# --- a killed score_batch: its retry takes the job over, recover_batch_jobs cancels it -------
ACTIVE = ("NotStarted", "Starting", "Provisioning", "Preparing", "Queued", "Running",
          "Finalizing")


@pytest.fixture(scope="module")
def gated(custom, tmp_path_factory) -> dict:
    # A batch endpoint whose scoring script holds a file named gated* until the test opens its
    # gate (a file of that name in `gates`): a job runs until the test says so, however fast or
    # slow the machine is. No mini-batch timeout or retry cuts the wait short.
    gates = tmp_path_factory.mktemp("gates")
    endpoint = unique("gated")
    azml_deploy_batch_model(**workspace(), endpoint_name=endpoint, deployment_name="blue",
                            model_id=custom["model_id"], options=_options(
                                custom["code"], environment_variables={
                                    "AZML_TEST_GATES": str(gates)},
                                retry_timeout_seconds=3600, max_retries=0))
    return {"endpoint": endpoint, "gates": gates}


def _job_names(client: MLClient, endpoint: str) -> set:
    return {job.name for job in client.batch_endpoints.list_jobs(endpoint)}


def _cancel_running_jobs(client: MLClient, endpoint: str) -> None:
    # Clean-up: no job of the test keeps a scoring process waiting at its gate.
    for job in client.batch_endpoints.list_jobs(endpoint):
        if job.status in ACTIVE:
            client.jobs.begin_cancel(job.name).result()


def _job_reads(standin, job_name: str) -> int:
    return sum(1 for r in standin.requests()
               if r["method"] == "GET" and r["path"].endswith(f"/jobs/{job_name}"))


def _until(condition, what: str, child, timeout: float = 300) -> None:
    # Acts on observed state; the deadline only ends a test that would otherwise hang.
    deadline = time.monotonic() + timeout
    while not condition():
        assert child.poll() is None, f"the child ended before {what}: {child_call.outcome(child)}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_retry_takes_over_the_job_a_killed_attempt_left(client, custom, gated, standin,
                                                          tmp_path):
    # score_batch is killed (SIGKILL, as a cancelled run's pod) once its job was submitted; the
    # job runs on. A retry of the task (same run, task and input) submits no second job: it
    # waits for that one and returns its predictions. Once the job completed, another retry
    # takes its result at once.
    endpoint = gated["endpoint"]
    folder = _folder(tmp_path / "in", ["a.csv", "gated-retry.csv"])
    task = {**workspace(), "endpoint_name": endpoint, "input_path": str(folder),
            "poll_seconds": 0.5, "pipeline_run_id": unique("run"),
            "pipeline_task_name": "score-batch"}
    before = _job_names(client, endpoint)
    standin.clear_requests()
    try:
        crash.kill_score_batch_after_submission(
            standin, {**task, "output_dir": str(tmp_path / "killed")}, tmp_path / "killed.log")
        (job_name,) = _job_names(client, endpoint) - before
        first = client.jobs.get(job_name)
        assert first.status in ACTIVE, first.status
        # The job carries its run and task (its properties: the SDK sends no job tags).
        assert first.properties["azml-kfp-run"] == task["pipeline_run_id"]
        assert first.properties["azml-kfp-task"] == "score-batch"
        reads = _job_reads(standin, job_name)
        retry = child_call.start("azml_components.runtime.batch:azml_score_batch", **task,
                                 output_dir=str(tmp_path / "retry"))
        # The retry polls the killed attempt's job (or, wrongly, submits one of its own); then
        # the jobs may finish.
        _until(lambda: _job_reads(standin, job_name) > reads
               or crash.batch_job_submissions(standin, endpoint) > 1,
               "the retry waits on a job", retry)
        (gated["gates"] / "gated-retry.csv").write_text("open")
        report = child_call.outcome(retry)
        again = azml_score_batch(**task, output_dir=str(tmp_path / "again"))
    finally:
        _cancel_running_jobs(client, endpoint)
    assert report.get("result", {}).get("job_name") == job_name, report
    assert report["result"]["status"] == "Completed"
    assert again["job_name"] == job_name and again["status"] == "Completed"
    assert crash.batch_job_submissions(standin, endpoint) == 1
    for out in ("retry", "again"):
        lines = (tmp_path / out / "predictions.csv").read_text().splitlines()
        assert [line.split(",")[0] for line in lines] == ["a.csv"] * 2 + ["gated-retry.csv"] * 2
        assert np.allclose([float(line.split(",")[2]) for line in lines],
                           custom["model"].predict(diabetes_rows(4)))


def test_recovery_cancels_the_killed_runs_job_and_leaves_other_runs_alone(
        client, gated, standin, tmp_path):
    # Two runs' score_batch tasks are killed with their jobs running. recover_batch_jobs for
    # one run cancels that run's job only. A retry of that run's task then does not take the
    # canceled job: it submits the next attempt, which completes.
    endpoint = gated["endpoint"]
    folder = _folder(tmp_path / "in", ["gated-recover.csv"])
    task = {**workspace(), "endpoint_name": endpoint, "input_path": str(folder),
            "poll_seconds": 0.5, "pipeline_task_name": "score-batch"}
    killed, other = unique("run"), unique("run")
    names = _job_names(client, endpoint)
    try:
        jobs = {}
        for run in (killed, other):
            crash.kill_score_batch_after_submission(
                standin, {**task, "pipeline_run_id": run, "output_dir": str(tmp_path / run)},
                tmp_path / f"{run}.log")
            (jobs[run],) = _job_names(client, endpoint) - names
            names.add(jobs[run])
        # Nothing of a run without jobs there, nor on an endpoint that does not exist.
        assert azml_recover_batch_jobs(**workspace(), endpoint_name=endpoint,
                                       pipeline_run_id=unique("run")) == {"cancelled": []}
        assert azml_recover_batch_jobs(**workspace(), endpoint_name=unique("gone"),
                                       pipeline_run_id=killed) == {"cancelled": []}
        recovered = azml_recover_batch_jobs(**workspace(), endpoint_name=endpoint,
                                            pipeline_run_id=killed)
        assert recovered == {"cancelled": [jobs[killed]]}
        assert client.jobs.get(jobs[killed]).status == "Canceled"
        assert client.jobs.get(jobs[other]).status in ACTIVE
        # Running it again is safe: nothing of that run is left running.
        assert azml_recover_batch_jobs(**workspace(), endpoint_name=endpoint,
                                       pipeline_run_id=killed) == {"cancelled": []}
        submitted = crash.batch_job_submissions(standin, endpoint)
        (gated["gates"] / "gated-recover.csv").write_text("open")
        retried = azml_score_batch(**task, pipeline_run_id=killed,
                                   output_dir=str(tmp_path / "retried"))
    finally:
        _cancel_running_jobs(client, endpoint)
    assert crash.batch_job_submissions(standin, endpoint) == submitted + 1
    assert retried["status"] == "Completed"
    assert retried["job_name"] == jobs[killed][:-len("1")] + "2", (retried, jobs)


def test_two_attempts_of_a_task_at_once_make_one_job(client, gated, standin, tmp_path):
    # Two attempts of one task started together (a retry while the first still runs): whichever
    # submits second finds the name taken (Azure keeps job names unique in the workspace) and
    # takes the first one's job, or finds it in the endpoint's list first. One job either way.
    endpoint = gated["endpoint"]
    folder = _folder(tmp_path / "in", ["a.csv"])
    task = {**workspace(), "endpoint_name": endpoint, "input_path": str(folder),
            "poll_seconds": 0.5, "pipeline_run_id": unique("run"),
            "pipeline_task_name": "score-batch"}
    submitted = crash.batch_job_submissions(standin, endpoint)
    try:
        children = [child_call.start("azml_components.runtime.batch:azml_score_batch", **task,
                                     output_dir=str(tmp_path / f"out{i}")) for i in range(2)]
        # The guard only ends a hang: an attempt whose upload found the other's file there first
        # once waited forever inside the SDK (runtime/batch_inputs.py says why it no longer does).
        reports = [child_call.outcome(child, timeout=420) for child in children]
    finally:
        _cancel_running_jobs(client, endpoint)
    names = {report.get("result", {}).get("job_name") for report in reports}
    assert len(names) == 1 and None not in names, reports
    assert all(report["result"]["status"] == "Completed" for report in reports)
    assert crash.batch_job_submissions(standin, endpoint) == submitted + 1
