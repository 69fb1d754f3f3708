"""The HTML reports: a run's self-contained report.html (summary, figures, sample browser) and the index of runs.

The unit tests read the pages as text; the last test opens a page in headless Chromium (Selenium) and
clicks through its sample browser. It skips without selenium or Debian's chromium and chromedriver.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from interprim.cli import main
from interprim.data import load_mnist10k
from interprim.experiments import report, run_experiment
from interprim.report import write_index, write_run_report
from interprim.report.samples import browser_view, mark_text

FAST = ("n_games=2", "n_players=4")
EVIL = "<script>alert('x')</script>"
#: ids of the hand-made samples, in browser order
SAMPLE_IDS = ["test #0", "test #1", "test #2 (rgb)", "review #7", "review #9", "clip #3"]
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
ALL_IMAGES_LOADED = "return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
LINKS = re.compile(r"""(?:src|href)="([^"#][^"]*)\"""")  # links to files (not to a place in the page)


@pytest.fixture(scope="module")
def selftest_run(tmp_path_factory) -> Path:
    """A real run of the cheap selftest (no sample browser), made once for the module; copy before changing it."""
    out = tmp_path_factory.mktemp("selftest") / "run"
    run_experiment("selftest", overrides=FAST, out=out, progress=False)
    return out


def copy_run(run: Path, to: Path) -> Path:
    """A copy of the run folder ``run`` at ``to`` (without its store)."""
    shutil.copytree(run, to, ignore=shutil.ignore_patterns("store"))
    return to


def digit(i: int) -> list[list[int]]:
    """Test digit ``i`` of the embedded MNIST-10k as 28×28 uint8 pixels."""
    image = load_mnist10k("test").images[i, 0].numpy()
    return np.round(image * 255).astype(np.uint8).tolist()


def interactions(*rows: tuple[str, list[int], float, bool]) -> list[dict]:
    """The ``top`` list of a model: one ``(type, players, value, shared)`` row per interaction."""
    return [{"type": kind, "players": players, "value": value, "shared": shared} for kind, players, value, shared in rows]


def browser_sections() -> list[dict]:
    """A sample browser that follows the schema of :mod:`interprim.report.samples`: images, RGB, text, unknown kind."""
    boxes = [[4, 4, 8, 8], [8, 12, 12, 16], [12, 8, 16, 12], [16, 16, 20, 20], [20, 8, 24, 12]]
    rgb = np.zeros((16, 24, 3), dtype=np.uint8)
    rgb[..., 0] = np.linspace(0, 255, 24, dtype=np.uint8)
    rgb[4:12, 6:18, 2] = 200

    def image_sample(sample_id: str, pixels, label: str, shift: float) -> dict:
        return {
            "id": sample_id, "label": label,
            "input": {"kind": "image", "pixels": pixels, "players": boxes if len(pixels) == 28 else [[2, 3, 10, 9]]},
            "models": {
                "lenet-a": {"eta": 2.13 + shift, "loss": 0.031, "v": 3.45, "train_loss": 0.2,
                            "top": interactions(("and", [0, 3], 1.21, True), ("or", [1], -0.52, False),
                                                ("and", [0, 2, 4], 0.31, True))},
                EVIL: {"eta": None, "loss": 0.05, "v": 2.9,
                       "top": interactions(("and", [0, 3], 0.98, True), ("and", [], 0.1, False))},
            },
        }

    text = "the film is not bad at all, it works"
    words = ["not", "bad", "all", "it", "works"]
    spans = [[text.index(w), text.index(w) + len(w)] for w in words]
    return [
        {"title": "seed 0, players at the layer pool1, traditional extraction", "models": ["lenet-a", EVIL],
         "samples": [image_sample("test #0", digit(0), "1", 0.0), image_sample("test #1", digit(1), "0", 0.4),
                     image_sample("test #2 (rgb)", rgb.tolist(), "red", 0.1)]},
        {"title": "SST-2, two MiniLMs, generalizable extraction",
         "samples": [
             {"id": "review #7", "label": "positive",
              "input": {"kind": "text", "text": text, "players": spans},
              "models": {"minilm-a": {"eta": 1.5, "loss": 0.2, "v": 1.7,
                                      "top": interactions(("and", [0, 1], 2.5, True), ("or", [3, 4], 0.7, False))},
                         "minilm-b": {"eta": 1.2, "loss": 0.1, "v": 1.4,
                                      "top": interactions(("and", [0, 1], 2.1, True))}}},
             {"id": "review #9", "label": "positive",
              "input": {"kind": "text", "text": "works", "players": [[0, 5]]},
              "models": {"minilm-a": {"eta": 1.0, "loss": 0.0, "v": 0.4,
                                      "top": interactions(("and", [0], 0.4, False))}}},
         ]},
        {"title": "an input the report does not draw",
         "samples": [{"id": "clip #3", "input": {"kind": "audio", "players": [[0, 800], [800, 1600]]},
                      "models": {"m": {"eta": 1.0, "loss": 0.1, "v": 0.3, "top": []}}}]},
    ]


