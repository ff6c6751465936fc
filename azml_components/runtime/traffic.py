# Traffic maps: computed and checked locally, before anything is written to Azure.
from typing import Optional

from azml_components.runtime.validation import azml_check_range


def azml_traffic_of(endpoint) -> tuple:
    # (live, mirror) of an endpoint entity as plain name -> int maps (the SDK has floats).
    live = {k: int(v) for k, v in (endpoint.traffic or {}).items()}
    mirror = {k: int(v) for k, v in (endpoint.mirror_traffic or {}).items()}
    return live, mirror


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
