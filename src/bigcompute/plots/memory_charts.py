"""The memory chart recipes: the training ledger stacked per recipe, and the memory of one
training step through time (`memory.step_timeline`). Drawn as `charts` draws."""

from __future__ import annotations



from .. import units
from .canvas import _finish, _subplots
from .style import (
    MEMORY_COLOURS,
    ROOF_COLOURS,
    _binary_bytes_formatter,
    _binary_bytes_locator,
)

__all__ = ["memory_stack_chart", "step_memory_chart"]


# ---------------------------------------------------------------- memory

def memory_stack_chart(stacks: dict[str, dict[str, float]], *,
                       capacity_bytes: float | None = None, capacity_label: str = "",
                       peaks: dict[str, float] | None = None,
                       title: str | None = None, width: float = 8.0):
    """Horizontal stacked bars of bytes, one bar per label (first on top), each split into
    parts (``MEMORY_COLOURS`` where the part's name is there), with the device's memory as a
    vertical dashed line. Each bar is labelled with its total in GiB. ``peaks`` maps a label
    to its step's high-water mark (`memory.TrainingMemory.peak`), drawn as a black tick
    across the bar and added to its label: the sum of the parts is not what a step peaks at
    (`step_memory_chart`)."""
    labels = list(stacks)[::-1]
    fig, ax = _subplots(figsize=(width, 1.0 + 0.55 * len(labels)))
    parts = list(dict.fromkeys(p for stack in stacks.values() for p in stack))
    left = [0.0] * len(labels)
    for part in parts:
        values = [stacks[label].get(part, 0.0) for label in labels]
        ax.barh(labels, values, left=left, label=part,
                color=MEMORY_COLOURS.get(part, "#777777"))
        left = [a + b for a, b in zip(left, values)]
    peaks = peaks or {}
    marked = [peaks.get(label) for label in labels]
    longest = max(left + [capacity_bytes or 0] + [p for p in marked if p is not None])
    for y, (total, peak) in enumerate(zip(left, marked)):
        text = units.format_bytes(total)
        if peak is not None:
            ax.plot([peak, peak], [y - 0.42, y + 0.42], color="black", linewidth=2.4,
                    solid_capstyle="butt", zorder=4, label="_peak")
            text += f", peak {units.format_bytes(peak)}"
        ax.text(max(total, peak or 0) + longest * 0.01, y, text, va="center", fontsize=9,
                bbox={"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none",
                      "alpha": 0.85} if peaks else None)
    if capacity_bytes:
        ax.axvline(capacity_bytes, color="black", linestyle="--", linewidth=1.2)
        ax.text(capacity_bytes, len(labels) - 0.45, f" {capacity_label}", fontsize=9,
                ha="left", va="bottom")
    room = 1.32 if peaks else 1.18  # the labels are longer with the peaks
    ax.set_xlim(0, longest * room)
    ax.set_ylim(-0.6, len(labels) - 0.1)
    ax.set_xlabel("memory per device")
    ax.xaxis.set_major_locator(_binary_bytes_locator(longest * room))
    ax.xaxis.set_major_formatter(_binary_bytes_formatter())
    # the legend (with the title) sits above the bars, so no bar is ever hidden behind it
    handles, names = ax.get_legend_handles_labels()  # the parts; the peak's tick last, once
    if peaks:
        from matplotlib.lines import Line2D  # lazy: matplotlib loads on the first chart

        handles.append(Line2D([], [], color="black", linewidth=2.4))
        names.append("peak of the step")
    columns = 3 if len(names) == 6 else min(len(names), 5)  # six entries: two even rows
    ax.legend(handles, names, loc="lower left", bbox_to_anchor=(0, 1.02), ncol=columns,
              fontsize=8, frameon=False, title=title, title_fontsize=10, alignment="left")
    ax.spines[["top", "right"]].set_visible(False)
    return _finish(fig)


# Background shades of a step's phases (`step_memory.PHASES`).
_PHASE_SHADES = {"start": "#ffffff", "forward": "#e3ecf5", "loss": "#f5e3ec",
                 "backward": "#f2e6d9", "optimizer": "#e6f2e6"}


