"""Check the course's widgets in a real browser, in JupyterLab: CI runs it after `course site` (.ci/run).

From the repository root, with the course's virtual environment active:

    apt-get install chromium && pip install -r tests/browser/requirements.txt
    python tests/browser/check_widgets.py [--chromium /usr/bin/chromium] [--keep-screenshots DIR] [--records DIR]

No `playwright install`: it drives the Chromium it is given. The explorer shows the MLPs' predictions: it
takes their fast-mode records from ``--records`` (CI gives it the site build's, _build/site/results),
and trains the MLPs in fast mode only where none is there. Then it starts its own JupyterLab, runs
06_explore and 01_mlp/pytorch there, slides, clicks and draws, prints PASS or FAIL per check and exits 0
only if all pass. It saves no notebook; its records go to a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    from playwright.sync_api import ConsoleMessage, Error, Locator, Page, sync_playwright
except ImportError:
    sys.exit("This check needs Playwright: pip install playwright (no `playwright install` is needed).")

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
import manual_checks  # noqa: E402
from manual_checks import poll  # noqa: E402

EXPLORE, PAD = "notebooks/06_explore.ipynb", "notebooks/01_mlp/pytorch.ipynb"
TRAINED = ["notebooks/01_mlp/keras.ipynb", PAD]  # the explorer shows these models' predictions
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NB = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook tab in front
WIDGET_KINDS = {
    "widgets": ".jupyter-widgets",
    "slider": ".widget-slider",
    "dropdown": ".widget-dropdown",
    "button": ".widget-button",
    "image": "img.widget-image",
    "html": ".widget-html",
    "canvas": "canvas",
}
ERROR_PATTERNS = ["Error displaying widget", "Failed to load model class", "Traceback"]
PROMPT = "Draw a digit in the box."  # the pad's text while it is blank (course_utils/widgets.py)


class SetupError(RuntimeError):
    """Training the models or starting JupyterLab failed, so no widget could be checked."""


class Report(manual_checks.Report):
    """The checks' outcomes, and where screenshots go (if anywhere)."""

    def __init__(self, shots: Path | None) -> None:
        super().__init__()
        self.shots = shots

    def screenshot(self, target: Page | Locator, name: str) -> None:
        if self.shots:
            target.screenshot(path=str(self.shots / name))


def checkpoints() -> set[Path]:
    """The .ipynb_checkpoints folders beside the notebooks, and their files: JupyterLab makes them on opening."""
    return {path for folder in (REPO / "notebooks").rglob(".ipynb_checkpoints") for path in [folder, *folder.iterdir()]}


def course_env(scratch: Path, bin_dir: Path) -> dict[str, str]:
    """Fast mode, with records and JupyterLab's settings in ``scratch``; autosave off, so no notebook is written."""
    settings = scratch / "lab-settings" / "@jupyterlab"
    for plugin, values in [
        ("docmanager-extension/plugin", {"autosave": False}),
        ("apputils-extension/notification", {"fetchNews": "false", "checkForUpdates": False}),
    ]:
        (settings / plugin).parent.mkdir(parents=True, exist_ok=True)
        (settings / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values))
    return {
        **os.environ,
        "COURSE_FAST": "1",
        "COURSE_RESULTS_DIR": str(scratch / "results"),
        "JUPYTERLAB_SETTINGS_DIR": str(scratch / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),  # the kernels' connection files
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }  # as if the course's venv were active


def train_models(python: Path, env: dict[str, str], records: Path | None = None) -> None:
    """The MLPs' fast-mode records from ``records``, copied; ``course run --fast`` of those that are not there."""
    results = Path(env["COURSE_RESULTS_DIR"])
    results.mkdir(parents=True, exist_ok=True)
    missing = []
    for notebook in TRAINED:
        task, framework = Path(notebook).parent.name.split("_", 1)[1], Path(notebook).stem
        found = sorted(records.glob(f"{task}_{framework}_*.json")) if records else []
        for record in found[-1:]:  # the newest, and its predictions beside it
            for path in (record, record.with_suffix(".npz")):
                if path.is_file():
                    shutil.copy2(path, results / path.name)
        if found:
            print(f"the {framework} {task.upper()}'s predictions from {found[-1]}", flush=True)
        else:
            missing.append(notebook)
    if not missing:
        return
    done = subprocess.run(
        [str(python), "-m", "course_tools.cli", "run", "--fast", *missing],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise SetupError(f"course run failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    print(f"trained {len(missing)} notebooks in fast mode", flush=True)


def api(url: str, token: str, method: str = "GET", timeout: float = 5) -> bool:
    """Whether the server answered a request to ``url`` (a refused connection or an error status: no)."""
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"token {token}"})
    try:
        urllib.request.urlopen(request, timeout=timeout).close()
        return True
    except OSError:
        return False


