"""register_model's runtime through the real azure-ai-ml SDK against the stand-in."""

import os
import shutil
import sys
from pathlib import Path

import pytest
from azure.ai.ml import MLClient

from azml_components.runtime.register import azml_register_model, azml_validate_model_source
from tests.helpers import azure_writes, ml_client, unique, workspace, write_custom_model

pytestmark = pytest.mark.timeout(300)


def test_model_source_rules(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="exactly one"):
        azml_validate_model_source("", "", "custom_model")
    with pytest.raises(ValueError, match="exactly one"):
        azml_validate_model_source(str(empty), "azureml://x", "custom_model")
    with pytest.raises(ValueError, match="is empty"):
        azml_validate_model_source(str(empty), "", "custom_model")
    with pytest.raises(ValueError, match="missing"):
        azml_validate_model_source(str(tmp_path / "nope"), "", "custom_model")
    with pytest.raises(ValueError, match="model_type: 'onnx' is not one of"):
        azml_validate_model_source(str(empty), "", "onnx")
    with pytest.raises(ValueError, match="model_uri: 's3://b/k' must start with"):
        azml_validate_model_source("", "s3://b/k", "custom_model")
    (empty / "model.pkl").write_bytes(b"x")
    with pytest.raises(ValueError, match="MLmodel"):
        azml_validate_model_source(str(empty), "", "mlflow_model")
    assert azml_validate_model_source(str(empty), "", "custom_model") == str(empty)


@pytest.fixture
def client(standin) -> MLClient:
    return ml_client()


def test_register_folder_model_with_lineage(standin, client, tmp_path):
    # A name of its own: a new model name's first version is "1" (the service's nextVersion).
    name = unique("reg-folder")
    model_dir, _, _ = write_custom_model(tmp_path)
    result = azml_register_model(
        **workspace(), model_name=name, model_path=str(model_dir),
        description="a ridge", tags={"team": "ml", "threshold": 0.5},
        lineage={"kfp_run_id": "run-123", "kfp_pipeline": "p", "kfp_source_uri": "/x/model"},
    )
    assert result["name"] == name and result["version"] == "1"
    assert result["asset_id"] == f"azureml:{name}:1"
    assert result["arm_id"].lower().endswith(f"/models/{name}/versions/1")
    assert result["studio_url"].startswith(f"https://ml.azure.com/model/{name}:1/")
    assert result["model_type"] == "custom_model"
    assert result["path"].startswith("azureml://") and result["tags"]["kfp_run_id"] == "run-123"
    stored = client.models.get(name, version="1")
    assert stored.tags == {"team": "ml", "threshold": "0.5", "kfp_run_id": "run-123",
                           "kfp_pipeline": "p", "kfp_source_uri": "/x/model"}
    assert stored.description == "a ridge"
    # The files went to the workspace's blob storage: a second version (forced: the files are
    # the same) gets the next number.
    again = azml_register_model(**workspace(), model_name=name, model_path=str(model_dir),
                                lineage={"kfp_run_id": "{{$.pipeline_job_uuid}}"},
                                force_new_version=True)
    assert again["version"] == "2"
    # A placeholder KFP did not fill in is no lineage.
    assert "kfp_run_id" not in client.models.get(name, version="2").tags


def test_register_single_file_and_existing_uri(standin, client, tmp_path):
    reg_file, reg_from_uri = unique("reg-file"), unique("reg-from-uri")
    model_dir, _, _ = write_custom_model(tmp_path)
    single = azml_register_model(**workspace(), model_name=reg_file,
                                 model_path=str(model_dir / "model.joblib"), model_version="7")
    assert single["version"] == "7"
    # Registering from where the first one already lives copies nothing.
    from_uri = azml_register_model(**workspace(), model_name=reg_from_uri,
                                   model_uri=single["path"])
    assert client.models.get(reg_from_uri, version=from_uri["version"]).path == single["path"]


