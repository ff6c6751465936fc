"""Batch jobs through the real SDK: invoke, real execution of init()/run(mini_batch), the
append_row layout, error_threshold, retries, job errors, cancel, list (jobs.py, batch_driver.py).

The scoring environment is the example's requirement set, so it comes from the cache.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from azml_local.fixture import LocalAzureML
from azml_local.resources.compute_clusters import COMPUTE_NAME
from azure.ai.ml import Input, MLClient, Output
from azure.ai.ml._artifacts._artifact_utilities import download_artifact_from_aml_uri
from azure.ai.ml.entities import (
    BatchEndpoint,
    BatchRetrySettings,
    CodeConfiguration,
    Environment,
    Model,
    ModelBatchDeployment,
    ModelBatchDeploymentSettings,
)
from azure.ai.ml.exceptions import JobException
from azure.core.exceptions import HttpResponseError

from tests.helpers import CONDA_YAML, diabetes_rows, train_ridge, unique

pytestmark = pytest.mark.timeout(900)  # a cold cache builds the scoring environment

SCORE_PY = '''
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
        name = os.path.basename(path)
        if name.startswith("bad"):
            raise ValueError(f"cannot score {name}")
        if name.startswith("slow"):
            time.sleep(60)
        data = np.loadtxt(path, delimiter=",", ndmin=2)
        rows += [(name, i, float(p), len(mini_batch))
                 for i, p in enumerate(model.predict(data))]
    return rows
'''

# Writes one file per input file to AZUREML_BI_OUTPUT_PATH (in a sub-folder), and returns the
# rows as SCORE_PY does ("Customize outputs in batch deployments").
WRITER_PY = SCORE_PY + '''

_run = run


def run(mini_batch):
    rows = _run(mini_batch)
    folder = os.path.join(os.environ["AZUREML_BI_OUTPUT_PATH"], "per-file")
    os.makedirs(folder, exist_ok=True)
    for path in mini_batch:
        name = os.path.basename(path)
        mine = [str(row[2]) for row in rows if row[0] == name]
        with open(os.path.join(folder, name + ".txt"), "w") as handle:
            handle.write("\\n".join(mine))
    return rows
'''


@pytest.fixture(scope="module")
def setup(ml_client: MLClient, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("batch-jobs")
    import joblib

    model = train_ridge()
    (root / "model").mkdir()
    joblib.dump(model, root / "model" / "model.joblib")
    (root / "code").mkdir()
    (root / "code" / "score.py").write_text(SCORE_PY)
    (root / "writer").mkdir()
    (root / "writer" / "score.py").write_text(WRITER_PY)
    registered = ml_client.models.create_or_update(Model(name=unique("bjm"), path=str(root /
                                                                                       "model")))
    env = ml_client.environments.create_or_update(Environment(
        name=unique("bje"), conda_file=str(_conda(root)), image="mcr.microsoft.com/azureml/"
        "openmpi4.1.0-ubuntu20.04"))
    endpoint = unique("bj")
    ml_client.batch_endpoints.begin_create_or_update(BatchEndpoint(name=endpoint)).result()

    def deploy(name: str, code: str = "code", **settings) -> str:
        retry = BatchRetrySettings(max_retries=settings.pop("max_retries"),
                                   timeout=settings.pop("timeout", 30))
        settings = {"mini_batch_size": 2, "retry_settings": retry, **settings}
        ml_client.batch_deployments.begin_create_or_update(ModelBatchDeployment(
            name=name, endpoint_name=endpoint, model=registered, environment=env,
            code_configuration=CodeConfiguration(code=str(root / code),
                                                 scoring_script="score.py"),
            compute=COMPUTE_NAME, settings=ModelBatchDeploymentSettings(**settings))).result()
        return name

    deploy("strict", error_threshold=0, max_retries=1)
    deploy("lenient", error_threshold=-1, output_file_name="scores.csv", max_retries=0)
    deploy("tolerant", error_threshold=2, max_retries=0, timeout=2)
    deploy("writer", code="writer", max_retries=0)
    deploy("summary", code="writer", max_retries=0, output_action="summary_only")
    return {"endpoint": endpoint, "model": model, "root": root}


def _conda(root: Path) -> Path:
    path = root / "conda.yaml"
    path.write_text(CONDA_YAML)
    return path


def _folder(root: Path, names: list[str]) -> Path:
    folder = root / unique("in")
    folder.mkdir()
    rows = diabetes_rows(2 * len(names))
    for i, name in enumerate(names):
        np.savetxt(folder / name, rows[2 * i:2 * i + 2], delimiter=",")
    return folder


def _wait(ml_client: MLClient, name: str, timeout: float = 300) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ml_client.jobs.get(name)
        if job.status in ("Completed", "Failed", "Canceled"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {name} did not finish")


def _invoke(ml_client: MLClient, setup: dict, deployment: str, folder: Path):
    return ml_client.batch_endpoints.invoke(
        endpoint_name=setup["endpoint"], deployment_name=deployment,
        input=Input(type="uri_folder", path=str(folder)))


def test_append_row_writes_every_mini_batch(ml_client: MLClient, setup: dict,
                                            tmp_path: Path) -> None:
    names = [f"part{i}.csv" for i in range(5)]
    folder = _folder(tmp_path, names)
    job = _invoke(ml_client, setup, "lenient", folder)
    assert job.status == "NotStarted"
    done = _wait(ml_client, job.name)
    assert done.status == "Completed"
    assert done.tags["azureml.batchrun"] == "true"  # what the SDK knows batch jobs by
    download_artifact_from_aml_uri(done.outputs["score"].path, str(tmp_path / "out"),
                                   ml_client.datastores)
    lines = (tmp_path / "out" / "scores.csv").read_text().splitlines()
    # One CSV row (no header) per returned element, mini-batches in order.
    assert [line.split(",")[0] for line in lines] == [n for n in names for _ in range(2)]
    expected = setup["model"].predict(diabetes_rows(10))
    assert np.allclose([float(line.split(",")[2]) for line in lines], expected)
    assert job.name in [j.name for j in ml_client.batch_endpoints.list_jobs(setup["endpoint"])]


@pytest.mark.parametrize(("deployment", "appended"), [("writer", ["predictions.csv"]),
                                                      ("summary", [])])
def test_files_the_script_writes_to_its_output_path_are_the_score_output(
        ml_client: MLClient, setup: dict, tmp_path: Path, deployment: str,
        appended: list) -> None:
    # AZUREML_BI_OUTPUT_PATH is the job's output folder ("Customize outputs in batch
    # deployments"): what the script writes there, sub-folders too, is the `score` output, next
    # to the append_row file; summary_only writes no append_row file.
    names = ["a.csv", "b.csv", "c.csv"]
    done = _wait(ml_client, _invoke(ml_client, setup, deployment,
                                    _folder(tmp_path, names)).name)
    assert done.status == "Completed"
    out = tmp_path / "out"
    download_artifact_from_aml_uri(done.outputs["score"].path, str(out), ml_client.datastores)
    found = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert found == sorted(appended + [f"per-file/{n}.txt" for n in names])
    expected = setup["model"].predict(diabetes_rows(6))
    written = [float(v) for n in names
               for v in (out / "per-file" / f"{n}.txt").read_text().splitlines()]
    assert np.allclose(written, expected)


def test_error_threshold_aborts_the_job(ml_client: MLClient, setup: dict,
                                        tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["a.csv", "bad.csv", "c.csv"])
    job = _invoke(ml_client, setup, "strict", folder)
    assert _wait(ml_client, job.name).status == "Failed"
    with pytest.raises(JobException, match=r"more than the deployment's error_threshold \(0\)"
                       r"(.|\n)*cannot score bad.csv"):
        ml_client.jobs.stream(job.name)


def test_failures_within_the_threshold_are_ignored(ml_client: MLClient, setup: dict,
                                                  tmp_path: Path) -> None:
    # bad.csv fails its mini-batch (2 files, threshold 2): the job still completes; with -1
    # every failure is ignored.
    folder = _folder(tmp_path, ["a.csv", "bad.csv", "c.csv"])
    assert _wait(ml_client, _invoke(ml_client, setup, "tolerant", folder).name).status == \
        "Completed"
    assert _wait(ml_client, _invoke(ml_client, setup, "lenient", folder).name).status == \
        "Completed"


def test_a_mini_batch_past_its_timeout_fails(ml_client: MLClient, setup: dict,
                                             tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["a.csv", "b.csv", "slow1.csv", "slow2.csv", "slow3.csv"])
    job = _invoke(ml_client, setup, "tolerant", folder)  # 2 s timeout, threshold 2
    assert _wait(ml_client, job.name, 60).status == "Failed"


def test_cancel_stops_the_job(ml_client: MLClient, setup: dict, tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["slow.csv"])
    job = _invoke(ml_client, setup, "lenient", folder)
    deadline = time.monotonic() + 120
    while ml_client.jobs.get(job.name).status != "Running" and time.monotonic() < deadline:
        time.sleep(0.2)
    ml_client.jobs.begin_cancel(job.name).result()
    # A run() that was not stopped would end the job Completed after its 60 s sleep.
    assert _wait(ml_client, job.name, 300).status == "Canceled"


def test_invoke_needs_a_default_or_a_deployment(ml_client: MLClient, setup: dict,
                                                tmp_path: Path) -> None:
    folder = _folder(tmp_path, ["a.csv"])
    with pytest.raises(HttpResponseError, match="no default deployment"):
        ml_client.batch_endpoints.invoke(endpoint_name=setup["endpoint"],
                                         input=Input(type="uri_folder", path=str(folder)))


def _upload(ml_client: MLClient, blobs: dict[str, bytes]) -> None:
    from azure.storage.blob import ContainerClient

    store = ml_client.datastores.get("workspaceblobstore", include_secrets=True)
    account = f"{store.protocol or 'https'}://{store.account_name}.blob.{store.endpoint}"
    with ContainerClient(account, store.container_name,
                         credential=store.credentials.account_key) as container:
        for name, data in blobs.items():
            container.upload_blob(name, data, overwrite=True)


@pytest.mark.parametrize(("kind", "target", "message"), [
    ("uri_file", "folder", "is a uri_file input, but there is a folder at its path"),
    ("uri_folder", "file", "is a uri_folder input, but there is a file at its path"),
    ("uri_folder", "nothing", "is a uri_folder input, but there is nothing at its path"),
])
def test_an_input_of_the_other_type_fails_the_job(ml_client: MLClient, setup: dict, kind: str,
                                                  target: str, message: str) -> None:
    # uri_file references a single file, uri_folder a folder (concept-data): the stand-in once
    # scored whatever lay at or under the path, whichever the type.
    prefix = unique("typed")
    rows = io.BytesIO()
    np.savetxt(rows, diabetes_rows(2), delimiter=",")
    _upload(ml_client, {f"{prefix}/in/a.csv": rows.getvalue(), f"{prefix}/one.csv":
                        rows.getvalue()})
    path = {"folder": f"{prefix}/in", "file": f"{prefix}/one.csv", "nothing": f"{prefix}/no"}
    uri = f"azureml://datastores/workspaceblobstore/paths/{path[target]}"
    job = ml_client.batch_endpoints.invoke(endpoint_name=setup["endpoint"],
                                           deployment_name="lenient",
                                           input=Input(type=kind, path=uri))
    assert _wait(ml_client, job.name).status == "Failed"
    with pytest.raises(JobException, match=message):
        ml_client.jobs.stream(job.name)
    # The right type for each is scored.
    for right, where in (("uri_file", f"{prefix}/one.csv"), ("uri_folder", f"{prefix}/in")):
        job = ml_client.batch_endpoints.invoke(
            endpoint_name=setup["endpoint"], deployment_name="lenient",
            input=Input(type=right, path=f"azureml://datastores/workspaceblobstore/paths/{where}"))
        assert _wait(ml_client, job.name).status == "Completed", right


def _jobs_posted(standin: LocalAzureML, setup: dict) -> list:
    jobs = f"/batchEndpoints/{setup['endpoint']}/jobs"
    return [r["status"] for r in standin.requests()
            if r["method"] == "POST" and r["path"] == jobs]


@pytest.mark.parametrize(("output", "message"), [
    ("uri_folder", "Job output type must be 'uri_file'"),
    ("no-such-store", "names datastore 'no-such-store', which the workspace does not have"),
    ("folder/", "must name a file"),
])
def test_outputs_azure_refuses_are_400(ml_client: MLClient, setup: dict, standin: LocalAzureML,
                                       tmp_path: Path, output: str, message: str) -> None:
    # Azure refuses a uri_folder output with a 400 (MicrosoftDocs/azure-docs#118447); a uri_file
    # output must be a file on a datastore of the workspace. No job is created.
    folder = _folder(tmp_path, ["a.csv"])
    store = "no-such-store" if output == "no-such-store" else "workspaceblobstore"
    path = f"azureml://datastores/{store}/paths/" + unique("custom-out")
    path += "/" if output == "folder/" else "/p.csv"
    standin.clear_requests()
    with pytest.raises(HttpResponseError, match=message) as refused:
        ml_client.batch_endpoints.invoke(
            endpoint_name=setup["endpoint"], deployment_name="lenient",
            input=Input(type="uri_folder", path=str(folder)),
            outputs={"score": Output(type="uri_folder" if output == "uri_folder" else "uri_file",
                                     path=path)})
    assert refused.value.status_code == 400
    assert _jobs_posted(standin, setup) == [400]


def test_a_jobs_own_settings_replace_the_deployments(ml_client: MLClient, setup: dict,
                                                     tmp_path: Path) -> None:
    # The invocation's miniBatchSize, outputFileName and uri_file output (BatchJob, REST API
    # v2020_09_01_dataplanepreview; azure-ai-ml's params_override and outputs) replace the
    # "lenient" deployment's (2 files per run(), scores.csv, the job's own folder) for this job
    # only: each row carries the size of the mini-batch run() was given.
    folder = _folder(tmp_path, ["a.csv", "b.csv", "c.csv"])
    uri = f"azureml://datastores/workspaceblobstore/paths/{unique('out')}/ones.csv"
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=setup["endpoint"], deployment_name="lenient",
        input=Input(type="uri_folder", path=str(folder)),
        params_override=[{"mini_batch_size": 1}, {"compute": {"instance_count": 1}}],
        outputs={"score": Output(type="uri_file", path=uri)})
    done = _wait(ml_client, job.name)
    assert done.status == "Completed"
    assert done.outputs["score"].path == uri
    download_artifact_from_aml_uri(uri, str(tmp_path / "own"), ml_client.datastores)
    lines = (tmp_path / "own" / "ones.csv").read_text().splitlines()
    assert {line.split(",")[3] for line in lines} == {"1"}
    assert len(lines) == 6
    # The deployment itself is unchanged: the next job groups 2 files per run() again, into
    # its own folder under the job's file name.
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=setup["endpoint"], deployment_name="lenient",
        input=Input(type="uri_folder", path=str(folder)),
        params_override=[{"output_file_name": "named.csv"}])
    done = _wait(ml_client, job.name)
    download_artifact_from_aml_uri(done.outputs["score"].path, str(tmp_path / "dep"),
                                   ml_client.datastores)
    lines = (tmp_path / "dep" / "named.csv").read_text().splitlines()
    assert [line.split(",")[3] for line in lines] == ["2"] * 4 + ["1"] * 2


def test_a_jobs_error_threshold_and_timeout_replace_the_deployments(
        ml_client: MLClient, setup: dict, tmp_path: Path) -> None:
    # "lenient" ignores every failure (-1) and waits 30 s per mini-batch; this job tolerates
    # none and gives a mini-batch 1 s, without retries: the slow file fails it.
    folder = _folder(tmp_path, ["a.csv", "slow.csv"])
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=setup["endpoint"], deployment_name="lenient",
        input=Input(type="uri_folder", path=str(folder)),
        params_override=[{"error_threshold": 0}, {"mini_batch_size": 1},
                         {"retry_settings": {"max_retries": 0, "timeout": 1}}])
    assert _wait(ml_client, job.name, 120).status == "Failed"
    with pytest.raises(JobException, match=r"error_threshold \(0\)(.|\n)*did not finish"):
        ml_client.jobs.stream(job.name)


@pytest.mark.parametrize(("override", "message"), [
    ({"mini_batch_size": 0}, "'miniBatchSize' must be at least 1"),
    ({"error_threshold": -2}, "'errorThreshold' must be at least -1"),
    ({"compute": {"instance_count": 0}}, "'compute.instanceCount' must be at least 1"),
    ({"compute": {"instance_count": 99}}, "can scale to"),
    ({"retry_settings": {"max_retries": -1}}, "'retrySettings.maxRetries' must be at least 0"),
    ({"output_file_name": "out/p.csv"}, "'outputFileName' must be a file name"),
])
def test_job_settings_azure_refuses_are_400(ml_client: MLClient, setup: dict,
                                            standin: LocalAzureML, tmp_path: Path,
                                            override: dict, message: str) -> None:
    # The deployment's rules (BatchDeploymentProperties, REST API spec 2024-04-01) hold for a
    # job's own settings; no job is created.
    folder = _folder(tmp_path, ["a.csv"])
    standin.clear_requests()
    with pytest.raises(HttpResponseError, match=message) as refused:
        ml_client.batch_endpoints.invoke(
            endpoint_name=setup["endpoint"], deployment_name="lenient",
            input=Input(type="uri_folder", path=str(folder)), params_override=[override])
    assert refused.value.status_code == 400
    assert _jobs_posted(standin, setup) == [400]


def test_a_data_asset_input_is_scored(ml_client: MLClient, setup: dict, tmp_path: Path) -> None:
    # azureml:NAME:VERSION reaches the job as the version's ARM id (azure-ai-ml's
    # _resolve_input); the job reads the files the version references. A version that does
    # not exist fails the job.
    from azure.ai.ml.entities import Data

    folder = _folder(tmp_path, ["a.csv", "b.csv"])
    name = unique("bjdata")
    ml_client.data.create_or_update(Data(name=name, version="1", type="uri_folder",
                                         path=str(folder)))
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=setup["endpoint"], deployment_name="lenient",
        input=Input(type="uri_folder", path=f"azureml:{name}:1"))
    done = _wait(ml_client, job.name)
    assert done.status == "Completed"
    download_artifact_from_aml_uri(done.outputs["score"].path, str(tmp_path / "out"),
                                   ml_client.datastores)
    lines = (tmp_path / "out" / "scores.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["a.csv"] * 2 + ["b.csv"] * 2
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=setup["endpoint"], deployment_name="lenient",
        input=Input(type="uri_folder", path=f"azureml:{name}:2"))
    assert _wait(ml_client, job.name).status == "Failed"
    with pytest.raises(JobException, match=f"data asset {name}:2 could not be found"):
        ml_client.jobs.stream(job.name)


def test_a_named_job_carries_its_properties_and_its_name_is_unique(
        ml_client: MLClient, setup: dict, standin: LocalAzureML, tmp_path: Path) -> None:
    # The invocation's BatchJob.name and BatchJob.properties (dict[str, str], REST API
    # v2020_09_01_dataplanepreview), as azure-ai-ml 1.35 sends them (job_name, params_override):
    # the job has that name and carries the properties next to the batch run's own; the
    # endpoint's job list names it. A second job of the name is refused, as is a property value
    # that is not a string; neither makes a job.
    folder = _folder(tmp_path, ["a.csv"])
    name = unique("named-job")
    given = {"azml-kfp-run": "run-1", "azml-kfp-task": "score-batch"}
    job = ml_client.batch_endpoints.invoke(
        endpoint_name=setup["endpoint"], deployment_name="lenient",
        input=Input(type="uri_folder", path=str(folder)), job_name=name,
        params_override=[{"properties": given}])
    assert job.name == name
    done = _wait(ml_client, name)
    assert done.status == "Completed"
    assert done.properties == {**given, "azureml.batchrun": "true"}
    listed = {j.name: j.status for j in ml_client.batch_endpoints.list_jobs(setup["endpoint"])}
    assert listed[name] == "Completed"
    standin.clear_requests()
    with pytest.raises(HttpResponseError) as taken:
        ml_client.batch_endpoints.invoke(
            endpoint_name=setup["endpoint"], deployment_name="lenient",
            input=Input(type="uri_folder", path=str(folder)), job_name=name)
    assert taken.value.status_code == 409
    with pytest.raises(HttpResponseError, match="must map strings to strings") as refused:
        ml_client.batch_endpoints.invoke(
            endpoint_name=setup["endpoint"], deployment_name="lenient",
            input=Input(type="uri_folder", path=str(folder)), job_name=unique("named-job"),
            params_override=[{"properties": {"attempt": 2}}])
    assert refused.value.status_code == 400
    jobs = f"/batchEndpoints/{setup['endpoint']}/jobs"
    assert [r["status"] for r in standin.requests()
            if r["method"] == "POST" and r["path"] == jobs] == [409, 400]
    assert len(list(ml_client.batch_endpoints.list_jobs(setup["endpoint"]))) == len(listed)