def step_memory_chart(timeline, measured=None, *, title: str | None = None,
                      width: float = 10.0, height: float = 4.4):
    """One training step's memory on one device, as it rises and falls: the library's walk of
    the step (``timeline``, a `step_memory.StepTimeline`: after each event the bytes held,
    reached through the event's high-water mark) on the left, its phases shaded; and beside it,
    on the same scale, a curve measured with torch's profiler (``measured``, a
    `lab.measure.StepMemory`: the bytes held after each allocation and free). Each panel
    marks its peak with a star, labelled, and a dashed line, and the bytes held between
    steps with a dotted one; with both, the title gives the prediction's error,
    predicted / measured - 1."""
    events = list(timeline.events)
    panels = 2 if measured is not None else 1
    fig, axes = _subplots(1, panels, figsize=(width if panels == 2 else width * 0.6, height),
                          sharey=True, squeeze=False,
                          gridspec_kw={"width_ratios": [3, 2][:panels]})
    ax = axes[0, 0]
    # event i runs from x = i - 1 to x = i: up to its high-water mark, then down to what it holds
    xs, ys = [0.0], [events[0].held]
    for i, e in enumerate(events[1:], start=1):
        xs += [i - 0.5, i]
        ys += [e.high, e.held]
    start = 0
    for i in range(1, len(events) + 1):
        if i == len(events) or events[i].phase != events[start].phase:
            phase = events[start].phase
            left, right = max(start - 1, 0), i - 1 if i < len(events) else len(events) - 1
            if phase != "start" and right > left:
                ax.axvspan(left, right, color=_PHASE_SHADES.get(phase, "#eeeeee"), zorder=0)
                ax.text((left + right) / 2, 0.985, phase, transform=ax.get_xaxis_transform(),
                        ha="center", va="top", fontsize=8, color="#555555")
            start = i
    ax.plot(xs, ys, color=MEMORY_COLOURS["activations"], lw=1.6, zorder=3)
    peak_at = events.index(timeline.peak_event)
    label = f"predicted peak {units.format_bytes(timeline.peak)}\n{timeline.peak_phase}"
    panels_data = [(ax, peak_at - 0.5 if peak_at else 0.0, timeline.peak, label,
                    events[0].held)]
    ax.set_xlim(0, len(events) - 1)
    ax.set_xticks([])
    ax.set_xlabel("the library's walk of the step, event by event")
    ax.set_ylabel("memory held")
    if measured is not None:
        trace = list(measured.trace) or [measured.resident]
        right = axes[0, 1]
        right.plot(range(1, len(trace) + 1), trace, color=ROOF_COLOURS[0], lw=1.0, zorder=3)
        top = max(range(len(trace)), key=trace.__getitem__)
        right.set_xlim(0, len(trace) + 1)
        right.set_xlabel("measured: allocations and frees, in order")
        panels_data.append((right, top + 1, measured.peak,
                            f"measured peak {units.format_bytes(measured.peak)}",
                            measured.resident))
    highest = max(p[2] for p in panels_data)
    for panel, x, peak, label, resident in panels_data:
        panel.axhline(peak, color="black", ls="--", lw=1, zorder=2)
        panel.axhline(resident, color="grey", ls=":", lw=1, zorder=2)
        panel.plot([x], [peak], "k*", markersize=11, zorder=5)
        panel.annotate(label, (x, peak), textcoords="offset points", xytext=(0, 9),
                       ha="center", va="bottom", fontsize=8.5,
                       bbox={"boxstyle": "round", "fc": "white", "ec": "none", "alpha": 0.85})
        panel.spines[["top", "right"]].set_visible(False)
    ax.set_ylim(0, highest * 1.3)
    ax.yaxis.set_major_locator(_binary_bytes_locator(highest * 1.3))
    ax.yaxis.set_major_formatter(_binary_bytes_formatter())
    heading = title or ""
    if measured is not None:
        error = timeline.peak / measured.peak - 1
        heading += (" — " if heading else "") + (
            f"predicted peak {units.format_bytes(timeline.peak)}, measured "
            f"{units.format_bytes(measured.peak)}: error {error:+.2%}")
    if heading:
        fig.suptitle(heading, x=0.01, ha="left", fontsize=10)
    return _finish(fig)
