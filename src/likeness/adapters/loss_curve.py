"""The loss plot written beside each adapter."""

from __future__ import annotations


def write_loss_curve(losses: list[float], out, title: str) -> None:
    """The training loss per step and its running mean, as a PNG beside the adapter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    steps = np.arange(1, len(losses) + 1)
    ax.plot(steps, losses, lw=0.6, alpha=0.5, label="loss")
    window = max(1, len(losses) // 20)
    if len(losses) >= window:
        mean = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1 :], mean, lw=1.8, label=f"mean of {window}")
    ax.set_xlabel("step")
    ax.set_ylabel("noise-prediction loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
