#!/usr/bin/env python3
"""Provides the benchmark runner: runs every weft benchmark with its Go and std::thread twins, prints one table, writes docs/benchmarks.md and docs/benchmarks.svg.

Usually started by ./run-benchmarks, which builds build-bench/ first. By hand:
    python3 bench/run.py --build-dir build-bench [--quick] [--only skynet]

Each program prints `bench <workload> <runtime> <figure> <unit>` lines and exits non-zero when its
own check fails. A program that fails, prints nothing or runs past its timeout shows FAILED in
every row it feeds; a program whose binary does not exist (not built yet) shows "n/a (not built yet)".
Before the first program and right before each weft program it runs the machine probe
(bench/machine_c2c.cpp, under a second) and shows its figure in each row's "c2c ns" column.
Python 3 standard library only.
"""

import argparse
import datetime
import html
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIMES = ("weft", "go", "threads")
COLUMN = {"weft": "weft", "go": "Go", "threads": "std::thread"}
PROBE = "machine_c2c"  # bench/machine_c2c.cpp: the cache-line round trip between the two cores, in ns
PROBE_TIMEOUT = 30  # seconds; it takes under one
C2C_SENTENCE = ("c2c: a cache-line round trip between the two workers' cores measured just before the row's program "
                "ran (bench/machine_c2c.cpp); about 30 ns or 60-70 ns when the VM's two vCPUs sit on near cores (seen: "
                "28-36 and 58-73 ns) and about 300 ns when they sit on far ones (305-340 ns); cross-core figures move "
                "with it.")


class Program:
    """One workload: the weft binary (bench/<area>_<workload>.cpp), its Go twin directory
    (bench/go/<go>/) and its std::thread twin binary (bench/threads/<threads>.cpp)."""

    def __init__(self, name, weft, go=None, threads=None, timeout=240):  # seconds; halved by --quick
        self.name, self.weft, self.go, self.threads, self.timeout = name, weft, go, threads, timeout


PROGRAMS = [
    Program("spawn_join", "sched_spawn_join", go="spawn_join", threads="threads_spawn_join"),
    Program("ping_pong", "chan_ping_pong", go="ping_pong", threads="threads_ping_pong"),
    Program("chan_frame_size", "chan_frame_size", go="chan_frame_size"),
    Program("sleepers", "time_sleepers", go="sleepers", timeout=300),
    Program("timer_pair", "time_timer_pair", go="timer_pair"),
    Program("cpu_scaling", "sched_cpu_scaling", go="cpu_scaling", threads="threads_cpu_scaling"),
    Program("skynet", "sched_skynet", go="skynet"),
    Program("chan_skynet", "chan_skynet", go="chan_skynet"),
    Program("fib_fork", "sched_fib_fork", go="fib_fork"),
    Program("chan_mpmc", "chan_mpmc", go="chan_mpmc"),
    Program("select", "chan_select", go="select"),
    Program("ctx_cancel", "ctx_cancel", go="ctx_cancel"),
    # Last: its std::thread twin creates and tears down tens of thousands of threads, and the
    # kernel's cleanup afterwards disturbed the timing of whatever ran next (sleep lateness).
    Program("idle_memory", "sched_idle_memory", go="idle_memory", threads="threads_idle_memory", timeout=300),
]

