"""The Markdown report (runtime/report.py)."""

from azml_components.runtime.report import azml_markdown_report


def test_report_lists_facts_traffic_per_deployment_and_steps():
    text = azml_markdown_report(
        "Rollout of green",
        {"endpoint": "churn", "studio": "https://ml.azure.com/x", "scoring uri": "https://s/score",
         "count": 3},
        {"blue": 100}, {"blue": 0, "Green": 100}, {"blue": "m:1", "Green": "m:2"},
        ["deployed green", "traffic {'Green': 100}"],
    )
    assert text == (
        "## Rollout of green\n"
        "\n"
        "- **endpoint**: churn\n"
        "- **studio**: [open in Azure ML studio](https://ml.azure.com/x)\n"
        "- **scoring uri**: https://s/score\n"
        "- **count**: 3\n"
        "\n"
        "| deployment | model | traffic before | traffic after |\n"
        "|---|---|---|---|\n"
        "| blue | m:1 | 100% | 0% |\n"
        "| Green | m:2 | -% | 100% |\n"
        "\n"
        "### Steps\n"
        "\n"
        "1. deployed green\n"
        "2. traffic {'Green': 100}\n"
    )


def test_report_without_deployments_or_steps_is_just_the_facts():
    assert azml_markdown_report("Nothing", {"a studio": "http://x"}, {}, {}, {}, []) == (
        "## Nothing\n\n- **a studio**: http://x\n")


def test_deployments_sort_ignoring_case_and_a_model_may_be_unknown():
    text = azml_markdown_report("t", {}, {"b": 50, "A": 50}, {}, {}, [])
    rows = [line for line in text.splitlines() if line.startswith("| ") and "%" in line]
    assert rows == ["| A |  | 50% | -% |", "| b |  | 50% | -% |"]


def test_a_deployment_only_in_the_traffic_after_gets_a_row():
    text = azml_markdown_report("t", {}, {}, {"new": 100}, {}, [])
    assert "| new |  | -% | 100% |" in text.splitlines()


def test_the_report_output_is_the_markdown_report(tmp_path):
    from azml_components.runtime.report import azml_markdown_report, azml_write_report

    path = tmp_path / "report.md"
    azml_write_report(str(path), "Título", {"endpoint": "e"})
    assert path.read_text(encoding="utf-8") == azml_markdown_report(
        "Título", {"endpoint": "e"}, {}, {}, {}, [])
    azml_write_report(str(path), "T", {"a": 1}, {"blue": 100}, {"blue": 0, "green": 100},
                      {"green": "m:2"}, ["shifted"])
    assert path.read_text(encoding="utf-8") == azml_markdown_report(
        "T", {"a": 1}, {"blue": 100}, {"blue": 0, "green": 100}, {"green": "m:2"}, ["shifted"])
