"""The ``course`` command: run the notebooks, fetch the data, keep notebooks clean."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from course_utils import config, data, system
from course_utils.config import Settings
from course_utils.tasks import FRAMEWORKS, TASKS

from course_lab import records, tables
from course_lab.claims import EXPERIMENTS

from . import agreement, data_import, notebooks


def cmd_run(args: argparse.Namespace) -> int:
    """Execute notebooks headless, each in a fresh kernel, then print the results side by side."""
    settings = args.settings.replace(fast=args.fast or args.settings.fast)
    paths = [Path(p).resolve() for p in args.notebooks] or notebooks.course_notebooks()
    mode = "fast mode (bundled sample)" if settings.fast else "full mode"
    print(f"Running {len(paths)} notebooks in {mode}; results go to {settings.results_dir}", flush=True)
    started = datetime.now().isoformat(timespec="microseconds")
    outcomes = notebooks.run_jobs([notebooks.Job(path, settings) for path in paths], args.timeout)
    failures = [outcome for outcome in outcomes if not outcome.ok]
    print()
    print(tables.summary_table(records.load_results(settings.results_dir)))
    # The three frameworks of a task must agree, judged on this run's records only.
    this_run = [
        record for record in records.read_records(settings.results_dir) if record.get("recorded_at", "") >= started
    ]
    verdicts = agreement.check_runs(this_run)
    for task, problems in verdicts.items():
        print(f"{task}: the three frameworks " + ("agree" if not problems else "DISAGREE:\n  " + "\n  ".join(problems)))
    disagreeing = [task for task, problems in verdicts.items() if problems]
    if failures:
        print(f"\n{len(failures)} of {len(paths)} notebooks failed:")
        for outcome in failures:
            print(f"  {config.shown_path(outcome.path)}: {outcome.error}")
    elif not disagreeing:
        print(f"\nAll {len(paths)} notebooks ran.")
    # A plain closing line that CI systems read: each notebook and each task's agreement is one check.
    failed = len(failures) + len(disagreeing)
    print(f"course: {len(paths) + len(verdicts) - failed} passed, {failed} failed")
    return 1 if failures or disagreeing else 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    """Train every task in every framework at full size, then print seconds per epoch, accuracy and peak memory."""
    folder = _records_folder(args.settings, "benchmarks")
    dataset, why = (args.dataset, "as asked") if args.dataset else _full_size_dataset()
    settings = args.settings.replace(fast=False, dataset=dataset, results_dir=folder)
    paths = [
        folder_ / f"{framework}.ipynb"
        for folder_ in notebooks.task_folders()
        if folder_.name.split("_", 1)[1] in args.tasks
        for framework in args.frameworks
        if (folder_ / f"{framework}.ipynb").is_file()
    ]
    print(
        f"Benchmarking {len(paths)} notebooks on the full {dataset} ({why}) with {system.usable_cpus()} "
        f"usable CPU cores; records in {folder}",
        flush=True,
    )
    outcomes = notebooks.run_jobs([notebooks.Job(path, settings) for path in paths], args.timeout)
    print()
    print(tables.benchmark_table(records.load_results(folder)))
    if args.compare_with:
        print(f"\nBefore ({args.compare_with}) and after (this run):")
        print(tables.before_after_table(records.load_results(Path(args.compare_with)), records.load_results(folder)))
    return 0 if all(outcome.ok for outcome in outcomes) else 1


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run task notebooks under several seeds (``COURSE_SEED``); print each seed's accuracy and time."""
    folder = _records_folder(args.settings, "sweeps")
    settings = args.settings.replace(fast=args.fast or args.settings.fast, results_dir=folder)
    paths = [Path(p).resolve() for p in args.notebooks] or [
        folder_ / f"{framework}.ipynb" for folder_ in notebooks.task_folders() for framework in FRAMEWORKS
    ]
    mode = "fast mode (bundled sample)" if settings.fast else "full mode"
    print(
        f"Running {len(paths)} notebooks under seeds {', '.join(map(str, args.seeds))} in {mode}; records in {folder}",
        flush=True,
    )
    jobs = [
        notebooks.Job(path, settings.replace(seed=seed), label=f"{config.shown_path(path)}, seed {seed}")
        for path in paths
        for seed in args.seeds
    ]
    outcomes = notebooks.run_jobs(jobs, args.timeout)
    print()
    print(tables.sweep_table(records.load_results(folder, latest=False)))
    # A run whose check failed wrote no record, so the table above leaves it out: list it here.
    failed = [f"{job.label}: {outcome.error}" for job, outcome in zip(jobs, outcomes) if not outcome.ok]
    for failure in failed:
        print(f"not in the table, its check failed: {failure}")
    return 1 if failed else 0


