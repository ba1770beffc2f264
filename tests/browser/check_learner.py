"""Try the course as a self-paced learner would, in JupyterLab in headless Chromium: CI runs it (.ci/run).

From the repository root, with the course's virtual environment active:

    apt-get install chromium && pip install -r tests/browser/requirements.txt
    python tests/browser/check_learner.py [--chromium /usr/bin/chromium] [--keep-screenshots DIR] [NOTEBOOK ...]

No `playwright install`: it drives the Chromium it is given. It copies one task notebook per framework (by default
02_cnn/keras, 01_mlp/pytorch and 03_rnn/tensorflow) into a temporary folder laid out as the course, starts its own
JupyterLab there in fast mode, and in each: Run › Run All Cells, then looks for errors, an exercise cell that does
not say "yours to do", a picture of course_utils.plots that is missing and a drawing pad that was not built. Then it
answers the first exercise as a learner would: a wrong answer typed in (a ✗ that names the mistake), the answer of
solutions/ pasted in (a ✓), and `exercises.solution(...)` in a new cell (the code in the notebook's framework). It
prints PASS or FAIL per check, and INFO for what it only reports (nbgrader's buttons, stderr lines), and exits 0 only
if all pass. The course's notebooks are never opened, let alone saved; its records go to the temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    from playwright.sync_api import ConsoleMessage, Error, Locator, Page, sync_playwright
except ImportError:
    sys.exit("This check needs Playwright: pip install playwright (no `playwright install` is needed).")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course_utils.tasks import FRAMEWORK_NAMES  # noqa: E402

import check_widgets  # noqa: E402  (its settings and kernel helpers; it puts tests/ on sys.path)
import manual_checks  # noqa: E402
from check_widgets import CHROMIUM_ARGS, NB, Report, SetupError, api, kernel_status  # noqa: E402
from manual_checks import poll  # noqa: E402

from course_judges.solutions import sections, solutions_file  # noqa: E402
from course_tools.answers import STUB, answered_source, exercise_id  # noqa: E402

REPO = check_widgets.REPO
NOTEBOOKS = ["notebooks/02_cnn/keras.ipynb", "notebooks/01_mlp/pytorch.ipynb", "notebooks/03_rnn/tensorflow.ipynb"]
VIEWPORT = {"width": 1400, "height": 1000}
TALLEST = 16_000  # pixels: a screenshot taller than this is cut (Chromium's limit is about 16,384)
RUN_ALL_TIMEOUT = 1500  # seconds: a CNN in fast mode on two busy cores, plus the kernel's start
CELL_TIMEOUT = 300
# A framework's own code, as exercises.solution must print it for that framework's notebook.
FRAMEWORK_CODE = {"keras": r"\blayers\.[A-Z]\w*\(", "pytorch": r"\b(?:nn|torch)\.\w+", "tensorflow": r"\btf\.\w+"}
# The first exercise of each task: a typical wrong answer per stub (by framework where they differ), and the words
# of the ✗ that must name that mistake. Another exercise gets 0 for each stub, and any ✗.
WRONG = {
    "mlp.wider": ({"wide_params": "101770"}, "with 128 hidden units"),  # the model above
    "cnn.third_conv": (
        {"third_shape": {"pytorch": "(128, 5, 5)", None: "(5, 5, 128)"}, "third_params": "34826"},
        "trims a pixel from each side",  # forgot that the third convolution trims 5 to 3
    ),
    "rnn.gru": ({"gru_params": {"pytorch": "24714", None: "24458"}}, "three gates, not four"),  # the LSTM above
}
NBGRADER = r"nbgrader|Validate|Create Assignment|Formgrader|Assignment List|Course List"
TODO, RIGHT, WRONG_MARK = "yours to do", "✓", "✗"
STDERR = "application/vnd.jupyter.stderr"


def cell_state(page: Page) -> list[dict]:
    """Each code cell of the notebook in front: its prompt, source, outputs (mime type, text) and pictures."""
    return page.evaluate(
        """nb => [...document.querySelectorAll(nb + ' .jp-CodeCell')].map(cell => ({
            prompt: (cell.querySelector('.jp-InputArea-prompt')?.textContent || '').trim(),
            source: [...cell.querySelectorAll('.jp-InputArea-editor .cm-line')].map(l => l.textContent).join('\\n'),
            outputs: [...cell.querySelectorAll('.jp-OutputArea-output')].map(o => ({
                mime: o.getAttribute('data-mime-type') || '', text: o.textContent})),
            images: [...cell.querySelectorAll('.jp-OutputArea-output[data-mime-type^="image/"] img')].map(
                i => [i.naturalWidth, i.naturalHeight]),
            canvases: cell.querySelectorAll('.jp-OutputArea-output canvas').length,
            buttons: [...cell.querySelectorAll('.jp-OutputArea-output button')].map(b => b.textContent.trim()),
        }))""",
        NB,
    )


def numbered(prompt: str) -> bool:
    """A prompt such as ``[12]:``: the cell has run (``[*]:`` runs or waits, ``[ ]:`` never ran)."""
    return bool(re.fullmatch(r"\[\d+\]:", prompt))


def screenshot(page: Page, report: Report, name: str, whole: Locator | None = None) -> None:
    """Save the viewport, if asked to; with ``whole``, all of that element, the viewport grown to fit it."""
    if not report.shots:
        return
    if whole is None:
        page.screenshot(path=str(report.shots / name))
        return
    # The notebook scrolls inside its panel, so a tall element is only painted whole in a viewport tall enough.
    extra = VIEWPORT["height"] - page.locator(f"{NB} .jp-WindowedPanel-outer").first.evaluate("e => e.clientHeight")
    height = 0
    try:
        for _ in range(6):  # cells that content-visibility skipped had an estimated height: grow until it holds
            needed = round(whole.evaluate("e => e.getBoundingClientRect().height")) + extra + 40
            if needed <= height:
                break
            height = needed
            page.set_viewport_size({**VIEWPORT, "height": min(TALLEST, max(VIEWPORT["height"], height))})
            time.sleep(1.5)  # layout, and the cells now in view paint
        whole.evaluate("e => e.scrollIntoView({block: 'start'})")
        time.sleep(0.5)
        whole.screenshot(path=str(report.shots / name), timeout=60_000)
    finally:
        page.set_viewport_size(VIEWPORT)
    if height > TALLEST:
        print(f"INFO {name}: cut at {TALLEST} px of {height}", flush=True)


def close_sessions(base: str, token: str) -> None:
    """Shut the server's kernels down (deleting a session stops its kernel): one notebook's memory at a time."""
    request = urllib.request.Request(f"{base}/api/sessions", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        sessions = json.load(answer)
    for session in sessions:
        api(f"{base}/api/sessions/{session['id']}", token, "DELETE", timeout=60)


class Learner:
    """One notebook in its own browser page: Run All, then its first exercise answered wrong, right, and solved."""

    def __init__(self, page: Page, report: Report, lab: tuple[str, str], root: Path, notebook: str) -> None:
        self.page, self.report, self.lab, self.notebook = page, report, lab, notebook
        self.framework = Path(notebook).stem
        self.tag = notebook.removeprefix("notebooks/").removesuffix(".ipynb").replace("/", "-")
        cells = json.loads((root / notebook).read_text(encoding="utf-8"))["cells"]
        self.sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
        asks = [exercise_id(source) and any(map(STUB.match, source.splitlines())) for source in self.sources]
        self.exercises = [i for i, ask in enumerate(asks) if ask]  # the cells with `name = ...` and their check
        self.pictures = [i for i, source in enumerate(self.sources) if re.search(r"\bshow_\w+\(", source)]
        self.answers = sections(solutions_file(REPO / notebook))  # judges/course_judges/solutions/

    def check(self, name: str, ok: object, evidence: object) -> bool:
        self.report.check(f"{self.notebook}: {name}", ok, evidence)
        return bool(ok)

    def cell(self, index: int) -> Locator:
        return self.page.locator(f"{NB} .jp-CodeCell").nth(index)

    def scroll_to(self, cell: Locator, block: str = "center") -> None:
        cell.evaluate(f"e => e.scrollIntoView({{block: '{block}'}})")
        time.sleep(0.5)

    def open(self) -> bool:
        base, token = self.lab
        self.page.goto(f"{base}/lab/tree/{self.notebook}?token={token}&reset", wait_until="domcontentloaded")
        self.page.wait_for_selector(f"{NB} .jp-Notebook .jp-Cell", timeout=180_000)
        status = poll(lambda: kernel_status(self.page), lambda s: s == "idle", timeout=180)
        return self.check("opened, kernel idle", status == "idle", f"execution indicator={status!r}")

    def run_all(self) -> list[dict]:
        """Run › Run All Cells; wait until every code cell has its number and the kernel is idle."""
        page = self.page

        def click_run_all() -> None:
            page.locator(f"{NB} .jp-Notebook").first.click(position={"x": 5, "y": 5})
            page.locator(".lm-MenuBar-item", has_text="Run").first.click()
            page.locator('.lm-Menu-item:has(.lm-Menu-itemLabel:text-is("Run All Cells"))').click()

        def prompts() -> list[str]:
            return [c["prompt"] for c in cell_state(page)]

        start = time.monotonic()
        click_run_all()
        # On a loaded machine a click that comes before the notebook panel is ready runs nothing: click again.
        if all(p == "[ ]:" for p in poll(prompts, lambda found: any(p != "[ ]:" for p in found), timeout=30)):
            click_run_all()

        def finished(found: list[str]) -> bool:
            return bool(found) and all(map(numbered, found)) and kernel_status(page) == "idle"

        last_report, done = start, prompts()
        while not finished(done) and time.monotonic() - start < RUN_ALL_TIMEOUT:
            if kernel_status(page) == "dead":
                break
            if time.monotonic() - last_report > 60:  # a sign of life on a slow machine
                ran = sum(map(numbered, done))
                print(f"  ... {self.notebook}: {ran} of {len(done)} cells run after {time.monotonic() - start:.0f} s")
                last_report = time.monotonic()
            time.sleep(1)
            done = prompts()
        seconds = time.monotonic() - start
        self.check(
            "Run All Cells ran every cell to the end",
            finished(done) and len(done) == len(self.sources),
            f"{seconds:.0f} s; {sum(map(numbered, done))} of {len(done)} code cells numbered, last {done[-1:]}, "
            f"kernel {kernel_status(page)!r}",
        )
        # Widgets and pictures render after the kernel is idle: wait for the pad's canvas, at the end.
        return poll(lambda: cell_state(page), lambda cells: cells and cells[-1]["canvases"], timeout=60)

    def after_run_all(self, cells: list[dict]) -> None:
        """No error anywhere, every exercise still to do, the pictures shown, the drawing pad built."""
        errors = [
            (i, o["text"][:400])
            for i, c in enumerate(cells)
            for o in c["outputs"]
            if o["mime"] == "application/vnd.jupyter.error" or "Traceback" in o["text"]
        ]
        self.check("no error output and no traceback", not errors, errors or "none in any cell")
        for i, c in enumerate(cells):
            for o in c["outputs"]:
                if o["mime"] == STDERR:  # red on the page: worth a look even when it is no error
                    print(f"INFO {self.notebook}: stderr in code cell {i + 1}: {o['text'].strip()[:300]!r}", flush=True)
        todo = {}
        for i in self.exercises:
            texts = [o for o in cells[i]["outputs"] if o["text"].strip()]
            todo[exercise_id(self.sources[i])] = [
                (o["mime"].rsplit(".", 1)[-1], o["text"].strip().count("\n") + 1, o["text"].strip()[:110])
                for o in texts
            ]
        for exercise, outs in todo.items():
            if any(lines > 1 for _, lines, _ in outs):
                print(f"INFO {self.notebook}: {exercise}'s 'yours to do' takes more than one line: {outs}", flush=True)
        self.check(
            f"each of the {len(self.exercises)} exercise cells says '{TODO}' in one stdout output",
            self.exercises
            and all(len(outs) == 1 and TODO in outs[0][2] and outs[0][0] == "stdout" for outs in todo.values()),
            todo,
        )
        shown = {
            re.search(r"\bshow_\w+", self.sources[i]).group(): cells[i]["images"] for i in self.pictures
        }  # the natural size of each picture: 0 x 0 for one that did not load
        total = sum(len(c["images"]) for c in cells)
        self.check(
            f"pictures: {total} shown, one for each of the {len(self.pictures)} cells that draws one",
            all(len(sizes) == 1 and sizes[0][0] > 0 for sizes in shown.values()) and total == len(self.pictures),
            shown,
        )
        pad = cells[-1] if cells else {}
        self.check(
            "the drawing pad at the end was built (canvas, clear button)",
            pad.get("canvases", 0) >= 1 and "clear" in pad.get("buttons", []),
            {"canvases": pad.get("canvases"), "buttons": pad.get("buttons")},
        )
        notebook = self.page.locator(f"{NB} .jp-WindowedPanel-viewport").first  # the cells, without the space after
        screenshot(self.page, self.report, f"{self.tag}-run-all.png", notebook)

    def editor_text(self, index: int) -> str:
        return cell_state(self.page)[index]["source"]

    def run_cell(self, index: int) -> dict:
        """Ctrl+Enter in the cell being edited; the cell once it has a new number and the kernel is idle."""
        before = cell_state(self.page)[index]["prompt"]
        self.page.keyboard.press("Control+Enter")

        def ran(cells: list[dict]) -> bool:
            return numbered(cells[index]["prompt"]) and cells[index]["prompt"] != before

        poll(lambda: cell_state(self.page), lambda c: ran(c) and kernel_status(self.page) == "idle", CELL_TIMEOUT)
        time.sleep(0.5)  # the last stream output of the cell
        return cell_state(self.page)[index]

    def exercise(self) -> None:
        """The first exercise: a wrong answer typed in, the right one pasted from solutions/, then its solution."""
        if not self.exercises:
            self.check("has an exercise to answer", False, "no cell with `name = ...` and exercises.check")
            return
        page, index = self.page, self.exercises[0]
        source, name = self.sources[index], exercise_id(self.sources[index])
        cell = self.cell(index)
        self.check(
            f"the first exercise cell in the page is {name}'s",
            self.editor_text(index) == source,
            self.editor_text(index),
        )

        # 1. Wrong: a learner clicks into each `name = ...` line, deletes the ... and types a number.
        values, words = WRONG.get(name, ({}, ""))
        lines, typed = source.splitlines(), source.splitlines()
        self.scroll_to(cell)
        cell.locator(".cm-content").click()
        for number, line in enumerate(lines):
            if not STUB.match(line):
                continue
            stub = line.split("=")[0].strip()
            value = values.get(stub, "0")
            value = value if isinstance(value, str) else value.get(self.framework, value[None])
            page.keyboard.press("Control+Home")
            for _ in range(number):
                page.keyboard.press("ArrowDown")
            page.keyboard.press("End")
            for _ in "...":
                page.keyboard.press("Backspace")
            page.keyboard.type(value, delay=20)
            typed[number] = line.replace("...", value)
        wrong_source = "\n".join(typed)
        self.check("the wrong answer typed in", self.editor_text(index) == wrong_source, self.editor_text(index))
        outputs = self.run_cell(index)["outputs"]
        crosses = [o for o in outputs if WRONG_MARK in o["text"]]
        message = " ".join(o["text"].strip() for o in crosses)
        title = message.removeprefix(WRONG_MARK).split(":", 1)[0].strip()
        self.check(
            f"a wrong answer shows a ✗ on stderr that names the mistake ({words!r})",
            crosses
            and all(o["mime"] == STDERR for o in crosses)
            and words in message
            and f"exercises.hint({name!r})" in message
            and not any("Traceback" in o["text"] or "error" in o["mime"] for o in outputs),
            message or outputs,
        )
        self.scroll_to(cell)
        screenshot(page, self.report, f"{self.tag}-wrong.png")

        # 2. Right: the learner selects the cell's code and pastes the answer from solutions/ over it.
        right_source = answered_source(source, self.answers)
        cell.locator(".cm-content").click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(right_source)
        self.check("the right answer pasted in", self.editor_text(index) == right_source, self.editor_text(index))
        outputs = self.run_cell(index)["outputs"]
        texts = " ".join(o["text"].strip() for o in outputs)
        self.check(
            "the right answer shows a ✓, and nothing else",
            texts.startswith(f"{RIGHT} {title}")
            and WRONG_MARK not in texts
            and all(o["mime"] != STDERR for o in outputs),
            texts or outputs,
        )
        self.scroll_to(cell)
        screenshot(page, self.report, f"{self.tag}-right.png")

        # 3. The worked answer, in a new cell below: Esc, B, Enter, type, Ctrl+Enter.
        page.keyboard.press("Escape")
        page.keyboard.press("b")
        page.keyboard.press("Enter")
        call = f'exercises.solution("{name}")'
        page.keyboard.type(call, delay=20)
        new = index + 1
        self.check("exercises.solution typed in a new cell below", self.editor_text(new) == call, self.editor_text(new))
        outputs = self.run_cell(new)["outputs"]
        text = "\n".join(o["text"] for o in outputs)
        header = f"The code in {FRAMEWORK_NAMES[self.framework]}:"
        code = re.findall(FRAMEWORK_CODE[self.framework], text)
        self.check(
            f"exercises.solution prints the worked answer and the {FRAMEWORK_NAMES[self.framework]} code of solutions/",
            header in text and self.answers[name] in text and code and not any(o["mime"] == STDERR for o in outputs),
            {"header": header in text, "code_as_in_solutions": self.answers[name] in text, "framework_code": code[:4]},
        )
        longest = max((len(line) for line in text.splitlines()), default=0)
        if longest > 100:  # the course wraps its messages at 100 columns; JupyterLab breaks longer lines anywhere
            print(f"INFO {self.notebook}: {name}'s solution has a line of {longest} characters", flush=True)
        solution = self.cell(new)
        self.scroll_to(cell, "start")  # the answered exercise, and the solution under it, as far as they fit
        bottom = solution.evaluate("e => e.getBoundingClientRect().bottom")
        screenshot(page, self.report, f"{self.tag}-solution.png", None if bottom < VIEWPORT["height"] else solution)


def nbgrader_ui(page: Page) -> list[str]:
    """JupyterLab's visible elements outside the notebook whose text, title or label is one of nbgrader's."""
    return page.evaluate(
        """pattern => { const found = new Set(), re = new RegExp(pattern, 'i');
        for (const e of document.querySelectorAll('body *')) {
            if (e.closest('.jp-Notebook')) continue;
            const box = e.getBoundingClientRect();
            if (!box.width || !box.height || getComputedStyle(e).visibility === 'hidden') continue;
            const own = [...e.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join(' ').trim();
            const label = [own, e.getAttribute('title'), e.getAttribute('aria-label')].filter(Boolean).join(' / ');
            if (re.test(label)) found.add(`${e.tagName.toLowerCase()} '${label.slice(0, 60)}'`);
        }
        return [...found]; }""",
        NBGRADER,
    )


def browse(lab: tuple[str, str], chromium: str | None, report: Report, root: Path, notebooks: list[str]) -> None:
    """Each notebook in a page of its own, in one headless Chromium, counting the JavaScript errors on the way."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT)
        messages: list[ConsoleMessage] = []
        page_errors: list[Error] = []
        offline: list[str] = []  # resources of other hosts (the Colab badge's image) that cannot load offline
        try:
            for notebook in notebooks:
                page = context.new_page()
                page.on("console", lambda message: messages.append(message))
                page.on("pageerror", lambda error: page_errors.append(error))
                page.on("requestfailed", lambda r: offline.append(r.url) if lab[0] not in r.url else None)
                learner = Learner(page, report, lab, root, notebook)
                start = time.monotonic()
                try:
                    if learner.open():
                        if notebook == notebooks[0]:
                            found = nbgrader_ui(page)
                            print(f"INFO nbgrader UI visible in JupyterLab: {found or 'none'}", flush=True)
                        learner.after_run_all(learner.run_all())
                        learner.exercise()
                except Exception as error:  # a page that breaks mid-way still ends in a summary
                    learner.check("the learner's session ran to the end", False, repr(error)[:1000])
                    screenshot(page, report, f"{learner.tag}-failure.png")
                print(f"INFO {notebook}: {time.monotonic() - start:.0f} s in the browser", flush=True)
                page.close()
                close_sessions(*lab)
        finally:
            browser.close()
    unreachable = "Failed to load resource: net::ERR_NAME_NOT_RESOLVED"
    errors = [m.text for m in messages if m.type == "error"]
    for _ in offline:  # each external resource that failed offline logged one such line; it is no page error
        if unreachable in errors:
            errors.remove(unreachable)
    if offline:
        print(f"INFO offline: {len(offline)} resource(s) of other hosts not loaded: {sorted(set(offline))}")
    js_errors = [text[:300] for text in errors] + [str(e)[:300] for e in page_errors]
    report.check("no JavaScript console or page errors", not js_errors, js_errors or 0)


@contextmanager
def jupyter_lab(python: Path, env: dict[str, str], scratch: Path, root: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab as check_widgets starts it, on a free port with a random token, serving ``root`` (the copies)."""
    with socket.socket() as probe:  # the system picks a port that is free now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base, token = f"http://127.0.0.1:{port}", secrets.token_hex(16)
    command = [str(python), "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}"]
    command += [f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # Jupyter refuses root without it (containers often run as root)
    log = scratch / "jupyter.log"
    with log.open("w") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        if not poll(lambda: api(f"{base}/api/status", token), lambda up: up or server.poll() is not None, 180):
            raise SetupError(f"JupyterLab did not start; its log ends:\n{log.read_text()[-3000:]}")
        print(f"JupyterLab is up at {base}, serving copies in {root}", flush=True)
        yield base, token
    finally:
        api(f"{base}/api/shutdown", token, "POST", timeout=30)  # stops the kernels too, unlike killing the server
        if poll(server.poll, lambda code: code is not None, timeout=30) is None:
            server.kill()
            server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=NOTEBOOKS, help=f"task notebooks (default: {NOTEBOOKS})")
    manual_checks.browser_arguments(parser, "JupyterLab")
    args = parser.parse_args()
    python = manual_checks.venv_python(parser, args)
    notebooks = [Path(n).resolve().relative_to(REPO).as_posix() for n in args.notebooks]
    report, start = Report(args.keep_screenshots), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="check-learner-") as scratch:
        root = Path(scratch) / "course"  # the copies, where the course has them: notebooks/02_cnn/keras.ipynb
        for notebook in notebooks:
            (root / notebook).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO / notebook, root / notebook)
        env = check_widgets.course_env(Path(scratch), python.parent)
        for name in ("COURSE_EXERCISES", "COURSE_SOLUTIONS"):  # a learner's defaults: no strict checks, answers shown
            env.pop(name, None)
        try:
            with jupyter_lab(python, env, Path(scratch), root) as lab:
                browse(lab, args.chromium, report, root, notebooks)
        except SetupError as error:
            report.check("setup", False, error)
    print(f"{report.passed} passed, {len(report.failed)} failed in {time.monotonic() - start:.0f} s")
    for name in report.failed:
        print(f"  failed: {name}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
