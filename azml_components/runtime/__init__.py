# The runtime: plain functions the components call, one module per concern.
#
# kfp's `additional_funcs` copies each function's source into the component, so everything here
# must be a top-level `def` with its imports inside, no module-level state and no decorators,
# and comments instead of docstrings (a docstring here would become the component's description
# in the KFP UI). The one kind of class is a typed record (records.py: a NamedTuple of builtin
# and typing annotations), which the component source gets ahead of the functions. A component
# embeds exactly the runtime functions and records it reaches, worked out from the source when
# it is built (azml_components._component). Tests import them from here or from their module.
import ast
import functools
import inspect

from azml_components.runtime import (
    autoscale,
    azure_client,
    batch,
    batch_inputs,
    batch_jobs,
    batch_overrides,
    calls,
    command_job_options,
    command_jobs,
    data_collection,
    deploy,
    deployment_options,
    deployment_settings,
    deployment_writes,
    drift,
    drift_data,
    drift_metrics,
    drift_report,
    endpoints,
    inputs,
    invoke,
    links,
    lookups,
    monitor,
    records,
    register,
    registries,
    report,
    rollout,
    rollout_state,
    targets,
    traffic,
    validation,
)

# A module uses only the modules before it; a component's source lists its functions in this
# order (then in source order), so the compiled YAML reads from the basics up.
MODULES = (
    records,  # typed records that cross modules (NamedTuples)
    validation,  # input rules: each error names the field and the rule
    azure_client,  # credentials and the MLClient
    calls,  # calling Azure: error translation, waiting, best effort and undo
    links,  # Azure ML studio links
    inputs,  # component inputs that come as an artifact or a string
    report,  # the Markdown report
    drift_metrics,  # drift and data-quality metrics (numpy/scipy), as Azure ML monitoring's
    drift_data,  # tables from files, data assets and a deployment's collected data
    drift_report,  # check_drift's HTML (inline SVG) and Markdown reports
    drift,  # check_drift
    monitor,  # create_monitor: Azure ML model monitoring schedules
    autoscale,  # Azure Monitor autoscale settings of managed online deployments
    lookups,  # what an input names in the workspace, looked up before the first write
    traffic,  # traffic rules, planning and writing
    endpoints,  # an endpoint's state; set traffic, delete deployment or endpoint
    register,  # register_model
    registries,  # registries: the registry's MLClient, promote_model
    invoke,  # invoke_endpoint and smoke tests
    targets,  # managed or Kubernetes: kind, compute, instance type, resources
    rollout_state,  # a rollout's record on its endpoint; undoing an unfinished rollout
    deployment_settings,  # serving settings: request, probes, network, tags; compared
    data_collection,  # the data collector: collections, sampling, rolling, captured headers
    deployment_options,  # the options deploy_model and safe_rollout share
    deployment_writes,  # create the endpoint if new, write the deployment, undo on failure
    deploy,  # deploy_model
    rollout,  # safe_rollout
    batch_jobs,  # a batch job's identity: a retry takes its job over; recover_batch_jobs
    batch_inputs,  # a batch job's input: a data asset read first, a dataset uploaded once
    batch_overrides,  # a batch job's own settings in place of its deployment's
    batch,  # deploy_batch_model and score_batch
    command_job_options,  # run_command_job's input rules
    command_jobs,  # run_command_job: submit once per task, stream, outputs; recover_command_jobs
)


def _source_order(module) -> dict:
    # Each top-level name's line, from one parse of the module (inspect.getsourcelines per
    # function re-tokenizes the file each time: seconds for every component built at import).
    tree = ast.parse(inspect.getsource(module))
    return {node.name: node.lineno for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


@functools.cache
def _functions() -> tuple:
    found = []
    for module in MODULES:
        order = _source_order(module)
        defined = [
            f
            for f in vars(module).values()
            if (inspect.isfunction(f) or inspect.isclass(f)) and f.__module__ == module.__name__
        ]
        found += sorted(defined, key=lambda f: order.get(f.__name__)
                        or inspect.getsourcelines(f)[1])
    return tuple(found)


def functions() -> dict:
    """Return every runtime function and record by name, in MODULES order, then source order."""
    return {function.__name__: function for function in _functions()}


globals().update(functions())