def cmd_claims(args: argparse.Namespace) -> int:
    """Run the blog-claim experiments of notebooks/05_claims outside Jupyter; print their tables and verdicts."""
    import pandas as pd

    settings = args.settings.replace(
        fast=args.fast or args.settings.fast, dataset=args.dataset or args.settings.dataset
    )
    if not settings.fast and settings.dataset is None:
        dataset, why = _full_size_dataset()
        settings = settings.replace(dataset=dataset)
        print(f"Dataset: {dataset} ({why})")
    from course_utils.checks import CheckFailed

    from course_lab.claims import overview
    from course_lab.claims.workers import WorkerFailed

    names = args.claims or list(EXPERIMENTS)
    unknown = sorted(set(names) - set(EXPERIMENTS))
    if unknown:
        print(
            f"error: no claim called {', '.join(unknown)}; choose from {', '.join(EXPERIMENTS)}.",
            file=sys.stderr,
        )
        return 2
    mode = "fast mode (small data, few repeats)" if settings.fast else f"full mode ({settings.dataset_name})"
    print(f"Testing {len(names)} claims in {mode}", flush=True)
    failed = []
    # The claims read these settings, here and in the workers they start (config.use).
    with (
        config.use(settings),
        pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 70),
    ):
        for name in names:
            print(f"\n=== {name} ===", flush=True)
            try:
                report = EXPERIMENTS[name]()
                for title, table in report.tables().items():
                    print(f"\n{title}:\n{table.to_string()}")
                verdict = report.verdict()
                print(f"\nverdict:\n{overview.wrapped(verdict)}")
                overview.record_verdicts(name, verdict)  # the claims overview notebook's table reads them
                report.check()
            except (CheckFailed, WorkerFailed) as error:  # the other claims still run
                print(f"FAILED: {error}")
                failed.append(name)
    if failed:
        print(f"\n{len(failed)} of {len(names)} claims could not be tested: {', '.join(failed)}")
        return 1
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    """Download, or import from a folder, and verify a dataset into the cache, so later runs need no network."""
    spec, cache = data.SPECS[args.dataset], args.settings.data_dir
    try:
        paths = (
            data_import.import_files(spec, Path(args.source), cache) if args.source else data.ensure_files(spec, cache)
        )
    except data.DataError as error:
        status = (
            "The full dataset already in the cache is complete and verified: the notebooks use it."
            if data_import.cache_is_complete(spec, cache)
            else "Nothing broken was kept. Until all four files are there, the notebooks use the bundled "
            f"sample. {data.how_to_get(args.dataset)}"
        )
        print(f"error: {error}\n\n{status}", file=sys.stderr)
        return 1
    folder = sorted({str(path.parent) for path in paths.values()})
    how = f"imported from {args.source}, " if args.source else ""
    print(f"{args.dataset}: all four files {how}present and verified in {', '.join(folder)}")
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    """Strip outputs, execution counts and widget state from notebooks (nbval's checked outputs stay).

    With ``--record``, each notebook is first run in fast mode, so that the outputs of its
    cells tagged ``nbval-check-output`` are the ones nbval will compare against.
    """
    import nbformat

    paths = [Path(p) for p in args.notebooks] or notebooks.course_notebooks()
    status = 0
    for path in paths:
        if args.record:
            with tempfile.TemporaryDirectory() as scratch:
                executed = Path(scratch) / path.name
                env = args.settings.replace(fast=True, results_dir=Path(scratch)).child_env()
                outcome = notebooks.run_notebook(path, env=env, save_to=executed)
                if not outcome.ok:
                    print(f"not recorded {config.shown_path(path)}: {outcome.error}", file=sys.stderr)
                    status = 1
                    continue
                notebook = nbformat.read(executed, as_version=4)
        else:
            notebook = nbformat.read(path, as_version=4)
        if args.record or not notebooks.is_clean(notebook):
            nbformat.write(notebooks.clean(notebook), path)
            print(f"{'recorded' if args.record else 'cleaned'} {config.shown_path(path)}")
    return status