# Table rows, in the order of issue 5's table: (the workload name in the `bench` lines, label,
# the program that prints it, the unit shown when no program printed one).
ROWS = [
    ("spawn_join", "creation cost: spawn + join, 2 workers", "spawn_join", "ns"),
    ("spawn_join_1w", "creation cost: spawn + join, 1 worker", "spawn_join", "ns"),
    ("ping_pong", "context switch: ping-pong round trip", "ping_pong", "ns"),
    ("idle_memory", "memory per parked unit (RSS growth)", "idle_memory", "B"),
    ("idle_vmsize", "address space per parked unit", "idle_memory", "B"),
    ("idle_kept", "memory still held per unit after all ended", "idle_memory", "B"),
    ("parked_recv_memory", "memory per task parked in a channel recv", "chan_frame_size", "B"),
    ("parked_select3_memory", "memory per task parked in a 3-case select", "chan_frame_size", "B"),
    ("max_units", "how many can exist (parked at once)", "idle_memory", "units"),
    ("idle_threads", "OS threads while they are parked", "idle_memory", "threads"),
    ("sleepers_threads", "OS threads with 100,000 sleepers", "sleepers", "threads"),
    ("sleepers_wall", "100,000 sleepers of 100 ms: wall time", "sleepers", "ms"),
    ("sleepers_lateness_p50", "sleep lateness p50 (100,000 sleepers)", "sleepers", "ms"),
    ("sleep_lateness_p99", "sleep lateness p99 (100,000 sleepers)", "sleepers", "ms"),
    ("sleepers_memory", "memory per sleeper", "sleepers", "B"),
    ("short_sleep_lateness_p99", "sleep lateness p99 (single 1 ms sleeps)", "timer_pair", "ms"),
    ("timer_pair", "timer arm + cancel", "timer_pair", "ns"),
    ("cpu_scaling_1w", "CPU scaling: 4 CPU-bound tasks, 1 worker", "cpu_scaling", "ms"),
    ("cpu_scaling_2w", "CPU scaling: 4 CPU-bound tasks, 2 workers", "cpu_scaling", "ms"),
    ("cpu_speedup", "CPU scaling: speedup 1 -> 2 workers", "cpu_scaling", "x"),
    ("skynet", "skynet: join handles (Go: channels)", "skynet", "ms"),
    ("chan_skynet", "skynet: channels, Go's way", "chan_skynet", "ms"),
    ("fib_fork", "fib_fork(30): spawn both children", "fib_fork", "ms"),
    ("chan_mpmc_buffered", "channel throughput: 4x4, buffered 1024", "chan_mpmc", "Mitems/s"),
    ("chan_mpmc_unbuffered", "channel throughput: 4x4, unbuffered", "chan_mpmc", "Mitems/s"),
    ("select", "select over 2 channels", "select", "ns/msg"),
    ("ctx_cancel", "context cancel: 100,000 waiters", "ctx_cancel", "ms"),
    ("ctx_cancel_select", "context cancel: 100,000 waiters in select", "ctx_cancel", "ms"),
    ("frame_minimal", "frame size: minimal task", "idle_memory", "B"),
    ("frame_parked", "frame size: task parked in wait_group::wait", "idle_memory", "B"),
    ("frame_recv", "frame size: task parked in a channel recv", "chan_frame_size", "B"),
    ("frame_select3", "frame size: task parked in a 3-case select", "chan_frame_size", "B"),
]

DESCRIPTIONS = """\
- **creation cost**: 1,000,000 units started one by one, each signalling a wait group, then one wait (weft `go` + `wait_group`, Go goroutines + `sync.WaitGroup`); std::thread creates and joins one thread per unit (20,000 of them, scaled per unit).
- **memory per parked unit**: RSS growth divided by the count, with 1,000,000 tasks parked in `wait_group::wait` / goroutines in `WaitGroup.Wait`, and as many default-stack threads blocked on a `std::latch` as the OS allows (capped at 100,000; 10,000 with `--quick`). Measured once per run.
- **memory still held after all ended**: RSS above the start, per unit, once every unit has ended and memory has been handed back: weft after `weft::free_os_memory()`, Go after `runtime.GC()` and `debug.FreeOSMemory()`, std::thread after the joins.
- **how many can exist**: 1,000,000 tasks and goroutines (all that were asked for); for std::thread, how many the OS allowed before `std::thread` threw, or "(system limit)": how many existed when the machine-wide thread limit (`kernel.pid_max` / `kernel.threads-max`, shared by every process) was 512 away, where the benchmark stops rather than make other processes' `fork()` fail; `>=` when the cap came first.
- **CPU scaling**: 4 tasks of ~0.25 s of integer work each, with 1 worker (GOMAXPROCS=1; threads pinned to one CPU) and with 2; speedup = 1-worker time / 2-worker time.
- **skynet**: a tree of 1,000,000 leaves, 10 children per node, 6 levels; weft parents `spawn` children and await their join handles, Go uses the classic channel version. Checks the sum 499999500000.
- **fib_fork(30)**: every call with n >= 2 spawns both children and awaits them (Go: goroutines + a channel). Checks 832040.
- **OS threads while they are parked**: the `Threads:` line of /proc/self/status with everything parked (weft's main thread is worker 0).
- **frame size**: what weft's frame pool was asked for by a minimal `go` task and by a task parked in `wait_group::wait` (weft only).
- **ping-pong, select, channel throughput, sleepers, timers, context cancel, skynet with channels, parked in recv/select**: see the first line of each program (`bench/chan_*.cpp`, `bench/time_*.cpp`, `bench/ctx_cancel.cpp`) and its Go twin.
- **c2c ns**: `bench/machine_c2c.cpp` (no weft): two unpinned threads bounce one 64-byte cache line, 200,000 round trips a sample (a sample stops at 80 ms), median of 9 samples (3 with `--quick`). It runs once before the first program (the header's figure) and right before each weft program (the column; that program's Go and std::thread twins run right after it). The hypervisor moves the two vCPUs between near and far host cores every few seconds to minutes, so the figure is bimodal, and so are the rows that pass work between the two workers (ping-pong, select, fib_fork, skynet, skynet with channels): compare such rows between runs only at similar c2c figures. Figures far above 300 ns mean the machine was busy (the probe's two threads had to share a CPU).
- Times are the median of several repetitions after a warm-up. Ratio columns divide weft's figure by the other's (1/N: weft's is N times smaller): below 1 means weft takes less time or memory (for "how many can exist", "speedup" and channel throughput in Mitems/s, higher is better)."""