@contextmanager
def jupyter_lab(python: Path, env: dict[str, str], scratch: Path) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on a free port with a random token; yields (base URL, token), then stops it."""
    with socket.socket() as probe:  # the system picks a port that is free now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base, token = f"http://127.0.0.1:{port}", secrets.token_hex(16)
    command = [
        str(python),
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={REPO}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # Jupyter refuses root without it (containers often run as root)
    log = scratch / "jupyter.log"
    with log.open("w") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        if not poll(lambda: api(f"{base}/api/status", token), lambda up: up or server.poll() is not None, 120):
            raise SetupError(f"JupyterLab did not start; its log ends:\n{log.read_text()[-3000:]}")
        print(f"JupyterLab is up at {base}", flush=True)
        yield base, token
    finally:
        api(f"{base}/api/shutdown", token, "POST", timeout=30)  # stops the kernels too, unlike killing the server
        if poll(server.poll, lambda code: code is not None, timeout=30) is None:
            server.kill()
            server.wait()


def kernel_status(page: Page) -> str | None:
    """The notebook's execution indicator (``idle``, ``busy``...), after accepting any dialog in the way."""
    if page.locator(".jp-Dialog").count():  # e.g. a kernel choice: accept what JupyterLab proposes
        page.locator(".jp-Dialog .jp-mod-accept").first.click()
    indicator = page.locator(f"{NB} .jp-Notebook-ExecutionIndicator")
    return indicator.first.get_attribute("data-status") if indicator.count() else None


def run_notebook(page: Page, report: Report, lab: tuple[str, str], path: str, expect: Callable[[dict], bool]) -> None:
    """Open ``path``, Run › Run All Cells as a learner would, then count the widget views and look for errors."""
    base, token = lab
    page.goto(f"{base}/lab/tree/{path}?token={token}&reset", wait_until="domcontentloaded")
    page.wait_for_selector(f"{NB} .jp-Notebook .jp-Cell", timeout=120_000)
    status = poll(lambda: kernel_status(page), lambda s: s == "idle", timeout=90)
    report.check(f"{path}: notebook opened, kernel idle", status == "idle", f"execution indicator={status!r}")

    def run_all() -> None:
        page.locator(f"{NB} .jp-Notebook").first.click(position={"x": 5, "y": 5})
        page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        page.locator('.lm-Menu-item:has(.lm-Menu-itemLabel:text-is("Run All Cells"))').click()

    run_all()

    def prompts() -> list[str]:  # textContent: cells scrolled out of view are not rendered, and have no innerText
        return [p.strip() for p in page.locator(f"{NB} .jp-CodeCell .jp-InputArea-prompt").all_text_contents()]

    start = time.monotonic()
    time.sleep(1)  # let the prompts turn to [*] before waiting for the end
    # On a loaded machine a click that comes before the notebook panel is ready runs nothing: click again.
    if all(n == "[ ]:" for n in poll(prompts, lambda found: any(n != "[ ]:" for n in found), timeout=30)):
        run_all()

    def finished(numbers: list[str]) -> bool:  # every code cell has its number: none waiting ([*]) or left ([ ])
        return bool(numbers) and all(n[1:2].isdigit() for n in numbers) and kernel_status(page) == "idle"

    done = poll(prompts, finished, timeout=400, interval=0.5)
    report.check(f"{path}: Run All Cells finished", finished(done), f"{time.monotonic() - start:.1f} s; prompts={done}")
    time.sleep(2)  # widget views render after the kernel is idle
    counts = {kind: page.locator(f"{NB} .jp-OutputArea-output {css}").count() for kind, css in WIDGET_KINDS.items()}
    report.check(f"{path}: widget views rendered", expect(counts), counts)
    texts = page.locator(f"{NB} .jp-OutputArea-output").all_text_contents()
    errors = page.locator(f'{NB} [data-mime-type="application/vnd.jupyter.error"]').all_text_contents()
    # Red stderr lines read as a broken install to a beginner (TensorFlow's start-up log was one).
    stderr = page.locator(f'{NB} [data-mime-type="application/vnd.jupyter.stderr"]').all_text_contents()
    problems = {
        "pattern_hits": [(p, text[:300]) for text in texts for p in ERROR_PATTERNS if p in text],
        "error_outputs": [error[:600] for error in errors],
        "stderr_outputs": [text[:300] for text in stderr],
    }
    report.check(f"{path}: no errors, tracebacks or stderr in outputs", not any(problems.values()), problems)