def cmd_answers(args: argparse.Namespace) -> int:
    """Write the notebooks with their exercises answered, for an instructor to read or show."""
    from . import answers

    out = Path(args.out) if args.out else None
    try:
        report = answers.build_answered(
            out, notebooks=[Path(p) for p in args.notebooks], markers=args.markers, force=args.force
        )
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in report.written:
        print(f"wrote {config.shown_path(path)}")
    for path in report.kept:
        print(f"kept  {config.shown_path(path)}: it differs from the new build (your notes?); --force replaces it")
    print(f"{len(report.written)} answered notebooks written, {report.answers} answers, {len(report.kept)} kept")
    return 0


def cmd_nbgrader(args: argparse.Namespace) -> int:
    """Write an nbgrader course: ``nbgrader_config.py`` and one assignment per task under ``source/``."""
    from . import nbgrader_course

    out = Path(args.folder)
    if (out / "source").exists() and not args.force:
        print(
            f"error: {out / 'source'} exists; --force rewrites its notebooks (an instructor's edits?)", file=sys.stderr
        )
        return 1
    report = nbgrader_course.build_course(
        out, frameworks=tuple(args.frameworks), withhold_solutions=not args.show_solutions, course_id=args.course_id
    )
    for path in report.notebooks:
        print(f"wrote {path}")
    print(
        f"{len(report.notebooks)} notebooks, {report.exercises} graded exercises, and {out / 'nbgrader_config.py'}. "
        f"Next: cd {out} && nbgrader generate_assignment mlp (docs/classroom.md)"
    )
    return 0


def cmd_slides(args: argparse.Namespace) -> int:
    """Write notebooks as reveal.js slides: a slide per section, a sub-slide per exercise."""
    from . import slides

    out = Path(args.out) if args.out else config.PROJECT_ROOT / "exports" / "slides"
    for path in [Path(p) for p in args.notebooks]:
        try:
            target = slides.write_slides(path, out, execute=args.execute, reveal_prefix=args.reveal_prefix)
        except (OSError, RuntimeError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"wrote {config.shown_path(target)}")
    return 0


def cmd_site(args: argparse.Namespace) -> int:
    """Execute every notebook in fast mode and render the course as a static HTML site, then check it."""
    from . import site

    out = Path(args.out) if args.out else site.SITE_DIR
    start = time.perf_counter()
    paths = [Path(p) for p in args.notebooks] or None
    report = site.build_site(out, paths=paths, timeout=args.timeout, settings=args.settings)
    minutes = (time.perf_counter() - start) / 60
    for problem in report.problems:
        print(f"  problem: {problem}")
    for outcome in report.failed:
        print(f"  failed: {config.shown_path(outcome.path)}: {outcome.error}")
    print(
        f"site: {report.pages} pages in {config.shown_path(report.html)} in {minutes:.1f} min; "
        f"{len(report.failed)} notebooks failed, {len(report.problems)} problems, {report.warnings} Sphinx warnings. "
        f"Open {config.shown_path(report.html / 'index.html')} in a browser."
    )
    return 1 if report.failed or report.problems else 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write course_models from the notebooks' cells tagged ``export`` (see course_tools/export.py)."""
    from . import export

    for path in export.export():
        print(f"wrote {config.shown_path(path)}")
    return 0


def _full_size_dataset() -> tuple[str, str]:
    """The real MNIST when it is on disk, else Fashion-MNIST (same size and shape), and why."""
    if data.find_on_disk(data.MNIST) is not None:
        return "mnist", "the real MNIST is on disk"
    if data.find_on_disk(data.FASHION_MNIST) is not None:
        return "fashion_mnist", f"MNIST is not on disk. {data.how_to_get('mnist')}"
    return "mnist", "neither is on disk yet: the notebooks will try to download MNIST"


