"""What `nox -s mutate` checks: the documented promises as guarantee mutations, and mutmut's scope.

A guarantee mutation breaks one promise the docs make (docs/guarantees.md, "What happens when
...", and the pages it links to) by a source patch applied to a temporary copy of the checkout
(never the working tree); the tests named with it run against that copy and must fail. Add a
row when you add a promise: `file`, the exact text `old` (found exactly once) and its
replacement `new`, and the `tests` (pytest node ids) that must catch it.

`EQUIVALENT` lists mutmut's survivors that no test can kill because they behave exactly like the
original (each with the reason); `OUT_OF_FAST_SCOPE` the functions of the mutated modules that
call Azure, which the fast tests do not reach and guarantee rows cover instead.
"""

from __future__ import annotations

RT = "azml_components/runtime/"
DEPLOY_TESTS = "tests/runtime/test_deploy.py::"
ROLLOUT_TESTS = "tests/runtime/test_rollout.py::"
ENDPOINT_TESTS = "tests/runtime/test_endpoints.py::"
COMPONENT_ROLLOUT_TESTS = "tests/components/test_rollout.py::"
FAULT_TESTS = "tests/runtime/test_faults.py::"
SETTINGS_TESTS = "tests/runtime/test_deployment_settings.py::"
COLLECT_TESTS = "tests/local/test_data_collection.py::"