def test_mlflow_model_registers_as_mlflow(standin, client, tmp_path):
    reg_mlflow = unique("reg-mlflow")
    import mlflow.sklearn

    from tests.helpers import train_ridge

    mlflow.sklearn.save_model(train_ridge(), str(tmp_path / "mlmodel"),
                              serialization_format="cloudpickle")
    result = azml_register_model(**workspace(), model_name=reg_mlflow,
                                 model_path=str(tmp_path / "mlmodel"), model_type="mlflow_model")
    assert client.models.get(reg_mlflow, version=result["version"]).type == "mlflow_model"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"model_name": "bad name"}, "^model_name: 'bad name' is not a valid name"),
        ({"model_type": "onnx"}, "^model_type: 'onnx' is not one of"),
        ({"model_uri": "azureml://x"}, "exactly one"),
        ({"model_path": ""}, "exactly one"),
        ({"model_version": "-1"}, "^model_version: '-1' is not a valid version"),
        ({"model_name": "_hidden"}, "^model_name: '_hidden' is not a valid name"),
        ({"model_name": ".hidden"}, "^model_name: '.hidden' is not a valid name"),
        ({"model_name": "churn.v2"}, "^model_name: 'churn.v2' is not a valid name"),
        ({"timeout_seconds": 0}, "^timeout_seconds: 0 must be at least 1"),
        ({"resource_group": "rg."}, "^resource_group: 'rg.' is not a valid resource group"),
        ({"workspace_name": "w"}, "^workspace_name: 'w' is not a valid workspace name"),
        ({"tags": {"": "x"}}, "^tags: keys must be non-empty"),
    ],
)
def test_bad_input_fails_before_any_request(standin, tmp_path, overrides, message):
    model_dir, _, _ = write_custom_model(tmp_path)
    arguments = {**workspace(), "model_name": "ok", "model_path": str(model_dir), **overrides}
    standin.clear_requests()
    with pytest.raises(ValueError, match=message):
        azml_register_model(**arguments)
    assert standin.requests() == []  # not even a read: the inputs are checked first


def _blob_writes(standin) -> list:
    # Blob requests that write, from the relay's log (armed with a fault that matches nothing,
    # so every blob tunnel opened from then on is relayed and logged).
    return [r for r in standin.blob_requests() if r["method"] in ("PUT", "POST", "DELETE")]


def _watch_blobs(standin) -> None:
    standin.clear_requests()
    standin.blob_fault("PUT", "^/nothing-matches-this$", status=503)


def test_an_explicit_version_holding_the_same_files_is_reused_with_no_write(
        standin, client, tmp_path):
    # Versions are immutable: asking for version 1 with the files version 1 holds is version 1,
    # as it is (its tags, description and properties untouched), with no write and no upload.
    name = unique("reg-given-same")
    model_dir, _, _ = write_custom_model(tmp_path / "a")
    first = azml_register_model(**workspace(), model_name=name, model_path=str(model_dir),
                                description="first", tags={"team": "a"},
                                lineage={"kfp_run_id": "run-1"})
    assert first["version"] == "1" and first["reused"] is False
    before = client.models.get(name, version="1")
    assert before.properties.get("azml_registration_id")
    again_dir = tmp_path / "b" / "model"
    shutil.copytree(model_dir, again_dir)
    _watch_blobs(standin)
    again = azml_register_model(**workspace(), model_name=name, model_path=str(again_dir),
                                model_version="1", description="second", tags={"team": "b"},
                                lineage={"kfp_run_id": "run-2"})
    log = standin.requests()
    assert again["reused"] is True and again["version"] == "1"
    assert again["path"] == first["path"] and again["tags"]["kfp_run_id"] == "run-1"
    assert azure_writes(log) == []
    assert not [r for r in log if "/datastores/" in r["path"]]  # no blob credentials asked for
    assert _blob_writes(standin) == []
    after = client.models.get(name, version="1")
    assert after.properties == before.properties
    assert after.tags == before.tags and after.description == "first"
    assert [m.version for m in client.models.list(name=name)] == ["1"]


def test_an_explicit_version_holding_other_files_fails_before_any_upload(
        standin, client, tmp_path):
    name = unique("reg-given-other")
    first, _, _ = write_custom_model(tmp_path / "a", alpha=0.1)
    second, _, _ = write_custom_model(tmp_path / "b", alpha=9.0)
    azml_register_model(**workspace(), model_name=name, model_path=str(first),
                        lineage={"kfp_run_id": "run-1"})
    before = client.models.get(name, version="1")
    _watch_blobs(standin)
    with pytest.raises(ValueError, match=(
            f"^model_version: version '1' of model '{name}' already exists with other "
            "content")):
        azml_register_model(**workspace(), model_name=name, model_path=str(second),
                            model_version="1")
    log = standin.requests()
    assert azure_writes(log) == []
    assert not [r for r in log if "/datastores/" in r["path"]]
    assert _blob_writes(standin) == []
    after = client.models.get(name, version="1")
    assert (after.properties, after.tags, after.path) == (before.properties, before.tags,
                                                          before.path)
    # The same files as another model type, or with other properties, are other content too;
    # force_new_version cannot make an existing version new.
    for other in ({"model_type": "triton_model"}, {"properties": {"stage": "x"}},
                  {"force_new_version": True}):
        with pytest.raises(ValueError, match=f"^model_version: version '1' of model '{name}' "
                                             "already exists"):
            azml_register_model(**workspace(), model_name=name, model_path=str(first),
                                model_version="1", **other)
    assert [m.version for m in client.models.list(name=name)] == ["1"]


