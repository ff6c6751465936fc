"""Azure ML studio links (runtime/links.py)."""

from urllib.parse import parse_qs, urlparse

from azml_components.runtime.links import azml_studio_url

WSID = ("/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/"
        "workspaces/ws")


def test_model_and_endpoint_pages_carry_the_workspace():
    model = azml_studio_url("sub", "rg", "ws", "model", "churn", "3")
    endpoint = azml_studio_url("sub", "rg", "ws", "endpoint", "churn-prod")
    batch = azml_studio_url("sub", "rg", "ws", "batch_endpoint", "churn-nightly")
    assert model.startswith("https://ml.azure.com/model/churn:3/details/overview?wsid=")
    assert endpoint.startswith("https://ml.azure.com/endpoints/realtime/churn-prod/detail?wsid=")
    assert batch.startswith("https://ml.azure.com/endpoints/batch/churn-nightly/detail?wsid=")
    for url in (model, endpoint, batch):
        assert parse_qs(urlparse(url).query) == {"wsid": [WSID]}


def test_a_model_link_names_its_version_and_quotes_names():
    assert azml_studio_url("s", "rg", "ws", "model", "churn").startswith(
        "https://ml.azure.com/model/churn:/details/overview?wsid=")
    assert azml_studio_url("s", "rg", "ws", "endpoint", "a b") == (
        "https://ml.azure.com/endpoints/realtime/a%20b/detail?wsid=/subscriptions/s/"
        "resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws")


def test_a_job_link_is_its_run_page():
    assert azml_studio_url("s", "rg", "ws", "job", "azml-run 1") == (
        "https://ml.azure.com/runs/azml-run%201?wsid=/subscriptions/s/resourceGroups/rg/"
        "providers/Microsoft.MachineLearningServices/workspaces/ws")
