# The runtime: plain functions shared by every component.
#
# kfp's `additional_funcs` copies each function's source into the component, so everything here
# must be a top-level `def` with its imports inside, no module-level state, no classes and no
# decorators, and comments instead of docstrings (a docstring here would become the component's
# description in the KFP UI). Tests import these functions directly.
from azml_components.runtime.azure_client import (
    azml_credential,
    azml_ml_client,
    azml_subscription_id,
)
from azml_components.runtime.deploy import (
    azml_best_effort,
    azml_check_code,
    azml_check_model_id,
    azml_code_from_model,
    azml_deploy_model,
    azml_deployment_logs,
    azml_get_or_none,
    azml_resolve_environment,
    azml_set_traffic,
    azml_studio_endpoint_url,
)
from azml_components.runtime.endpoints import (
    azml_delete_deployment,
    azml_delete_endpoint,
    azml_parse_traffic,
    azml_update_traffic,
)
from azml_components.runtime.inputs import (
    azml_endpoint_name_input,
    azml_model_id_input,
    azml_payload_input,
)
from azml_components.runtime.invoke import (
    azml_count_rows,
    azml_invoke_endpoint,
    azml_predictions,
)
from azml_components.runtime.calls import (
    azml_call,
    azml_describe_error,
    azml_wait,
)
from azml_components.runtime.register import (
    azml_register_model,
    azml_string_map,
    azml_studio_model_url,
    azml_validate_model_source,
)
from azml_components.runtime.report import azml_markdown_report
from azml_components.runtime.rollout import azml_check_steps, azml_safe_rollout
from azml_components.runtime.traffic import (
    azml_check_traffic,
    azml_plan_traffic,
    azml_traffic_of,
)
from azml_components.runtime.validation import (
    azml_check_asset_name,
    azml_check_choice,
    azml_check_online_name,
    azml_check_range,
)

# Order matters only for readability of the compiled source.
FUNCTIONS = [
    azml_subscription_id,
    azml_credential,
    azml_ml_client,
    azml_describe_error,
    azml_call,
    azml_wait,
    azml_check_online_name,
    azml_check_asset_name,
    azml_check_choice,
    azml_check_range,
    azml_studio_model_url,
    azml_validate_model_source,
    azml_string_map,
    azml_register_model,
    azml_traffic_of,
    azml_check_traffic,
    azml_plan_traffic,
    azml_studio_endpoint_url,
    azml_check_model_id,
    azml_resolve_environment,
    azml_check_code,
    azml_code_from_model,
    azml_get_or_none,
    azml_best_effort,
    azml_deployment_logs,
    azml_set_traffic,
    azml_deploy_model,
    azml_count_rows,
    azml_predictions,
    azml_invoke_endpoint,
    azml_parse_traffic,
    azml_update_traffic,
    azml_delete_deployment,
    azml_delete_endpoint,
    azml_markdown_report,
    azml_check_steps,
    azml_safe_rollout,
    azml_model_id_input,
    azml_payload_input,
    azml_endpoint_name_input,
]