def test_an_explicit_version_from_model_uri_is_reused_or_refused(standin, client, tmp_path):
    # model_uri: the same storage path is the same version; another path is other content.
    name = unique("reg-given-uri")
    model_dir, _, _ = write_custom_model(tmp_path)
    first = azml_register_model(**workspace(), model_name=name, model_path=str(model_dir),
                                model_version="3")
    short = "azureml://datastores/workspaceblobstore/paths/" + first["path"].split("/paths/")[1]
    standin.clear_requests()
    same = azml_register_model(**workspace(), model_name=name, model_uri=short,
                               model_version="3")
    assert same["reused"] is True and same["version"] == "3"
    assert azure_writes(standin.requests()) == []
    with pytest.raises(ValueError, match=f"^model_version: version '3' of model '{name}' "
                                         "already exists with other content"):
        azml_register_model(**workspace(), model_name=name, model_uri=short + "/model.joblib",
                            model_version="3")
    assert azure_writes(standin.requests()) == []


@pytest.mark.parametrize("how", [{}, {"model_version": "3"}, {"force_new_version": True},
                                 {"model_uri": "azureml://datastores/workspaceblobstore/paths/x"}])
def test_a_workspace_that_does_not_exist_is_named_as_such(standin, tmp_path, how):
    # The first read (the listing, the version asked for, or the datastore of model_uri) is a
    # 404 for the workspace: the error names workspace_name, before anything is written.
    model_dir, _, _ = write_custom_model(tmp_path)
    arguments = {**workspace(), "workspace_name": "no-such-workspace",
                 "model_name": unique("reg-nows"), "model_path": str(model_dir), **how}
    if "model_uri" in how:
        arguments["model_path"] = ""
    standin.clear_requests()
    with pytest.raises(ValueError, match="^workspace_name: workspace 'no-such-workspace' was "
                                         "not found in resource group"):
        azml_register_model(**arguments)
    log = standin.requests()
    assert azure_writes(log) == []
    assert [r["status"] for r in log if r["path"].startswith("/subscriptions/")][:1] == [404]


def test_a_resource_group_that_does_not_exist_is_named_as_such(standin, tmp_path):
    model_dir, _, _ = write_custom_model(tmp_path)
    standin.clear_requests()
    with pytest.raises(ValueError, match="^resource_group: resource group 'no-such-rg' was not "
                                         "found"):
        azml_register_model(**{**workspace(), "resource_group": "no-such-rg"},
                            model_name=unique("reg-norg"), model_path=str(model_dir))
    assert azure_writes(standin.requests()) == []


def test_wrong_client_secret_is_reported_as_a_credential_problem(standin, tmp_path, monkeypatch):
    reg_denied = unique("reg-denied")
    model_dir, _, _ = write_custom_model(tmp_path)
    monkeypatch.setenv("AZ_CLIENT_SECRET", "not-the-secret")
    with pytest.raises(RuntimeError, match="rejected the credentials"):
        azml_register_model(**workspace(), model_name=reg_denied, model_path=str(model_dir))


class _FileOpens:
    # Counts how often this process opens the files under a folder (audit event "open"): one
    # pass over the model's files is one open per file.
    def __init__(self):
        self.root, self.opened = None, []
        sys.addaudithook(self._hook)

    def _hook(self, event, args):
        if event == "open" and self.root and isinstance(args[0], str):
            if args[0].startswith(self.root) and os.path.isfile(args[0]):
                self.opened.append(args[0])

    def watch(self, root: Path) -> list:
        self.root, self.opened = str(root), []
        return self.opened

    def stop(self):
        self.root = None


_OPENS = _FileOpens()


