# Traffic: reading an endpoint's maps, Azure's rules for them, planning new ones (all checked
# locally, before anything is written) and writing them.
from typing import Optional

from azml_components.runtime.calls import azml_when_idle
from azml_components.runtime.validation import azml_check_online_name, azml_check_range


def azml_traffic_of(endpoint) -> tuple:
    # (live, mirror) of an endpoint entity as plain name -> int maps (the SDK has floats).
    live = {k: int(v) for k, v in (endpoint.traffic or {}).items()}
    mirror = {k: int(v) for k, v in (endpoint.mirror_traffic or {}).items()}
    return live, mirror


def azml_parse_traffic(field: str, value) -> dict:
    # KFP hands dict parameters over as dicts; a JSON string is accepted too.
    import json

    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError as error:
            raise ValueError(f"{field}: not a JSON object of deployment -> percent") from error
    if not isinstance(value, dict):
        raise ValueError(f"{field}: must map deployment names to whole percents")
    result = {}
    for name, percent in value.items():
        azml_check_online_name(f"{field} deployment", name)
        # Azure matches deployment names ignoring case: {"blue": 50, "BLUE": 50} names one
        # deployment twice.
        same = [other for other in result if other.lower() == name.lower()]
        if same:
            raise ValueError(
                f"{field}: deployment {name!r} is given twice (as {same[0]!r} too); names "
                "ignore case"
            )
        if isinstance(percent, float) and percent.is_integer():
            percent = int(percent)  # KFP passes numbers inside dicts as floats
        azml_check_range(f"{field}[{name}]", percent, 0, 100)
        result[name] = percent
    return result


def azml_check_traffic(traffic: dict, mirror: Optional[dict], deployments: list) -> None:
    # Azure's rules: weights are whole percents for existing deployments; live traffic sums to
    # 100 (or is all 0); mirror traffic goes to one deployment, at most 50%, and never to one
    # that takes live traffic.
    known = {d.lower() for d in deployments}
    for field, weights in (("traffic", traffic), ("mirror_traffic", mirror or {})):
        for name, percent in weights.items():
            if name.lower() not in known:
                raise ValueError(
                    f"{field}: deployment {name!r} does not exist on the endpoint (existing: "
                    f"{', '.join(sorted(deployments)) or 'none'})"
                )
            azml_check_range(f"{field}[{name}]", percent, 0, 100)
    total = sum(traffic.values())
    if total not in (0, 100):
        raise ValueError(f"traffic: live traffic must sum to 100 (or all be 0), got {total}")
    mirrored = {name: p for name, p in (mirror or {}).items() if p}
    if len(mirrored) > 1:
        raise ValueError("mirror_traffic: only one deployment can receive mirrored traffic")
    for name, percent in mirrored.items():
        if percent > 50:
            raise ValueError(f"mirror_traffic[{name}]: {percent} must be at most 50")
        if traffic.get(name):
            raise ValueError(
                f"mirror_traffic[{name}]: a deployment that takes live traffic cannot also "
                "receive mirrored traffic"
            )


def azml_plan_traffic(current: dict, deployment: str, percent: int) -> dict:
    # Give `deployment` `percent`; the others keep their proportions of the rest (largest
    # remainder rounding, ties by name, so the plan is deterministic).
    azml_check_range("traffic_percent", percent, 0, 100)
    others = {n: int(p) for n, p in current.items() if n.lower() != deployment.lower()}
    rest = 100 - percent
    live = sum(others.values())
    if live == 0:
        if percent not in (0, 100):
            raise ValueError(
                f"traffic_percent: {percent} would leave {rest}% of requests with no deployment; "
                "no other deployment on the endpoint takes traffic, so use 100 (or 0)"
            )
        plan = dict.fromkeys(others, 0)
        # All-zero stays all-zero: a 0% first deployment is valid and serves no live traffic.
        plan[deployment] = percent
        return plan
    shares = {n: p * rest / live for n, p in others.items()}
    plan = {n: int(share) for n, share in shares.items()}
    leftover = rest - sum(plan.values())
    by_remainder = sorted(shares, key=lambda n: (-(shares[n] - int(shares[n])), n))
    for name in by_remainder[:leftover]:
        plan[name] += 1
    plan[deployment] = percent
    return plan


def azml_fill_traffic(traffic: dict, deployments: list) -> dict:
    # The full live map for the endpoint's deployments: names match Azure's way, ignoring case,
    # each deployment keeps its own spelling, and deployments left out get 0 (as in the portal).
    given = {name.lower(): percent for name, percent in traffic.items()}
    return {name: given.get(name.lower(), 0) for name in deployments}


def azml_same_live_traffic(current: dict, planned: dict) -> bool:
    # Equal as Azure sees it: names ignore case, and a 0% entry is the same as none.
    def nonzero(weights: dict) -> dict:
        return {k.lower(): v for k, v in weights.items() if v}

    return nonzero(current) == nonzero(planned)


def azml_set_traffic(client, endpoint, traffic: dict, mirror: Optional[dict], timeout_seconds: int):
    # Traffic is a PUT of the whole endpoint with the new maps; mirror None keeps the current
    # one. An operation already running on the endpoint (another run's) is waited out first.
    endpoint.traffic = dict(traffic)
    if mirror is not None:
        endpoint.mirror_traffic = dict(mirror)
    return azml_when_idle(
        f"setting traffic on endpoint {endpoint.name!r} to {traffic}",
        lambda: client.online_endpoints.get(endpoint.name),
        lambda: client.online_endpoints.begin_create_or_update(endpoint).result(),
        timeout_seconds,
    )