def _records_folder(settings: Settings, kind: str) -> Path:
    """A new folder for one run's records, named by its start: ``results/benchmarks/20260105-093000-x1y2``."""
    parent = settings.results_dir / kind
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=parent))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run every notebook headless and print the results")
    run.add_argument("notebooks", nargs="*", help="notebooks to run (default: all, in course order)")
    run.add_argument("--fast", action="store_true", help="use the small sample and few epochs (COURSE_FAST=1)")
    run.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell (default 1800)")
    run.set_defaults(handler=cmd_run)

    bench = commands.add_parser("benchmark", help="train every task at full size; print time, accuracy, memory")
    bench.add_argument(
        "--dataset",
        choices=sorted(data.SPECS),
        help="full-size dataset to train on (default: mnist when it is on disk, else fashion_mnist)",
    )
    bench.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    bench.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=list(FRAMEWORKS))
    bench.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell (default 3600)")
    bench.add_argument(
        "--compare-with",
        metavar="FOLDER",
        help="an earlier benchmark's records folder: print seconds per epoch before and after",
    )
    bench.set_defaults(handler=cmd_benchmark)

    sweep = commands.add_parser("sweep", help="run task notebooks under several seeds; print accuracy per seed")
    sweep.add_argument("notebooks", nargs="*", help="task notebooks to run (default: all nine), in this order")
    sweep.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[42, 43, 44, 45, 46],
        help="seeds, set as COURSE_SEED (default: 42 to 46)",
    )
    sweep.add_argument("--fast", action="store_true", help="the bundled sample and few epochs (COURSE_FAST=1)")
    sweep.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell (default 3600)")
    sweep.set_defaults(handler=cmd_sweep)

    claims_ = commands.add_parser("claims", help="test the blog claims (speed, backends, graphs, ...); print tables")
    claims_.add_argument("claims", nargs="*", help=f"any of {', '.join(EXPERIMENTS)} (default: all)")
    claims_.add_argument("--fast", action="store_true", help="tiny data and few repeats (COURSE_FAST=1)")
    claims_.add_argument(
        "--dataset",
        choices=sorted(data.SPECS),
        help="dataset (COURSE_DATASET; in full mode, mnist when on disk, else fashion_mnist)",
    )
    claims_.set_defaults(handler=cmd_claims)

    fetch = commands.add_parser("data", help="download (or import with --from) and verify a dataset into the cache")
    fetch.add_argument(
        "--dataset", choices=sorted(data.SPECS), default="mnist", help="which dataset to fetch (default: mnist)"
    )
    fetch.add_argument(
        "--from",
        dest="source",
        metavar="FOLDER",
        help="import the four IDX files from this folder (gzip-compressed or not) instead of "
        "downloading them; each is checked by the checksum of its contents",
    )
    fetch.set_defaults(handler=cmd_data)

    clean = commands.add_parser("clean", help="strip outputs and counts from notebooks before a commit")
    clean.add_argument("notebooks", nargs="*")
    clean.add_argument(
        "--record", action="store_true", help="run each notebook in fast mode first, to record the outputs nbval checks"
    )
    clean.set_defaults(handler=cmd_clean)

    build = commands.add_parser("answers", help="write the notebooks with their exercises answered, for instructors")
    build.add_argument("notebooks", nargs="*", help="course notebooks to answer (default: all with exercises)")
    build.add_argument("--out", help="folder for the answered notebooks (default: answered/, which git ignores)")
    build.add_argument("--markers", action="store_true", help="put each answer between nbgrader's solution markers")
    build.add_argument("--force", action="store_true", help="overwrite answered notebooks that were changed")
    build.set_defaults(handler=cmd_answers)

    grader = commands.add_parser("nbgrader", help="write an nbgrader course: one graded assignment per task")
    grader.add_argument("folder", help="the course folder to write (nbgrader_config.py and source/)")
    grader.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=list(FRAMEWORKS))
    grader.add_argument(
        "--show-solutions",
        action="store_true",
        help="let exercises.solution show worked answers where the references are installed (withheld by default)",
    )
    grader.add_argument("--course-id", default="course", help="nbgrader's course id (default: course)")
    grader.add_argument("--force", action="store_true", help="rewrite source/ if it exists")
    grader.set_defaults(handler=cmd_nbgrader)

    show = commands.add_parser("slides", help="write notebooks as reveal.js slides, to present them in class")
    show.add_argument("notebooks", nargs="+")
    show.add_argument("--out", help="folder for the .slides.html files (default: exports/slides/)")
    show.add_argument("--execute", action="store_true", help="run each notebook in fast mode first, to show outputs")
    show.add_argument("--reveal-prefix", help="URL or path of a local reveal.js 4, for a classroom without internet")
    show.set_defaults(handler=cmd_slides)

    site_ = commands.add_parser("site", help="execute every notebook in fast mode and build the course's HTML site")
    site_.add_argument("notebooks", nargs="*", help="notebooks to include (default: all, in the course map's order)")
    site_.add_argument("--out", help="build folder (default: _build/site/, which git ignores); the site is in html/")
    site_.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell (default 1800)")
    site_.set_defaults(handler=cmd_site)

    export_ = commands.add_parser("export", help="write course_models from the notebooks' cells tagged export")
    export_.set_defaults(handler=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:  # the environment, read once: the commands pass these settings down, with their options applied
        args.settings = Settings.from_environment()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