GUARANTEES: list[dict] = [
    {
        "name": "the-undo-is-bounded",
        "promise": "the undo after a failure takes at most its allowance, then names what it "
                   "left",
        "file": RT + "calls.py",
        "old": "        remaining = max(1, int(deadline - time.monotonic()))\n"
               "        notes.append(azml_best_effort(what, function, remaining))\n",
        "new": "        notes.append(azml_best_effort(what, function, 600))\n",
        "tests": [FAULT_TESTS
                  + "test_the_clean_up_after_a_timeout_is_bounded_and_names_what_it_left"],
    },
    {
        "name": "each-traffic-step-renews-the-rollout-record",
        "promise": "renews the record in each traffic change",
        "file": RT + "rollout.py",
        "old": "endpoint.tags = azml_tags_with_rollout(endpoint.tags, azml_renew_rollout(record))",
        "new": "endpoint.tags = azml_tags_with_rollout(endpoint.tags, record)",
        "tests": [ROLLOUT_TESTS + "test_each_traffic_step_renews_the_record_for_three_timeouts"],
    },
    {
        "name": "the-rollout-record-lasts-three-timeouts",
        "promise": "Another run treats this rollout as alive for three times timeout_seconds "
                   "after its last write",
        "file": RT + "rollout_state.py",
        "old": "timedelta(seconds=3 * timeout_seconds)",
        "new": "timedelta(seconds=timeout_seconds)",
        "tests": [ROLLOUT_TESTS + "test_each_traffic_step_renews_the_record_for_three_timeouts"],
    },
    {
        "name": "a-changed-environment-variable-value-is-written",
        "promise": "the no-op redeploy compares every setting: environment variable values too",
        "file": RT + "deploy.py",
        "old": "        and dict(live.environment_variables or {}) == "
               "dict(deployment.environment_variables or {})\n",
        "new": "        and set(live.environment_variables or {}) == "
               "set(deployment.environment_variables or {})\n",
        "tests": [DEPLOY_TESTS + "test_a_changed_environment_variable_value_is_written"],
    },
    {
        "name": "failed-new-deployment-takes-no-traffic",
        "promise": "A new deployment gets traffic only after it is ready",
        "file": RT + "deploy.py",
        "old": "        if not same_deployment:\n            azml_apply_deployment(",
        "new": "        azml_apply_traffic(client, endpoint_name, plan, state, timeout_seconds)\n"
               "        if not same_deployment:\n            azml_apply_deployment(",
        "tests": [DEPLOY_TESTS + "test_failed_new_deployment_is_removed_and_takes_no_traffic"],
    },
    {
        "name": "failed-new-deployment-is-deleted",
        "promise": "when it fails it is deleted",
        "file": RT + "deployment_writes.py",
        "old": '    if new_deployment:\n        undo.append(',
        "new": '    if False:\n        undo.append(',
        "tests": [DEPLOY_TESTS + "test_failed_new_deployment_is_removed_and_takes_no_traffic"],
    },
    {
        "name": "failed-update-keeps-the-deployment",
        "promise": "a failed update never deletes the existing deployment",
        "file": RT + "deployment_writes.py",
        "old": '    if new_deployment:\n        undo.append(',
        "new": '    if True:\n        undo.append(',
        "tests": [DEPLOY_TESTS
                  + "test_failed_update_keeps_the_existing_deployment_and_its_traffic"],
    },
    {
        "name": "failed-first-deployment-deletes-its-endpoint",
        "promise": "a failed new deployment (and an endpoint this call created) is deleted",
        "file": RT + "deployment_writes.py",
        "old": '    if new_endpoint is not None:\n        undo.append(',
        "new": '    if False:\n        undo.append(',
        "tests": [DEPLOY_TESTS + "test_failed_first_deployment_deletes_the_endpoint_it_created"],
    },
    {
        "name": "an-existing-endpoint-is-never-deleted",
        "promise": "only an endpoint this call created is deleted after a failure",
        "file": RT + "deployment_writes.py",
        "old": '    if new_endpoint is not None:\n        undo.append(',
        "new": '    if True:\n        undo.append(',
        "tests": [DEPLOY_TESTS + "test_failed_new_deployment_is_removed_and_takes_no_traffic"],
    },
    {
        "name": "deployment-logs-in-the-error",
        "promise": "its logs are in the error",
        "file": RT + "deployment_writes.py",
        "old": '[str(error), *(notes or []), *([log_text] if log_text else [])]',
        "new": '[str(error), *(notes or [])]',
        "tests": [DEPLOY_TESTS + "test_failed_new_deployment_is_removed_and_takes_no_traffic"],
    },
    {
        "name": "failed-traffic-write-restores-traffic",
        "promise": "the endpoint's traffic is left as it was",
        "file": RT + "deploy.py",
        "old": "error, [str(error)], [restore], ",
        "new": "error, [str(error)], [], ",
        "tests": [DEPLOY_TESTS + "test_failed_traffic_write_puts_the_previous_traffic_back"],
    },
    {
        "name": "sigterm-stops-the-wait-without-moving-traffic",
        "promise": "Cancelling the run (SIGTERM) stops the wait and exits non-zero without "
                   "moving traffic",
        "file": RT + "calls.py",
        "old": "    handle_sigterm = (\n",
        "new": "    handle_sigterm = False and (\n",
        "tests": [DEPLOY_TESTS + "test_sigterm_while_waiting_stops_and_leaves_traffic",
                  "tests/runtime/test_calls.py"],
    },
    {
        "name": "rollback-restores-the-mirror-exactly",
        "promise": "On any failure it restores the previous live and mirror traffic exactly",
        "file": RT + "rollout_state.py",
        "old": "    mirror = {names[n.lower()]: p for n, p in record[\"mirror\"].items()\n",
        "new": "    mirror = {names[n.lower()]: p for n, p in {}.items()\n",
        "tests": [ROLLOUT_TESTS
                  + "test_a_failure_while_mirroring_restores_live_and_mirror_exactly"],
    },
    {
        "name": "rollback-restores-live-traffic",
        "promise": "On any failure it restores the previous live and mirror traffic exactly",
        "file": RT + "rollout_state.py",
        "old": "        azml_set_traffic(client, endpoint, live, mirror, timeout_seconds)\n",
        "new": "        pass\n",
        "tests": [ROLLOUT_TESTS + "test_the_endpoint_is_smoke_tested_after_each_step"],
    },
    {
        "name": "rollback-deletes-the-new-deployment",
        "promise": "and deletes the new deployment",
        "file": RT + "rollout_state.py",
        "old": "    if new is not None:\n",
        "new": "    if False:\n",
        "tests": [ROLLOUT_TESTS + "test_the_endpoint_is_smoke_tested_after_each_step"],
    },
    {
        "name": "exit-task-undoes-its-own-runs-rollout",
        "promise": "a recover_rollout exit task restores that traffic and deletes the half-made "
                   "deployment",
        "file": RT + "rollout_state.py",
        "old": '    mine = bool(owner) and owner == record["owner"]\n',
        "new": "    mine = False\n",
        "tests": [COMPONENT_ROLLOUT_TESTS
                  + "test_sigkill_mid_shift_then_the_exit_task_restores_exactly"],
    },
    {
        "name": "another-runs-live-rollout-is-refused",
        "promise": "An unfinished rollout of another run that has not expired is refused, "
                   "naming that run",
        "file": RT + "rollout_state.py",
        "old": "    if not azml_rollout_may_be_undone(record, owner, force):\n",
        "new": "    if False:\n",
        "tests": [COMPONENT_ROLLOUT_TESTS
                  + "test_sigkill_mid_shift_then_the_exit_task_restores_exactly"],
    },
    {
        "name": "second-sigterm-ignored-during-rollback",
        "promise": "safe_rollout also puts the previous traffic back and deletes the new "
                   "deployment (a second SIGTERM cannot cut that short)",
        "file": RT + "rollout.py",
        "old": "            signal.signal(signal.SIGTERM, signal.SIG_IGN)\n",
        "new": "            pass\n",
        "tests": [ROLLOUT_TESTS + "test_a_second_sigterm_does_not_cut_the_rollback_short"],
    },
    {
        "name": "rollout-restores-the-callers-sigterm-handler",
        "promise": "a rollout's SIGTERM handling ends with it",
        "file": RT + "rollout.py",
        "old": "signal.signal(signal.SIGTERM, previous_handler or signal.SIG_DFL)",
        "new": "signal.signal(signal.SIGTERM, signal.SIG_DFL)",
        "tests": [ROLLOUT_TESTS + "test_the_endpoint_is_smoke_tested_after_each_step"],
    },
    {
        "name": "endpoint-smoke-test-after-each-step",
        "promise": "shifts traffic in steps with a smoke test after each",
        "file": RT + "rollout.py",
        "old": '                    ("", f"endpoint at {step}%"),\n',
        "new": "",
        "tests": [ROLLOUT_TESTS + "test_the_endpoint_is_smoke_tested_after_each_step"],
    },
    {
        "name": "a-failed-smoke-test-fails-the-rollout",
        "promise": "smoke-tests it directly ... On any failure it restores",
        "file": RT + "rollout.py",
        "old": '    if answer["problems"]:\n',
        "new": '    if False:\n',
        "tests": [ROLLOUT_TESTS + "test_the_endpoint_is_smoke_tested_after_each_step"],
    },
    {
        "name": "set-traffic-writes-what-it-reports",
        "promise": "set_traffic sets an endpoint's live and mirror traffic (and reports them)",
        "file": RT + "endpoints.py",
        "old": "    updated = azml_set_traffic(\n        client, state[\"endpoint\"], "
               "azml_fill_traffic(live, names), mirror, timeout_seconds\n    )\n",
        "new": "    updated = state[\"endpoint\"]\n",
        "tests": [ENDPOINT_TESTS + "test_set_traffic_writes_exactly_the_maps_it_reports"],
    },
    {
        "name": "set-traffic-keeps-or-replaces-the-mirror",
        "promise": "keep_mirror leaves the endpoint's mirror traffic as it is",
        "file": RT + "traffic.py",
        "old": "    if mirror is not None:\n        endpoint.mirror_traffic = dict(mirror)\n",
        "new": "    endpoint.mirror_traffic = dict(mirror or {})\n",
        "tests": [ENDPOINT_TESTS + "test_set_traffic_writes_exactly_the_maps_it_reports"],
    },
    {
        "name": "traffic-rules-checked-before-the-write",
        "promise": "The new maps are checked against Azure's rules before anything is written",
        "file": RT + "endpoints.py",
        "old": '    azml_check_traffic(live, mirror if mirror is not None else state["mirror"], '
               'names)\n',
        "new": "",
        "tests": [ENDPOINT_TESTS + "test_bad_traffic_maps_are_rejected_before_any_write"],
    },
    {
        "name": "delete-refuses-live-traffic",
        "promise": "delete_deployment refuses a deployment that still takes live traffic",
        "file": RT + "endpoints.py",
        "old": "    if share:\n",
        "new": "    if False:\n",
        "tests": [ENDPOINT_TESTS + "test_delete_refuses_live_traffic_and_removes_a_mirror_first"],
    },
    {
        "name": "delete-removes-the-mirror-first",
        "promise": "delete_deployment removes the deployment's mirror traffic first",
        "file": RT + "endpoints.py",
        "old": "        azml_set_traffic(client, endpoint, live, mirror, timeout_seconds)\n",
        "new": "        pass\n",
        "tests": [ENDPOINT_TESTS + "test_delete_refuses_live_traffic_and_removes_a_mirror_first"],
    },
    {
        "name": "keys-never-in-outputs",
        "promise": "Keys are never written to outputs",
        "file": RT + "deploy.py",
        "old": '        "auth_mode": endpoint.auth_mode,\n',
        "new": '        "auth_mode": '
               'client.online_endpoints.get_keys(endpoint.name).primary_key,\n',
        "tests": [DEPLOY_TESTS + "test_first_deployment_creates_the_endpoint_and_serves_"
                                 "predictions"],
    },
    {
        "name": "secret-values-never-in-the-pipeline-spec",
        "promise": "The secret's values never appear in the pipeline spec",
        "file": "azml_components/credentials.py",
        "old": "    task.set_caching_options(enable_caching)\n",
        "new": "    import os\n    task.set_env_variable('AZ_CLIENT_SECRET', "
               "os.environ.get('AZ_CLIENT_SECRET', ''))\n"
               "    task.set_caching_options(enable_caching)\n",
        "tests": ["tests/test_compiled.py::test_credentials_reach_a_task_only_through_the_secret"],
    },
    {
        "name": "azure-tasks-never-cached",
        "promise": "use_azure_credentials also turns KFP's cache off for the task",
        "file": "azml_components/credentials.py",
        "old": "    enable_caching: bool = False,\n",
        "new": "    enable_caching: bool = True,\n",
        "tests": ["tests/test_credentials.py"],
    },
    {
        "name": "bad-input-fails-before-any-write",
        "promise": "Inputs are checked before anything is written to Azure",
        "file": RT + "deploy.py",
        "old": '    azml_check_online_name("deployment_name", deployment_name)\n',
        "new": "",
        "tests": [DEPLOY_TESTS + "test_bad_input_fails_before_any_write"],
    },
    {
        "name": "partial-principal-names-what-is-missing",
        "promise": "A partial set (say, a tenant without a secret) fails with the names of the "
                   "missing variables",
        "file": RT + "azure_client.py",
        "old": "    if present and missing:\n",
        "new": "    if len(missing) > 1 and present:\n",
        "tests": ["tests/runtime/test_azure_client.py"],
    },
    {
        "name": "registration-records-the-run",
        "promise": "The run that registered it is recorded in the tags",
        "file": RT + "register.py",
        "old": "    all_tags.update(\n",
        "new": "    dict().update(\n",
        "tests": ["tests/runtime/test_register.py::test_register_folder_model_with_lineage"],
    },
    {
        "name": "unchanged-content-reuses-the-version",
        "promise": "register_model reuses a version holding the same files: no write",
        "file": RT + "register.py",
        "old": "    if same is not None:\n",
        "new": "    if False:\n",
        "tests": ["tests/runtime/test_register.py::"
                  "test_unchanged_content_reuses_the_version_with_no_write"],
    },
    {
        "name": "the-reuse-hash-covers-file-names",
        "promise": "a renamed file with the same bytes is other content: a new version, since "
                   "the SDK's content hash includes the names",
        "file": RT + "register.py",
        "old": "    from azure.ai.ml._utils._asset_utils import get_ignore_file, "
               "get_object_hash\n\n"
               "    return get_object_hash(model_path, get_ignore_file(model_path))\n",
        "new": "    import hashlib\n    from pathlib import Path\n\n    root = Path(model_path)\n"
               "    files = [root] if root.is_file() else sorted(\n"
               "        p for p in root.rglob('*') if p.is_file()\n    )\n"
               "    return hashlib.sha256(b''.join(p.read_bytes() for p in files)).hexdigest()\n",
        "tests": ["tests/runtime/test_register.py::"
                  "test_a_renamed_file_with_the_same_bytes_is_a_new_version"],
    },
    {
        "name": "sdk-does-not-hash-the-model-twice",
        "promise": "the SDK is handed that hash and does not hash again",
        "file": RT + "register.py",
        "old": "        model._upload_hash = content_hash",
        "new": "        pass",
        "tests": ["tests/runtime/test_register.py::"
                  "test_unchanged_content_reuses_the_version_with_no_write"],
    },
    {
        "name": "an-existing-version-with-other-content-is-refused",
        "promise": "an explicit model_version that exists with other content is refused before "
                   "any upload (versions are immutable)",
        "file": RT + "register.py",
        "old": "    if model_version:  # an existing version is reused as it is, or refused: "
               "before any upload\n        same = azml_check_given_version(",
        "new": "    if False:\n        same = azml_check_given_version(",
        "tests": ["tests/runtime/test_register.py::"
                  "test_an_explicit_version_holding_other_files_fails_before_any_upload"],
    },
    {
        "name": "an-existing-version-with-the-same-content-is-not-rewritten",
        "promise": "an explicit model_version that holds the same files is returned as it is, "
                   "with no write",
        "file": RT + "register.py",
        "old": "            read = pool.submit(azml_version_holder, client, model_name, "
               "model_version, True)\n",
        "new": "            read = None\n",
        "tests": ["tests/runtime/test_register.py::"
                  "test_an_explicit_version_holding_the_same_files_is_reused_with_no_write"],
    },
    {
        "name": "forced-registration-is-a-new-version",
        "promise": "force_new_version=True always registers a new version",
        "file": RT + "register.py",
        "old": "        reuse = not (force_new_version or model_version)\n",
        "new": "        reuse = not model_version\n",
        "tests": ["tests/runtime/test_register.py::"
                  "test_changed_content_or_forced_registers_a_new_version"],
    },
    {
        "name": "unchanged-redeploy-writes-nothing",
        "promise": "deploy_model writes nothing when the deployment is already live as asked",
        "file": RT + "deploy.py",
        "old": "    same_deployment = azml_deployment_unchanged(client, state, plan, deployment)\n",
        "new": "    same_deployment = False\n",
        "tests": [DEPLOY_TESTS + "test_redeploying_the_same_writes_nothing"],
    },
    {
        "name": "changed-code-is-deployed",
        "promise": "Same code is the SDK's own identity for code: the content hash",
        "file": RT + "deploy.py",
        "old": "    return bool(stored) and stored == get_content_hash(\n",
        "new": "    return True or get_content_hash(\n",
        "tests": [DEPLOY_TESTS + "test_redeploying_the_same_writes_nothing"],
    },
    {
        "name": "kubernetes-resources-are-settings-of-a-redeploy",
        "promise": "environment and settings (on Kubernetes: instance type, resource requests "
                   "and limits)",
        "file": RT + "deploy.py",
        "old": "        and azml_same_resources(live, deployment, plan.target)\n",
        "new": "",
        "tests": [DEPLOY_TESTS
                  + "test_kubernetes_resources_and_instance_type_are_settings_of_a_redeploy"],
    },
    # Issue 21: the no-op redeploy compares every serving setting (deployment_settings.py).
    {
        "name": "the-no-op-redeploy-compares-the-request-settings",
        "promise": "the no-op redeploy compares every setting: request_settings too",
        "file": RT + "deployment_settings.py",
        "old": "        azml_effective(live.request_settings, request)\n"
               "        == azml_effective(deployment.request_settings, request)\n"
               "        and azml_effective(live.liveness_probe, probe)\n",
        "new": "        azml_effective(live.liveness_probe, probe)\n",
        "tests": [SETTINGS_TESTS
                  + "test_each_changed_setting_makes_a_redeploy_an_update[request-timeout]",
                  SETTINGS_TESTS + "test_a_changed_request_timeout_is_written"],
    },
    {
        "name": "the-no-op-redeploy-compares-the-readiness-probe",
        "promise": "the no-op redeploy compares every setting: the probes too",
        "file": RT + "deployment_settings.py",
        "old": "        and azml_effective(live.readiness_probe, probe)\n"
               "        == azml_effective(deployment.readiness_probe, probe)\n",
        "new": "",
        "tests": [SETTINGS_TESTS
                  + "test_each_changed_setting_makes_a_redeploy_an_update[readiness-period]"],
    },
    {
        "name": "the-lineage-tags-alone-are-no-change",
        "promise": "the lineage tags name the run that last wrote the deployment; another run "
                   "with the same settings writes nothing",
        "file": RT + "deployment_settings.py",
        "old": "if k not in lineage}",
        "new": "}",
        "tests": [SETTINGS_TESTS + "test_every_setting_is_deployed_and_read_back_through_the_sdk"],
    },
    {
        "name": "changed-endpoint-settings-write-the-endpoint-only",
        "promise": "a change of the endpoint's own settings writes the endpoint only",
        "file": RT + "deploy.py",
        "old": "        if not same_deployment:",
        "new": "        if True:",
        "tests": [SETTINGS_TESTS + "test_changed_endpoint_settings_write_the_endpoint_only"],
    },
    {
        "name": "endpoint-tags-keep-the-endpoints-other-tags",
        "promise": "endpoint_tags are added to or changed on the endpoint; its other tags are "
                   "kept",
        "file": RT + "deploy.py",
        "old": "            value = {**(endpoint.tags or {}), **value}\n",
        "new": "            value = dict(value)\n",
        "tests": [SETTINGS_TESTS + "test_changed_endpoint_settings_write_the_endpoint_only"],
    },
    {
        "name": "a-kubernetes-redeploy-with-no-resources-is-a-no-op",
        "promise": "on Kubernetes the container resource requests and limits (... none given "
                   "is the instance type's, which Azure runs and reports for such a deployment)",
        "file": RT + "deploy.py",
        "old": "    return not any(live_values.values()) or live_values == instance\n",
        "new": "    return False\n",
        "tests": [DEPLOY_TESTS + "test_a_kubernetes_redeploy_with_no_resources_writes_nothing"],
    },
    {
        "name": "deploy-model-undoes-a-stale-rollout-before-its-no-op-check",
        "promise": "A safe_rollout left unfinished on the endpoint ... is undone first",
        "file": RT + "deploy.py",
        "old": "    azml_recover_rollout(client, endpoint_name, \"\", timeout_seconds)\n",
        "new": "    pass\n",
        "tests": ["tests/runtime/test_rollout_state.py::"
                  "test_an_unchanged_deploy_is_declared_only_after_the_stale_rollout_is_undone"],
    },
    {
        "name": "set-traffic-refuses-mirroring-on-kubernetes-before-any-write",
        "promise": "set_traffic refuses mirror_traffic on a Kubernetes endpoint before writing "
                   "anything",
        "file": RT + "endpoints.py",
        "old": "    if compute and any((mirror or {}).values()):\n",
        "new": "    if False:\n",
        "tests": [ENDPOINT_TESTS
                  + "test_set_traffic_refuses_mirror_traffic_on_a_kubernetes_endpoint"],
    },
    {
        "name": "an-endpoint-keeps-its-kind",
        "promise": "An endpoint keeps its kind and compute for life: deploying to an existing "
                   "endpoint with another compute fails before any write",
        "file": RT + "targets.py",
        "old": "        if existing.lower() != compute.lower():\n",
        "new": "        if False:\n",
        "tests": ["tests/runtime/test_targets.py::test_an_endpoint_keeps_its_kind"],
    },
    {
        "name": "inputs-of-the-other-kind-fail-before-any-write",
        "promise": "Inputs of the other kind (... resource limits without it ...) fail the task "
                   "before any write",
        "file": RT + "targets.py",
        "old": "        if requests or limits:\n",
        "new": "        if False:\n",
        "tests": ["tests/runtime/test_targets.py::test_inputs_of_the_wrong_kind_are_refused"],
    },
    {
        "name": "a-request-above-its-limit-fails-before-any-write",
        "promise": "as do a resource request above its limit",
        "file": RT + "targets.py",
        "old": "            if azml_quantity(requests[key]) > azml_quantity(limits[key]):\n",
        "new": "            if False:\n",
        "tests": ["tests/runtime/test_targets.py::test_inputs_of_the_wrong_kind_are_refused"],
    },
    {
        "name": "a-missing-instance-type-fails-before-any-write",
        "promise": "as do a compute that is not attached or an instance type the cluster does "
                   "not have",
        "file": RT + "targets.py",
        "old": "    if instance_type not in types:\n",
        "new": "    if False:\n",
        "tests": ["tests/runtime/test_targets.py::test_the_cluster_is_read_before_any_write"],
    },
    {
        "name": "kubernetes-deployments-take-the-clusters-default-instance-type",
        "promise": "instance_type is one of the cluster's instance types (empty: the cluster's "
                   "default)",
        "file": RT + "targets.py",
        "old": "    instance_type = target[\"instance_type\"] or "
               "settings.get(\"defaultInstanceType\")",
        "new": "    instance_type = target[\"instance_type\"] or \"cpu-large\"",
        "tests": ["tests/runtime/test_targets.py::"
                  "test_no_instance_type_means_the_clusters_default"],
    },
    {
        "name": "score-batch-sigterm-cancels-the-job",
        "promise": "cancelling the run (SIGTERM) or timeout_seconds cancels the Azure job",
        "file": RT + "batch.py",
        "old": "            lambda: client.jobs.begin_cancel(job_name).result(),\n",
        "new": "            lambda: None,\n",
        "tests": ["tests/runtime/test_batch.py::test_sigterm_while_waiting_cancels_the_job"],
    },
    {
        "name": "score-batch-rerun-submits-no-second-job",
        "promise": "a retry of a killed score_batch task takes over the job it left (running "
                   "or completed) instead of submitting a second one",
        "file": RT + "batch.py",
        "old": "    if found:\n        print(",
        "new": "    if False:\n        print(",
        "tests": ["tests/runtime/test_batch.py::"
                  "test_a_retry_takes_over_the_job_a_killed_attempt_left"],
    },
    {
        "name": "score-batch-rerun-does-not-take-a-canceled-job",
        "promise": "a job of the run that failed or was canceled is not taken over (a new one "
                   "is submitted)",
        "file": RT + "batch_jobs.py",
        "old": "    taken = max((a for a in attempts if a[0] or a[1]), default=None)\n",
        "new": "    taken = max(attempts, default=None)\n",
        "tests": ["tests/runtime/test_batch.py::"
                  "test_recovery_cancels_the_killed_runs_job_and_leaves_other_runs_alone"],
    },
    {
        "name": "recover-batch-jobs-cancels-the-runs-running-jobs",
        "promise": "recover_batch_jobs cancels the batch jobs of its run still running on the "
                   "endpoint, and no other run's",
        "file": RT + "batch_jobs.py",
        "old": "        if name.lower().startswith(prefix) and azml_batch_job_active(status):\n",
        "new": "        if azml_batch_job_active(status):\n",
        "tests": ["tests/runtime/test_batch.py::"
                  "test_recovery_cancels_the_killed_runs_job_and_leaves_other_runs_alone"],
    },
    {
        "name": "batch-error-threshold-checked-before-any-write",
        "promise": "error_threshold below -1 ... fail before anything is written",
        "file": RT + "batch.py",
        "old": '    azml_check_range("error_threshold", error_threshold, -1)\n',
        "new": "",
        "tests": ["tests/runtime/test_batch.py::test_bad_deployment_inputs_fail_before_any_write"],
    },
    {
        "name": "batch-compute-checked-before-any-write",
        "promise": "a batch deployment's compute that is not a compute cluster of the workspace "
                   "or has fewer nodes than instance_count ... nothing was written to Azure",
        "file": RT + "batch.py",
        "old": "    azml_check_batch_workspace(client, model_id, options)\n",
        "new": "",
        "tests": ["tests/runtime/test_batch.py::test_the_compute_is_checked_before_any_write"],
    },
    {
        "name": "score-batch-looks-at-the-input-uri-before-the-job",
        "promise": "a batch input with no files (... an input_uri datastore path with nothing "
                   "there) ... no batch job was submitted",
        "file": RT + "batch.py",
        "old": "    kind = azml_check_batch_input_exists(client, input_uri) if input_uri "
               "else \"\"\n",
        "new": "    kind = \"\"\n",
        "tests": ["tests/runtime/test_batch.py::"
                  "test_an_input_uri_with_nothing_there_submits_no_job"],
    },
    {
        "name": "score-batch-dataset-is-uploaded-once",
        "promise": "A dataset is uploaded under LocalUpload/<the SDK's content hash>/ ... The "
                   "same files are found there and not uploaded again, and are scored from the "
                   "same URI",
        "file": RT + "batch_inputs.py",
        "old": "            show_progress=True, asset_hash=content_hash,\n",
        "new": "            show_progress=True, asset_hash=__import__('uuid').uuid4().hex,\n",
        "tests": ["tests/runtime/test_batch.py::test_a_dataset_is_uploaded_once_per_content"],
    },
    {
        "name": "score-batch-job-setting-reaches-the-job",
        "promise": "A job can change its deployment's settings for itself (mini_batch_size: "
                   "the files per run() call)",
        "file": RT + "batch_overrides.py",
        "old": "        params.append({\"mini_batch_size\": overrides.mini_batch_size})\n",
        "new": "        pass\n",
        "tests": ["tests/runtime/test_batch.py::test_a_jobs_own_settings_reach_the_job"],
    },
    {
        "name": "score-batch-refuses-a-predictions-file-before-the-job",
        "promise": "a predictions path that is a file ... no batch job was submitted",
        "file": RT + "batch.py",
        "old": "    azml_prepare_output_dir(output_dir)\n",
        "new": "",
        "tests": ["tests/runtime/test_batch.py::"
                  "test_a_predictions_path_that_is_a_file_submits_no_job"],
    },
    {
        "name": "failing-batch-job-fails-score-batch",
        "promise": "A job that fails ... fails score_batch with the job's error",
        "file": RT + "batch.py",
        "old": '    if status != "Completed":\n        raise RuntimeError(',
        "new": '    if False:\n        raise RuntimeError(',
        "tests": ["tests/runtime/test_batch.py::"
                  "test_a_failing_scoring_script_fails_with_the_jobs_error"],
    },
    # Issue 21: batch deployment settings and custom outputs.
    {
        "name": "score-batch-returns-the-whole-output-folder",
        "promise": "predictions is the job's whole output folder: the append_row file and "
                   "every file the scoring script wrote to AZUREML_BI_OUTPUT_PATH",
        "file": RT + "batch.py",
        "old": "    from azure.ai.ml._artifacts._artifact_utilities import "
               "download_artifact_from_aml_uri\n\n    azml_wait(\n",
        "new": "    if \"append\" not in result[\"output_action\"].lower():\n"
               "        result[\"files\"] = []\n        return result\n"
               "    from azure.ai.ml._artifacts._artifact_utilities import "
               "download_artifact_from_aml_uri\n\n    azml_wait(\n",
        "tests": ["tests/runtime/test_batch.py::"
                  "test_the_custom_outputs_sample_deploys_and_its_files_are_the_predictions"],
    },
    {
        "name": "local-mode-batch-jobs-have-an-output-path",
        "promise": "local mode gives the scoring script AZUREML_BI_OUTPUT_PATH; files written "
                   "there are the job's score output",
        "file": "azml-local/azml_local/resources/batch_jobs.py",
        "old": "    _upload_output(ctx, name, work / \"output\", config)\n",
        "new": "    _upload_output(ctx, name, work / \"no-output\", config)\n",
        "tests": ["tests/local/test_batch_jobs.py::"
                  "test_files_the_script_writes_to_its_output_path_are_the_score_output"],
    },
    {
        "name": "summary-only-sends-no-output-file-name",
        "promise": "output_action summary_only deploys (no output_file_name is sent)",
        "file": RT + "batch.py",
        "old": "        output_file_name=options[\"output_file_name\"] or None,",
        "new": "        output_file_name=options[\"output_file_name\"] or \"predictions.csv\",",
        "tests": ["tests/runtime/test_batch.py::"
                  "test_the_custom_outputs_sample_deploys_and_its_files_are_the_predictions"],
    },
    {
        "name": "batch-deployment-tags-carry-the-kfp-run",
        "promise": "the KFP run is added to the batch deployment's tags as it is to the model's",
        "file": RT + "batch.py",
        "old": "    checked[\"tags\"] = {**checked[\"tags\"], **found}\n",
        "new": "    checked[\"tags\"] = dict(checked[\"tags\"])\n",
        "tests": ["tests/runtime/test_batch.py::"
                  "test_the_custom_outputs_sample_deploys_and_its_files_are_the_predictions"],
    },
    {
        "name": "batch-upload-takes-over-another-attempts-file",
        "promise": "Two attempts of one score_batch task at the same time ... one meets the "
                   "other's file there first (409 BlobAlreadyExists), asks again and takes that "
                   "upload, and the two submit one job between them",
        "file": RT + "batch_inputs.py",
        "old": "        except ResourceExistsError:\n",
        "new": "        except ImportError:\n",
        "tests": ["tests/runtime/test_faults.py::"
                  "test_a_batch_input_another_attempt_uploaded_first_is_taken"],
    },
    {
        "name": "register-retries-a-version-another-run-took",
        "promise": "N concurrent registrations of one name give N versions (a version another "
                   "run took is retried with the next one)",
        "file": RT + "register.py",
        "old": "    for attempt in range(12):\n",
        "new": "    for attempt in range(1):\n",
        "tests": [FAULT_TESTS + "test_concurrent_registrations_of_one_name_give_distinct_versions"],
    },
    {
        "name": "concurrent-identical-registrations-return-one-version",
        "promise": "runs registering the same files at the same time all return one version",
        "file": RT + "register.py",
        "old": "    if model_path and not (force_new_version or model_version) and not "
               "first_pick:\n        registered, reused",
        "new": "    if False:\n        registered, reused",
        "tests": [FAULT_TESTS
                  + "test_concurrent_registrations_of_the_same_files_return_one_version"],
    },
    {
        "name": "an-upload-race-is-registered-again",
        "promise": "a run whose upload meets the same upload by another run (409 "
                   "BlobAlreadyExists) registers again",
        "file": RT + "register.py",
        "old": "            if azml_upload_race(error):",
        "new": "            if False:",
        "tests": [FAULT_TESTS + "test_an_upload_another_run_made_first_is_registered_again"],
    },
    {
        "name": "a-missing-workspace-is-named",
        "promise": "a workspace, resource group or subscription that does not exist is named as "
                   "such, never reported as a missing model",
        "file": RT + "calls.py",
        "old": "    if scope is None:\n        return\n",
        "new": "    if True:\n        return\n",
        "tests": ["tests/runtime/test_register.py::"
                  "test_a_workspace_that_does_not_exist_is_named_as_such",
                  DEPLOY_TESTS + "test_a_workspace_that_does_not_exist_is_named_as_such",
                  "tests/runtime/test_calls.py::"
                  "test_a_404_that_does_not_name_the_workspace_is_checked_by_reading_it"],
    },
    {
        "name": "a-busy-resource-is-waited-out",
        "promise": "409 'operation running' (a crashed or concurrent run's operation) is waited "
                   "out, then the write goes through",
        "file": RT + "calls.py",
        "old": "    azml_wait_until_idle(what, read, remaining)\n",
        "new": "",
        "tests": [FAULT_TESTS + "test_set_traffic_waits_out_an_operation_running_on_the_endpoint",
                  FAULT_TESTS + "test_delete_waits_out_an_operation_running_on_the_endpoint",
                  FAULT_TESTS + "test_rerun_after_sigkill_mid_deployment_waits_and_converges",
                  FAULT_TESTS
                  + "test_batch_rerun_after_sigkill_mid_deployment_waits_and_converges"],
    },
    {
        "name": "a-busy-deployment-is-waited-out",
        "promise": "A run started right after a killed one ... waits for that operation to end "
                   "and then writes its own state (deploy_model and deploy_batch_model)",
        "file": RT + "deployment_writes.py",
        "old": "        azml_when_idle(\n            f\"deploying {name!r}",
        "new": "        (lambda what, read, write, seconds: azml_wait(what, write, seconds))(\n"
               "            f\"deploying {name!r}",
        "tests": [FAULT_TESTS + "test_rerun_after_sigkill_mid_deployment_waits_and_converges",
                  FAULT_TESTS
                  + "test_batch_rerun_after_sigkill_mid_deployment_waits_and_converges"],
    },
    {
        "name": "the-batch-default-waits-out-a-busy-endpoint",
        "promise": "The same wait guards ... deploy_batch_model's write of the endpoint's "
                   "default",
        "file": RT + "batch.py",
        "old": "    azml_when_idle(\n        f\"making {deployment_name!r} the default",
        "new": "    (lambda what, read, write, seconds: azml_wait(what, write, seconds))(\n"
               "        f\"making {deployment_name!r} the default",
        "tests": [FAULT_TESTS + "test_making_the_batch_default_waits_out_an_operation_running_"
                                "on_the_endpoint"],
    },
    {
        "name": "a-busy-endpoints-state-is-read-as-its-value",
        "promise": "an endpoint whose creation timed out is removed (its Creating state is seen)",
        "file": RT + "calls.py",
        "old": '    return str(getattr(value, "value", value))\n',
        "new": "    return str(value)\n",
        "tests": [FAULT_TESTS + "test_failed_or_slow_endpoint_creation_leaves_no_endpoint"],
    },
    {
        "name": "an-endpoint-whose-creation-failed-is-removed",
        "promise": "an endpoint the call created is removed when its own creation fails or "
                   "times out",
        "file": RT + "deployment_writes.py",
        "old": "            undo = undo[-1:]  # no deployment was written\n",
        "new": "            undo = []  # no deployment was written\n",
        "tests": [FAULT_TESTS + "test_failed_or_slow_endpoint_creation_leaves_no_endpoint",
                  FAULT_TESTS
                  + "test_failed_or_slow_batch_endpoint_creation_leaves_no_batch_endpoint"],
    },
    {
        "name": "invoke-retries-a-502",
        "promise": "a 429 or 502 from the scoring front door is retried (3 times, 1, 2, 4 s apart)",
        "file": RT + "invoke.py",
        "old": "            if status not in (429, 502) or pause is None:\n",
        "new": "            if status not in (429,) or pause is None:\n",
        "tests": [FAULT_TESTS + "test_a_502_from_the_scoring_front_door_is_retried"],
    },
    {
        "name": "invoke-keeps-an-answer-that-is-not-json",
        "promise": "an error answer that is not JSON is kept, so a smoke test can expect it",
        "file": RT + "invoke.py",
        "old": "            if not answers:\n                raise",
        "new": "            if True:\n                raise",
        "tests": [FAULT_TESTS
                  + "test_an_error_answer_that_is_not_json_is_kept_and_can_be_expected"],
    },
    {
        "name": "blob-faults-reach-the-sdk",
        "promise": "a busy answer from blob storage is retried (the fault tests see the status "
                   "local mode injects into the blob tunnel)",
        "file": "azml-local/azml_local/infra/blob_relay.py",
        "old": "    fault = faults.blob_fault(method, target)\n",
        "new": "    fault = None\n",
        "tests": ["tests/local/test_proxy.py::"
                  "test_an_armed_blob_fault_answers_as_azure_storage_then_is_used_up",
                  FAULT_TESTS
                  + "test_a_busy_blob_upload_is_retried_and_the_model_files_arrive_intact"],
    },
    # Scale (issue 21, item 3): the autoscale setting is removed with its deployment.
    {
        "name": "the-autoscale-setting-is-removed-with-its-deployment",
        "promise": "the autoscale setting is deleted with the deployment (Azure keeps a setting "
                   "whose target is deleted)",
        "file": RT + "endpoints.py",
        "old": "    for name in azml_remove_autoscale(client, deployment.id):\n",
        "new": "    for name in []:\n",
        "tests": ["tests/runtime/test_scale_and_identity.py::"
                  "test_deleting_a_deployment_or_endpoint_removes_its_autoscale_settings"],
    },
    {
        "name": "the-autoscale-settings-are-removed-with-their-endpoint",
        "promise": "deleting an endpoint deletes the autoscale settings of its deployments",
        "file": RT + "endpoints.py",
        "old": "    for name in azml_remove_autoscale(client, endpoint.id):\n",
        "new": "    for name in []:\n",
        "tests": ["tests/runtime/test_scale_and_identity.py::"
                  "test_deleting_a_deployment_or_endpoint_removes_its_autoscale_settings"],
    },
    {
        "name": "a-failed-rollout-removes-its-deployments-autoscale-setting",
        "promise": "the undo of a failed rollout deletes the new deployment's autoscale setting",
        "file": RT + "rollout_state.py",
        "old": "        azml_remove_autoscale(client, azml_online_deployment_id(client, "
               "endpoint_name, new))\n",
        "new": "",
        "tests": ["tests/runtime/test_scale_and_identity.py::"
                  "test_a_rollout_removes_the_autoscale_of_what_it_deletes"],
    },
    {
        "name": "a-retired-deployment-loses-its-autoscale-setting",
        "promise": "safe_rollout's remove_old deletes the retired deployments' autoscale settings",
        "file": RT + "rollout.py",
        "old": "            azml_remove_autoscale(client, azml_online_deployment_id(client, "
               "endpoint_name, name))\n",
        "new": "",
        "tests": ["tests/runtime/test_scale_and_identity.py::"
                  "test_a_rollout_removes_the_autoscale_of_what_it_deletes"],
    },
    # --- issue 21: the scoring front door honours the deployment's settings ------------------
    {
        "name": "front-door-408-past-request-timeout",
        "promise": "a request past request_timeout_ms gets 408",
        "file": "azml-local/azml_local/serving/manager.py",
        "old": "timeout=(10, served.settings.request_timeout))",
        "new": "timeout=(10, 300))",
        "tests": ["tests/local/test_front_door.py::"
                  "test_a_request_past_request_timeout_ms_gets_408"],
    },
    {
        "name": "front-door-424-for-a-model-error",
        "promise": "a scoring container's non-200 answer becomes 424 with the model's status "
                   "in ms-azureml-model-error-statuscode",
        "file": "azml-local/azml_local/serving/front_door.py",
        "old": "    if code != 200 and managed:\n",
        "new": "    if False:\n",
        "tests": ["tests/local/test_front_door.py::"
                  "test_a_non_200_from_the_model_is_424_with_the_models_status"],
    },
    {
        "name": "front-door-429-beyond-twice-the-concurrency",
        "promise": "requests beyond 2 x max_concurrent_requests_per_instance x instance_count "
                   "in flight get 429",
        "file": "azml-local/azml_local/serving/settings.py",
        "old": "        return 2 * self.max_concurrent_requests_per_instance * "
               "self.instance_count\n",
        "new": "        return 2 * self.max_concurrent_requests_per_instance\n",
        "tests": ["tests/local/test_front_door.py::"
                  "test_requests_beyond_twice_the_concurrency_get_429_and_scale_with_instances"],
    },
    {
        "name": "instance-count-is-the-number-of-workers",
        "promise": "instance_count (x WORKER_COUNT) scoring workers really serve",
        "file": "azml-local/azml_local/serving/manager.py",
        "old": '"-w", str(max(1, per_instance) * settings.instance_count),',
        "new": '"-w", str(max(1, per_instance)),',
        "tests": ["tests/local/test_front_door.py::"
                  "test_requests_beyond_twice_the_concurrency_get_429_and_scale_with_instances"],
    },
    {
        "name": "readiness-probe-failure-fails-provisioning",
        # Without the give-up no probe ever fails the deployment: its test's bounded wait
        # (300 s) returns without the expected error.
        "promise": "a deployment whose readiness probe never succeeds fails ResourceNotReady",
        "file": "azml-local/azml_local/serving/probes.py",
        "old": "            if failures[name] >= schedules[name].failure_threshold:\n",
        "new": "            if failures[name] >= 10 ** 6:\n",
        "tests": ["tests/local/test_front_door.py::"
                  "test_a_readiness_probe_that_never_succeeds_fails_provisioning"],
    },
    {
        "name": "invoke-reports-the-models-own-status",
        "promise": "invoke_endpoint reports (and compares with expected_status) the model's own "
                   "status of a 424",
        "file": RT + "invoke.py",
        "old": "            if status == 424 and model_status.isdigit():\n",
        "new": "            if False:\n",
        "tests": ["tests/local/test_front_door.py::"
                  "test_invoke_endpoint_reports_the_models_own_status",
                  FAULT_TESTS
                  + "test_an_error_answer_that_is_not_json_is_kept_and_can_be_expected"],
    },
    # Issue 26: the demo on your own workspace, and the cluster page's run parameters.
    {
        "name": "own-workspace-demo-cleans-up-after-ctrl-c",
        "promise": "the demo on your own workspace removes everything it created at the end, "
                   "also on Ctrl-C",
        "file": "pipelines/run_local.py",
        "old": "        left = own_workspace.clean_up(ws, endpoints, models, batch)\n",
        "new": "        left = []\n",
        "tests": ["tests/pipelines/test_own_workspace.py::"
                  "test_own_workspace_demo_cleans_up_after_ctrl_c"],
    },
    {
        "name": "own-workspace-demo-names-are-unique",
        "promise": "the demo on your own workspace uses uniquely named endpoints",
        "file": "pipelines/own_workspace.py",
        "old": "                     f\"-{secrets.token_hex(4)}\")",
        "new": "                     \"\")",
        "tests": ["tests/pipelines/test_own_workspace.py::"
                  "test_own_workspace_demo_creates_unique_names_and_removes_them"],
    },
    {
        "name": "cluster-page-names-the-pipelines-inputs",
        "promise": "docs/try-on-your-cluster.md's run parameters are the compiled pipelines' "
                   "inputs",
        "file": "docs/try-on-your-cluster.md",
        "old": "| `instance_count` | `1` | instances |\n",
        "new": "",
        "tests": ["tests/test_try_on_your_cluster.py::"
                  "test_page_tables_are_the_compiled_pipelines_inputs"],
    },
    # <monitoring: check_drift and create_monitor (issue 22)>
    {
        "name": "no-drift-on-identical-distributions",
        # The normalization off by ten: samples of one distribution read as drifted.
        "promise": "identical distributions (fixed seed) give no drift; a shift gives drift",
        "file": RT + "drift_metrics.py",
        "old": "wasserstein_distance(baseline, production) / max(spread, 0.001))",
        "new": "wasserstein_distance(baseline, production) / max(spread, 0.001) * 10)",
        "tests": ["tests/runtime/test_drift.py::"
                  "test_identical_distributions_give_no_drift_and_a_shift_gives_drift"],
    },
    {
        "name": "too-little-production-data-is-an-outcome",
        "promise": "too little production data is an outcome (drift_detected false and a "
                   "reason), not a crash and not a drift verdict",
        "file": RT + "drift.py",
        "old": "    if production.rows < settings.min_production_rows:\n",
        "new": "    if production.rows < 0:\n",
        "tests": ["tests/runtime/test_drift.py::"
                  "test_too_little_production_data_is_an_outcome_not_a_crash"],
    },
    {
        "name": "a-monitor-rerun-writes-nothing",
        "promise": "create_monitor run again with the same inputs writes nothing",
        "file": RT + "monitor.py",
        "old": "    if existing is not None and (existing.tags or {}).get("
               "\"azml_monitor_spec\") == fingerprint \\\n",
        "new": "    if False and (existing.tags or {}).get(\"azml_monitor_spec\") == "
               "fingerprint \\\n",
        "tests": ["tests/runtime/test_monitor.py::"
                  "test_a_monitor_is_a_schedule_and_a_rerun_writes_nothing"],
    },
    # </monitoring>
    # --- issue 22: data collection -------------------------------------------------------------
    {
        "name": "collection-never-breaks-scoring",
        "promise": "a collector that cannot reach the data collector never breaks scoring",
        "file": "azml-local/azml_local/serving/front_door.py",
        "old": "    except OSError as error:\n",
        "new": "    except ValueError as error:\n",
        "tests": [COLLECT_TESTS + "test_collection_never_breaks_scoring"],
    },
    {
        "name": "payload-logging-never-captures-credentials",
        "promise": "payload logging never collects the Authorization header or keys",
        "file": "azml-local/azml_local/serving/data_collector.py",
        "old": "self.config.capture_headers} - set(SECRET_HEADERS)",
        "new": "self.config.capture_headers}",
        "tests": [COLLECT_TESTS + "test_payload_sampling_and_headers_never_captured"],
    },
    {
        "name": "collected-data-rolls-by-the-rolling-rate",
        "promise": "collected data lands in .../{collection}/{yyyy}/{MM}/{dd}/{HH}/ folders "
                   "by the rolling rate",
        "file": "azml-local/azml_local/serving/data_collector.py",
        "old": "_ROLL.get(self.config.rolling_rate, _ROLL[\"Hour\"])",
        "new": "_ROLL[\"Hour\"]",
        "tests": [COLLECT_TESTS + "test_the_rolling_rate_sets_the_folder_depth"],
    },
    {
        "name": "a-changed-data-collector-is-written",
        "promise": "the no-op redeploy compares the data collector: a changed sampling rate "
                   "is written",
        "file": RT + "data_collection.py",
        "old": "\"sampling_rate\": 1.0 if rate is None else float(rate),",
        "new": "\"sampling_rate\": 1.0,",
        "tests": ["tests/runtime/test_data_collection.py::"
                  "test_a_changed_data_collector_is_written"],
    },
    # --- registries (issue 23) ---------------------------------------------------------------
    {
        "name": "promotion-reuses-identical-content",
        "promise": "A registry version that a promotion of this very workspace version made is "
                   "returned with no write",
        "file": RT + "registries.py",
        "old": "    if existing is not None:\n        azml_check_existing_promotion(",
        "new": "    if False:\n        azml_check_existing_promotion(",
        "tests": ["tests/runtime/test_registries.py::test_promotion_reuses_identical_content"],
    },
    {
        "name": "a-registry-version-is-never-overwritten",
        "promise": "a registry version holding anything else under the requested name and "
                   "version fails the task before any write",
        "file": RT + "registries.py",
        "old": "    if came_from.lower() != str(source.id).lower():",
        "new": "    if False:",
        "tests": ["tests/runtime/test_registries.py::test_a_registry_version_is_never_overwritten"],
    },
    {
        "name": "local-mode-refuses-a-changed-registry-version",
        "promise": "local mode answers a PUT over an existing registry version with Azure's 409",
        "file": "azml-local/azml_local/resources/assets.py",
        "old": "    if changed:\n        raise ApiError(409, \"UserError\", f\"{KINDS[kind]} "
               "{name} with",
        "new": "    if False:\n        raise ApiError(409, \"UserError\", f\"{KINDS[kind]} "
               "{name} with",
        "tests": ["tests/local/test_registries.py::test_a_registry_version_cannot_be_changed"],
    },
    # --- command jobs (issue 24) -------------------------------------------------------------
    {
        "name": "command-job-retry-submits-no-second-job",
        "promise": "a retry never submits a second job: a retry of a killed run_command_job "
                   "task takes over the job it left (running or completed)",
        "file": RT + "command_jobs.py",
        "old": "        if status == \"Completed\" or azml_batch_job_active(status):\n"
               "            return name, attempt\n",
        "new": "        if False:\n            return name, attempt\n",
        "tests": ["tests/runtime/test_command_jobs.py::"
                  "test_a_retry_after_sigkill_takes_the_job_over"],
    },
    {
        "name": "command-job-cancel-cancels-the-azure-job",
        "promise": "cancel cancels the Azure job: SIGTERM (a cancelled run) cancels the command "
                   "job before the task fails",
        "file": RT + "command_jobs.py",
        "old": "lambda: client.jobs.begin_cancel(name).result(), 60)\n",
        "new": "lambda: None, 60)\n",
        "tests": ["tests/runtime/test_command_jobs.py::test_sigterm_cancels_the_azure_job"],
    },
    {
        "name": "recover-command-jobs-cancels-only-the-runs-jobs",
        "promise": "recover_command_jobs cancels the command jobs of its run still running, and "
                   "no other run's",
        "file": RT + "command_jobs.py",
        "old": "        if (job.tags or {}).get(\"azml-kfp-run\") == run_id and "
               "azml_batch_job_active(status):\n",
        "new": "        if azml_batch_job_active(status):\n",
        "tests": ["tests/runtime/test_command_jobs.py::"
                  "test_the_exit_task_cancels_what_a_killed_run_left"],
    },
    {
        "name": "a-job-yml-runs-as-written",
        "promise": "a single-step job written as azureml-examples write them runs through "
                   "run_command_job with its command, inputs and outputs as they are "
                   "(docs/training.md)",
        "file": RT + "command_job_options.py",
        "old": "            kind = kind[\"type\"]\n",
        "new": "            raise ValueError(f\"outputs: {name!r} must be a type\")\n",
        "tests": ["tests/pipelines/test_single_step_sample.py::"
                  "test_an_azureml_examples_style_job_trains_registers_and_deploys"],
    },
    # --- issue 24: MLflow tracking in local mode (azml-local/README.md, "MLflow tracking") ---
    {
        "name": "mlflow-routes-check-the-token",
        "promise": "the workspace's MLflow routes check the bearer token as the workspace does "
                   "(401 for a missing or invalid one)",
        "file": "azml-local/azml_local/tracking/routes.py",
        "old": "    ctx.identity.check_workspace_bearer(request, workspace_id)\n",
        "new": "",
        "tests": ["tests/local/test_tracking.py::"
                  "test_mlflow_routes_refuse_a_missing_or_bad_token"],
    },
    {
        "name": "arm-refuses-a-run-token",
        "promise": "a job's run token is for its workspace's data plane only: ARM refuses it",
        "file": "azml-local/azml_local/infra/auth.py",
        "old": 'claims["aud"].startswith(("endpoint:", RUN_AUDIENCE))',
        "new": 'claims["aud"].startswith("endpoint:")',
        "tests": ["tests/local/test_tracking.py::"
                  "test_a_job_environment_lets_its_process_log_into_the_run_it_names"],
    },
    {
        "name": "azure-unsupported-mlflow-ordering-is-refused",
        "promise": "ordering runs by metrics, params or tags (not in Azure's support matrix) "
                   "is refused",
        "file": "azml-local/azml_local/tracking/unsupported.py",
        "old": "        if isinstance(order, str) and _ORDER_BY_VALUES.match(order):\n",
        "new": "        if False:\n",
        "tests": ["tests/local/test_tracking.py::test_what_azure_ml_does_not_support_is_refused"],
    },
    {
        "name": "mlflow-logged-models-are-not-served",
        "promise": "MLflow's logged-models routes, which Azure's endpoint does not serve, "
                   "answer 404",
        "file": "azml-local/azml_local/tracking/unsupported.py",
        "old": "    return bool(_NOT_SERVED.match(path))\n",
        "new": "    return False\n",
        "tests": ["tests/local/test_tracking.py::test_routes_azure_ml_does_not_serve_are_404"],
    },
    {
        "name": "run-artifacts-are-write-once",
        "promise": "a run artifact path already uploaded is refused (Resource Conflict)",
        "file": "azml-local/azml_local/tracking/artifacts.py",
        "old": "        if path in existing:\n",
        "new": "        if False:\n",
        "tests": ["tests/local/test_tracking.py::"
                  "test_azureml_mlflow_logs_and_reads_a_run_through_the_workspace_tracking_uri"],
    },
]

