"""Plot RSS over time from tests/bench/soak_rss.sh CSVs into a PNG.

    python tests/bench/plot_rss.py OUT.png LABEL=FILE.csv [LABEL=FILE.csv ...]

Needs matplotlib (tests/bench/soak_rss.sh does not install it; `pip install matplotlib` in any venv).
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(out, series):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for spec in series:
        label, path = spec.split("=", 1)
        with open(path) as f:
            rows = list(csv.DictReader(f))
        ax.plot([int(r["t_s"]) for r in rows], [int(r["rss_kib"]) / 1024 for r in rows], label=label)
    ax.set_xlabel("seconds of setData load (256 keys, 100 B, 32 sessions x 4 outstanding)")
    ax.set_ylabel("server RSS (MiB)")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
