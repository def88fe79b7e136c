"""A section of docs/entropy.md on entropy eruptions and its figure, from runs laid out as ROOT/CONFIG/seedN/.

    python scripts/eruption_summary.py ROOT CONFIG [CONFIG ...] --page docs/entropy.md --section NAME --figure STEM
        [--unfinished]

Per configuration: how many entropy eruptions the detector counted in each seed and where they began, and, for
every eruption cycle, the degeneration rates in the updates before it, at their worst during it and in the updates
after it ended: do the repeats and the unknown entities an eruption brings persist once entropy has subsided (the
SEAL paper's claim)? --unfinished also reads runs that stopped before their evaluation (a search stopped once its
outcome was clear). The section between the markers named NAME is replaced (or appended when the page has none);
the rest of the page is left alone.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

from revival_summary import mean_ci95, percent_ci, wilson_ci95
from study_summary import (
    Run,
    finished_runs,
    load_run,
    pooled,
    read_updates,
    replace_section,
    short_commit,
    two_proportion_z,
)

WINDOW = 5  # updates compared before an eruption and after its cycle ends
ERUPTION, SUBSIDENCE = 2, 3  # agentrl.entropy.phases.PHASES codes
METRICS = {  # key -> column name
    "degen/repeat_action_rate": "repeated actions",
    "degen/unknown_entity_rate": "unknown entities",
    "degen/repeat_sentence_rate": "repeated sentences",
    "degen/invalid_action_rate": "rejected actions",
    "success_rate": "rollout success",
}
WORST = {"success_rate": min}  # a cycle's extreme of each rate: the highest, but the lowest success


@dataclass
class Cycle:
    start: int  # index (into run.updates) of the update where the detector counted the eruption
    end: int | None  # index of the first update back in stable/descent, None if the run ended in the cycle


def runs_of(root: Path, config: str, unfinished: bool) -> list[Run]:
    """The configuration's finished seeds, or with `unfinished` every seed that logged an update (result {} when it
    has no eval.json)."""
    if not unfinished:
        return finished_runs(root, config)
    found = []
    for folder in sorted((root / config).glob("seed*")):
        if (folder / "eval.json").exists():
            found.append(load_run(folder))
        elif (folder / "metrics.jsonl").exists():
            found.append(Run({}, read_updates(folder), folder.name))
    return [run for run in found if run.updates]


def cycles(run: Run) -> list[Cycle]:
    """The run's eruption cycles: each starts where the detector's eruption count grows (a new rise out of
    subsidence counts as a new eruption, as in the detector) and ends at the first update back in stable or
    descent (None if the run ended first)."""
    found = []
    count = 0.0
    for index, update in enumerate(run.updates):
        still_open = found and found[-1].end is None
        if update.get("entropy/eruptions", 0.0) > count:
            count = update["entropy/eruptions"]
            if still_open:  # a rise out of subsidence: the cycle before ends where this one starts
                found[-1].end = index
            found.append(Cycle(index, None))
        elif still_open and update.get("entropy/phase", 0) not in (ERUPTION, SUBSIDENCE):
            found[-1].end = index
    return found


def window_mean(run: Run, key: str, start: int, stop: int) -> float | None:
    values = [u[key] for u in run.updates[max(start, 0) : stop] if key in u]
    return statistics.mean(values) if values else None


def cycle_rates(run: Run, cycle: Cycle) -> dict[str, tuple[float, float, float | None]]:
    """key -> (mean over the WINDOW updates before the eruption, worst during the cycle (WORST), mean over the WINDOW
    updates after the cycle ended; None when fewer than WINDOW updates followed it)."""
    end = cycle.end if cycle.end is not None else len(run.updates)
    after_complete = cycle.end is not None and cycle.end + WINDOW <= len(run.updates)
    result = {}
    for key in METRICS:
        before = window_mean(run, key, cycle.start - WINDOW, cycle.start)
        during = WORST.get(key, max)(u.get(key, 0.0) for u in run.updates[cycle.start : end])
        after = window_mean(run, key, cycle.end, cycle.end + WINDOW) if after_complete else None
        result[key] = (before if before is not None else float("nan"), during, after)
    return result


def cycle_table(runs: dict[str, list[Run]]) -> list[str]:
    lines = [
        "| configuration | seeds | updates run | eruptions per seed (starting at update) | seeds with >= 2 | "
        "peak step entropy (mean over seeds) | held-out before | held-out after (mean ± 95% CI over seeds) | "
        "pooled after [95% CI] | z vs first row |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    baseline = None
    for config, found in runs.items():
        if not found:
            continue
        cycles_of = [cycles(run) for run in found]
        counts = [len(run_cycles) for run_cycles in cycles_of]
        starts = [
            f"{len(run_cycles)} ({', '.join(str(run.updates[c.start]['step']) for c in run_cycles)})"
            if run_cycles
            else "0"
            for run, run_cycles in zip(found, cycles_of, strict=True)
        ]
        peak = statistics.mean(max(u["entropy/step_mean"] for u in run.updates) for run in found)
        held_out = ["-"] * 4
        evaluated = [run for run in found if run.result]
        if len(evaluated) == len(found):
            before = statistics.mean(run.result["before"]["success_rate"] for run in found)
            after, width = mean_ci95([run.result["after"]["success_rate"] for run in found])
            together, episodes = pooled(found)
            low, high = wilson_ci95(together, episodes)
            z = "-" if baseline is None else f"{two_proportion_z((together, episodes), baseline):+.1f}"
            baseline = baseline or (together, episodes)
            held_out = [
                f"{100 * before:.1f}%",
                percent_ci(after, width),
                f"{100 * together:.1f}% [{100 * low:.1f}, {100 * high:.1f}]",
                z,
            ]
        updates_run = ", ".join(str(run.updates[-1]["step"]) for run in found)  # the last update with rollout metrics
        lines.append(
            f"| {config} | {len(found)} | {updates_run} | {'; '.join(starts)} | "
            f"{sum(c >= 2 for c in counts)}/{len(found)} | {peak:.2f} | {' | '.join(held_out)} |"
        )
    return lines


def persistence_table(runs: dict[str, list[Run]]) -> list[str]:
    """Per configuration, over every cycle followed by WINDOW updates: before -> highest during -> after (%), and in
    how many of those cycles the rate after stayed above the rate before."""
    columns = [
        f"{name}: before -> {'lowest' if key in WORST else 'highest'} -> after (after > before)"
        for key, name in METRICS.items()
    ]
    lines = [
        f"| configuration | cycles (with {WINDOW} updates after) | {' | '.join(columns)} |",
        "|---|---|" + "---|" * len(METRICS),
    ]
    for config, found in runs.items():
        if not found:
            continue
        rates = [cycle_rates(run, c) for run in found for c in cycles(run)]
        closed = [r for r in rates if r["success_rate"][2] is not None]
        if not closed:
            lines.append(f"| {config} | {len(rates)} (0) |" + " - |" * len(METRICS))
            continue
        cells = []
        for key in METRICS:
            logged = [r[key] for r in closed if r[key][2] is not None]  # runs that log the metric
            if not logged:
                cells.append("-")
                continue
            before, during, after = (statistics.mean(r[i] for r in logged) for i in range(3))
            higher = sum(r[2] > r[0] for r in logged)
            cells.append(f"{100 * before:.1f} -> {100 * during:.1f} -> {100 * after:.1f} ({higher}/{len(logged)})")
        lines.append(f"| {config} | {len(rates)} ({len(closed)}) | " + " | ".join(cells) + " |")
    return lines


def plot(runs: dict[str, list[Run]], path: Path) -> Path:
    """One panel per run (a study: a row per configuration, a column per seed; a search: every run in turn, 4 per
    row): step entropy with the detector's phases shaded (and the environment's shift, where the run had one), and on
    the right axis the repeated-action and unknown-entity rates and rollout success."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from agentrl.plots import shade_phases

    configs = [config for config, found in runs.items() if found]
    seed_counts = {len(runs[config]) for config in configs}
    if len(seed_counts) == 1 and seed_counts != {1}:  # a study: a row per configuration, a column per seed
        columns = seed_counts.pop()
        places = {(config, n): (row, n) for row, config in enumerate(configs) for n in range(len(runs[config]))}
    else:  # a search (settings run on different numbers of seeds): every run in turn, in rows of 4
        every_run = [(config, n) for config in configs for n in range(len(runs[config]))]
        columns = min(4, len(every_run))
        places = {run: divmod(index, columns) for index, run in enumerate(every_run)}
    rows = max(row for row, _ in places.values()) + 1
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.0 * rows), squeeze=False)
    for axis in axes.flat:
        axis.set_visible(False)
    for (config, number), (row, column) in places.items():
        run = runs[config][number]
        axis = axes[row][column]
        axis.set_visible(True)
        shade_phases(axis, run.updates)
        steps = [u["step"] for u in run.updates]
        axis.plot(steps, [u["entropy/step_mean"] for u in run.updates], color="black", lw=1.4, label="step entropy")
        shifted = [u["step"] for u in run.updates if u.get("env/shifted")]
        if shifted:  # env_shift_step: the environment changed before this update
            axis.axvline(shifted[0] - 0.5, color="black", ls="-.", lw=1.0, label="environment shift")
        rates = axis.twinx()
        for key, colour in (
            ("degen/repeat_action_rate", "C0"),
            ("degen/unknown_entity_rate", "C3"),
            ("success_rate", "C2"),
        ):
            rates.plot(steps, [u.get(key, 0.0) for u in run.updates], color=colour, lw=0.9, label=METRICS[key])
        rates.set_ylim(0, 1)
        axis.set_title(f"{config}, {run.name}: eruptions {len(cycles(run))}", fontsize=9)
        axis.set_xlabel("update", fontsize=8)
        axis.set_ylabel("step entropy (nats)", fontsize=8)
        rates.set_ylabel("rate", fontsize=8)
        if row == 0 and column == 0:
            handles, labels = axis.get_legend_handles_labels()
            more, more_labels = rates.get_legend_handles_labels()
            axis.legend(handles + more, labels + more_labels, fontsize=6, loc="upper left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def markers(name: str, command: str) -> tuple[str, str]:
    return f"<!-- {name}: generated by {command}, do not edit by hand -->", f"<!-- end of {name} -->"


def section(root: Path, configs: list[str], page: Path, args: argparse.Namespace) -> str:
    runs = {config: runs_of(root, config, args.unfinished) for config in configs}
    if not any(runs.values()):
        where = "that logged an update" if args.unfinished else "with an eval.json (finished)"
        looked = f"{root}/{{{','.join(configs)}}}/seed*"
        raise SystemExit(f"eruption_summary: no run {where} under {looked}: nothing to report")
    figure = plot(runs, page.parent / "figures" / f"{args.figure}.png")
    begin, end = markers(args.section, args.command)
    shifted = any(run.result.get("env_shifted_for_after") for found in runs.values() for run in found)
    shift_note = "; where the environment shifted, before on the original tasks, after on the shifted ones"
    return "\n".join(
        [
            begin,
            "",
            f"Generated by `{args.command}` on {datetime.date.today()} from commit `{short_commit()}`; runs in "
            f"`{root}/CONFIG/seedN/`.",
            "",
            *cycle_table(runs),
            "",
            "Eruptions: what the detector counted (`entropy/eruptions`; a new rise out of subsidence counts as a new "
            "one), with the update each began. Held-out (finished runs only): eval_in tasks at temperature 0.4 after "
            f"the last update{shift_note if shifted else ''}; mean ± 95% CI: Student's t over seeds; pooled: every "
            "seed's episodes together, Wilson interval; z: two-proportion z against the first row (|z| < 2 is within "
            "noise).",
            "",
            "Do the degenerations an eruption brings persist? For every cycle (from the update the detector counted "
            f"the eruption to the first update back in stable or descent), each rate's mean over the {WINDOW} updates "
            "before it, its highest value during the cycle (success: its lowest) and its mean over the "
            f"{WINDOW} updates after it; means over the cycles, in %; in brackets, the cycles whose rate after stayed "
            f"above the rate before. Only cycles followed by {WINDOW} updates enter.",
            "",
            *persistence_table(runs),
            "",
            f"![{args.figure}]({os.path.relpath(figure, page.parent)})",
            "",
            end,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--page", type=Path, default=Path("docs/entropy.md"))
    parser.add_argument("--section", default="eruptions", help="the name in the section's markers")
    parser.add_argument("--figure", default="eruptions", help="the figure's file name in docs/figures, without .png")
    parser.add_argument("--unfinished", action="store_true", help="also read runs without an eval.json")
    parser.add_argument("--command", default="scripts/eruption_summary.py", help="how the section was made")
    args = parser.parse_args()
    begin, end = markers(args.section, args.command)
    replace_section(args.page, begin, end, section(args.root, args.configs, args.page, args))
    print(f"wrote {args.page}")


if __name__ == "__main__":
    main()
