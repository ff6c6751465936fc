"""What a deployment's record asks of its scoring process and of the front door.

Read from the deployment as the SDK writes it (azure-ai-ml 1.35 OnlineRequestSettings and
ProbeSettings._to_rest_object: properties.requestSettings {requestTimeout, maxQueueWait as ISO
8601 durations, maxConcurrentRequestsPerInstance}, properties.readinessProbe / livenessProbe
{initialDelay, period, timeout as ISO 8601 durations, successThreshold, failureThreshold}),
with Azure's defaults where a field is absent: the REST API spec (2024-04-01,
OnlineRequestSettings: "Defaults to 5000ms", "Defaults to 1") and "CLI (v2) managed online
deployment YAML schema" (ProbeSettings: period 10, initial_delay 10, timeout 2,
success_threshold 1, failure_threshold 30). Validation of the values is the ARM route's job
(resources/online_deployments.py); a value that does not parse falls back to the default here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from azml_local.resources.context import duration_seconds

# azureml-inference-server-http (constants.py): WORKER_COUNT, default 1, is the number of
# gunicorn workers in one container; Azure's troubleshooting page (429 row) asks that it be
# passed as an environment variable when max_concurrent_requests_per_instance is raised.
WORKER_COUNT = "WORKER_COUNT"


@dataclass(frozen=True)
class Probe:
    """One liveness or readiness probe, times in seconds (Azure's defaults)."""

    initial_delay: float = 10.0
    period: float = 10.0
    timeout: float = 2.0
    success_threshold: int = 1
    failure_threshold: int = 30


@dataclass(frozen=True)
class ServingSettings:
    """The scoring settings of one deployment generation."""

    request_timeout: float = 5.0  # seconds
    max_concurrent_requests_per_instance: int = 1
    instance_count: int = 1
    worker_count: str = "1"  # WORKER_COUNT as given; the server parses it (int())
    managed: bool = True
    readiness: Probe = field(default_factory=Probe)
    liveness: Probe = field(default_factory=Probe)

    @property
    def max_pending(self) -> int | None:
        """Requests a managed deployment takes at once: "2 * max_concurrent_requests_per_instance
        * instance_count" ("Troubleshoot online endpoint deployment and scoring", HTTP status
        codes, 429 Too many pending requests). The page gives no such rule for Kubernetes.
        """
        if not self.managed:
            return None
        return 2 * self.max_concurrent_requests_per_instance * self.instance_count


def _seconds(value: Any, default: float) -> float:
    seconds = duration_seconds(value) if isinstance(value, str) else None
    return seconds if seconds else default


def _count(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 \
        else default


def _probe(given: Any) -> Probe:
    given = given if isinstance(given, dict) else {}
    default = Probe()
    return Probe(
        initial_delay=_seconds(given.get("initialDelay"), default.initial_delay),
        period=_seconds(given.get("period"), default.period),
        timeout=_seconds(given.get("timeout"), default.timeout),
        success_threshold=_count(given.get("successThreshold"), default.success_threshold),
        failure_threshold=_count(given.get("failureThreshold"), default.failure_threshold),
    )


def from_deployment(deployment: dict[str, Any]) -> ServingSettings:
    """The settings a deployment record asks for (Azure's defaults for what it leaves out)."""
    props = deployment.get("properties") or {}
    requests = props.get("requestSettings") or {}
    default = ServingSettings()
    env = props.get("environmentVariables") or {}
    return ServingSettings(
        request_timeout=_seconds(requests.get("requestTimeout"), default.request_timeout),
        max_concurrent_requests_per_instance=_count(
            requests.get("maxConcurrentRequestsPerInstance"),
            default.max_concurrent_requests_per_instance),
        # sku.capacity is the deployment's instance_count (SDK: ManagedOnlineDeployment's
        # _to_rest_object writes instance_count into sku.capacity).
        instance_count=_count((deployment.get("sku") or {}).get("capacity"), 1),
        worker_count=str(env.get(WORKER_COUNT, default.worker_count)),
        managed=props.get("endpointComputeType", "Managed") != "Kubernetes",
        readiness=_probe(props.get("readinessProbe")),
        liveness=_probe(props.get("livenessProbe")),
    )