def check_explorer(page: Page, report: Report) -> None:
    """The explorer: its picture's size, then the slider typed in, stepped with a key, dragged, and 'next mistake'."""
    slider = page.locator(f"{NB} .widget-slider").first
    slider.scroll_into_view_if_needed()
    box = slider.locator("xpath=ancestor::div[contains(@class,'widget-vbox')][1]")
    picture, charts = box.locator("img.widget-image").first, box.locator(".widget-html").first

    def state() -> dict:
        return {
            "readout": slider.locator(".widget-readout").inner_text().strip(),
            "picture": picture.get_attribute("src"),
            "charts": charts.inner_text().replace("\n", " | "),
        }

    def moved(previous: dict, name: str, shows: str = "") -> dict:
        """Wait until the picture changes (and the charts show ``shows``), then check that picture and charts did."""
        now = poll(state, lambda s: s["picture"] != previous["picture"] and shows in s["charts"], timeout=20)
        report.check(
            f"explorer: {name}",
            now["picture"] != previous["picture"] and now["charts"] != previous["charts"] and shows in now["charts"],
            {"readout": now["readout"], "charts": now["charts"][:90]},
        )
        return now

    before, pixels_before = state(), picture.screenshot()
    report.check(
        "explorer: rendered (slider, image, charts)",
        "test image 0," in before["charts"],
        {"readout": before["readout"], "charts": before["charts"][:90]},
    )
    size = picture.bounding_box()
    report.check(
        "explorer: the picture keeps its 112x112 size (not stretched by its HBox)",
        abs(size["width"] - 112) < 2 and abs(size["height"] - 112) < 2,
        f"rendered {size['width']:.0f}x{size['height']:.0f} px",
    )
    slider.locator(".widget-readout").click()
    page.keyboard.press("Control+A")
    page.keyboard.type("7")
    page.keyboard.press("Enter")
    typed = moved(before, "typing 7 in the readout -> image 7: picture and probabilities change", "test image 7,")
    pixels_after = picture.screenshot()  # a new src could still draw the same picture
    report.check(
        "explorer: the rendered picture's pixels differ (image 0 vs image 7)",
        pixels_before != pixels_after,
        f"{len(pixels_before)} vs {len(pixels_after)} bytes of element screenshots",
    )
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    page.keyboard.press("ArrowRight")
    stepped = moved(
        typed, "ArrowRight on the slider handle -> image 8: picture and probabilities change", "test image 8,"
    )
    handle.drag_to(slider.locator(".noUi-target").first, steps=10)  # to the middle of the track
    dragged = moved(stepped, "dragging the slider handle changes image and probabilities")
    box.locator("button", has_text="next mistake").click()
    moved(dragged, "'next mistake' jumps to an image some model gets wrong (a ✗ verdict)", "✗")
    report.screenshot(box, "explorer.png")


def check_gallery(page: Page, report: Report) -> None:
    """The gallery of mistakes: tiles for the first model, then other tiles for the second."""
    dropdown = page.locator(f"{NB} .widget-dropdown select").first
    dropdown.scroll_into_view_if_needed()
    gallery = dropdown.locator("xpath=ancestor::div[contains(@class,'widget-vbox')][1]")

    def state() -> dict:
        return {
            "heading": gallery.locator(".widget-html").first.inner_text(),
            "tiles": gallery.locator(".widget-gridbox img.widget-image").count(),
        }

    before, options = state(), dropdown.locator("option").all_inner_texts()
    report.check(
        "gallery: rendered (dropdown, heading, tiles)",
        before["tiles"] > 0 and len(options) == len(TRAINED),
        {"options": options, **before},
    )
    dropdown.select_option(label=options[-1])
    after = poll(state, lambda s: s["heading"] != before["heading"], timeout=20)
    report.check(
        f"gallery: choosing {options[-1]!r} changes heading and tiles",
        after["heading"].startswith(options[-1]) and after["tiles"] > 0,
        after,
    )
    report.screenshot(gallery, "gallery.png")


