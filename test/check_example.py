#!/usr/bin/env python3
"""Provides the docs/examples checker: runs one example program and compares its stdout and
exit code with the "Expected output" its source promises.

The expected stdout is a sequence of groups; the lines of one group may come in any order,
the groups come in the order given. For example hello_wait_group's

    five lines "worker N done" in any order, then "all done"

is checked with

    check_example.py EXE --group 'worker 0 done' ... 'worker 4 done' --group 'all done'

A line whose text may vary among a few values is checked with --one-of, e.g. ticker's
"ticks 4", "ticks 5" or "ticks 6", then "stopped":

    check_example.py EXE --one-of 'ticks 4' 'ticks 5' 'ticks 6' --group 'stopped'

Every line must match exactly; no other line may appear. Standard error must be empty
(a sanitizer report or a stray warning fails the check) unless --allow-stderr is given.
Standard library only.
"""

import argparse
import subprocess
import sys


class _AppendExpected(argparse.Action):
    """Appends (kind, lines) to one list, so --group and --one-of keep their order."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, list(getattr(namespace, self.dest) or []) + [(self.const, values)])


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exe", help="the example program to run")
    parser.add_argument("--group", dest="expected", action=_AppendExpected, const="group", nargs="+",
                        default=[], metavar="LINE",
                        help="lines expected next, in any order among themselves")
    parser.add_argument("--one-of", dest="expected", action=_AppendExpected, const="one-of", nargs="+",
                        metavar="LINE", help="one line expected next: exactly one of these")
    parser.add_argument("--exit-code", type=int, default=0, help="expected exit code (default 0)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before the run fails")
    parser.add_argument("--allow-stderr", action="store_true", help="accept output on stderr")
    return parser.parse_args(argv)


def check_stdout(lines, groups):
    """Returns a list of problems (empty when the lines match the groups)."""
    problems = []
    position = 0
    for number, (kind, group) in enumerate(groups, start=1):
        if kind == "one-of":
            got = lines[position:position + 1]
            position += 1
            if len(got) != 1 or got[0] not in group:
                problems.append(
                    f"group {number}: expected one line, one of:\n"
                    + "".join(f"    {line!r}\n" for line in group)
                    + "  got:\n"
                    + "".join(f"    {line!r}\n" for line in got))
            continue
        got = lines[position:position + len(group)]
        position += len(group)
        if sorted(got) != sorted(group):
            problems.append(
                f"group {number}: expected these {len(group)} line(s) in any order:\n"
                + "".join(f"    {line!r}\n" for line in group)
                + "  got:\n"
                + "".join(f"    {line!r}\n" for line in got))
    if position < len(lines):
        problems.append("unexpected extra line(s):\n"
                        + "".join(f"    {line!r}\n" for line in lines[position:]))
    return problems


def main(argv):
    args = parse_args(argv)
    try:
        proc = subprocess.run([args.exe], stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=args.timeout, check=False)
    except subprocess.TimeoutExpired as e:
        print(f"FAIL: {args.exe} did not finish within {args.timeout} s", file=sys.stderr)
        if e.stdout:
            print("stdout so far:\n" + e.stdout.decode(errors="replace"), file=sys.stderr)
        return 1

    stdout = proc.stdout.decode(errors="replace")
    stderr = proc.stderr.decode(errors="replace")
    problems = []
    if proc.returncode != args.exit_code:
        how = (f"killed by signal {-proc.returncode}" if proc.returncode < 0
               else f"exit code {proc.returncode}")
        problems.append(f"expected exit code {args.exit_code}, got {how}")
    if stdout and not stdout.endswith("\n"):
        problems.append("the last line of stdout is not terminated by a newline")
    problems += check_stdout(stdout.splitlines(), args.expected)
    if stderr and not args.allow_stderr:
        problems.append("unexpected output on stderr")

    print(f"$ {args.exe}\n--- stdout ---\n{stdout}--- stderr ---\n{stderr}--------------")
    if problems:
        for problem in problems:
            print("FAIL: " + problem)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
