"""check_drift through kfp.local: artifacts in, Metrics/HTML/Markdown out, drift_detected in dsl.If.

Dataset artifacts only (no Azure call), so it runs without a deployment: the monitoring example's
test (tests/pipelines/test_monitor_pipeline.py) reads a deployment's collected data instead.
"""

import json

import pytest
from kfp import dsl, local

from azml_components import check_drift, pins
from azml_components.testing.kfp_backend import kfp_backend_rules
from azml_components.testing.kfp_local_conditions import named_output_conditions

pytestmark = pytest.mark.timeout(300)


@dsl.component(base_image=pins.BASE_IMAGE)
def samples(baseline: dsl.Output[dsl.Dataset], production: dsl.Output[dsl.Dataset],
            shift: float):
    """Write a baseline and production CSV (fixed seed); production moved by ``shift``."""
    import random

    pick = random.Random(11)
    for artifact, moved in ((baseline, 0.0), (production, shift)):
        with open(artifact.path, "w") as out:
            out.write("age,colour\n")
            for _ in range(1500):
                colour = pick.choice(["red", "green", "blue"] if not moved else ["blue"] * 3 +
                                     ["red"])
                out.write(f"{pick.gauss(50 + 10 * moved, 10):.3f},{colour}\n")


@dsl.component(base_image=pins.BASE_IMAGE)
def retrain_marker(reason: str, note: dsl.Output[dsl.Artifact]):
    """Stand in for the retraining branch."""
    with open(note.path, "w") as out:
        out.write(f"retrain: {reason}")


@dsl.pipeline(name="drift-check")
def drift_check(shift: float):
    data = samples(shift=shift)
    drift = check_drift(baseline=data.outputs["baseline"], production=data.outputs["production"],
                        resource_group="unused", workspace_name="unused")
    with dsl.If(drift.outputs["drift_detected"] == True, name="drifted"):  # noqa: E712
        retrain_marker(reason=drift.outputs["reason"])


@pytest.mark.parametrize(("shift", "drifted"), [(1.0, True), (0.0, False)])
def test_check_drift_outputs_feed_dsl_if(tmp_path, shift, drifted):
    with kfp_backend_rules() as rules, named_output_conditions():
        local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
        drift_check(shift=shift)
    assert rules.violations == []
    run = next(tmp_path.glob("drift-check-*"))
    metrics = json.loads(next(run.glob("check-drift/executor_output.json")).read_text())
    assert metrics["parameterValues"]["drift_detected"] is drifted
    notes = list(run.glob("retrain-marker/note"))
    assert bool(notes) is drifted
    if drifted:
        assert notes[0].read_text() == "retrain: drift in 2 of 2 features: age, colour"
    html = next(run.glob("check-drift/report")).read_text()
    assert html.count("<svg") == 2 and "<script" not in html
    summary = next(run.glob("check-drift/summary")).read_text()
    assert ("## Drift detected" if drifted else "## No drift detected") in summary
