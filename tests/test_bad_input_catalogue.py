"""The bad-input catalogue (issue 10): every input rule of every component, one row each.

This is the single place where a new input rule gets its case. A row names the component, the
runtime function the component calls (or the input helper it calls first), the bad inputs as a
user or Azure ML's docs would write them, the exception expected, the field the message must
start with and, where useful, a fragment of the rule. Each case runs against the session's local
Azure ML and asserts that nothing was written: no PUT/POST/PATCH/DELETE to ARM in the request log
(tests.helpers.azure_writes) and, when the call touched a datastore (the way to blob storage), no
blob written while it ran. Resources that rules need (a registered model, an endpoint with a
live deployment) are made once for the module.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from azml_local.resources.compute_clusters import COMPUTE_NAME, MAX_NODES
from azml_local.resources.kubernetes_computes import CLUSTER as KUBERNETES_COMPUTE

import azml_components
from azml_components.runtime.batch import azml_deploy_batch_model, azml_score_batch
from azml_components.runtime.batch_jobs import azml_recover_batch_jobs
from azml_components.runtime.command_jobs import (
    azml_artifact_job_input,
    azml_job_output_model,
    azml_recover_command_jobs,
    azml_run_command_job,
)
from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.drift import azml_check_drift
from azml_components.runtime.endpoints import (
    azml_delete_deployment,
    azml_delete_endpoint,
    azml_update_traffic,
)
from azml_components.runtime.inputs import (
    azml_endpoint_name_input,
    azml_model_id_input,
    azml_payload_input,
)
from azml_components.runtime.invoke import azml_invoke_endpoint
from azml_components.runtime.monitor import azml_create_monitor
from azml_components.runtime.records import AzmlDriftSettings
from azml_components.runtime.register import azml_register_model
from azml_components.runtime.registries import azml_promote_model, azml_register_in_registry
from azml_components.runtime.rollout import azml_safe_rollout
from azml_components.runtime.rollout_state import azml_recover_endpoint_rollout
from azml_components.runtime.targets import azml_new_endpoint
from tests.helpers import (
    azure_writes,
    data_payload,
    diabetes_rows,
    ml_client,
    unique,
    workspace,
    write_custom_model,
)

pytestmark = pytest.mark.timeout(300)


@dataclass(frozen=True)
class Row:
    """One bad input: `args` override the function's good BASE arguments ("@name" values are
    the module's resources; a dict under "options" is merged into the base options)."""

    component: str
    function: Callable
    args: dict
    field: str  # the message starts with this
    rule: str = ""  # and contains this
    error: type = ValueError


REGISTER, DEPLOY, ROLLOUT = "register_model", "deploy_model", "safe_rollout"
TRAFFIC, INVOKE, DEL_DEP, DEL_EP = "set_traffic", "invoke_endpoint", "delete_deployment", \
    "delete_endpoint"
RECOVER, BATCH, SCORE = "recover_rollout", "deploy_batch_model", "score_batch"
RECOVER_BATCH = "recover_batch_jobs"
PROMOTE = "promote_model"
JOB, RECOVER_JOBS = "run_command_job", "recover_command_jobs"
CURATED_ENV = "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"
JOB_OUTPUT = "azureml://datastores/workspaceblobstore/paths/azureml/job-1/model/"
DRIFT, MONITOR = "check_drift", "create_monitor"

GUID_RULE = "must be a GUID"
NAME_RULE = "3-32 characters"
WHOLE = "must be a whole number"
MISSING_URI = "azureml://datastores/workspaceblobstore/paths/catalogue/no-such-model"
MISSING_DATA_URI = "azureml://datastores/workspaceblobstore/paths/catalogue/no-such-data"
MISSING_SUBSCRIPTION = "0f0f0f0f-0000-4000-8000-00000000beef"

# Good arguments per function; a row changes only what makes it bad.
BASE: dict[Callable, dict] = {
    azml_register_model: {"model_name": "@fresh", "model_path": "@model_dir"},
    azml_deploy_model: {"endpoint_name": "@fresh", "deployment_name": "blue",
                        "model_id": "@model_id", "options": "@options", "timeout_seconds": 300},
    azml_safe_rollout: {"endpoint_name": "@fresh", "deployment_name": "green",
                        "model_id": "@model_id", "options": "@options", "payload": "@payload",
                        "timeout_seconds": 300},
    azml_update_traffic: {"endpoint_name": "@endpoint", "traffic": {"blue": 100}},
    azml_invoke_endpoint: {"endpoint_name": "@endpoint", "payload": "@payload"},
    azml_delete_deployment: {"endpoint_name": "@endpoint", "deployment_name": "ghost"},
    azml_delete_endpoint: {"endpoint_name": "@fresh"},
    azml_recover_endpoint_rollout: {"endpoint_name": "@fresh"},
    azml_deploy_batch_model: {"endpoint_name": "@fresh", "deployment_name": "blue",
                              "model_id": "@model_id", "options": "@batch_options",
                              "timeout_seconds": 300},
    azml_score_batch: {"endpoint_name": "@batch_endpoint", "output_dir": "@out",
                       "input_uri": "@score_uri", "pipeline_run_id": "run-catalogue",
                       "pipeline_task_name": "score-batch"},
    azml_recover_batch_jobs: {"endpoint_name": "@batch_endpoint",
                              "pipeline_run_id": "run-catalogue"},
    azml_run_command_job: {"command": "python train.py ${{inputs.data}} ${{outputs.model}}",
                           "code_path": "@empty_dir", "environment": CURATED_ENV,
                           "compute": COMPUTE_NAME, "inputs": {"data": "rows"},
                           "outputs": {"model": "uri_folder"}, "model_output": "model",
                           "pipeline_run_id": "run-catalogue", "pipeline_task_name": "train"},
    azml_recover_command_jobs: {"pipeline_run_id": "run-catalogue"},
    azml_artifact_job_input: {"path": "@empty_dir", "metadata": {}},
    azml_job_output_model: {"metadata": {"azureml_path": JOB_OUTPUT, "type": "mlflow_model"},
                            "model_uri": "", "model_type": "mlflow_model"},
    azml_model_id_input: {"registered_model": None, "model_id": "@model_id"},
    azml_payload_input: {"payload": "@payload", "payload_file": None},
    azml_endpoint_name_input: {"endpoint": None, "endpoint_name": "@endpoint"},
    azml_promote_model: {"model_id": "@model_id", "registry_name": "@registry"},
    azml_register_in_registry: {"registry_name": "@registry", "model_name": "@fresh",
                                "model_path": "@model_dir"},
    # <monitoring: check_drift and create_monitor (issue 22)>
    azml_check_drift: {"folder": "@drift_folder", "baseline_path": "@drift_baseline",
                       "production_path": "@drift_production"},
    azml_create_monitor: {"monitor_name": "@fresh", "endpoint_name": "@endpoint",
                          "deployment_name": "blue", "baseline_data": "azureml:cat-baseline:1",
                          "production_data": "azureml:cat-inputs:1",
                          "outputs_data": "azureml:cat-outputs:1",
                          "emails": ["ml-team@example.com"], "timeout_seconds": 120},
    # </monitoring>
}
# Functions that take the workspace (the others are the components' input helpers).
WORKSPACE_TAKERS = {f for f in BASE if "resource_group" in inspect.signature(f).parameters}


def _workspace_rows(component: str, function: Callable) -> list:
    # Every component names its workspace the same way: the ARM rules for each part.
    return [
        Row(component, function, {"subscription_id": "my-subscription"}, "subscription_id",
            GUID_RULE),
        Row(component, function, {"resource_group": "my rg"}, "resource_group", "1-90"),
        Row(component, function, {"workspace_name": "my.workspace"}, "workspace_name", "3-33"),
    ]


def _missing_scope_rows(component: str, function: Callable) -> list:
    # A workspace, resource group or subscription that does not exist: ARM's 404 for the scope
    # is named as such by the first read, never reported as a missing model or endpoint.
    return [
        Row(component, function, {"workspace_name": "no-such-workspace"}, "workspace_name",
            "'no-such-workspace' was not found"),
        Row(component, function, {"resource_group": "no-such-rg"}, "resource_group",
            "'no-such-rg' was not found"),
        Row(component, function, {"subscription_id": MISSING_SUBSCRIPTION}, "subscription_id",
            "was not found"),
    ]


def _online_name_rows(component: str, function: Callable, name_field: str) -> list:
    # Azure's online endpoint/deployment name rule: ^[a-zA-Z][a-zA-Z0-9-]{2,31}$, no final '-'.
    return [
        Row(component, function, {name_field: "my endpoint"}, name_field, NAME_RULE),
        Row(component, function, {name_field: "my_endpoint"}, name_field, NAME_RULE),
        Row(component, function, {name_field: "1st-endpoint"}, name_field, "start with a letter"),
        Row(component, function, {name_field: "e" * 33}, name_field, NAME_RULE),
        Row(component, function, {name_field: "ep"}, name_field, NAME_RULE),
        Row(component, function, {name_field: "endpoint-"}, name_field, "end with a hyphen"),
    ]


def _timeout_rows(component: str, function: Callable) -> list:
    return [
        Row(component, function, {"timeout_seconds": 0}, "timeout_seconds", "at least 1"),
        Row(component, function, {"timeout_seconds": -60}, "timeout_seconds", "at least 1"),
        Row(component, function, {"timeout_seconds": "600"}, "timeout_seconds", WHOLE),
    ]


# A good autoscale rule (Microsoft's how-to: scale out by CPU); a row changes one key.
SCALE_RULE = {"metric": "CpuUtilizationPercentage", "operator": "GreaterThan", "threshold": 70,
              "direction": "Increase"}
USER_IDENTITY = ("/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg/"
                 "providers/Microsoft.ManagedIdentity/userAssignedIdentities/scorer")


def _autoscale(**rule) -> dict:
    return {"min_instances": 1, "max_instances": 3, "rules": [{**SCALE_RULE, **rule}]}


R, D, S = azml_register_model, azml_deploy_model, azml_safe_rollout


