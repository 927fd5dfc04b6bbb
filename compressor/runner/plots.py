"""The PNG plots ``report.md`` links (matplotlib, drawn off-screen with the Agg canvas):

* ``plots/top1.png``       top-1 per epoch, dense and compression phases;
* ``plots/sparsity.png``   target and actual sparsity of the pruned tensors, and of all
  parameters, per compression epoch;
* ``plots/layers.png``     the final sparsity of each pruned tensor (and its target);
* ``plots/structure.png``  parameters and MACs per sample of the dense model and of the
  final one (smaller after thinning).
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = ["PLOTS", "write_plots"]

#: file name -> what it shows (the link text in report.md)
PLOTS = {"top1.png": "top-1 per epoch", "sparsity.png": "sparsity per epoch",
         "layers.png": "per-layer sparsity", "structure.png": "parameters and MACs before / after"}


def _figure(width: float = 6.4, height: float = 3.6) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _steps(epochs: list[dict], dense: int) -> list[int]:
    return [e["epoch"] + (dense if e["phase"] != "dense" else 0) for e in epochs]


def _top1(report: dict, path: Path) -> None:
    epochs = report["epochs"]
    dense = sum(1 for e in epochs if e["phase"] == "dense")
    fig, ax = _figure()
    for phase, marker in (("dense", "o"), ("compress", "s")):
        chosen = [e for e in epochs if e["phase"] == phase]
        if chosen:
            ax.plot(_steps(chosen, dense), [e["top1"] for e in chosen], marker=marker, label=phase)
    if report.get("final"):
        ax.axhline(report["final"]["top1"], color="grey", linestyle=":", label="final")
    ax.set(xlabel="epoch (dense, then compression)", ylabel="top-1 (%)", title="Top-1 accuracy")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path)


def _sparsity(report: dict, path: Path) -> None:
    epochs = [e for e in report["epochs"] if e.get("sparsity")]
    fig, ax = _figure()
    x = [e["epoch"] for e in epochs]
    target_style = {"linestyle": "--", "color": "black", "zorder": 3}  # on top of the measured lines
    for key, label, style in (("target", "target (pruned tensors)", target_style),
                              ("actual", "pruned tensors", {"marker": "o"}),
                              ("total", "all parameters", {"marker": "s", "markersize": 4})):
        ax.plot(x, [100 * e["sparsity"][key] for e in epochs], label=label, **style)
    ax.set(xlabel="compression epoch", ylabel="zeros (%)", title="Sparsity", ylim=(0, 100))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path)


def _layers(report: dict, path: Path) -> None:
    layers = {n: layer for n, layer in report["sparsity"]["layers"].items() if layer["pruned"]}
    names = list(layers) or ["(no pruned tensors)"]
    fig, ax = _figure(height=max(2.4, 0.32 * len(names) + 1.2))
    y = range(len(layers))
    ax.barh(list(y), [100 * layer["sparsity"] for layer in layers.values()], label="final")
    targets = [(i, 100 * layer["target"]) for i, layer in enumerate(layers.values()) if "target" in layer]
    if targets:
        ax.scatter([t for _, t in targets], [i for i, _ in targets], marker="|", s=200, color="black",
                   label="target", zorder=3)
    ax.set_yticks(list(range(len(names))), names)
    ax.invert_yaxis()
    ax.set(xlabel="zeros (%)", title="Per-layer sparsity", xlim=(0, 100))
    ax.grid(axis="x", alpha=0.3)
    if layers:
        ax.legend(loc="lower right")
    fig.savefig(path)


def _structure(report: dict, path: Path) -> None:
    totals = report["structure"]["totals"]
    fig = Figure(figsize=(6.4, 3.2), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for ax, key, label in ((axes[0], "params", "parameters"), (axes[1], "macs", "MACs per sample")):
        values = [totals[f"{key}_before"], totals[f"{key}_after"]]
        bars = ax.bar(["dense", "final"], values, color=["tab:grey", "tab:blue"])
        ax.bar_label(bars, labels=[f"{v:,}" for v in values], fontsize=8)
        ax.set(title=label)
        ax.margins(y=0.15)
    fig.suptitle("Structure before / after thinning")
    fig.savefig(path)


def write_plots(report: dict, out: Path) -> list[str]:
    """Draw the plots into ``out/plots``; their paths relative to ``out``."""
    folder = out / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    drawn = []
    for name, draw in (("top1.png", _top1), ("sparsity.png", _sparsity), ("layers.png", _layers),
                       ("structure.png", _structure)):
        if name == "sparsity.png" and not any(e.get("sparsity") for e in report["epochs"]):
            continue
        if name == "structure.png" and report.get("structure") is None:
            continue
        draw(report, folder / name)
        drawn.append(f"plots/{name}")
    return drawn
