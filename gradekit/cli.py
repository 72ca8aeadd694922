"""``python -m gradekit`` -- the grading command (``make grade`` calls it).

Examples::

    python -m gradekit grade ex01_functions submissions.zip            # 2 worker processes
    python -m gradekit grade ex01_functions _grading/submitted --workers 8 --csv grades.csv
    python -m gradekit grade ex01_functions subs/ --scheduler tcp://10.0.0.5:8786   # a Dask cluster
    python -m gradekit sandbox                                         # can this machine sandbox?

``grade`` grades every submission not graded yet (``--regrade`` for all), merges the grades into the
course gradebook, writes autograded notebooks to the course's autograded folder and a CSV.
Interrupt it at any time: run it again and it finishes the rest.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gradekit.runner import GradingSetupError, course_paths, export_csv, grade_all
from gradekit.runtime import EnvMirrorError, neutral_prefix
from gradekit.sandbox import sandbox_support
from gradekit.submissions import SubmissionLayoutError, find_submissions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gradekit", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="autograde a folder or zip of submissions in parallel")
    g.add_argument("assignment", help="assignment id, e.g. ex01_functions")
    g.add_argument("source", help="folder or zip of submissions (<student>/<assignment>/..., "
                                  "<student>/..., or <student>_<notebook>.ipynb)")
    g.add_argument("--course", default=".", help="course root holding nbgrader_config.py (default: .)")
    g.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="parallel grading processes (default: 2)")
    g.add_argument("--scheduler", default=None, help="Dask scheduler address: grade on that cluster instead")
    g.add_argument("--csv", default=None, help="CSV to write (default: <gradebook folder>/grades-<assignment>.csv)")
    g.add_argument("--timeout", type=float, default=1800.0, help="wall-clock limit per submission, s")
    g.add_argument("--cell-timeout", type=int, default=None, help="override c.Execute.timeout, s")
    g.add_argument("--regrade", action="store_true", help="grade everything again, even if journaled")
    g.add_argument("--name-regex", default=None, help="regex with student_id and file_id groups for flat files")
    g.add_argument("--no-progress", action="store_true")
    sub.add_parser("sandbox", help="say whether student code can be sandboxed on this machine")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "sandbox":
        ok, why = sandbox_support()
        print("sandbox: available" if ok else f"sandbox: UNAVAILABLE -- {why}")
        if ok:  # the CPU cap needs root too: probe it by making (and removing) a cgroup
            from gradekit import cgroups

            try:
                group = cgroups.create(f"{cgroups.PREFIX}probe-{os.getpid()}", 1.0, 64)
                group.remove()
                print(f"CPU cap: available (cgroup v{group.version}, 1 CPU per sandbox by default)")
            except (cgroups.CgroupUnavailable, OSError) as exc:
                print(f"CPU cap: UNAVAILABLE -- {exc}; kernels run at nice 19 with fewer processes")
            try:
                print(f"Python environment for kernels: {neutral_prefix()}")
            except EnvMirrorError as exc:
                print(f"Python environment for kernels: UNAVAILABLE -- {exc}")
                return 1
        return 0 if ok else 1
    if args.scheduler is None and args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    course = Path(args.course).resolve()
    try:
        kwargs = {"name_regex": args.name_regex} if args.name_regex else {}
        try:  # the assignment's notebook names tell a one-student folder from a flat layout
            notebooks = {p.name for p in (course_paths(course)["source"] / args.assignment).glob("*.ipynb")} or None
        except GradingSetupError:
            notebooks = None  # grade_all says what is wrong with the course
        subs = find_submissions(args.source, args.assignment, notebooks=notebooks, **kwargs)
        ok, why = sandbox_support()
        if not ok:
            print(f"WARNING: GRADEKIT SANDBOX UNAVAILABLE: {why}; student code runs without isolation.",
                  file=sys.stderr)
        else:  # the kernels' Python at a neutral path: made (or refused) once, before any student is graded
            neutral_prefix()
        extra = [f"--Execute.timeout={args.cell_timeout}"] if args.cell_timeout else []
        summary = grade_all(course, args.assignment, subs, workers=args.workers, scheduler=args.scheduler,
                            nbgrader_args=extra, timeout=args.timeout, regrade=args.regrade,
                            progress=not args.no_progress)
        csv_path = args.csv or course_paths(course)["gradebook"].parent / f"grades-{args.assignment}.csv"
        export_csv(course, args.assignment, csv_path)
    except (GradingSetupError, SubmissionLayoutError, EnvMirrorError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(summary_text(len(subs), summary, getattr(subs, "ignored", []), str(csv_path)))
    return 0


def summary_text(found: int, summary, ignored: list[str], csv_path: str) -> str:
    """What the instructor reads at the end: how many students were found, graded, flagged (and why
    each one was), already graded, and which entries of the source belong to nobody."""
    lines = [f"found {found} students: graded {len(summary.graded)}, flagged {len(summary.failed)} (scored 0, "
             f"for manual grading), already graded {len(summary.skipped)}, in {summary.seconds:.1f} s; "
             f"grades: {csv_path}"]
    for student in sorted(summary.failed):
        why = " ".join(summary.reasons.get(student, "not graded").split())
        lines.append(f"  flagged {student}: {why[:300]}")
    if ignored:
        lines.append(f"ignored {len(ignored)} entries of the source that belong to no student: "
                     + "; ".join(ignored[:5]) + (" ..." if len(ignored) > 5 else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
