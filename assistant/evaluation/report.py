"""The evaluation report as one self-contained HTML file: plots are PNGs embedded as data URIs, styles
inline, no script and no link to the network. Rendered from the package template
`assistant/templates/report.html.j2` (importlib.resources) with autoescaping on (answers and questions are data).
"""

from __future__ import annotations

import base64
import io

from assistant.evaluation.metrics import METRICS


def _template() -> str:
    from importlib.resources import files

    return (files("assistant") / "templates" / "report.html.j2").read_text(encoding="utf-8")


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def plots(report: dict) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report["summary"]
    names = [n for n in METRICS if s[n]["mean"] is not None]
    means = [s[n]["mean"] for n in names]
    err = [[m - s[n]["low"] for n, m in zip(names, means)], [s[n]["high"] - m for n, m in zip(names, means)]]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.barh(names, means, xerr=err, color="#2563eb", ecolor="#111827", capsize=3)
    ax.set_xlim(0, 1.05)
    ax.invert_yaxis()
    ax.set_xlabel("score (bars: 95% bootstrap interval)")
    metrics_png = _png(fig)

    lat = [r["latency_ms"] / 1000 for r in report["cases"] if r.get("latency_ms") is not None]
    fig, ax = plt.subplots(figsize=(8, 2.6))
    ax.hist(lat, bins=min(30, max(5, len(lat) // 3)), color="#059669")
    ax.set_xlabel("seconds per question")
    ax.set_ylabel("questions")
    latency_png = _png(fig)
    out = {"metrics": metrics_png, "latency": latency_png, "risk_coverage": None}
    rc = report.get("risk_coverage")
    if rc and rc["curve"]:
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        pts = [c for c in rc["curve"] if c["accuracy"] is not None]
        ax.plot([c["coverage"] for c in pts], [c["accuracy"] for c in pts], marker=".", color="#2563eb")
        if rc["point"]["accuracy"] is not None:
            ax.plot([rc["point"]["coverage"]], [rc["point"]["accuracy"]], marker="o", markersize=9, color="#dc2626",
                    label=f"the gate's threshold ({rc['threshold']:.2f})")
            ax.legend(loc="lower left")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("share of questions answered")
        ax.set_ylabel("share of answered ones right")
        out["risk_coverage"] = _png(fig)
    return out


def render_report(report: dict) -> str:
    from jinja2 import Environment, StrictUndefined

    env = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(_template())
    return template.render(r=report, metrics=METRICS, plots=plots(report))