def _data_collector_rows() -> list:
    # data_collector as Microsoft's deployment YAML writes it, one rule per row (deploy_model;
    # safe_rollout checks the same options: its row at the end).
    field = "data_collector.collections.model_inputs"
    on = {"enabled": "True"}
    path = "azureml://datastores/workspaceblobstore/paths/x"

    def row(value, where, rule) -> Row:
        return Row(DEPLOY, D, {"options": {"data_collector": value}}, where, rule)

    def data(**given) -> dict:
        return {"collections": {"model_inputs": {**on, "data": given}}}

    return [
        row(["model_inputs"], "data_collector", "must be a mapping"),
        row({"collections": {"model_inputs": on}, "rolling": "Hour"}, "data_collector",
            "is not one of collections"),
        row({"sampling_rate": 1.0}, "data_collector.collections", "required"),
        row({"collections": {"model inputs": on}}, "data_collector.collections",
            "not a valid collection name"),
        row({"collections": {"model_inputs": "True"}}, field, "must be a mapping"),
        row({"collections": {"model_inputs": {**on, "mode": "x"}}}, field,
            "is not one of enabled, data, client_id"),
        row({"collections": {"model_inputs": {}}}, f"{field}.enabled", "'True' or 'False'"),
        row({"collections": {"model_inputs": {"enabled": "yes"}}}, f"{field}.enabled",
            "'True' or 'False'"),
        row({"collections": {"model_inputs": {**on, "data": "my-asset"}}}, f"{field}.data",
            "must be a mapping"),
        row(data(name="a", path=path, label="l"), f"{field}.data",
            "is not one of name, path, version"),
        row(data(name="my.asset", path=path), f"{field}.data.name", "not a valid name"),
        row(data(name="a", path="/tmp/x"), f"{field}.data.path", "datastore path"),
        row(data(name="a", path=path, version="-1"), f"{field}.data.version",
            "not a valid version"),
        row({"collections": {"model_inputs": {**on, "client_id": ""}}}, f"{field}.client_id",
            "client id"),
        row({"collections": {"model_inputs": on}, "sampling_rate": 1.5},
            "data_collector.sampling_rate", "between 0.0 and 1.0"),
        row({"collections": {"model_inputs": on}, "sampling_rate": "100%"},
            "data_collector.sampling_rate", "between 0.0 and 1.0"),
        row({"collections": {"model_inputs": on}, "rolling_rate": "weekly"},
            "data_collector.rolling_rate", "Year, Month, Day, Hour, Minute"),
        row({"collections": {"request": on}, "request_logging": ["x-client"]},
            "data_collector.request_logging", "capture_headers"),
        row({"collections": {"request": on}, "request_logging": {"capture_headers": "x"}},
            "data_collector.request_logging.capture_headers", "must be a list"),
        row({"collections": {"request": on}, "request_logging": {"capture_headers": ["a b"]}},
            "data_collector.request_logging.capture_headers", "not an HTTP header name"),
        row({"collections": {"request": on},
             "request_logging": {"capture_headers": ["Authorization"]}},
            "data_collector.request_logging.capture_headers", "never collected"),
        Row(ROLLOUT, S, {"options": {"data_collector": {"collections": {"model_inputs": on},
                                                        "rolling_rate": "Week"}}},
            "data_collector.rolling_rate", "Year, Month"),
    ]


