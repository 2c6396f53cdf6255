#!/usr/bin/python3
"""One PNG per scenario from a bench results folder: every sample of every DUT (dots) and
the medians (bars), Mpps out, with the ratio to testpmd over each bar."""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DUTS = ["vxswitch", "testpmd", "ovs"]
COLORS = {"vxswitch": "#1f77b4", "testpmd": "#7f7f7f", "ovs": "#ff7f0e", "baseline": "#aec7e8"}
NAMES = {"vxswitch": "vxswitch", "testpmd": "testpmd io", "ovs": "OVS-DPDK", "baseline": "baseline"}


def main(out: Path) -> None:
    samples = json.loads((out / "samples.json").read_text())["samples"]
    summary = json.loads((out / "summary.json").read_text())
    m = summary["machine"]
    charts = out / "charts"
    charts.mkdir(exist_ok=True)
    for row in summary["rows"]:
        sc = row["scenario"]
        fig, ax = plt.subplots(figsize=(6, 4))
        tp = row.get("testpmd")
        duts = DUTS[:1] + (["baseline"] if row.get("baseline") is not None else []) + DUTS[1:]
        for i, dut in enumerate(duts):
            pts = [s["mpps"] for s in samples if s["scenario"] == sc and s["dut"] == dut]
            med = row.get(dut)
            if med is None:
                ax.text(i, 0, "not run", ha="center", va="bottom")
                continue
            ax.bar(i, med, color=COLORS[dut], alpha=0.6, width=0.6)
            ax.scatter([i] * len(pts), pts, color="black", s=12, zorder=3)
            label = f"{med:.2f}" + (f"\n{med / tp:.2f}x tp" if tp else "")
            ax.text(i, max(pts + [med]), label, ha="center", va="bottom", fontsize=9)
        ax.set_xticks(range(len(duts)), [NAMES[d] for d in duts])
        ax.set_ylabel("Mpps out (median, dots: samples)")
        ax.set_title(f"{sc}: {row['about']}", fontsize=10)
        ax.margins(y=0.25)
        fig.text(0.01, 0.01, f"{m['cpu']} | {m['dpdk'] and 'DPDK ' + m['dpdk']} | {m['commit']}", fontsize=6)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        fig.savefig(charts / f"{sc}.png", dpi=100)
        plt.close(fig)
    print(f"charts: {charts}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