def check_pad(page: Page, report: Report) -> None:
    """The drawing pad: blank, a '1' drawn, cleared, then a '7' drawn."""
    canvas = page.locator(f"{NB} .jp-OutputArea-output canvas").first
    canvas.scroll_into_view_if_needed()
    pad = canvas.locator("xpath=ancestor::div[contains(@class,'widget-hbox')][1]")
    preview, result = pad.locator("img.widget-image").first, pad.locator(".widget-html").last
    time.sleep(1)  # the blank page that the pad paints first reaches the kernel a moment later

    def state() -> dict:
        return {
            "result": result.inner_text().strip().replace("\n", " | "),
            "preview": preview.get_attribute("src"),
            "ink": canvas.evaluate("""c => { let dark = 0;  // the fraction of dark pixels
                    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 128 && d[i] < 128) dark++;
                    return dark / (c.width * c.height); }"""),
        }

    def draw(points: list[tuple[float, float]]) -> dict:
        """A stroke through ``points`` (fractions of the canvas); the pad's state once the model has answered."""
        b = canvas.bounding_box()
        page.mouse.move(b["x"] + points[0][0] * b["width"], b["y"] + points[0][1] * b["height"])
        page.mouse.down()
        for fx, fy in points[1:]:
            page.mouse.move(b["x"] + fx * b["width"], b["y"] + fy * b["height"], steps=8)
        page.mouse.up()
        poll(state, lambda s: "model" in s["result"], timeout=30)
        time.sleep(1.5)  # the finished stroke's picture can arrive after the pen went up, and is classified again
        return state()

    blank, natural = state(), preview.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    report.check(
        "pad: the empty preview shows no broken-image icon",  # a PNG that loaded has a size
        natural != [0, 0],
        {"preview_natural_size": natural, "preview_box": preview.bounding_box()},
    )
    report.check(
        "pad: rendered (canvas, clear button, preview, result)",
        blank["result"] == PROMPT and pad.locator("button", has_text="clear").count() == 1,
        blank,
    )
    one = draw([(0.5, 0.15), (0.5, 0.5), (0.5, 0.85)])
    report.check(
        "pad: drawing a vertical stroke gives a preview and a prediction",
        "model" in one["result"] and one["preview"] != blank["preview"] and one["ink"] > 0.01,
        {**one, "result": one["result"][:60]},
    )
    report.screenshot(pad, "pad_one.png")
    pad.locator("button", has_text="clear").click()
    poll(state, lambda s: s["result"] == PROMPT, timeout=20)
    time.sleep(1.5)  # the cleared page's picture arrives later; it must not replace the prompt
    cleared = state()
    report.check(
        f"pad: 'clear' blanks the canvas and keeps the prompt {PROMPT!r}",
        cleared["result"] == PROMPT and cleared["ink"] < 0.001,
        cleared,
    )
    report.screenshot(pad, "pad_cleared.png")
    seven = draw([(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)])
    report.check(
        "pad: drawing a 7 after clearing gives a new prediction",
        "model" in seven["result"] and seven["result"] != one["result"],
        {"result": seven["result"][:100]},
    )
    report.screenshot(pad, "pad_seven.png")


def browse(lab: tuple[str, str], chromium: str | None, report: Report) -> None:
    """Both notebooks in one headless Chromium, counting every JavaScript error the page logs on the way."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        messages: list[ConsoleMessage] = []
        page_errors: list[Error] = []
        page.on("console", lambda message: messages.append(message))  # Playwright wants handlers it can tag:
        page.on("pageerror", lambda error: page_errors.append(error))  # a list's bound append is not one
        offline: list[str] = []  # resources of other hosts (the Colab badge's image) that cannot load offline
        page.on("requestfailed", lambda request: offline.append(request.url) if lab[0] not in request.url else None)
        try:
            run_notebook(page, report, lab, EXPLORE, lambda n: n["widgets"] > 0 and n["slider"] == n["dropdown"] == 1)
            check_explorer(page, report)
            check_gallery(page, report)
            run_notebook(page, report, lab, PAD, lambda n: n["canvas"] == 1)
            check_pad(page, report)
        except Exception as error:  # a page that breaks mid-way still ends in a summary
            report.check("the browser session ran to the end", False, repr(error)[:1000])
            report.screenshot(page, "failure.png")
        finally:
            browser.close()
    unreachable = "Failed to load resource: net::ERR_NAME_NOT_RESOLVED"
    errors = [m.text for m in messages if m.type == "error"]
    for _ in offline:  # each external resource that failed offline logged one such line; it is no page error
        if unreachable in errors:
            errors.remove(unreachable)
    if offline:
        print(f"offline: {len(offline)} resource(s) of other hosts not loaded: {sorted(set(offline))}")
    js_errors = [text[:300] for text in errors] + [str(e)[:300] for e in page_errors]
    report.check("no JavaScript console or page errors", not js_errors, js_errors or 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    manual_checks.browser_arguments(parser, "`course` and JupyterLab")
    parser.add_argument(
        "--records",
        type=Path,
        metavar="DIR",
        help="a results folder with the MLPs' fast-mode records (default: train them here)",
    )
    args = parser.parse_args()
    python = manual_checks.venv_python(parser, args)
    report, before = Report(args.keep_screenshots), checkpoints()
    with tempfile.TemporaryDirectory(prefix="check-widgets-") as scratch:
        env = course_env(Path(scratch), python.parent)
        try:
            train_models(python, env, args.records)
            with jupyter_lab(python, env, Path(scratch)) as lab:
                browse(lab, args.chromium, report)
        except SetupError as error:
            report.check("setup", False, error)
        finally:
            for path in sorted(checkpoints() - before, reverse=True):  # a folder's files sort after it: they go first
                path.rmdir() if path.is_dir() else path.unlink()
    print(f"{report.passed} passed, {len(report.failed)} failed" + "".join(f"\n  failed: {n}" for n in report.failed))
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