@pytest.fixture
def browser_run(selftest_run, tmp_path) -> Path:
    """A copy of the selftest run whose results.json has the hand-made sample browser, re-rendered."""
    out = copy_run(selftest_run, tmp_path / "browser")
    path = out / "results.json"
    doc = json.loads(path.read_text())
    doc["results"]["browser"] = browser_sections()
    path.write_text(json.dumps(doc))
    report(out)
    return out


# ---------------------------------------------------------------------------------------------
# the page of a run
# ---------------------------------------------------------------------------------------------
def test_run_report_is_self_contained_with_figures_summary_and_samples(browser_run):
    html = (browser_run / "report.html").read_text()
    assert not EXTERNAL.search(html), EXTERNAL.search(html)
    figures = sorted((browser_run / "figures").glob("*.png"))
    images = 3  # the image samples; the text and audio samples are not drawn
    assert html.count("data:image/png;base64,") >= len(figures) + images
    for figure in figures:
        assert f"<figcaption>{figure.stem}</figcaption>" in html
    for sample_id in SAMPLE_IDS:
        assert f'data-id="{sample_id}"' in html
    assert html.count('<article class="sample"') == html.count("<option value=") == len(SAMPLE_IDS)
    assert html.count(' hidden>') == len(SAMPLE_IDS) - 1  # only the first sample shows before the script runs
    assert html.count('<tr class="shared"') == 3 * 3 + 2  # the shared interactions: 3 per image sample, 2 in review #7
    assert html.count("★") == 3 * 3 + 2 + 1  # and the legend
    for word in ("not", "bad", "works"):
        assert re.search(rf'<mark class="player-word" style="--player: #[0-9a-f]{{6}}">{word}<sub>\d</sub></mark>', html)
    assert '<span class="word">works</span>' in html  # the words of text players in the tables
    assert EVIL not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "An input of kind <code>audio</code>" in html and "<code>[0, 800]</code>" in html
    assert "η <b>—</b>" in html  # eta null
    assert "cpu + n_games=2, n_players=4" in html  # the shipped config the run changed
    assert "Sparse AND-OR interactions of random smooth games" in html
    assert "<table>" in html and '<th style="text-align: right;">seed</th>' in html  # the summary's markdown table


def test_every_run_writes_report_html_and_report_returns_it(selftest_run, tmp_path):
    """Runs without a sample browser get a page too; ``report`` rewrites it and says so; results.json is untouched."""
    html = (selftest_run / "report.html").read_text()
    assert 'id="browser"' not in html and 'href="#samples"' not in html
    assert html.count("data:image/png;base64,") == 1 and "<figcaption>orders</figcaption>" in html
    out = copy_run(selftest_run, tmp_path / "run")
    before = (out / "results.json").read_bytes()
    (out / "report.html").unlink()
    paths = report(out)
    assert out / "report.html" in paths and (out / "report.html").read_text() == html
    assert (out / "results.json").read_bytes() == before
    assert write_run_report(out) == out / "report.html"


def test_malformed_browser_is_a_clear_error_or_shown_plainly():
    with pytest.raises(ValueError, match=r"results.browser must be a list of sections"):
        browser_view({"samples": []})
    with pytest.raises(ValueError, match=r"results.browser\[0\].samples must be a list of samples"):
        browser_view([{"title": "x"}])
    with pytest.raises(ValueError, match=r"results.browser\[1\].samples\[0\] must be an object"):
        browser_view([{"samples": []}, {"samples": ["x"]}])
    assert browser_view([]) is None and browser_view([{"samples": []}]) is None
    view = browser_view([{"samples": [
        {"id": 1, "input": {"kind": "image", "pixels": [[1, 2], [3]], "players": [[0, 0, 1, 1]]},
         "models": {"m": {"top": [{"type": "or", "players": [0, "x"], "value": None}]}}},
        {"input": {"kind": "text", "text": 3, "players": []}},
    ]}])
    first, second = view[0]["samples"]
    assert first["id"] == "1" and first["input"] == {"kind": "list", "name": "image", "players": ["[0, 0, 1, 1]"]}
    top = first["models"][0]["top"][0]
    assert top["type"] == "OR" and [p["k"] for p in top["players"]] == [0, "x"] and not top["shared"]
    assert second["id"] == "#1" and second["input"]["kind"] == "list" and second["models"] == []


def test_mark_text_clips_and_orders_spans():
    segments, words = mark_text("abcdef", [[4, 9], [0, 2], [1, 3]])
    assert words == ["ef", "ab", "bc"]
    assert [(s["text"], s["player"]) for s in segments] == [("ab", 1), ("c", 2), ("d", None), ("ef", 0)]


