# check_drift's reports: an HTML page and a Markdown summary. The KFP UI shows HTML artifacts in
# a sandboxed frame, and clusters are often air-gapped, so the page is self-contained: inline
# SVG histograms and inline CSS, no scripts, fonts, images or links to anything else.
from azml_components.runtime.drift_metrics import azml_histogram
from azml_components.runtime.records import AzmlFeatureDrift


def azml_format_metric(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def azml_svg_histogram(title: str, labels: list, baseline: list, production: list) -> str:
    # Paired bars per bin: baseline (blue) and production (orange), heights as frequencies.
    from html import escape

    width, height, pad = 480, 200, 30
    if not labels:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="40" role="img">'
                f'<title>{escape(title)}</title><text x="4" y="24">no values to plot</text></svg>')
    top = max(baseline + production) or 1.0
    slot = (width - 2 * pad) / len(labels)
    bar = max(slot / 2 - 1, 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 40}" '
             f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line x1="{pad}" y1="{height}" x2="{width - pad}" y2="{height}" stroke="#444"/>']
    for i, label in enumerate(labels):
        x = pad + i * slot
        for offset, value, colour, who in ((0, baseline[i], "#1f77b4", "baseline"),
                                           (bar + 1, production[i], "#ff7f0e", "production")):
            h = (height - pad) * value / top
            parts.append(f'<rect class="{who}" x="{x + offset:.1f}" y="{height - h:.1f}" '
                         f'width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{escape(str(label))} {who}: {value:.3f}</title></rect>')
        if len(labels) <= 12 or i % max(1, len(labels) // 8) == 0:
            parts.append(f'<text x="{x:.1f}" y="{height + 14}" font-size="9">'
                         f'{escape(str(label))[:10]}</text>')
    parts.append(f'<text x="{pad}" y="{height + 32}" font-size="10"><tspan fill="#1f77b4">'
                 '&#9632; baseline</tspan> <tspan fill="#ff7f0e">&#9632; production</tspan>'
                 '</text></svg>')
    return "".join(parts)


def azml_drift_rows_html(results: list) -> str:
    # The per-feature table.
    from html import escape

    head = ("<tr><th>feature</th><th>signal</th><th>type</th><th>metric</th><th>value</th>"
            "<th>threshold</th><th>drift</th><th>null rate</th><th>type error rate</th>"
            "<th>out-of-bounds rate</th><th>quality breaches</th></tr>")
    rows = []
    for r in results:
        flag = "DRIFT" if r.drifted else "ok"
        rows.append(
            f'<tr class="{"drift" if r.drifted else "ok"}"><td>{escape(r.name)}</td>'
            f"<td>{r.signal}</td><td>{r.kind}</td><td>{r.metric}</td>"
            f"<td>{azml_format_metric(r.value)}</td><td>{r.threshold:g}</td><td>{flag}</td>"
            f"<td>{r.null_value_rate:g}</td><td>{r.data_type_error_rate:g}</td>"
            f"<td>{r.out_of_bounds_rate:g}</td><td>{', '.join(r.quality_breaches) or '-'}</td>"
            "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def azml_drift_html(title: str, facts: dict, results: list, samples: dict) -> str:
    # samples: feature name -> (baseline values, production values) for the histograms.
    from html import escape

    style = ("body{font-family:sans-serif;margin:16px;color:#222}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 6px;font-size:12px}"
             "tr.drift td{background:#fde2e2}figure{display:inline-block;margin:8px}")
    items = "".join(f"<li><b>{escape(str(k))}</b>: {escape(str(v))}</li>"
                    for k, v in facts.items())
    figures = []
    for r in results:
        if r.name not in samples:
            continue
        labels, base, prod = azml_histogram(r.kind, *samples[r.name])
        caption = f"{r.name} ({r.kind}, {r.metric} {azml_format_metric(r.value)})"
        figures.append(f"<figure>{azml_svg_histogram(caption, labels, base, prod)}"
                       f"<figcaption>{escape(caption)}</figcaption></figure>")
    # rel=icon data:, so a browser showing the page on its own asks for no /favicon.ico.
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
            f'</title><link rel="icon" href="data:,"><style>{style}</style></head><body><h1>'
            f"{escape(title)}</h1><ul>{items}</ul>"
            f"{azml_drift_rows_html(results)}<h2>Histograms</h2>{''.join(figures)}</body></html>\n")


def azml_drift_markdown(title: str, facts: dict, results: list) -> str:
    # The same table in Markdown (the KFP UI renders Markdown artifacts too).
    lines = [f"## {title}", ""] + [f"- **{k}**: {v}" for k, v in facts.items()]
    if results:
        lines += ["", "| feature | signal | type | metric | value | threshold | drift | null "
                  "rate | type error rate | out-of-bounds rate |", "|---" * 10 + "|"]
        lines += [f"| {r.name} | {r.signal} | {r.kind} | {r.metric} | "
                  f"{azml_format_metric(r.value)} | {r.threshold:g} | "
                  f"{'**DRIFT**' if r.drifted else 'ok'} | {r.null_value_rate:g} | "
                  f"{r.data_type_error_rate:g} | {r.out_of_bounds_rate:g} |" for r in results]
    return "\n".join(lines) + "\n"


def azml_feature_drift_metrics(results: list) -> dict:
    # Scalar metrics for the KFP Metrics artifact: per feature its metric value and its rates.
    metrics = {}
    for r in results:
        r: AzmlFeatureDrift
        if r.value is not None:
            metrics[f"{r.signal}.{r.name}.{r.metric}"] = round(r.value, 6)
        metrics[f"data_quality.{r.name}.null_value_rate"] = r.null_value_rate
        metrics[f"data_quality.{r.name}.data_type_error_rate"] = r.data_type_error_rate
        metrics[f"data_quality.{r.name}.out_of_bounds_rate"] = r.out_of_bounds_rate
    metrics["drifted_features"] = sum(1 for r in results if r.drifted)
    return metrics