def find_go():
    for candidate in (shutil.which("go"), "/usr/lib/go-1.19/bin/go", "/usr/lib/go/bin/go"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def command_output(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def run_program(cmd, timeout):
    """Runs cmd in its own process group; returns (status, stdout, stderr, seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        status = "timeout"
    return status, out, err, time.monotonic() - start


def build_go_twins(go, programs, out_dir):
    """go build each twin into out_dir; returns {program name: binary path or error text}."""
    built = {}
    env = dict(os.environ, GOPROXY="off", GO111MODULE="on", GOFLAGS="-mod=mod")
    if "HOME" not in env and "XDG_CACHE_HOME" not in env and "GOCACHE" not in env:
        env["GOCACHE"] = str(out_dir / "cache")
    out_dir.mkdir(parents=True, exist_ok=True)
    for prog in programs:
        src = ROOT / "bench" / "go" / prog.go
        if not (src / "main.go").exists():
            continue
        binary = out_dir / prog.go
        result = subprocess.run([go, "build", "-o", str(binary), "."], cwd=src, env=env, capture_output=True,
                                text=True)
        built[prog.name] = binary if result.returncode == 0 else ("build failed: " + result.stderr.strip())
    return built


def format_number(value):
    if value is None:
        return ""
    magnitude = abs(value)
    if magnitude >= 100 or value == int(value):
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_ratio(r):
    """weft's figure over the other's: 0.18x, 0.047x, or 1/1,080 when weft's is that many times smaller."""
    if r >= 10:
        return f"{r:,.0f}x"
    if r >= 0.1 or r <= 0:
        return f"{r:.2f}x"
    if r >= 0.01:
        return f"{r:.3f}x"
    return f"1/{1 / r:,.0f}"


def short_unit(unit):
    if unit.startswith("units"):
        return "units"
    return {"bytes/unit": "B", "bytes": "B", "ns/task": "ns"}.get(unit, unit)


def tick_label(v):
    for suffix, scale in (("M", 1e6), ("k", 1e3)):
        if v >= scale:
            return f"{v / scale:g}{suffix}"
    return f"{v:g}"


def svg_chart(series, title):
    """Grouped horizontal bars on a shared log axis: one group per row, one bar per runtime.
    series: (label, unit, {runtime: value}, {runtimes whose value is a lower bound})."""
    colors = {"weft": "#d9480f", "go": "#1c7ed6", "threads": "#5c940d"}
    values = [v for _, _, vals, _ in series for v in vals.values() if v and v > 0]
    left, plot_w, bar_h, gap, top = 360, 520, 13, 14, 62
    groups = [g for g in series if any(v and v > 0 for v in g[2].values())]
    height = top + sum(bar_h * max(1, len(vals)) + gap for _, _, vals, _ in groups) + 40
    width = left + plot_w + 110
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="20" font-size="14" font-weight="bold">{html.escape(title)}</text>',
           f'<text x="10" y="38" fill="#555">log scale; each row in its own unit (shown with the label); '
           f'shorter is better except for "how many" and "speedup"</text>']
    for i, runtime in enumerate(RUNTIMES):
        out.append(f'<rect x="{left + i * 110}" y="44" width="11" height="11" fill="{colors[runtime]}"/>'
                   f'<text x="{left + i * 110 + 15}" y="54">{COLUMN[runtime]}</text>')
    if not groups:
        out.append(f'<text x="10" y="{top + 20}">no figures</text></svg>')
        return "\n".join(out)
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    if hi <= lo:
        hi = lo * 10
    span = math.log10(hi) - math.log10(lo)

    def x_of(v):
        return left + (math.log10(v) - math.log10(lo)) / span * plot_w

    bottom = height - 30
    decade = lo
    while decade <= hi:
        x = x_of(decade)
        out.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#ddd"/>'
                   f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle" fill="#555">{tick_label(decade)}</text>')
        decade *= 10
    y = top
    for label, unit, vals, capped in groups:
        n = max(1, len(vals))
        out.append(f'<text x="{left - 8}" y="{y + n * bar_h / 2 + 4:.1f}" text-anchor="end">'
                   f'{html.escape(label)} ({html.escape(unit)})</text>')
        for runtime, v in vals.items():
            if v and v > 0:
                w = max(1.0, x_of(v) - left)
                out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{colors[runtime]}"/>'
                           f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 3}">'
                           f'{"&gt;= " if runtime in capped else ""}{format_number(v)}</text>')
            y += bar_h
        y += gap
    out.append("</svg>")
    return "\n".join(out)


