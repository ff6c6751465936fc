"""The promotion example's evaluation: the candidate against the model prod serves now."""

from typing import NamedTuple

from kfp import dsl

from azml_components import pins
from azml_components._component import azure_component
from azml_components.runtime.azure_client import azml_ml_client, azml_subscription_id
from azml_components.runtime.calls import azml_get_or_none
from azml_components.runtime.invoke import azml_invoke_endpoint


@dsl.component(base_image=pins.BASE_IMAGE, packages_to_install=pins.EXAMPLE_PACKAGES)
def held_out_rows(rows: dsl.Output[dsl.Dataset], test_fraction: float = 0.2, seed: int = 42):
    """Write the diabetes rows the training step held out, with their targets.

    Args:
        test_fraction: Share of rows held out (the training step's test_fraction).
        seed: Random seed of the split (the training step's seed).

    Returns:
        rows: JSON {"data": [[...]], "target": [...]}: the held-out rows and true values.

    """
    import json

    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split

    data = load_diabetes(as_frame=True)
    _, x_test, _, y_test = train_test_split(
        data.data, data.target, test_size=test_fraction, random_state=seed
    )
    with open(rows.path, "w") as out:
        json.dump({"data": x_test.astype(float).values.tolist(),
                   "target": [float(v) for v in y_test]}, out)


@azure_component
def evaluate_against_serving(
    resource_group: str,
    workspace_name: str,
    endpoint_name: str,
    candidate: dsl.Input[dsl.Model],
    rows: dsl.Input[dsl.Dataset],
    subscription_id: str = "",
    tolerance: float = 0.0,
) -> NamedTuple("Outputs", [("decision", str), ("candidate_rmse", float),
                            ("serving_rmse", float)]):
    """Decide whether the candidate beats the model the prod endpoint serves now.

    The candidate's rmse on the held-out rows (its training metadata) is compared with the
    rmse of the prod endpoint's answers for the same rows; with no endpoint yet there is
    nothing to beat. Reads only: one scoring request.

    Args:
        resource_group: Resource group of the prod workspace.
        workspace_name: Name of the prod workspace.
        endpoint_name: The prod online endpoint (custom scoring: {"data": rows}).
        candidate: The trained model (its metadata carries rmse on the held-out rows).
        rows: The held-out rows and targets (held_out_rows).
        subscription_id: Azure subscription id of the prod workspace; empty means
            AZ_SUBSCRIPTION_ID from the secret.
        tolerance: Promote when candidate rmse <= serving rmse * (1 + tolerance).

    Returns:
        decision: "promote" when the candidate should go to prod, else "keep" (a string: a
            boolean output compared in dsl.If is not evaluated alike by kfp.local and the
            backend).
        candidate_rmse: The candidate's rmse on the held-out rows.
        serving_rmse: The serving model's rmse on them (-1 when nothing serves yet).

    """
    import json
    import math
    from collections import namedtuple

    outputs = namedtuple("Outputs", ["decision", "candidate_rmse", "serving_rmse"])
    with open(rows.path) as handle:
        held_out = json.load(handle)
    candidate_rmse = float(candidate.metadata["rmse"])
    subscription = azml_subscription_id(subscription_id)
    client = azml_ml_client(subscription, resource_group, workspace_name)
    endpoint = azml_get_or_none(f"reading endpoint {endpoint_name}",
                                client.online_endpoints.get, endpoint_name, client=client)
    if endpoint is None or not any((endpoint.traffic or {}).values()):
        print(f"Nothing serves on {endpoint_name} yet: promoting (candidate rmse "
              f"{candidate_rmse:.3f})")
        return outputs("promote", candidate_rmse, -1.0)
    answer = azml_invoke_endpoint(subscription, resource_group, workspace_name, endpoint_name,
                                  json.dumps({"data": held_out["data"]}), client=client)
    if answer["problems"]:
        raise RuntimeError(f"the serving model's answer failed its checks: {answer['problems']}")
    errors = [(p - t) ** 2 for p, t in zip(answer["response"], held_out["target"], strict=True)]
    serving_rmse = math.sqrt(sum(errors) / len(errors))
    promote = candidate_rmse <= serving_rmse * (1 + tolerance)
    print(f"candidate rmse {candidate_rmse:.3f}, serving rmse {serving_rmse:.3f}: "
          f"{'promote' if promote else 'keep the serving model'}")
    return outputs("promote" if promote else "keep", candidate_rmse, serving_rmse)
