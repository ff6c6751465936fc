# The Markdown report the KFP UI shows for deployments and rollouts.
from typing import Optional


def azml_markdown_report(
    title: str, facts: dict, traffic_before: dict, traffic_after: dict, models: dict, steps: list
) -> str:
    # facts: label -> value (links are written as Markdown links when they are https URLs).
    lines = [f"## {title}", ""]
    for label, value in facts.items():
        if isinstance(value, str) and value.startswith("https://") and label.endswith("studio"):
            value = f"[open in Azure ML studio]({value})"
        lines.append(f"- **{label}**: {value}")
    names = sorted(set(traffic_before) | set(traffic_after) | set(models), key=str.lower)
    if names:
        lines += [
            "",
            "| deployment | model | traffic before | traffic after |",
            "|---|---|---|---|",
        ]
        for name in names:
            lines.append(
                f"| {name} | {models.get(name, '')} | {traffic_before.get(name, '-')}% "
                f"| {traffic_after.get(name, '-')}% |"
            )
    if steps:
        lines += ["", "### Steps", ""]
        lines += [f"{i}. {step}" for i, step in enumerate(steps, 1)]
    return "\n".join(lines) + "\n"


def azml_write_report(
    path: str, title: str, facts: dict, traffic_before: Optional[dict] = None,
    traffic_after: Optional[dict] = None, models: Optional[dict] = None,
    steps: Optional[list] = None,
) -> None:
    # The component's Markdown report output, written to the path KFP gave it.
    with open(path, "w", encoding="utf-8") as out:
        out.write(azml_markdown_report(
            title, facts, traffic_before or {}, traffic_after or {}, models or {}, steps or []
        ))
