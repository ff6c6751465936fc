"""set_traffic's runtime (runtime/endpoints.py) through the real SDK against the stand-in."""

import pytest

from azml_components.runtime.deploy import azml_deploy_model
from azml_components.runtime.endpoints import azml_update_traffic
from azml_components.runtime.register import azml_register_model
from tests.helpers import workspace, write_custom_model

pytestmark = pytest.mark.timeout(600)


def test_bad_traffic_maps_are_rejected_before_any_write(standin, tmp_path):
    model_dir, code_dir, _ = write_custom_model(tmp_path, alpha=3.0)
    registered = azml_register_model(**workspace(), model_name="rules-blue",
                                     model_path=str(model_dir))
    azml_deploy_model(**workspace(), endpoint_name="rollout-rules", deployment_name="blue",
                      model_id=registered["asset_id"], timeout_seconds=300,
                      options={"code_path": str(code_dir), "conda_file": "conda.yaml"})
    bad = [
        ({"blue": 90}, None, "sum to 100"),
        ({"blue": 100, "ghost": 0}, None, "'ghost' does not exist"),
        ({"blue": 100}, {"blue": 10}, "cannot also receive mirrored"),
        ({"blue": 100}, {"nope": 60}, "does not exist"),
        ({"Bad_Name": 100}, None, "not a valid name"),
    ]
    for traffic, mirror, message in bad:
        standin.clear_requests()
        with pytest.raises(ValueError, match=message):
            azml_update_traffic(**workspace(), endpoint_name="rollout-rules", traffic=traffic,
                                mirror_traffic=mirror)
        writes = [r for r in standin.requests() if r["method"] != "GET"
                  and r["path"].startswith("/subscriptions/")]
        assert writes == [], (traffic, writes)
    # Names are matched ignoring case, as Azure does; the deployment keeps its own spelling.
    moved = azml_update_traffic(**workspace(), endpoint_name="rollout-rules",
                                traffic={"BLUE": 100})
    assert moved["traffic"] == {"blue": 100}