# ---------------------------------------------------------------------------------------------
# the index of runs
# ---------------------------------------------------------------------------------------------
def test_index_links_every_run_relatively(selftest_run, browser_run, tmp_path):
    runs = tmp_path / "runs"
    copy_run(selftest_run, runs / "one")
    copy_run(browser_run, runs / "two")
    (runs / "one" / "report.html").unlink()
    index = write_index([runs])  # the folder of `run all` stands for its runs
    assert index == (runs / "report.html").resolve() and (runs / "one" / "report.html").is_file()
    html = index.read_text()
    links = LINKS.findall(html)
    assert {"one/report.html", "two/report.html", "one/figures/orders.png", "two/figures/orders.png"} <= set(links)
    for link in links:
        assert not link.startswith(("/", "http:", "https:", "file:")) and (index.parent / link).is_file(), link
    assert html.count("<tr>") == 2 + 1 and "cpu + n_games=2, n_players=4" in html
    assert write_index([runs / "one"]) == (runs / "report.html").resolve()  # one run: its parent folder
    elsewhere = write_index([runs / "two", runs / "one"], tmp_path / "index.html")
    assert LINKS.findall(elsewhere.read_text())[0:2] == ["runs/two/report.html", "runs/two/figures/orders.png"]


def test_cli_report_writes_the_index_and_fails_cleanly(selftest_run, tmp_path, capsys):
    run = copy_run(selftest_run, tmp_path / "runs" / "one")
    assert main(["report", str(run)]) == 0
    assert capsys.readouterr().out.strip() == str((tmp_path / "runs" / "report.html").resolve())
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.json").write_text('{"schema": "other"}')
    (tmp_path / "notjson").mkdir()
    (tmp_path / "notjson" / "results.json").write_text("{")
    cases = [
        ([str(tmp_path / "missing")], "does not exist: pass the output folder of `interprim experiment run`."),
        ([str(tmp_path / "bad")], "is not an interprim.results/1 results file"),
        ([str(tmp_path / "notjson")], "is not valid JSON"),
        ([str(run), "--out", str(tmp_path)], "is a folder; pass a file name"),
        ([str(run), "--out", str(tmp_path / "nope" / "index.html")], "the folder"),
        ([str(run), "--out", str(run / "report.html")], "is the page of a run; pass another file name."),
    ]
    for args, message in cases:
        assert main(["report", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1, err
    assert main(["experiment", "report", str(tmp_path / "bad")]) == 2
    assert capsys.readouterr().err.startswith("error: ")


# ---------------------------------------------------------------------------------------------
# in a browser
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def chromium(tmp_path):
    """A headless Chromium driven by Selenium 4, logging the console; skips without them."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: pip install 'selenium>=4.20'")
    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("Chromium is not installed: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1360,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver) -> list[dict]:
    """The SEVERE entries of the browser console since the last call."""
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(driver, path: Path) -> None:
    """A screenshot of the whole page into ``path``, copied into ``$INTERPRIM_SCREENSHOT_DIR`` when it is set."""
    driver.set_window_size(1360, 900)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1360, min(height + 100, 8000))
    driver.save_screenshot(str(path))
    if os.environ.get("INTERPRIM_SCREENSHOT_DIR"):
        target = Path(os.environ["INTERPRIM_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)


def test_report_in_chromium(chromium, browser_run, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    driver = chromium
    driver.get((browser_run / "report.html").as_uri())

    def visible() -> list[str]:
        return [s.get_attribute("data-id") for s in driver.find_elements(By.CSS_SELECTOR, ".sample") if s.is_displayed()]

    assert visible() == SAMPLE_IDS[:1]
    driver.find_element(By.CSS_SELECTOR, "#browser .next").click()
    assert visible() == SAMPLE_IDS[1:2]
    Select(driver.find_element(By.CSS_SELECTOR, "#browser select")).select_by_value("3")
    assert visible() == SAMPLE_IDS[3:4]
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_RIGHT)
    assert visible() == SAMPLE_IDS[4:5]
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_LEFT)
    assert visible() == SAMPLE_IDS[3:4]
    assert "sample 4 of 6" in driver.find_element(By.CSS_SELECTOR, "#browser .position").text
    driver.find_element(By.CSS_SELECTOR, "#browser .prev").click()
    assert visible() == SAMPLE_IDS[2:3]

    driver.find_element(By.CSS_SELECTOR, ".figures img").click()  # the lightbox shows the figure large
    assert driver.execute_script("return document.getElementById('lightbox').open")
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(ALL_IMAGES_LOADED), message="an image did not load")
    driver.find_element(By.ID, "lightbox").click()
    assert not driver.execute_script("return document.getElementById('lightbox').open")

    Select(driver.find_element(By.CSS_SELECTOR, "#browser select")).select_by_value("0")
    screenshot(driver, tmp_path / "report.png")
    assert console_errors(driver) == []
    driver.get(write_index([browser_run]).as_uri())
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(ALL_IMAGES_LOADED), message="a thumbnail did not load")
    screenshot(driver, tmp_path / "index.png")
    assert console_errors(driver) == []