CATALOGUE: list[Row] = [
    # --- register_model ------------------------------------------------------------------
    # Asset names: ^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$ (REST API spec, ModelVersions).
    Row(REGISTER, R, {"model_name": "my model"}, "model_name", "1-255 characters"),
    Row(REGISTER, R, {"model_name": "my.model"}, "model_name", "letters, digits, '-' and '_'"),
    Row(REGISTER, R, {"model_name": "-model"}, "model_name", "start with a letter or digit"),
    Row(REGISTER, R, {"model_name": "_model"}, "model_name", "start with a letter or digit"),
    Row(REGISTER, R, {"model_name": ""}, "model_name", "1-255 characters"),
    Row(REGISTER, R, {"model_name": "m" * 256}, "model_name", "1-255 characters"),
    Row(REGISTER, R, {"model_name": "models/diabetes"}, "model_name", "1-255 characters"),
    Row(REGISTER, R, {"model_version": "1 0"}, "model_version", "not a valid version"),
    Row(REGISTER, R, {"model_version": ".1"}, "model_version", "start with a letter or digit"),
    Row(REGISTER, R, {"model_version": "1/2"}, "model_version", "not a valid version"),
    Row(REGISTER, R, {"model_version": "v" * 256}, "model_version", "1-255 characters"),
    Row(REGISTER, R, {"model_type": "mlflow"}, "model_type", "custom_model, mlflow_model"),
    Row(REGISTER, R, {"model_type": "CUSTOM_MODEL"}, "model_type", "is not one of"),
    Row(REGISTER, R, {"model_path": ""}, "model / model_uri", "exactly one"),
    Row(REGISTER, R, {"model_uri": MISSING_URI}, "model / model_uri", "exactly one"),
    Row(REGISTER, R, {"model_path": "", "model_uri": "runs:/0a1b2c/model"}, "model_uri",
        "must start with one of"),
    Row(REGISTER, R, {"model_path": "", "model_uri": "models:/diabetes/1"}, "model_uri",
        "must start with one of"),
    Row(REGISTER, R, {"model_path": "", "model_uri": "azureml:diabetes:1"}, "model_uri",
        "must start with one of"),
    Row(REGISTER, R, {"model_path": "", "model_uri": "s3://bucket/model"}, "model_uri",
        "must start with one of"),
    Row(REGISTER, R, {"model_path": "", "model_uri": "http://example.com/model.pkl"},
        "model_uri", "must start with one of"),
    Row(REGISTER, R, {"model_path": "", "model_uri": "/mnt/models/model.pkl"}, "model_uri",
        "must start with one of"),
    Row(REGISTER, R, {"model_path": "", "model_uri": MISSING_URI}, "model_uri",
        "does not exist"),
    Row(REGISTER, R, {"model_path": "", "model_uri": "@missing_long_uri"}, "model_uri",
        "does not exist"),
    Row(REGISTER, R, {"model_path": "@missing"}, "model", "files are missing"),
    Row(REGISTER, R, {"model_path": "@empty_dir"}, "model", "is empty"),
    Row(REGISTER, R, {"model_path": "@empty_file"}, "model", "is empty"),
    Row(REGISTER, R, {"model_type": "mlflow_model"}, "model", "needs an MLmodel file"),
    Row(REGISTER, R, {"model_type": "mlflow_model", "model_path": "@model_file"}, "model",
        "needs a folder"),
    Row(REGISTER, R, {"tags": "stage=prod"}, "tags", "mapping"),
    Row(REGISTER, R, {"tags": {"": "prod"}}, "tags", "non-empty strings"),
    Row(REGISTER, R, {"tags": {"  ": "prod"}}, "tags", "non-empty strings"),
    Row(REGISTER, R, {"properties": ["a", "b"]}, "properties", "mapping"),
    Row(REGISTER, R, {"properties": {"azml_registration_id": "x"}}, "properties",
        "set by register_model itself"),
    # An existing version is immutable: other content is refused before any upload.
    Row(REGISTER, R, {"model_name": "@registered_name", "model_version": "1",
                      "model_path": "@other_model_dir"}, "model_version",
        "already exists with other content (other files)"),
    Row(REGISTER, R, {"model_name": "@registered_name", "model_version": "1",
                      "model_type": "triton_model"}, "model_version",
        "already exists with other content (model_type 'custom_model')"),
    Row(REGISTER, R, {"model_name": "@registered_name", "model_version": "1",
                      "model_path": "", "model_uri": "@registered_file_uri"}, "model_version",
        "already exists with other content (other files)"),
    Row(REGISTER, R, {"model_name": "@registered_name", "model_version": "1",
                      "force_new_version": True}, "model_version",
        "force_new_version asks for a new version"),
    Row(REGISTER, R, {"timeout_seconds": 0}, "timeout_seconds", "at least 1"),
    Row(REGISTER, R, {"timeout_seconds": True}, "timeout_seconds", WHOLE),
    Row(REGISTER, R, {"subscription_id": "00000000000000000000000000000000"},
        "subscription_id", GUID_RULE),
    Row(REGISTER, R, {"resource_group": "rg."}, "resource_group", "not end with '.'"),
    Row(REGISTER, R, {"resource_group": "r" * 91}, "resource_group", "1-90"),
    Row(REGISTER, R, {"workspace_name": "ws"}, "workspace_name", "3-33"),
    Row(REGISTER, R, {"workspace_name": "my workspace"}, "workspace_name", "3-33"),
    *_workspace_rows(REGISTER, R),
    *_missing_scope_rows(REGISTER, R),
    # --- deploy_model ----------------------------------------------------------------------
    *_online_name_rows(DEPLOY, D, "endpoint_name"),
    Row(DEPLOY, D, {"deployment_name": "blue green"}, "deployment_name", NAME_RULE),
    Row(DEPLOY, D, {"deployment_name": "blue_v2"}, "deployment_name", NAME_RULE),
    Row(DEPLOY, D, {"deployment_name": ""}, "deployment_name", NAME_RULE),
    Row(DEPLOY, D, {"model_id": "diabetes"}, "model_id", "azureml:NAME:VERSION"),
    Row(DEPLOY, D, {"model_id": "azureml:diabetes"}, "model_id", "azureml:NAME:VERSION"),
    Row(DEPLOY, D, {"model_id": "azureml:diabetes@latest"}, "model_id", "azureml:NAME:VERSION"),
    Row(DEPLOY, D, {"model_id": "runs:/0a1b2c/model"}, "model_id", "azureml:NAME:VERSION"),
    Row(DEPLOY, D, {"model_id": "models:/diabetes/1"}, "model_id", "azureml:NAME:VERSION"),
    Row(DEPLOY, D, {"model_id": "/subscriptions/x/models/diabetes"}, "model_id",
        "ARM id"),
    *_timeout_rows(DEPLOY, D),
    Row(DEPLOY, D, {"traffic_percent": 101}, "traffic_percent", "between 0 and 100"),
    Row(DEPLOY, D, {"traffic_percent": -10}, "traffic_percent", "between 0 and 100"),
    Row(DEPLOY, D, {"traffic_percent": 50.5}, "traffic_percent", WHOLE),
    Row(DEPLOY, D, {"traffic_percent": 50}, "traffic_percent",
        "would leave 50% of requests with no deployment"),
    Row(DEPLOY, D, {"options": {"instance_count": 0}}, "instance_count", "at least 1"),
    Row(DEPLOY, D, {"options": {"instance_count": -1}}, "instance_count", "at least 1"),
    Row(DEPLOY, D, {"options": {"instance_count": "2"}}, "instance_count", WHOLE),
    Row(DEPLOY, D, {"options": {"auth_mode": "password"}}, "auth_mode", "key, aml_token"),
    Row(DEPLOY, D, {"options": {"instance_type": "DS3_v2"}}, "instance_type",
        "not an Azure VM size"),
    Row(DEPLOY, D, {"options": {"instance_type": "defaultinstancetype"}}, "instance_type",
        "needs compute"),
    Row(DEPLOY, D, {"options": {"resource_requests": {"cpu": "1"}}}, "resource_requests",
        "Kubernetes deployments only"),
    Row(DEPLOY, D, {"options": {"resource_limits": {"memory": "1Gi"}}}, "resource_limits",
        "Kubernetes deployments only"),
    Row(DEPLOY, D, {"options": {"compute": "aks cluster"}}, "compute",
        "Kubernetes compute attached"),
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster", "resource_requests": {"cpu": "one"}}},
        "resource_requests", "not a Kubernetes quantity"),
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster", "resource_requests": {"disk": "1Gi"}}},
        "resource_requests", "not one of cpu, memory, gpu"),
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster", "resource_limits": {"gpu": "0.5"}}},
        "resource_limits", "not a Kubernetes quantity"),
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster", "resource_limits": "cpu=2"}},
        "resource_limits", "mapping"),
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster", "instance_type": "Standard_DS3_v2"}},
        "instance_type", "not a Kubernetes instance type name"),
    # Kubernetes refuses a request above its limit ("must be less than or equal to cpu limit").
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster", "resource_requests": {"cpu": "2"},
                                "resource_limits": {"cpu": "1"}}}, "resource_requests",
        "cpu '2' is more than the cpu limit '1'"),
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster", "resource_requests": {"memory": "4Gi"},
                                "resource_limits": {"memory": "1Gi"}}}, "resource_requests",
        "memory '4Gi' is more than the memory limit '1Gi'"),
    Row(DEPLOY, D, {"model_id": "@unregistered_model"}, "model_id", "is not registered"),
    Row(DEPLOY, D, {"model_id": "@unregistered_model_arm_id"}, "model_id", "is not registered"),
    Row(DEPLOY, D, {"options": {"compute": "no-such-cluster"}}, "compute",
        "not attached to the workspace"),
    Row(DEPLOY, D, {"options": {"compute": "cpu-cluster"}}, "compute",
        "Kubernetes computes only"),
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster", "instance_type": "gpu-huge"}},
        "instance_type", "not an instance type of compute"),
    Row(DEPLOY, D, {"endpoint_name": "@endpoint", "deployment_name": "green",
                    "options": {"compute": "aks-cluster"}}, "compute",
        "cannot change after creation"),
    Row(DEPLOY, D, {"options": {"environment_variables": ["MODE=fast"]}},
        "environment_variables", "mapping"),
    Row(DEPLOY, D, {"options": {"environment_variables": {"": "fast"}}},
        "environment_variables", "non-empty strings"),
    Row(DEPLOY, D, {"options": {"code_path": "@missing"}}, "code", "is not a folder"),
    Row(DEPLOY, D, {"options": {"scoring_script": "main.py"}}, "scoring_script",
        "is not in the code folder"),
    Row(DEPLOY, D, {"options": {"scoring_script": ""}}, "scoring_script", "required"),
    Row(DEPLOY, D, {"options": {"code_path": "@empty_script_code"}}, "scoring_script",
        "is empty"),
    Row(DEPLOY, D, {"options": {"code_in_model": "code"}}, "code / code_in_model",
        "at most one"),
    Row(DEPLOY, D, {"options": {"code_path": "", "code_in_model": "/abs/code"}},
        "code_in_model", "relative folder"),
    Row(DEPLOY, D, {"options": {"code_path": "", "code_in_model": "../code"}},
        "code_in_model", "relative folder"),
    Row(DEPLOY, D, {"options": {"code_path": "", "code_in_model": "code",
                                "scoring_script": ""}}, "scoring_script", "required"),
    Row(DEPLOY, D, {"options": {"code_path": "", "code_in_model": "no-such-folder",
                                "conda_file": ""}}, "code_in_model", "is not a folder inside"),
    Row(DEPLOY, D, {"options": {"environment": "azureml:sklearn-env:1"}}, "environment",
        "not both"),
    Row(DEPLOY, D, {"options": {"conda_file": "", "environment": "sklearn-env:1"}},
        "environment", "azureml:NAME:VERSION"),
    Row(DEPLOY, D, {"options": {"conda_file": "", "environment": "azureml:sklearn-env"}},
        "environment", "azureml:NAME:VERSION"),
    Row(DEPLOY, D, {"options": {"conda_file": "", "environment": "@unregistered_env"}},
        "environment", "is not registered"),
    Row(DEPLOY, D, {"options": {"conda_file": "environment.yml"}}, "conda_file",
        "not a file in the code folder"),
    Row(DEPLOY, D, {"options": {"conda_file": "name: x\ndependencies: [pip\n"}}, "conda_file",
        "not valid YAML"),
    Row(DEPLOY, D, {"options": {"conda_file": "name: x\nchannels: [conda-forge]\n"}},
        "conda_file", "'dependencies' list"),
    Row(DEPLOY, D, {"options": {"code_path": "", "conda_file": ""}}, "code",
        "needs a code folder"),
    Row(DEPLOY, D, {"options": {"conda_file": ""}}, "environment", "give conda_file"),
    # scale and endpoint identity (issue 21, items 3 and 5)
    Row(DEPLOY, D, {"options": {"autoscale": "min=1"}}, "autoscale", "must be a mapping"),
    Row(DEPLOY, D, {"options": {"autoscale": _autoscale(), "compute": "aks-cluster"}},
        "autoscale", "scale_settings (target_utilization)"),
    Row(DEPLOY, D, {"options": {"autoscale": {"min": 1}}}, "autoscale", "unknown keys"),
    Row(DEPLOY, D, {"options": {"autoscale": {"max_instances": 2}}}, "autoscale.min_instances",
        WHOLE),
    Row(DEPLOY, D, {"options": {"autoscale": {"min_instances": 0, "max_instances": 2}}},
        "autoscale.min_instances", "at least 1"),
    Row(DEPLOY, D, {"options": {"autoscale": {"min_instances": 3, "max_instances": 2}}},
        "autoscale.max_instances", "at least 3"),
    Row(DEPLOY, D, {"options": {"autoscale": {"min_instances": 1, "max_instances": 2,
                                              "default_instances": 3}}},
        "autoscale.default_instances", "between 1 and 2"),
    Row(DEPLOY, D, {"options": {"autoscale": {"min_instances": 1, "max_instances": 2,
                                              "rules": "cpu > 70"}}},
        "autoscale.rules", "at most 10"),
    Row(DEPLOY, D, {"options": {"autoscale": {"min_instances": 1, "max_instances": 2,
                                              "rules": [SCALE_RULE] * 11}}},
        "autoscale.rules", "at most 10"),
    Row(DEPLOY, D, {"options": {"autoscale": {"min_instances": 1, "max_instances": 2,
                                              "rules": ["cpu > 70"]}}},
        "autoscale.rules[0]", "must be a mapping"),
    Row(DEPLOY, D, {"options": {"autoscale": _autoscale(scale="out")}}, "autoscale.rules[0]",
        "unknown keys"),
    Row(DEPLOY, D, {"options": {"autoscale": _autoscale(metric="Percentage CPU")}},
        "autoscale.rules[0].metric", "is not a metric of an online deployment"),
    Row(DEPLOY, D, {"options": {"autoscale": _autoscale(operator=">")}},
        "autoscale.rules[0].operator", "is not one of"),
    Row(DEPLOY, D, {"options": {"autoscale": _autoscale(direction="Out")}},
        "autoscale.rules[0].direction", "is not one of"),
    Row(DEPLOY, D, {"options": {"autoscale": _autoscale(statistic="Median")}},
        "autoscale.rules[0].statistic", "is not one of"),
    Row(DEPLOY, D, {"options": {"autoscale": _autoscale(time_aggregation="Mean")}},
        "autoscale.rules[0].time_aggregation", "is not one of"),
    Row(DEPLOY, D, {"options": {"autoscale": _autoscale(threshold="70")}},
        "autoscale.rules[0].threshold", "must be a number"),
    Row(DEPLOY, D, {"options": {"autoscale": _autoscale(change=0)}},
        "autoscale.rules[0].change", "at least 1"),
    Row(DEPLOY, D, {"options": {"autoscale": _autoscale(time_grain="PT5M")}},
        "autoscale.rules[0].time_grain", "must be PT1M"),
    Row(DEPLOY, D, {"options": {"autoscale": _autoscale(time_window="PT1M")}},
        "autoscale.rules[0].time_window", "between PT5M and PT12H"),
    Row(DEPLOY, D, {"options": {"autoscale": _autoscale(cooldown="5 minutes")}},
        "autoscale.rules[0].cooldown", "ISO 8601 duration"),
    Row(DEPLOY, D, {"options": {"autoscale": _autoscale(cooldown="P8D")}},
        "autoscale.rules[0].cooldown", "between PT1M and P7D"),
    Row(DEPLOY, D, {"options": {"scale_settings": "fast"}}, "scale_settings",
        "must be a mapping"),
    Row(DEPLOY, D, {"options": {"scale_settings": {"type": "target"}}}, "scale_settings.type",
        "default, target_utilization"),
    Row(DEPLOY, D, {"options": {"scale_settings": {"type": "default", "max_instances": 2}}},
        "scale_settings", "takes no other keys"),
    Row(DEPLOY, D, {"options": {"scale_settings": {"type": "target_utilization"}}},
        "scale_settings", "Kubernetes deployments only"),
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster", "scale_settings": {
        "type": "target_utilization", "min_instances": 0}}},
        "scale_settings.min_instances", "at least 1"),
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster", "scale_settings": {
        "type": "target_utilization", "min_instances": 3, "max_instances": 2}}},
        "scale_settings.max_instances", "at least 3"),
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster", "scale_settings": {
        "type": "target_utilization", "polling_interval": "PT10S"}}},
        "scale_settings.polling_interval", WHOLE),
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster", "scale_settings": {
        "type": "target_utilization", "target_utilization_percentage": 0}}},
        "scale_settings.target_utilization_percentage", "at least 1"),
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster", "scale_settings": {
        "type": "target_utilization", "cooldown": 60}}}, "scale_settings", "unknown keys"),
    Row(DEPLOY, D, {"options": {"identity_type": "SystemAssigned"}}, "identity_type",
        "system_assigned, user_assigned"),
    Row(DEPLOY, D, {"options": {"identity_type": "user_assigned"}}, "user_assigned_identities",
        "required with identity_type user_assigned"),
    Row(DEPLOY, D, {"options": {"user_assigned_identities": [USER_IDENTITY]}},
        "user_assigned_identities", "only with identity_type user_assigned"),
    Row(DEPLOY, D, {"options": {"identity_type": "user_assigned",
                                "user_assigned_identities": ["my-identity"]}},
        "user_assigned_identities", "is not the ARM id of a user-assigned identity"),
    Row(DEPLOY, D, {"options": {"identity_type": "user_assigned",
                                "user_assigned_identities": USER_IDENTITY}},
        "user_assigned_identities", "must be a list"),
    *_workspace_rows(DEPLOY, D),
    *_missing_scope_rows(DEPLOY, D),
    Row(DEPLOY, azml_model_id_input, {"registered_model": "@registered_artifact"},
        "registered_model / model_id", "exactly one"),
    Row(DEPLOY, azml_model_id_input, {"model_id": ""}, "registered_model / model_id",
        "exactly one"),
    Row(DEPLOY, azml_model_id_input, {"registered_model": "@bare_artifact", "model_id": ""},
        "registered_model", "no asset_id"),
    # Issue 21's serving settings (runtime/deployment_settings.py cites Azure's ranges).
    Row(DEPLOY, D, {"options": {"auth_mode": "aad"}}, "auth_mode", "key, aml_token"),
    Row(DEPLOY, D, {"options": {"request_settings": {"request_timeout_ms": 200000}}},
        "request_settings.request_timeout_ms", "between 1 and 180000"),
    Row(DEPLOY, D, {"options": {"request_settings": {"request_timeout_ms": "90000"}}},
        "request_settings.request_timeout_ms", WHOLE),
    Row(DEPLOY, D, {"options": {"request_settings": {"max_concurrent_requests_per_instance": 0}}},
        "request_settings.max_concurrent_requests_per_instance", "at least 1"),
    Row(DEPLOY, D, {"options": {"request_settings": {"max_queue_wait_ms": 0}}},
        "request_settings.max_queue_wait_ms", "at least 1"),
    Row(DEPLOY, D, {"options": {"request_settings": {"timeout_ms": 9000}}},
        "request_settings", "not one of request_timeout_ms"),
    Row(DEPLOY, D, {"options": {"request_settings": [90000]}}, "request_settings", "mapping"),
    Row(DEPLOY, D, {"options": {"liveness_probe": {"initial_delay": 0}}},
        "liveness_probe.initial_delay", "at least 1"),
    Row(DEPLOY, D, {"options": {"liveness_probe": {"success_threshold": 2}}},
        "liveness_probe.success_threshold", "must be 1"),
    Row(DEPLOY, D, {"options": {"liveness_probe": {"initial_delay_seconds": 5}}},
        "liveness_probe", "not one of initial_delay"),
    Row(DEPLOY, D, {"options": {"readiness_probe": {"failure_threshold": 0}}},
        "readiness_probe.failure_threshold", "at least 1"),
    Row(DEPLOY, D, {"options": {"readiness_probe": {"period": 2.5}}},
        "readiness_probe.period", WHOLE),
    Row(DEPLOY, D, {"options": {"readiness_probe": {"timeout": -1}}},
        "readiness_probe.timeout", "at least"),
    Row(DEPLOY, D, {"options": {"app_insights_enabled": "yes"}}, "app_insights_enabled",
        "true or false"),
    Row(DEPLOY, D, {"options": {"egress_public_network_access": "private"}},
        "egress_public_network_access", "enabled, disabled"),
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster",
                                "egress_public_network_access": "disabled"}},
        "egress_public_network_access", "managed online endpoints only"),
    Row(DEPLOY, D, {"options": {"public_network_access": "off"}}, "public_network_access",
        "enabled, disabled"),
    Row(DEPLOY, D, {"options": {"compute": "aks-cluster", "public_network_access": "disabled"}},
        "public_network_access", "managed online endpoints only"),
    Row(DEPLOY, D, {"options": {"description": 42}}, "description", "must be a string"),
    Row(DEPLOY, D, {"options": {"endpoint_description": ["x"]}}, "endpoint_description",
        "must be a string"),
    Row(DEPLOY, D, {"options": {"tags": {"team/area": "ml"}}}, "tags", "< > % & \\ ? /"),
    Row(DEPLOY, D, {"options": {"tags": {"team": "x" * 257}}}, "tags", "longer than 256"),
    Row(DEPLOY, D, {"options": {"tags": {f"t{i}": "x" for i in range(49)}}}, "tags",
        "at most 48"),
    Row(DEPLOY, D, {"options": {"tags": {"kfp_run_id": "mine"}}}, "tags",
        "set by the components"),
    Row(DEPLOY, D, {"options": {"endpoint_tags": {"azml-rollout-owner": "me"}}},
        "endpoint_tags", "set by the components"),
    Row(DEPLOY, D, {"options": {"endpoint_tags": "team=ml"}}, "endpoint_tags", "mapping"),
    Row(DEPLOY, D, {"lineage": {"kfp_pipeline": "p" * 300}}, "pipeline_name",
        "at most 256 characters"),
    Row(DEPLOY, D, {"options": {"endpoint_tags": {f"e{i}": "x" for i in range(50)}}},
        "endpoint_tags", "at most 49"),
    Row(ROLLOUT, S, {"options": {"request_settings": {"request_timeout_ms": 0}}},
        "request_settings.request_timeout_ms", "between 1 and 180000"),
    Row(ROLLOUT, S, {"options": {"readiness_probe": {"success_threshold": 0}}},
        "readiness_probe.success_threshold", "at least 1"),
    Row(ROLLOUT, S, {"lineage": {"kfp_run_id": "r" * 200}}, "pipeline_run_id",
        "at most 128 characters"),
    # Issue 22's data_collector (runtime/data_collection.py cites Azure's rules).
    *_data_collector_rows(),
    # --- safe_rollout -----------------------------------------------------------------------
    Row(ROLLOUT, S, {"traffic_steps": [10, 50]}, "traffic_steps", "end at 100"),
    Row(ROLLOUT, S, {"options": {"autoscale": _autoscale(metric="CPU")}},
        "autoscale.rules[0].metric", "is not a metric"),
    Row(ROLLOUT, S, {"options": {"scale_settings": {"type": "target_utilization"}}},
        "scale_settings", "Kubernetes deployments only"),
    Row(ROLLOUT, S, {"options": {"identity_type": "managed"}}, "identity_type", "is not one of"),
    Row(ROLLOUT, S, {"traffic_steps": [50, 10, 100]}, "traffic_steps", "rise strictly"),
    Row(ROLLOUT, S, {"traffic_steps": [50, 50, 100]}, "traffic_steps", "rise strictly"),
    Row(ROLLOUT, S, {"traffic_steps": []}, "traffic_steps", "end at 100"),
    Row(ROLLOUT, S, {"traffic_steps": [0, 100]}, "traffic_steps item", "between 1 and 100"),
    Row(ROLLOUT, S, {"traffic_steps": [10, 150]}, "traffic_steps item", "between 1 and 100"),
    Row(ROLLOUT, S, {"traffic_steps": [12.5, 100]}, "traffic_steps item", WHOLE),
    Row(ROLLOUT, S, {"traffic_steps": "10,50,100"}, "traffic_steps item", WHOLE),
    Row(ROLLOUT, S, {"mirror_percent": 51}, "mirror_percent", "between 0 and 50"),
    Row(ROLLOUT, S, {"mirror_percent": -1}, "mirror_percent", "between 0 and 50"),
    Row(ROLLOUT, S, {"mirror_percent": 10, "options": {"compute": "aks-cluster"}},
        "mirror_percent", "Kubernetes online endpoints"),
    Row(ROLLOUT, S, {"expected_status": 99}, "expected_status", "between 100 and 599"),
    Row(ROLLOUT, S, {"expected_status": 600}, "expected_status", "between 100 and 599"),
    Row(ROLLOUT, S, {"expected_status": "200"}, "expected_status", WHOLE),
    Row(ROLLOUT, S, {"max_latency_ms": -1}, "max_latency_ms", "at least 0"),
    Row(ROLLOUT, S, {"json_schema": "{type: array}"}, "json_schema", "not valid JSON"),
    Row(ROLLOUT, S, {"json_schema": '{"type": "lizard"}'}, "json_schema",
        "not a valid JSON schema"),
    Row(ROLLOUT, S, {"payload": "data=1,2,3"}, "payload", "not valid JSON"),
    Row(ROLLOUT, S, {"payload": ""}, "payload", "not valid JSON"),
    Row(ROLLOUT, S, {"payload": '{"rows": [[1, 2]]}'}, "payload", "how many rows"),
    Row(ROLLOUT, S, {"pipeline_run_id": "r" * 129}, "pipeline_run_id", "at most 128"),
    Row(ROLLOUT, S, {"endpoint_name": "@endpoint", "deployment_name": "BLUE"},
        "deployment_name", "already exists"),
    Row(ROLLOUT, S, {"endpoint_name": "my_endpoint"}, "endpoint_name", NAME_RULE),
    Row(ROLLOUT, S, {"deployment_name": "green_v2"}, "deployment_name", NAME_RULE),
    Row(ROLLOUT, S, {"model_id": "azureml:diabetes"}, "model_id", "azureml:NAME:VERSION"),
    Row(ROLLOUT, S, {"timeout_seconds": 0}, "timeout_seconds", "at least 1"),
    Row(ROLLOUT, S, {"options": {"instance_count": 0}}, "instance_count", "at least 1"),
    Row(ROLLOUT, S, {"options": {"instance_type": "Standard DS3 v2"}}, "instance_type",
        "not an Azure VM size"),
    Row(ROLLOUT, S, {"options": {"resource_requests": {"cpu": "1"}}}, "resource_requests",
        "Kubernetes deployments only"),
    Row(ROLLOUT, S, {"options": {"compute": "aks-cluster", "resource_requests": {"cpu": "500m"},
                                 "resource_limits": {"cpu": "0.25"}}}, "resource_requests",
        "cpu '500m' is more than the cpu limit '0.25'"),
    Row(ROLLOUT, S, {"options": {"conda_file": "", "environment": "@unregistered_env"}},
        "environment", "is not registered"),
    Row(ROLLOUT, S, {"options": {"compute": "no-such-cluster"}}, "compute",
        "not attached to the workspace"),
    Row(ROLLOUT, S, {"model_id": "@unregistered_model"}, "model_id", "is not registered"),
    Row(ROLLOUT, S, {"options": {"code_path": "", "code_in_model": "no-such-folder",
                                 "conda_file": ""}}, "code_in_model", "is not a folder inside"),
    Row(ROLLOUT, S, {"options": {"code_path": "", "conda_file": ""}}, "code",
        "needs a code folder"),
    Row(ROLLOUT, S, {"options": {"conda_file": ""}}, "environment", "give conda_file"),
    Row(ROLLOUT, S, {"subscription_id": "Pay-As-You-Go"}, "subscription_id", GUID_RULE),
    Row(ROLLOUT, azml_payload_input, {"payload_file": "@payload_artifact"},
        "payload / payload_file", "exactly one"),
    Row(ROLLOUT, azml_payload_input, {"payload": ""}, "payload / payload_file", "exactly one"),
    # --- set_traffic ------------------------------------------------------------------------
    Row(TRAFFIC, azml_update_traffic, {"traffic": ""}, "traffic", "empty"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": {}}, "traffic", "empty"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": "{}"}, "traffic", "empty"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": "  "}, "traffic", "empty"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": "blue=100"}, "traffic", "not a JSON object"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": "{'blue': 100}"}, "traffic",
        "not a JSON object"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": "[100]"}, "traffic", "must map deployment"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": ["blue", 100]}, "traffic",
        "must map deployment"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": '{"blue": 90}'}, "traffic",
        "must sum to 100"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": {"blue": 50}}, "traffic", "must sum to 100"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": {"blue": 60, "green": 40}}, "traffic",
        "'green' does not exist"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": {"blue": 50, "BLUE": 50}}, "traffic",
        "given twice"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": '{"blue": 100, "Blue": 0}'}, "traffic",
        "given twice"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": {"blue": 101}}, "traffic[blue]",
        "between 0 and 100"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": {"blue": -1}}, "traffic[blue]",
        "between 0 and 100"),
    Row(TRAFFIC, azml_update_traffic, {"traffic": {"blue": "100"}}, "traffic[blue]", WHOLE),
    Row(TRAFFIC, azml_update_traffic, {"traffic": {"blue": 99.5}}, "traffic[blue]", WHOLE),
    Row(TRAFFIC, azml_update_traffic, {"traffic": {"blue": True}}, "traffic[blue]", WHOLE),
    Row(TRAFFIC, azml_update_traffic, {"traffic": {"blue_v1": 100}}, "traffic deployment",
        NAME_RULE),
    Row(TRAFFIC, azml_update_traffic, {"traffic": {"blue": 100}, "mirror_traffic": {"blue": 10}},
        "mirror_traffic[blue]", "cannot also receive mirrored"),
    Row(TRAFFIC, azml_update_traffic, {"mirror_traffic": {"ghost": 10}}, "mirror_traffic",
        "'ghost' does not exist"),
    Row(TRAFFIC, azml_update_traffic, {"mirror_traffic": '{"blue": 60}'},
        "mirror_traffic[blue]", "at most 50"),
    Row(TRAFFIC, azml_update_traffic, {"mirror_traffic": "blue:10"}, "mirror_traffic",
        "not a JSON object"),
    Row(TRAFFIC, azml_update_traffic, {"mirror_traffic": {"blue": 10, "BLUE": 10}},
        "mirror_traffic", "given twice"),
    # "Mirroring isn't currently supported for Kubernetes online endpoints" (Microsoft).
    Row(TRAFFIC, azml_update_traffic, {"endpoint_name": "@k8s_endpoint",
                                       "mirror_traffic": {"blue": 10}}, "mirror_traffic",
        "Kubernetes online endpoint"),
    *_online_name_rows(TRAFFIC, azml_update_traffic, "endpoint_name")[:3],
    *_timeout_rows(TRAFFIC, azml_update_traffic),
    *_workspace_rows(TRAFFIC, azml_update_traffic),
    *_missing_scope_rows(TRAFFIC, azml_update_traffic),
    # --- invoke_endpoint --------------------------------------------------------------------
    *_online_name_rows(INVOKE, azml_invoke_endpoint, "endpoint_name")[:3],
    Row(INVOKE, azml_invoke_endpoint, {"deployment_name": "blue_v1"}, "deployment_name",
        NAME_RULE),
    Row(INVOKE, azml_invoke_endpoint, {"payload": "{data: [[1, 2]]}"}, "payload",
        "not valid JSON"),
    Row(INVOKE, azml_invoke_endpoint, {"payload": '{"features": [[1, 2]]}'}, "payload",
        "how many rows"),
    Row(INVOKE, azml_invoke_endpoint, {"payload": "42"}, "payload", "how many rows"),
    Row(INVOKE, azml_invoke_endpoint, {"expected_status": 0}, "expected_status",
        "between 100 and 599"),
    Row(INVOKE, azml_invoke_endpoint, {"expected_status": 700}, "expected_status",
        "between 100 and 599"),
    Row(INVOKE, azml_invoke_endpoint, {"max_latency_ms": -5}, "max_latency_ms", "at least 0"),
    Row(INVOKE, azml_invoke_endpoint, {"max_latency_ms": 0.5}, "max_latency_ms", WHOLE),
    Row(INVOKE, azml_invoke_endpoint, {"json_schema": "["}, "json_schema", "not valid JSON"),
    Row(INVOKE, azml_invoke_endpoint, {"json_schema": '{"type": 5}'}, "json_schema",
        "not a valid JSON schema"),
    *_workspace_rows(INVOKE, azml_invoke_endpoint),
    *_missing_scope_rows(INVOKE, azml_invoke_endpoint),
    Row(INVOKE, azml_endpoint_name_input, {"endpoint": "@endpoint_artifact"},
        "endpoint / endpoint_name", "exactly one"),
    Row(INVOKE, azml_endpoint_name_input, {"endpoint_name": ""}, "endpoint / endpoint_name",
        "exactly one"),
    Row(INVOKE, azml_endpoint_name_input, {"endpoint": "@bare_artifact", "endpoint_name": ""},
        "endpoint", "no endpoint_name"),
    # --- delete_deployment ------------------------------------------------------------------
    *_online_name_rows(DEL_DEP, azml_delete_deployment, "endpoint_name")[:2],
    *_online_name_rows(DEL_DEP, azml_delete_deployment, "deployment_name")[:3],
    *_timeout_rows(DEL_DEP, azml_delete_deployment),
    Row(DEL_DEP, azml_delete_deployment, {"deployment_name": "blue"}, "deployment_name",
        "still takes 100% of live traffic"),
    Row(DEL_DEP, azml_delete_deployment, {"deployment_name": "ghost", "missing_ok": False},
        "deployment_name", "does not exist"),
    *_workspace_rows(DEL_DEP, azml_delete_deployment)[:1],
    *_missing_scope_rows(DEL_DEP, azml_delete_deployment),
    # --- delete_endpoint --------------------------------------------------------------------
    *_online_name_rows(DEL_EP, azml_delete_endpoint, "endpoint_name"),
    *_timeout_rows(DEL_EP, azml_delete_endpoint),
    Row(DEL_EP, azml_delete_endpoint, {"missing_ok": False}, "endpoint_name", "does not exist"),
    *_workspace_rows(DEL_EP, azml_delete_endpoint)[:1],
    *_missing_scope_rows(DEL_EP, azml_delete_endpoint),
    # --- recover_rollout --------------------------------------------------------------------
    *_online_name_rows(RECOVER, azml_recover_endpoint_rollout, "endpoint_name")[:2],
    *_timeout_rows(RECOVER, azml_recover_endpoint_rollout)[:2],
    Row(RECOVER, azml_recover_endpoint_rollout, {"pipeline_run_id": "run-" + "0" * 130},
        "pipeline_run_id", "at most 128"),
    *_workspace_rows(RECOVER, azml_recover_endpoint_rollout),
    *_missing_scope_rows(RECOVER, azml_recover_endpoint_rollout),
    # --- deploy_batch_model -----------------------------------------------------------------
    *_online_name_rows(BATCH, azml_deploy_batch_model, "endpoint_name")[:2],
    Row(BATCH, azml_deploy_batch_model, {"deployment_name": "batch_v1"}, "deployment_name",
        NAME_RULE),
    Row(BATCH, azml_deploy_batch_model, {"model_id": "diabetes:1"}, "model_id",
        "azureml:NAME:VERSION"),
    *_timeout_rows(BATCH, azml_deploy_batch_model)[:1],
    Row(BATCH, azml_deploy_batch_model, {"set_default": "yes"}, "set_default",
        "true or false"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"compute": ""}}, "compute",
        "compute cluster"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"compute": "cpu cluster"}}, "compute",
        "compute cluster"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"mini_batch_size": 0}}, "mini_batch_size",
        "at least 1"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"instance_count": 0}}, "instance_count",
        "at least 1"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"max_concurrency_per_instance": 0}},
        "max_concurrency_per_instance", "at least 1"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"max_retries": -1}}, "max_retries",
        "at least 0"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"retry_timeout_seconds": 0}},
        "retry_timeout_seconds", "at least 1"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"error_threshold": -2}},
        "error_threshold", "at least -1"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"output_action": "AppendRow"}},
        "output_action", "append_row, summary_only"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"logging_level": "verbose"}},
        "logging_level", "debug, info, warning"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"output_file_name": "out/preds.csv"}},
        "output_file_name", "no folders"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"output_file_name": ".csv"}},
        "output_file_name", "must be a file name"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"environment_variables": "A=1"}},
        "environment_variables", "mapping"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"conda_file": ""}},
        "code / conda_file / environment", "needs an environment"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"code_path": "", "conda_file": "",
                                                      "environment": "azureml:sklearn-env:1"}},
        "code / conda_file / environment", "needs a scoring script"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"scoring_script": "batch_driver.py"}},
        "scoring_script", "is not in the code folder"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"code_path": "@empty_script_code"}},
        "scoring_script", "is empty"),
    # The workspace's side, read before the first write (Azure would refuse each only at the
    # deployment's PUT, after the endpoint was created and the code uploaded).
    Row(BATCH, azml_deploy_batch_model, {"options": {"compute": "gpu-cluster"}}, "compute",
        "is not a compute of this workspace"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"compute": KUBERNETES_COMPUTE}}, "compute",
        "AmlCompute"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"instance_count": MAX_NODES + 1}},
        "instance_count", f"at most {MAX_NODES}"),
    Row(BATCH, azml_deploy_batch_model, {"model_id": "@unregistered_model"}, "model_id",
        "is not registered"),
    Row(BATCH, azml_deploy_batch_model, {"model_id": "@unregistered_model_arm_id"}, "model_id",
        "is not registered"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"conda_file": "",
                                                      "environment": "@unregistered_env"}},
        "environment", "is not registered"),
    # Issue 21 (summary_only, description, tags with lineage, a named conda environment).
    Row(BATCH, azml_deploy_batch_model, {"options": {"output_action": "summary_only",
                                                      "output_file_name": "predictions.csv"}},
        "output_file_name", "only for output_action append_row"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"description": 5}}, "description",
        "must be text"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"tags": "team=heart"}}, "tags", "mapping"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"tags": {f"t{i}": "v" for i in range(51)}}},
        "tags", "at most 50"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"tags": {f"t{i}": "v" for i in range(49)}},
                                         "lineage": {"kfp_run_id": "r", "kfp_pipeline": "p"}},
        "tags", "at most 50"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"tags": {"team/ml": "heart"}}}, "tags",
        "none of"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"tags": {"team": "x" * 257}}}, "tags",
        "longer than 256"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"environment_name": "batch env"}},
        "environment_name", "not a valid name"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"environment_version": "1"}},
        "environment_version", "needs environment_name"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"environment_name": "batch-env",
                                                      "environment_version": "v 1"}},
        "environment_version", "not a valid version"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"conda_file": "", "environment_name": "e",
                                                      "environment": "azureml:sklearn-env:1"}},
        "environment_name", "give conda_file"),
    Row(BATCH, azml_deploy_batch_model, {"options": {"environment_name": "@registered_env",
                                                      "environment_version": "1"}},
        "environment_version", "versions are immutable"),
    *_workspace_rows(BATCH, azml_deploy_batch_model)[:1],
    *_missing_scope_rows(BATCH, azml_deploy_batch_model),
    # --- score_batch ------------------------------------------------------------------------
    *_online_name_rows(SCORE, azml_score_batch, "endpoint_name")[:2],
    Row(SCORE, azml_score_batch, {"deployment_name": "batch_v1"}, "deployment_name",
        NAME_RULE),
    *_timeout_rows(SCORE, azml_score_batch)[:1],
    Row(SCORE, azml_score_batch, {"input_uri": ""}, "dataset / input_uri", "exactly one"),
    Row(SCORE, azml_score_batch, {"input_path": "@model_file"}, "dataset / input_uri",
        "exactly one"),
    Row(SCORE, azml_score_batch, {"input_uri": "", "input_path": "@missing"}, "dataset",
        "does not exist"),
    # Nothing to score: Azure would start the job and fail it later.
    Row(SCORE, azml_score_batch, {"input_uri": "", "input_path": "@empty_dir"}, "dataset",
        "has no files"),
    Row(SCORE, azml_score_batch, {"input_uri": MISSING_DATA_URI}, "input_uri",
        "does not exist"),
    Row(SCORE, azml_score_batch, {"input_uri": MISSING_DATA_URI + "/"}, "input_uri",
        "does not exist"),
    Row(SCORE, azml_score_batch, {"input_uri": "@missing_long_uri"}, "input_uri",
        "does not exist"),
    # The whole job used to run, then the download ended in a raw FileExistsError.
    Row(SCORE, azml_score_batch, {"output_dir": "@model_file"}, "predictions",
        "is an existing file"),
    Row(SCORE, azml_score_batch, {"input_uri": "s3://bucket/data.csv"}, "input_uri",
        "azureml:// datastore path"),
    Row(SCORE, azml_score_batch, {"input_uri": "runs:/0a1b2c/data"}, "input_uri",
        "azureml:// datastore path"),
    Row(SCORE, azml_score_batch, {"input_uri": "http://example.com/data.csv"}, "input_uri",
        "https URL"),
    *_workspace_rows(SCORE, azml_score_batch)[:1],
    *_missing_scope_rows(SCORE, azml_score_batch),
    # KFP's run id and task name: an unfilled placeholder is no value, an overlong one an error.
    Row(SCORE, azml_score_batch, {"pipeline_run_id": "run-" + "0" * 130}, "pipeline_run_id",
        "at most 128"),
    Row(SCORE, azml_score_batch, {"pipeline_task_name": "t" * 257}, "pipeline_task_name",
        "at most 256"),
    # A job's own settings (issue 21, item 11): the deployment's rules, and what they name in
    # the workspace read first; a data asset input must exist and be files.
    Row(SCORE, azml_score_batch, {"overrides": {"mini_batch_size": 0}}, "mini_batch_size",
        "at least 1"),
    Row(SCORE, azml_score_batch, {"overrides": {"mini_batch_size": "10"}}, "mini_batch_size",
        WHOLE),
    Row(SCORE, azml_score_batch, {"overrides": {"instance_count": 0}}, "instance_count",
        "at least 1"),
    Row(SCORE, azml_score_batch, {"overrides": {"instance_count": MAX_NODES + 1}},
        "instance_count", f"at most {MAX_NODES}"),
    Row(SCORE, azml_score_batch, {"overrides": {"error_threshold": -2}}, "error_threshold",
        "at least -1"),
    Row(SCORE, azml_score_batch, {"overrides": {"max_retries": -1}}, "max_retries",
        "at least 0"),
    Row(SCORE, azml_score_batch, {"overrides": {"retry_timeout_seconds": 0}},
        "retry_timeout_seconds", "at least 1"),
    Row(SCORE, azml_score_batch, {"overrides": {"output_file_name": "out/p.csv"}},
        "output_file_name", "must be a file name"),
    Row(SCORE, azml_score_batch, {"overrides": {"output_path": "s3://bucket/out"}},
        "output_path", "must be a datastore folder"),
    Row(SCORE, azml_score_batch,
        {"overrides": {"output_path": "azureml://datastores/no-such-store/paths/out"}},
        "output_path", "is not a datastore of this workspace"),
    Row(SCORE, azml_score_batch, {"input_uri": "azureml:no-such-data-asset:1"}, "input_uri",
        "has no version '1'"),
    Row(SCORE, azml_score_batch, {"input_uri": "azureml:rows"}, "input_uri",
        "azureml:NAME:VERSION"),
    # --- recover_batch_jobs -----------------------------------------------------------------
    *_online_name_rows(RECOVER_BATCH, azml_recover_batch_jobs, "endpoint_name")[:2],
    *_timeout_rows(RECOVER_BATCH, azml_recover_batch_jobs)[:2],
    Row(RECOVER_BATCH, azml_recover_batch_jobs, {"pipeline_run_id": "run-" + "0" * 130},
        "pipeline_run_id", "at most 128"),
    *_workspace_rows(RECOVER_BATCH, azml_recover_batch_jobs),
    # --- registries (issue 23): promote_model, register_model's registry_name, registry ids ---
    # Registry names: registries.json RegistryNameParameter ^[a-zA-Z0-9][a-zA-Z0-9\-_]{2,32}$.
    Row(PROMOTE, azml_promote_model, {"registry_name": "r!"}, "registry_name",
        "is not a registry name"),
    Row(PROMOTE, azml_promote_model, {"registry_name": "ab"}, "registry_name", "3-33"),
    Row(PROMOTE, azml_promote_model, {"registry_name": "r" * 34}, "registry_name", "3-33"),
    Row(PROMOTE, azml_promote_model, {"registry_name": "-registry"}, "registry_name",
        "starting with a letter or digit"),
    # A registry discovery cannot find (or these credentials cannot reach): before any write.
    Row(PROMOTE, azml_promote_model, {"registry_name": "no-such-registry"}, "registry_name",
        "is not reachable"),
    # The model missing in the source workspace.
    Row(PROMOTE, azml_promote_model, {"model_id": "@unregistered_model"}, "model_id",
        "is not registered"),
    Row(PROMOTE, azml_promote_model, {"model_id": "@unregistered_model_arm_id"}, "model_id",
        "is not registered"),
    Row(PROMOTE, azml_promote_model, {"model_id": "@missing_registry_model"}, "model_id",
        "is a registry model already"),
    Row(PROMOTE, azml_promote_model, {"model_id": "churn"}, "model_id", "azureml:NAME:VERSION"),
    Row(PROMOTE, azml_promote_model, {"registry_model_name": "my.model"}, "registry_model_name",
        "letters, digits"),
    Row(PROMOTE, azml_promote_model, {"registry_model_version": "1/2"},
        "registry_model_version", "not a valid version"),
    # A version conflict: the registry holds other content under that version (immutable).
    Row(PROMOTE, azml_promote_model, {"registry_model_name": "@registry_taken",
                                      "registry_model_version": "1"}, "registry_model_version",
        "registry versions are immutable"),
    *_timeout_rows(PROMOTE, azml_promote_model)[:2],
    *_workspace_rows(PROMOTE, azml_promote_model),
    *_missing_scope_rows(PROMOTE, azml_promote_model)[:1],
    Row(REGISTER, azml_register_in_registry, {"registry_name": "my registry"}, "registry_name",
        "is not a registry name"),
    Row(REGISTER, azml_register_in_registry, {"registry_name": "no-such-registry"},
        "registry_name", "is not reachable"),
    Row(REGISTER, azml_register_in_registry, {"model_path": "", "model_uri": MISSING_URI},
        "model / model_uri", "takes the model artifact"),
    Row(REGISTER, azml_register_in_registry, {"model_name": "@registry_taken",
                                              "model_version": "1",
                                              "model_path": "@other_model_dir"},
        "model_version", "already exists with other content"),
    Row(DEPLOY, D, {"model_id": "@missing_registry_model"}, "model_id", "is not in registry"),
    Row(DEPLOY, D, {"model_id": "azureml://registries/no-such-registry/models/m/versions/1"},
        "model_id", "registry 'no-such-registry' is not reachable"),
    Row(DEPLOY, D, {"options": {"conda_file": "", "environment": "@missing_registry_env"}},
        "environment", "is not in registry"),
    Row(BATCH, azml_deploy_batch_model, {"model_id": "@missing_registry_model"}, "model_id",
        "is not in registry"),
    # --- run_command_job (issue 24): Azure's command job rules (REST API spec 2024-04-01,
    # CommandJob; runtime/command_job_options.py cites each) -------------------------------
    Row(JOB, azml_run_command_job, {"command": ""}, "command", "must not be empty"),
    Row(JOB, azml_run_command_job, {"command": "  "}, "command", "must not be empty"),
    Row(JOB, azml_run_command_job, {"command": "python t.py ${{inputs.rows}}"}, "command",
        "names no input 'rows'"),
    Row(JOB, azml_run_command_job, {"command": "python t.py ${{outputs.weights}}"}, "command",
        "names no output 'weights'"),
    Row(JOB, azml_run_command_job, {"code_path": "@model_file"}, "code", "must be a folder"),
    Row(JOB, azml_run_command_job, {"code_path": "@missing"}, "code", "must be a folder"),
    Row(JOB, azml_run_command_job, {"environment": ""}, "environment",
        "a command job needs an environment"),
    Row(JOB, azml_run_command_job, {"environment": "sklearn-1.5"}, "environment",
        "azureml:NAME:VERSION"),
    Row(JOB, azml_run_command_job, {"conda_file": "name: x\ndependencies: []\n"},
        "environment", "not both"),
    Row(JOB, azml_run_command_job, {"environment": "", "conda_file": "name: training\n"},
        "conda_file", "'dependencies' list"),
    Row(JOB, azml_run_command_job, {"environment": "", "conda_file": "train.yml"},
        "conda_file", "not a file in the code folder"),
    Row(JOB, azml_run_command_job, {"compute": "my cluster"}, "compute", "3-24 characters"),
    Row(JOB, azml_run_command_job, {"compute": "1-cluster"}, "compute", "start with a letter"),
    Row(JOB, azml_run_command_job, {"compute": "c" * 25}, "compute", "3-24 characters"),
    Row(JOB, azml_run_command_job, {"instance_type": "Standard DS3 v2"}, "instance_type",
        "not an instance type name"),
    Row(JOB, azml_run_command_job, {"instance_count": 0}, "instance_count", "at least 1"),
    Row(JOB, azml_run_command_job, {"instance_count": "2"}, "instance_count", WHOLE),
    Row(JOB, azml_run_command_job, {"distribution": {"type": "tensorflow"}},
        "distribution.type", "is not one of pytorch, mpi"),
    Row(JOB, azml_run_command_job,
        {"distribution": {"type": "pytorch", "process_count_per_instance": 0}},
        "distribution.process_count_per_instance", "at least 1"),
    Row(JOB, azml_run_command_job, {"distribution": {"type": "mpi", "nodes": 2}},
        "distribution", "unknown keys"),
    Row(JOB, azml_run_command_job, {"environment_variables": {"": "x"}},
        "environment_variables", "non-empty strings"),
    Row(JOB, azml_run_command_job, {"experiment_name": "my experiment"}, "experiment_name",
        "letters, digits"),
    Row(JOB, azml_run_command_job, {"tags": {"team/owner": "x"}}, "tags", "tag name"),
    Row(JOB, azml_run_command_job, {"tags": {"note": "x" * 257}}, "tags", "longer than 256"),
    Row(JOB, azml_run_command_job, {"inputs": {"data": "rows", "my-input": 1}}, "inputs",
        "not a valid input or output name"),
    Row(JOB, azml_run_command_job, {"inputs": {"data": ["a", "b"]}}, "inputs",
        "must be a literal"),
    Row(JOB, azml_run_command_job,
        {"inputs": {"data": {"type": "mltable", "path": MISSING_DATA_URI}}}, "inputs.data.type",
        "is not one of"),
    Row(JOB, azml_run_command_job,
        {"inputs": {"data": {"type": "uri_file", "path": "s3://bucket/rows.csv"}}},
        "inputs.data.path", "azureml:// datastore URI"),
    Row(JOB, azml_run_command_job,
        {"inputs": {"data": {"type": "uri_file", "path": MISSING_DATA_URI, "mode": "mount"}}},
        "inputs", "must be a literal or"),
    Row(JOB, azml_run_command_job, {"outputs": {"model": "mlflow"}}, "outputs.model",
        "is not one of"),
    Row(JOB, azml_run_command_job, {"outputs": {"model": {"type": "mlflow"}}}, "outputs.model",
        "is not one of"),
    Row(JOB, azml_run_command_job,
        {"outputs": {"model": {"type": "mlflow_model", "mode": "upload"}}}, "outputs",
        "must be an output type or"),
    Row(JOB, azml_run_command_job, {"outputs": {"model": "uri_folder", "1st": "uri_file"}},
        "outputs", "not a valid input or output name"),
    Row(JOB, azml_run_command_job, {"model_output": "weights"}, "model_output",
        "is not one of the job's outputs"),
    Row(JOB, azml_run_command_job, {"model_output": "", "download_to": "@out"},
        "download_outputs", "name the output"),
    *_timeout_rows(JOB, azml_run_command_job),
    Row(JOB, azml_run_command_job, {"pipeline_run_id": "run-" + "0" * 130}, "pipeline_run_id",
        "at most 128"),
    *_workspace_rows(JOB, azml_run_command_job)[:1],
    Row(JOB, azml_artifact_job_input, {"path": "@missing"}, "data / input_model",
        "has no files and names nothing in Azure"),
    # register_model with run_command_job's model output: registered where the job wrote it.
    Row(REGISTER, azml_job_output_model, {"model_uri": MISSING_URI}, "model_uri", "not both"),
    Row(REGISTER, azml_job_output_model,
        {"metadata": {"azureml_path": JOB_OUTPUT, "type": "uri_folder"}}, "model",
        "not a model"),
    Row(REGISTER, azml_job_output_model, {"model_type": "triton_model"}, "model_type",
        "differs from the job output's type"),
    # --- recover_command_jobs ---------------------------------------------------------------
    *_timeout_rows(RECOVER_JOBS, azml_recover_command_jobs)[:2],
    Row(RECOVER_JOBS, azml_recover_command_jobs, {"pipeline_run_id": "run-" + "0" * 130},
        "pipeline_run_id", "at most 128"),
    *_workspace_rows(RECOVER_JOBS, azml_recover_command_jobs),
    # <monitoring: check_drift and create_monitor (issue 22)> ------------------------------
    Row(DRIFT, azml_check_drift, {"settings": AzmlDriftSettings(numerical_metric="l_infinity")},
        "numerical_metric", "is not a numerical drift metric"),
    Row(DRIFT, azml_check_drift, {"settings": AzmlDriftSettings(
        categorical_metric="normalized_wasserstein_distance")}, "categorical_metric",
        "is not a categorical drift metric"),
    Row(DRIFT, azml_check_drift, {"settings": AzmlDriftSettings(numerical_threshold=-0.1)},
        "numerical_threshold", "a number >= 0"),
    Row(DRIFT, azml_check_drift, {"settings": AzmlDriftSettings(categorical_threshold=1.5)},
        "categorical_threshold", "between 0 and 1"),
    Row(DRIFT, azml_check_drift, {"settings": AzmlDriftSettings(
        null_value_rate_threshold=2.0)}, "null_value_rate_threshold", "between 0 and 1"),
    Row(DRIFT, azml_check_drift, {"settings": AzmlDriftSettings(min_production_rows=0)},
        "min_production_rows", ">= 1"),
    Row(DRIFT, azml_check_drift, {"baseline_data": "azureml:cat-baseline:1"}, "baseline",
        "exactly one"),
    Row(DRIFT, azml_check_drift, {"baseline_path": "", "baseline_data": "train.csv"},
        "baseline_data", "must be a data asset"),
    Row(DRIFT, azml_check_drift, {"production_path": ""}, "production_data",
        "exactly one production source"),
    Row(DRIFT, azml_check_drift, {"production_path": "", "endpoint_name": "@endpoint",
                                  "deployment_name": "blue", "collection": "request"},
        "collection", "payload logging"),
    Row(DRIFT, azml_check_drift, {"production_path": "", "endpoint_name": "@endpoint",
                                  "deployment_name": "Blue_1"}, "deployment_name", NAME_RULE),
    Row(DRIFT, azml_check_drift, {"production_path": "", "endpoint_name": "@endpoint",
                                  "deployment_name": "blue", "lookback_window": "1 day"},
        "lookback_window", "ISO 8601 duration"),
    Row(DRIFT, azml_check_drift, {"production_path": "", "endpoint_name": "@endpoint",
                                  "deployment_name": "blue", "window_end": "yesterday"},
        "window_end", "ISO 8601 time"),
    Row(DRIFT, azml_check_drift, {"production_path": "@drift_other"}, "baseline",
        "no column in common"),
    Row(DRIFT, azml_check_drift, {"features": ["weight"]}, "features",
        "is not a column of the baseline or the production data"),
    Row(DRIFT, azml_check_drift, {"prediction_column": "score"}, "prediction_column",
        "is not a column of the baseline"),
    # An empty window where data is required: the shared deployment collects nothing.
    Row(DRIFT, azml_check_drift, {"production_path": "", "endpoint_name": "@endpoint",
                                  "deployment_name": "blue", "require_production_data": True},
        "endpoint_name", "too little production data: 0 rows"),
    Row(MONITOR, azml_create_monitor, {"monitor_name": "my monitor"}, "monitor_name",
        "1-255 characters"),
    Row(MONITOR, azml_create_monitor, {"baseline_data": "train.csv"}, "baseline_data",
        "azureml:NAME:VERSION"),
    Row(MONITOR, azml_create_monitor, {"production_data": "azureml:inputs"}, "production_data",
        "azureml:NAME:VERSION"),
    Row(MONITOR, azml_create_monitor, {"emails": ["ml-team"]}, "emails", "e-mail addresses"),
    Row(MONITOR, azml_create_monitor, {"emails": [f"person{i}@example.com" for i in range(30)]},
        "emails", "499 characters"),
    Row(MONITOR, azml_create_monitor, {"ml_task": "forecasting"}, "ml_task",
        "is not one of classification, regression"),
    Row(MONITOR, azml_create_monitor, {"frequency": "fortnight"}, "frequency", "is not one of"),
    Row(MONITOR, azml_create_monitor, {"interval": 0}, "interval", "at least 1"),
    Row(MONITOR, azml_create_monitor, {"hour": 24}, "hour", "between 0 and 23"),
    Row(MONITOR, azml_create_monitor, {"minute": 60}, "minute", "between 0 and 59"),
    Row(MONITOR, azml_create_monitor, {"lookback_window": "P0D"}, "lookback_window",
        "longer than zero"),
    Row(MONITOR, azml_create_monitor, {"settings": AzmlDriftSettings(
        numerical_metric="chebyshev")}, "numerical_metric", "is not a numerical drift metric"),
    Row(MONITOR, azml_create_monitor, {"endpoint_name": "my endpoint"}, "endpoint_name",
        NAME_RULE),
    Row(MONITOR, azml_create_monitor, {"deployment_name": "ghost"}, "deployment_name",
        "is not a deployment of endpoint"),
    Row(MONITOR, azml_create_monitor, {"production_data": ""}, "production_data",
        "does not collect model_inputs"),
    *_workspace_rows(MONITOR, azml_create_monitor),
    # </monitoring>
]