def render_table(header, rows):
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                                 for i, c in enumerate(cells)) + " |"

    sep = "|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def parse_args():
    parser = argparse.ArgumentParser(description="Run weft's benchmarks against Go and std::thread.")
    parser.add_argument("--build-dir", default=str(ROOT / "build-bench"), help="meson build dir (release)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and threads, same workloads")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="run only programs whose name contains NAME (repeatable); docs are not rewritten")
    parser.add_argument("--no-go", action="store_true", help="skip the Go twins")
    parser.add_argument("--write-docs", action="store_true", help="write docs/ even with --only")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="per-program timeout for every program")
    return parser.parse_args()


def plan_jobs(present, bench_dir, go_binaries, notes):
    """(program, runtime, argv or None when its build failed) for every binary there is."""
    jobs = []
    for prog in present:
        jobs.append((prog, "weft", [str(bench_dir / prog.weft)]))
        built = go_binaries.get(prog.name)
        if isinstance(built, Path):
            jobs.append((prog, "go", [str(built)]))
        elif built is not None:
            jobs.append((prog, "go", None))
            notes.append(f"{prog.name} (Go) FAILED: {built.splitlines()[-1] if built else 'build failed'}")
        if prog.threads and (bench_dir / prog.threads).exists():
            jobs.append((prog, "threads", [str(bench_dir / prog.threads)]))
    return jobs


def run_probe(probe, args, notes):
    """Runs the machine probe; returns its cell: the round trip in ns, "n/a" when it is not built, or "FAILED"."""
    if not probe.exists():
        return "n/a"
    result, out, err, _ = run_program([str(probe)] + (["--quick"] if args.quick else []), PROBE_TIMEOUT)
    for line in out.splitlines():
        parts = line.split()
        if result == "ok" and len(parts) == 5 and parts[:3] == ["bench", "c2c_round_trip", "machine"]:
            try:
                return format_number(float(parts[3]))
            except ValueError:
                pass
    tail = " / ".join(err.strip().splitlines()[-3:])
    notes.append(f"{PROBE} FAILED: {result if result != 'ok' else 'no figure printed'}" + (f": {tail}" if tail else ""))
    return "FAILED"


def with_ns(cell):
    """A probe cell for prose: "63.1 ns", or "n/a" / "FAILED" as they are."""
    return cell + " ns" if cell[:1].isdigit() else cell