def test_unchanged_content_reuses_the_version_with_no_write(standin, client, tmp_path):
    # The SDK names the upload folder after its content hash (LocalUpload/<sha256>/<folder>);
    # a version whose path is that folder holds these exact files.
    name = unique("reg-reuse")
    model_dir, _, _ = write_custom_model(tmp_path / "a")
    (model_dir / "extra.txt").write_text("x" * 1000)
    opens = _OPENS.watch(model_dir)
    first = azml_register_model(**workspace(), model_name=name, model_path=str(model_dir),
                                lineage={"kfp_run_id": "run-1"})
    # New content: one hash pass and one upload read per file, not two hash passes.
    assert sorted(opens) == sorted([str(model_dir / "model.joblib"), str(model_dir / "extra.txt")]
                                   * 2)
    assert first["version"] == "1" and first["reused"] is False
    # The same files somewhere else (a later pipeline run's artifact folder) reuse version 1.
    again_dir = tmp_path / "b" / "model"
    shutil.copytree(model_dir, again_dir)
    opens = _OPENS.watch(again_dir)
    standin.clear_requests()
    again = azml_register_model(**workspace(), model_name=name, model_path=str(again_dir),
                                lineage={"kfp_run_id": "run-2"})
    log = standin.requests()
    _OPENS.stop()
    assert again["reused"] is True and again["version"] == "1"
    assert again["asset_id"] == first["asset_id"] and again["path"] == first["path"]
    # The reused version keeps the run that registered it; nothing was written anywhere.
    assert again["tags"]["kfp_run_id"] == "run-1"
    assert azure_writes(log) == []
    # No blob credentials were even asked for, so no blob can have been written.
    assert not [r for r in log if "/datastores/" in r["path"]]
    assert len(opens) == 2  # the hash pass only
    assert [m.version for m in client.models.list(name=name)] == ["1"]


def test_changed_content_or_forced_registers_a_new_version(standin, client, tmp_path):
    name = unique("reg-new")
    model_dir, _, _ = write_custom_model(tmp_path / "a", alpha=0.1)
    assert azml_register_model(**workspace(), model_name=name,
                               model_path=str(model_dir))["version"] == "1"
    # force_new_version registers the same files again.
    forced = azml_register_model(**workspace(), model_name=name, model_path=str(model_dir),
                                 force_new_version=True)
    assert forced["version"] == "2" and forced["reused"] is False
    # One byte changed is new content.
    changed, _, _ = write_custom_model(tmp_path / "b", alpha=0.2)
    assert azml_register_model(**workspace(), model_name=name,
                               model_path=str(changed))["version"] == "3"
    # Another model type, other properties or an explicit version are not the same version.
    assert azml_register_model(**workspace(), model_name=name, model_path=str(model_dir),
                               properties={"stage": "x"})["version"] == "4"
    assert azml_register_model(**workspace(), model_name=name, model_path=str(model_dir),
                               model_type="triton_model")["version"] == "5"
    assert azml_register_model(**workspace(), model_name=name, model_path=str(model_dir),
                               model_version="9")["version"] == "9"
    # ... and the same files under the same name again reuse the newest such version.
    reused = azml_register_model(**workspace(), model_name=name, model_path=str(model_dir),
                                 properties={"stage": "x"})
    assert reused["reused"] is True and reused["version"] == "4"
    assert sorted(int(m.version) for m in client.models.list(name=name)) == [1, 2, 3, 4, 5, 9]


def test_a_renamed_file_with_the_same_bytes_is_a_new_version(standin, client, tmp_path):
    # The SDK's content hash covers the files' names as well as their bytes (azure-ai-ml
    # 1.35's get_object_hash / _get_dir_hash hashes each entry's name, then its content): a
    # renamed file is other content, so it is registered as a new version, never reused.
    name = unique("reg-renamed")
    model_dir, _, _ = write_custom_model(tmp_path / "a")
    first = azml_register_model(**workspace(), model_name=name, model_path=str(model_dir))
    assert first["version"] == "1" and first["reused"] is False
    renamed = tmp_path / "b" / "model"
    renamed.mkdir(parents=True)
    (renamed / "weights.joblib").write_bytes((model_dir / "model.joblib").read_bytes())
    again = azml_register_model(**workspace(), model_name=name, model_path=str(renamed))
    assert again["reused"] is False and again["version"] == "2"
    assert again["path"] != first["path"]
    target = tmp_path / "download"
    client.models.download(name, "2", download_path=str(target))
    assert [p.name for p in target.rglob("*") if p.is_file()] == ["weights.joblib"]


def test_an_archived_version_is_not_reused(standin, client, tmp_path):
    # Listing versions leaves archived ones out (listViewType ActiveOnly, the SDK's default).
    name = unique("reg-archived")
    model_dir, _, _ = write_custom_model(tmp_path)
    assert azml_register_model(**workspace(), model_name=name,
                               model_path=str(model_dir))["version"] == "1"
    client.models.archive(name, version="1")
    again = azml_register_model(**workspace(), model_name=name, model_path=str(model_dir))
    assert again["version"] == "2" and again["reused"] is False