def _row_id(row: Row) -> str:
    shown = ",".join(f"{k}={str(v)[:24]}" for k, v in row.args.items())
    return f"{row.component}:{row.function.__name__}:{shown}"


# --- resources, made once ------------------------------------------------------------------
@pytest.fixture(scope="module")
def resources(standin, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("catalogue")
    model_dir, code_dir, _ = write_custom_model(root / "model")
    other_model_dir, _, _ = write_custom_model(root / "other", alpha=7.0)
    registered = azml_register_model(**workspace(), model_name=unique("catalogue"),
                                     model_path=str(model_dir))
    options = {"code_path": str(code_dir), "conda_file": "conda.yaml"}
    # The shared endpoint: one deployment "blue" with all live traffic (rules read it).
    endpoint = unique("catalogue")
    azml_deploy_model(**workspace(), endpoint_name=endpoint, deployment_name="blue",
                      model_id=registered["asset_id"], options=options, timeout_seconds=300)
    # A Kubernetes endpoint (no deployment: one PUT of the endpoint, nothing to provision).
    k8s_endpoint = unique("catalogue-k8s")
    ml_client().online_endpoints.begin_create_or_update(
        azml_new_endpoint(k8s_endpoint, "key", {}, "aks-cluster")).result()
    (root / "empty_dir").mkdir()
    (root / "empty_file").write_bytes(b"")
    empty_script = root / "empty_script"
    empty_script.mkdir()
    (empty_script / "score.py").write_bytes(b"")
    (empty_script / "conda.yaml").write_text((code_dir / "conda.yaml").read_text())
    payload_file = root / "payload.json"
    payload_file.write_text(data_payload(diabetes_rows(2)))
    ws = workspace()
    long_uri = (f"azureml://subscriptions/{ws['subscription_id']}/resourcegroups/"
                f"{ws['resource_group']}/workspaces/{ws['workspace_name']}/datastores/"
                "workspaceblobstore/paths/catalogue/no-such-model")
    store = ml_client().datastores.get("workspaceblobstore", include_secrets=True)
    # A batch endpoint with a default deployment, and data in the datastore it could score: a
    # score_batch row fails on its one bad input, not on a missing endpoint or input.
    batch_endpoint = unique("catbatch")
    azml_deploy_batch_model(**workspace(), endpoint_name=batch_endpoint, deployment_name="blue",
                            model_id=registered["asset_id"],
                            options={"compute": COMPUTE_NAME, **options}, timeout_seconds=300)
    score_blob = f"catalogue/{batch_endpoint}/rows.csv"
    rows = "\n".join(",".join(str(v) for v in row) for row in diabetes_rows(2)) + "\n"
    from azure.storage.blob import ContainerClient

    account = f"{store.protocol or 'https'}://{store.account_name}.blob.{store.endpoint}"
    with ContainerClient(account, store.container_name,
                         credential=store.credentials.account_key) as container:
        container.upload_blob(score_blob, rows.encode(), overwrite=True)
    # An environment version whose content (a bare image, no conda file) differs from the
    # batch rows' conda environment.
    from azure.ai.ml.entities import Environment

    registered_env = unique("catalogue-env")
    ml_client().environments.create_or_update(Environment(
        name=registered_env, version="1", image="mcr.microsoft.com/azureml/minimal-ubuntu22.04"))
    # A registry model registered directly (not promoted from this workspace): version 1 of
    # it is other content for any promotion or registration (issue 23).
    registry_taken = unique("catalogue-reg")
    azml_register_in_registry(standin.registry, registry_taken, str(model_dir))
    # Blob writes of the fixture end in an earlier second than any case starts.
    time.sleep(1.1)
    return {
        "model_dir": str(model_dir),
        "model_file": str(model_dir / "model.joblib"),
        "model_id": registered["asset_id"],
        "registered_name": registered["name"],
        "other_model_dir": str(other_model_dir),
        "registered_file_uri": registered["path"].rstrip("/") + "/model.joblib",
        "options": options,
        "batch_options": {"compute": COMPUTE_NAME, **options},
        "endpoint": endpoint,
        "k8s_endpoint": k8s_endpoint,
        "payload": data_payload(diabetes_rows(2)),
        "missing": str(root / "no-such-path"),
        "empty_dir": str(root / "empty_dir"),
        "empty_file": str(root / "empty_file"),
        "empty_script_code": str(empty_script),
        "missing_long_uri": long_uri,
        "unregistered_env": f"azureml:{unique('no-env')}:1",
        "registered_env": registered_env,
        "unregistered_model": f"azureml:{unique('no-model')}:1",
        "unregistered_model_arm_id": registered["arm_id"].rsplit("/", 1)[0] + "/99",
        "registered_artifact": SimpleNamespace(metadata={"asset_id": registered["asset_id"]}),
        "endpoint_artifact": SimpleNamespace(metadata={"endpoint_name": endpoint}),
        "payload_artifact": SimpleNamespace(path=str(payload_file), metadata={}),
        "bare_artifact": SimpleNamespace(metadata={}),
        "out": str(root / "out"),
        "batch_endpoint": batch_endpoint,
        "score_uri": f"azureml://datastores/workspaceblobstore/paths/{score_blob}",
        "store": store,
        "registry": standin.registry,
        "registry_taken": registry_taken,
        "missing_registry_model":
            f"azureml://registries/{standin.registry}/models/{unique('no-model')}/versions/1",
        "missing_registry_env":
            f"azureml://registries/{standin.registry}/environments/{unique('no-env')}/versions/1",
        **_monitoring_resources(root),
    }


def _monitoring_resources(root) -> dict:
    # check_drift's files (issue 22): a baseline, production data with the same columns, and
    # production data with none in common.
    folder = root / "drift"
    folder.mkdir()
    (folder / "baseline.csv").write_text("age,bmi,prediction\n50,25.0,151.5\n40,22.5,130.0\n")
    (folder / "production.csv").write_text("age,bmi\n51,24.0\n")
    (folder / "other.csv").write_text("height,weight\n180,75\n")
    (folder / "work").mkdir()
    return {"drift_folder": str(folder / "work"), "drift_baseline": str(folder / "baseline.csv"),
            "drift_production": str(folder / "production.csv"),
            "drift_other": str(folder / "other.csv")}


def _resolve(value: Any, resources: dict) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        return unique("cat") if value == "@fresh" else resources[value[1:]]
    return value


def _arguments(row: Row, resources: dict) -> dict:
    args = {k: _resolve(v, resources) for k, v in BASE[row.function].items()}
    if row.function in WORKSPACE_TAKERS:
        args = {**workspace(), **args}
    for key, value in row.args.items():
        if key == "options" and isinstance(value, dict) and isinstance(args.get("options"), dict):
            args["options"] = {**args["options"],
                               **{k: _resolve(v, resources) for k, v in value.items()}}
        else:
            args[key] = _resolve(value, resources)
    return args


def _blobs_written_since(store, started: float) -> list:
    # Every blob in the workspace's storage account modified since `started` (whole seconds:
    # blob times have no finer resolution).
    from azure.storage.blob import BlobServiceClient

    account = f"{store.protocol or 'https'}://{store.account_name}.blob.{store.endpoint}"
    since = datetime.fromtimestamp(int(started), tz=timezone.utc)
    written = []
    with BlobServiceClient(account, credential=store.credentials.account_key) as service:
        for container in service.list_containers():
            for blob in service.get_container_client(container.name).list_blobs():
                if blob.last_modified >= since:
                    written.append(f"{container.name}/{blob.name}")
    return written


@pytest.mark.parametrize("row", CATALOGUE, ids=[_row_id(r) for r in CATALOGUE])
def test_bad_input_is_refused_before_any_write(row: Row, standin, resources) -> None:
    args = _arguments(row, resources)
    standin.clear_requests()
    started = time.time()
    with pytest.raises(row.error) as raised:
        row.function(**args)
    requests = standin.requests()
    message = str(raised.value)
    assert message.startswith(row.field), f"the message does not start with {row.field!r}"
    assert row.rule in message
    assert azure_writes(requests) == [], "a write went out before the input was refused"
    if any("/datastores/" in r["path"] for r in requests):
        # The call had a datastore's credentials, the way to blob storage: nothing written.
        assert _blobs_written_since(resources["store"], started) == []


def test_the_catalogue_covers_every_component_and_cannot_shrink() -> None:
    by_component: dict[str, int] = {}
    for row in CATALOGUE:
        by_component[row.component] = by_component.get(row.component, 0) + 1
    assert len(CATALOGUE) >= 120
    assert set(by_component) == set(azml_components.components()), by_component
    assert min(by_component.values()) >= 5, by_component
    # Every row is a different case (a copied row would inflate the count).
    keys = [(r.function.__name__, json.dumps(r.args, sort_keys=True, default=str))
            for r in CATALOGUE]
    assert len(keys) == len(set(keys))
    # Every row's function is one the catalogue knows how to call with good arguments.
    assert {r.function for r in CATALOGUE} <= set(BASE)