def run_jobs(jobs, args, notes, probe):
    """Runs each job with a progress line, and the probe right before each weft job. Returns figures
    {(workload, runtime): (value, unit)}, status {(program, runtime): "ok" | "FAILED" | "FAILED (timeout)"}
    and c2c {program: the probe's cell taken just before its weft job}."""
    figures, status, c2c = {}, {}, {}
    for i, (prog, runtime, cmd) in enumerate(jobs, 1):
        print(f"[{i}/{len(jobs)}] {prog.name} ({COLUMN[runtime]}) ...", end="", flush=True)
        if runtime == "weft":
            c2c[prog.name] = run_probe(probe, args, notes)
            print(f" c2c {with_ns(c2c[prog.name])},", end="", flush=True)
        if cmd is None:
            status[(prog.name, runtime)] = "FAILED"
            print(" FAILED (build)", flush=True)
            continue
        if args.quick:
            cmd = cmd + ["-quick" if runtime == "go" else "--quick"]
        timeout = args.timeout or (prog.timeout // 2 if args.quick else prog.timeout)
        result, out, err, seconds = run_program(cmd, timeout)
        got = 0
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 5 and parts[0] == "bench" and parts[2] == runtime:
                try:
                    figures[(parts[1], runtime)] = (float(parts[3]), parts[4])
                    got += 1
                except ValueError:
                    pass
        notes.extend(line[len("note:"):].strip() for line in err.splitlines() if line.startswith("note:"))
        if result == "ok" and got == 0:
            result = "no figures printed"
        if result == "ok":
            status[(prog.name, runtime)] = "ok"
            print(f" {seconds:.1f} s", flush=True)
        else:
            status[(prog.name, runtime)] = "FAILED (timeout)" if result == "timeout" else "FAILED"
            tail = " / ".join(err.strip().splitlines()[-3:])
            reason = f"timed out after {timeout:g} s" if result == "timeout" else result
            notes.append(f"{prog.name} ({COLUMN[runtime]}) FAILED: {reason}" + (f": {tail}" if tail else ""))
            print(f" {seconds:.1f} s FAILED ({reason})", flush=True)
    return figures, status, c2c


def build_table(selected, present, figures, status, go_missing, c2c):
    """The table's rows (lists of cells, the last one the probe's figure taken before the row's program)
    and the chart's series."""
    programs = {p.name: p for p in PROGRAMS}
    rows, chart = [], []
    for workload, label, prog_name, default_unit in ROWS:
        prog = programs[prog_name]
        if prog not in selected:
            continue
        units = [figures[(workload, rt)][1] for rt in RUNTIMES if (workload, rt) in figures]
        unit = short_unit(units[0]) if units else default_unit
        if prog not in present:
            rows.append([label, "n/a (not built yet)", "", "", "", "", ""])
            continue
        cells, values, capped = [], {}, set()
        for runtime in RUNTIMES:
            has_twin = {"weft": prog.weft, "go": prog.go, "threads": prog.threads}[runtime] is not None
            state = status.get((prog_name, runtime), "")
            if state.startswith("FAILED"):  # even if it printed some figures before failing
                cells.append(state)
            elif (workload, runtime) in figures:
                value, raw_unit = figures[(workload, runtime)]
                values[runtime] = value
                if raw_unit == "units_capped":  # stopped by our cap, not by the OS
                    capped.add(runtime)
                    cells.append(">= " + format_number(value) + " (cap)")
                elif raw_unit == "units_syslimit":  # stopped just short of the machine-wide limit
                    cells.append(format_number(value) + " (system limit)")
                else:
                    cells.append(format_number(value))
            elif runtime == "go" and has_twin and go_missing:
                cells.append("skipped")
            else:
                cells.append("-")
        for other in ("go", "threads"):
            a, b = values.get("weft"), values.get(other)
            cells.append(format_ratio(a / b) if a is not None and b and other not in capped else "")
        cells.append(c2c.get(prog_name, "n/a"))
        rows.append([f"{label} ({unit})" if unit else label] + cells)
        if values:
            chart.append((label, unit, values, capped))
    return rows, chart


def main():
    args = parse_args()
    build = Path(args.build_dir).resolve()
    bench_dir = build / "bench"
    if not bench_dir.is_dir():
        sys.exit(f"{bench_dir} does not exist: build first (./run-benchmarks does)")
    started = time.monotonic()
    command = os.environ.get("WEFT_BENCH_COMMAND") or " ".join(["python3", "bench/run.py"] + sys.argv[1:])
    notes = []

    selected = [p for p in PROGRAMS if not args.only or any(o in p.name for o in args.only)]
    present = [p for p in selected if (bench_dir / p.weft).exists()]

    load, usable = os.getloadavg()[0], len(os.sched_getaffinity(0))
    if load > 0.5 * usable:
        notes.append(f"load average {load:.2f} on {usable} CPUs when the run started: other processes were "
                     "busy, so times (CPU scaling above all) may be inflated.")

    go = None if args.no_go else find_go()
    go_version = command_output([go, "version"]) if go else ""
    go_binaries = {}
    if args.no_go:
        notes.append("Go twins skipped (--no-go).")
    elif not go:
        notes.append("Go is not installed (Debian package golang-1.19): the Go column is skipped.")
    else:
        print("building the Go twins ...", end="", flush=True)
        t0 = time.monotonic()
        go_binaries = build_go_twins(go, [p for p in present if p.go], build / "bench-go")
        print(f" {time.monotonic() - t0:.1f} s", flush=True)

    probe = bench_dir / PROBE
    if not probe.exists():
        notes.append(f"{probe} is not built: the c2c column shows n/a (ninja -C {build} bench/{PROBE}).")
    c2c_start = "n/a"
    if present:
        print("c2c probe ...", end="", flush=True)
        c2c_start = run_probe(probe, args, notes)
        print(f" {with_ns(c2c_start)}", flush=True)

    jobs = plan_jobs(present, bench_dir, go_binaries, notes)
    figures, status, c2c = run_jobs(jobs, args, notes, probe)
    rows, chart = build_table(selected, present, figures, status, go_missing=go is None, c2c=c2c)
    table = render_table(["workload", "weft", "Go", "std::thread", "weft/Go", "weft/threads", "c2c ns"], rows)
    elapsed = time.monotonic() - started
    print()
    print(C2C_SENTENCE)
    print()
    print(table)
    if notes:
        print()
        print("\n".join("note: " + note for note in notes))
    print(f"\n{len(jobs)} programs in {elapsed:.0f} s")

    summary = {"figures": {f"{w} {r}": v for (w, r), v in figures.items()},
               "status": {f"{p} {r}": s for (p, r), s in status.items()},
               "c2c_ns": dict(c2c, before_first_program=c2c_start)}
    (build / "bench-results.json").write_text(json.dumps(summary, indent=1) + "\n")
    if args.only and not args.write_docs:
        print("(--only: docs/benchmarks.md not rewritten)")
    else:
        write_docs(build, table, notes, chart, command, go_version, args.quick, elapsed, c2c_start)
    return 1 if any(s.startswith("FAILED") for s in status.values()) else 0


def machine_facts(build):
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    compiler = ""
    try:
        targets = json.loads((build / "meson-info" / "intro-targets.json").read_text())
        cxx = next(t["target_sources"][0]["compiler"] for t in targets if t["name"] == "weft")
        compiler = command_output(cxx[:1] + ["--version"]).splitlines()[0]
    except (OSError, ValueError, StopIteration, IndexError, KeyError):
        pass
    libc = " ".join(platform.libc_ver())
    return cpu, os.cpu_count(), usable, compiler, libc


def write_docs(build, table, notes, chart, command, go_version, quick, elapsed, c2c_start):
    cpu, cores, usable, compiler, libc = machine_facts(build)
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    title = f"weft vs Go vs std::thread, {cpu}, {usable} cores, {date}"
    (docs / "benchmarks.svg").write_text(svg_chart(chart, title) + "\n")
    lines = [
        "# Benchmarks: weft vs Go goroutines vs std::thread",
        "",
        "<!-- Generated by bench/run.py (./run-benchmarks); rerun it rather than editing by hand. -->",
        "",
        f"- Date: {date}",
        f"- Machine: {cpu}, {cores} CPUs ({usable} usable by this process), Linux {platform.release()}, {libc}; "
        f"load average {os.getloadavg()[0]:.2f} at the end",
        f"- weft and std::thread: {compiler or 'unknown compiler'}, meson release build (-O3, NDEBUG)",
        f"- Go: {go_version or 'not installed (column skipped)'}",
        f"- Command: `{command}`" + (" (quick mode: fewer repetitions and threads)" if quick else ""),
        f"- Whole run: {elapsed:.0f} s",
        f"- Cache-line round trip between the two cores before the first program: {with_ns(c2c_start)}",
        "",
        "![weft vs Go vs std::thread](benchmarks.svg)",
        "",
        C2C_SENTENCE,
        "",
        table,
        "",
        "## What the rows measure",
        "",
        DESCRIPTIONS,
        "",
        "Sources: `bench/<area>_<workload>.cpp` (weft), `bench/go/<workload>/main.go` (Go), "
        "`bench/threads/<workload>.cpp` (std::thread).",
    ]
    if notes:
        lines += ["", "## Notes from this run", ""] + [f"- {n}" for n in notes]
    (docs / "benchmarks.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {docs / 'benchmarks.md'} and {docs / 'benchmarks.svg'}")


if __name__ == "__main__":
    sys.exit(main())
