#!/usr/bin/env python3
"""The table of make bench-peers: medians of the successful runs in results.tsv files.

    hack/bench-peers-table.py [--session ID] results.tsv...

One Markdown row per workload x profile x pod duration x system, in that order
(systems in bench-peers' order). Per step means over every step a run timed,
the warm-up flow's included: CPU ms per step is a process's CPU time over the
run x 1000 / ((flows + 1) x steps). A group whose runs all failed (timed out
or stalled) gets a row that says so. hack/bench-peers.sh prints it for its own
session at the end; the README's table is this script run on the files kept in
bench/results/peers/.
"""
import argparse
import csv
import statistics

SYSTEMS = {
    "weir": "weir",
    "weir-batch": "weir, Batches",
    "raw": "raw Job loop",
    "volcano": "Volcano",
    "volcano-tuned": "Volcano, client limits raised",
    "argo": "Argo, defaults",
    "argo-tuned": "Argo, requeue 1 s",
}
WORKLOADS = {"c20x5": "20 × 5", "w1": "W1", "w2": "W2", "w3": "W3"}
PROFILES = ["default", "production"]
PROCESSES = ["apiserver", "etcd", "kcm", "scheduler", "kwok", "controller"]


def number(row, key):
    v = row.get(key, "")
    return None if v in ("", "null", "None") else float(v)


def median(rows, key):
    v = [x for x in (number(r, key) for r in rows) if x is not None]
    return statistics.median(v) if v else None


def fmt(x, places=0):
    return "—" if x is None else f"{x:,.{places}f}"


def cpu_per_step(rows, process):
    v = []
    for r in rows:
        cpu = number(r, f"{process}_cpu_s")
        if cpu:
            v.append(cpu * 1000 / ((float(r["flows"]) + 1) * float(r["steps"])))
    return fmt(statistics.median(v), 1) if v else "—"


def row(key, rows):
    workload, profile, duration, system = key
    label = [WORKLOADS.get(workload, workload), profile, duration, SYSTEMS.get(system, system)]
    good = [r for r in rows if r["ok"] == "1"]
    if not good:
        return label + [f"0 of {len(rows)}", "did not finish"] + [""] * 9
    runs = str(len(good)) if len(good) == len(rows) else f"{len(good)} of {len(rows)}"
    each = ", ".join(fmt(number(r, "steps_per_s"), 1) for r in good)
    return label + [
        runs,
        fmt(median(good, "wall_s")),
        f"{fmt(median(good, 'steps_per_s'), 1)} ({each})",
        f"{fmt(median(good, 'step_p50_ms'))} / {fmt(median(good, 'step_p99_ms'))}",
        f"{fmt(median(good, 'status_p50_ms'))} / {fmt(median(good, 'status_p99_ms'))}",
        fmt(median(good, "writes_per_step"), 1),
        fmt(median(good, "reads_per_step"), 2),
        fmt(median(good, "conflicts_per_step"), 2),
        " / ".join(cpu_per_step(good, p) for p in PROCESSES),
        fmt(median(good, "controller_hwm_mib")),
        fmt(median(good, "machine_busy_pct")) + "%",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--session", help="only this bench-peers session's runs")
    parser.add_argument("results", nargs="+")
    args = parser.parse_args()
    groups = {}
    for path in args.results:
        with open(path) as f:
            for r in csv.DictReader(f, delimiter="\t"):
                if args.session and r["session"] != args.session:
                    continue
                key = (r["workload"], r["profile"], r["duration"], r["system"])
                groups.setdefault(key, []).append(r)

    def order(key):
        workload, profile, duration, system = key
        rank = lambda names, x: names.index(x) if x in names else len(names)
        return (rank(list(WORKLOADS), workload), rank(PROFILES, profile), float(duration.rstrip("s")),
                rank(list(SYSTEMS), system))

    print("| workload | profile | pods | system | runs | wall s | steps/s (runs) "
          "| step latency p50 / p99 ms | status latency p50 / p99 ms | cluster writes per step "
          "| reads per step | 409s per step "
          "| CPU ms per step: API server / etcd / KCM / scheduler / kwok / controller "
          "| controller peak RSS MiB | machine busy |")
    print("|" + "---|" * 15)
    for key in sorted(groups, key=order):
        print("| " + " | ".join(row(key, groups[key])) + " |")


if __name__ == "__main__":
    main()