# Functions of the mutmut-scoped modules that call Azure: the fast tests do not reach them
# ("no tests" in mutmut), the guarantee rows named here do.
OUT_OF_FAST_SCOPE = {
    # Registry discovery over https builds the registry's MLClient: the promote rows reach it.
    "azml_registry_client": ["promotion-reuses-identical-content",
                             "a-registry-version-is-never-overwritten"],
    "azml_set_traffic": ["set-traffic-writes-what-it-reports",
                         "set-traffic-keeps-or-replaces-the-mirror",
                         "rollback-restores-live-traffic", "delete-removes-the-mirror-first"],
}

# mutmut survivors that behave exactly like the original: (function, mutated line) -> why.
EQUIVALENT = {
    ("azml_check_model_id",
     "if azml_parse_registry_asset(model_id, ):  # a registry's model version"):
        "azml_parse_registry_asset's kind defaults to models",
    ("azml_same_live_traffic", "return {k.upper(): v for k, v in weights.items() if v}"):
        "both maps are folded to the same case: upper or lower compares the same",
    ("azml_resolve_environment",
     "candidate = os.path.join(code_path, conda_file) if (code_path) or True else conda_file"):
        "os.path.join('', name) is name",
    ("azml_subscription_id",
     'value = subscription_id or os.environ.get("AZ_SUBSCRIPTION_ID", None)'):
        "None and '' are both falsy: the same error",
    ("azml_subscription_id", 'value = subscription_id or os.environ.get("AZ_SUBSCRIPTION_ID", )'):
        "get() defaults to None: falsy like ''",
    ("azml_credential", 'authority = env.get("AZURE_AUTHORITY_HOST", None)'):
        "authority is only tested for truth; None and '' are both falsy",
    ("azml_credential", 'authority = env.get("AZURE_AUTHORITY_HOST", )'):
        "get() defaults to None: falsy like ''",
    ("azml_credential",
     'if env.get("AZML_EXCLUDE_MANAGED_IDENTITY", "XXXX").lower() in ("1", "true", "yes"):'):
        "'xxxx' is not a yes either: unset stays 'keep managed identity'",
    ("azml_model_id_input", 'asset_id = registered_model.metadata.get("asset_id", None)'):
        "only tested for truth; None and '' are both falsy",
    ("azml_model_id_input", 'asset_id = registered_model.metadata.get("asset_id", )'):
        "get() defaults to None: falsy like ''",
    ("azml_check_model_id", 'r"/subscriptions/[^/]+/resourcegroups/[^/]+/providers/"'):
        "the ARM id pattern is matched with re.IGNORECASE",
    ("azml_check_model_id", 'r"/SUBSCRIPTIONS/[^/]+/RESOURCEGROUPS/[^/]+/PROVIDERS/"'):
        "the ARM id pattern is matched with re.IGNORECASE",
    ("azml_check_model_id",
     'r"microsoft\\.machinelearningservices/workspaces/[^/]+/models/[^/]+/"'):
        "the ARM id pattern is matched with re.IGNORECASE",
    ("azml_check_model_id",
     'r"MICROSOFT\\.MACHINELEARNINGSERVICES/WORKSPACES/[^/]+/MODELS/[^/]+/"'):
        "the ARM id pattern is matched with re.IGNORECASE",
    ("azml_check_model_id", 'r"VERSIONS/[^/]+",'):
        "the ARM id pattern is matched with re.IGNORECASE",
    ("azml_deployment_options", 'auth_mode: str = "KEY",'):
        "azml_check_auth_mode folds case as the SDK's YAML does: KEY is key",
    ("azml_deployment_options", 'egress_public_network_access: str = "ENABLED",'):
        "azml_check_network_access folds case (the REST enum is case-insensitive)",
    ("azml_check_serving_options", '"ENABLED",'):
        "azml_check_network_access folds case (the REST enum is case-insensitive)",
}
for _function, _call, _name in (("azml_resolve_environment", "candidate", "handle"),
                                ("azml_payload_input", "payload_file.path", "handle"),
                                ("azml_write_report", 'path, "w"', "out")):
    for _encoding in ("encoding=None", "", 'encoding="UTF-8"'):
        EQUIVALENT[(_function, f"with open({_call}, {_encoding}) as {_name}:")] = (
            "'UTF-8' is the same codec as 'utf-8'; the default (None) is the locale's encoding, "
            "UTF-8 on the Linux images components and tests run on (Python coerces the C "
            "locale to UTF-8, PEP 538)")
