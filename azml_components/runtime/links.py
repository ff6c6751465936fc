# Links a person opens: pages in Azure ML studio (artifact metadata and the Markdown report).


def azml_studio_url(
    subscription_id: str,
    resource_group: str,
    workspace: str,
    kind: str,
    name: str,
    version: str = "",
) -> str:
    # kind: "model" (a model version's page), "endpoint" (an online endpoint's page) or
    # "batch_endpoint" (a batch endpoint's page) or "job" (a job's page).
    from urllib.parse import quote

    wsid = (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{workspace}"
    )
    pages = {
        "model": f"model/{quote(name)}:{quote(str(version))}/details/overview",
        "endpoint": f"endpoints/realtime/{quote(name)}/detail",
        "batch_endpoint": f"endpoints/batch/{quote(name)}/detail",
        "job": f"runs/{quote(name)}",
    }
    return f"https://ml.azure.com/{pages[kind]}?wsid={quote(wsid)}"
