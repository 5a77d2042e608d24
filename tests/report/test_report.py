"""veil report: the static HTML page rendered in headless Chromium (Debian's
chromium and chromium-driver, which `scripts/setup --test` installs), driven over
the W3C WebDriver protocol: content, filters, clicks, the explain panel, a
screenshot, and hostile names that must stay text."""
import base64
import io
import json
import shutil
import socket
import subprocess
import time
import sys
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop"
# The shop's real dbt artifacts (no dbt run needed).
DBT_TARGET = ROOT / "crates" / "veil-dbt" / "tests" / "fixtures" / "shop"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C web element identifier

sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import veil_binary  # noqa: E402  (the e2e helpers: which veil binary)


def veil(*args, cwd=ROOT):
    result = subprocess.run([str(veil_binary()), *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert result.returncode == 0, f"veil {' '.join(map(str, args))}: {result.stderr}"
    return result


class Browser:
    """A headless Chromium session through chromedriver (W3C WebDriver over HTTP)."""

    def __init__(self, tmp):
        for tool in (CHROMIUM, CHROMEDRIVER):
            assert Path(tool).exists(), f"{tool} is missing: run `scripts/setup --test` (Debian chromium, chromium-driver)"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.driver = subprocess.Popen(
            [CHROMEDRIVER, f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.time() + 20
        while True:
            try:
                self.call("GET", "/status")
                break
            except OSError:
                assert time.time() < deadline, "chromedriver did not start"
                time.sleep(0.1)
        args = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp / 'profile'}", "--window-size=1280,900", "--hide-scrollbars",
        ]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}}
        self.session = self.call("POST", "/session", caps)["sessionId"]
        self.s("POST", "/window/rect", {"width": 1280, "height": 1200})

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["value"]

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def open(self, path, fragment=""):
        # A fresh load each time: a change of fragment alone would not run the
        # page's script again, and its hashchange could land after the next click.
        self.s("POST", "/url", {"url": "about:blank"})
        self.s("POST", "/url", {"url": path.as_uri() + fragment})
        deadline = time.time() + 20
        while not self.js("return document.body && document.body.dataset.ready === '1'"):
            assert time.time() < deadline, "the page's script never finished"
            time.sleep(0.05)

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def click(self, css):
        self.s("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css, text):
        self.s("POST", f"/element/{self.find(css)}/value", {"text": text})

    def screenshot(self):
        return Image.open(io.BytesIO(base64.b64decode(self.s("GET", "/screenshot")))).convert("RGB")

    def close(self):
        try:
            self.s("DELETE", "")
        finally:
            self.driver.terminate()
            self.driver.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("chromium"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "access.html"
    veil("report", "--policies", SHOP / "policies", "--users", SHOP / "users.yaml", "--dbt-target", DBT_TARGET,
         "-o", out)
    return out


def source_index(browser, name):
    return browser.js(
        "return [...document.querySelectorAll('#matrix tbody tr')].find(r => r.querySelector('th').textContent === arguments[0]).dataset.source",
        name,
    )


def visible_readers(browser):
    return browser.js(
        "return [...document.querySelectorAll('#matrix th.reader')].filter(t => !t.hidden).map(t => t.textContent)"
    )


def test_the_page_is_self_contained(page):
    html = page.read_text()
    # No server, no CDN: nothing is fetched (the only links are the page's own anchors).
    for needle in ("http://", "https://", "src=\"", "<link", "@import"):
        assert needle not in html, needle


def test_overview_matrix(browser, page):
    browser.open(page)
    assert visible_readers(browser) == ["alice", "bob", "carol", "dave", "erin", "hana"]
    cell = browser.js(
        "const row = [...document.querySelectorAll('#matrix tbody tr')]"
        ".find(r => r.querySelector('th').textContent === arguments[0]);"
        "return [...row.querySelectorAll('td')].map(td => [td.className, td.textContent]);",
        "main.customers",
    )
    # dave (a contractor) is denied; the others read customers with masks.
    assert cell[3] == ["cell denied", "✗"]
    assert [c[0] for c in cell[:3]] == ["cell restricted"] * 3
    assert "6 of 6 readers" in browser.js("return document.getElementById('f-count').textContent")


def test_filters_by_reader_group_and_source(browser, page):
    browser.open(page)
    browser.type("#f-reader", "car")
    assert visible_readers(browser) == ["carol"]
    browser.open(page, "#group=HR")
    assert visible_readers(browser) == ["bob"]
    browser.open(page)
    browser.js("const g = document.getElementById('f-group'); g.value = 'Employees'; g.dispatchEvent(new Event('change'));")
    assert visible_readers(browser) == ["alice", "bob", "carol", "erin", "hana"]
    browser.open(page)
    browser.type("#f-source", "employ")
    rows = browser.js(
        "return [...document.querySelectorAll('#matrix tbody tr')].filter(r => !r.hidden).map(r => r.querySelector('th').textContent)"
    )
    assert rows == ["main.employees", "main_raw.raw_employees", "main_staging.stg_employees"]


def test_source_detail_and_explain_on_click(browser, page):
    browser.open(page)
    customers = source_index(browser, "main.customers")
    browser.click(f"#matrix tbody tr[data-source='{customers}'] th.source a")
    assert browser.js("return document.getElementById('d-title').textContent").startswith("main.customers")
    table = browser.js(
        "return [...document.querySelectorAll('#d-table tbody tr')].map(r => [...r.children].map(c => c.textContent))"
    )
    by_reader = {row[0]: row[1:] for row in table}
    header = browser.js("return [...document.querySelectorAll('#d-table thead th')].map(t => t.firstChild.textContent)")
    col = {name: i - 1 for i, name in enumerate(header)}
    assert by_reader["alice"][col["email"]] == "shown"          # support is excepted
    assert by_reader["carol"][col["email"]] == "hash"
    assert by_reader["carol"][col["ssn"]] == "shown"            # legal may unmask
    assert by_reader["alice"][col["ssn"]] == "reversible"
    assert by_reader["bob"][col["credit_card"]] == "null"
    assert by_reader["alice"][col["state"]] == "constant*"      # US rows only
    assert by_reader["dave"] == ["may not read"]
    # A click on carol's row: the reasons, as veil explain gives them.
    browser.click("#d-table tbody tr[data-reader='2']")
    assert browser.js("return document.getElementById('e-title').textContent") == "carol reading main.customers: ALLOWED"
    text = browser.js("return document.getElementById('e-text').textContent")
    assert "guardrail `contractors-sales-only`" in text and "-> met" in text
    items = browser.js("return [...document.querySelectorAll('#e-columns li')].map(l => l.textContent)")
    assert "ssn: shown" in items
    # A group's members only: how HR sees customers.
    browser.open(page, f"#group=HR&source={customers}")
    rows = browser.js("return [...document.querySelectorAll('#d-table tbody tr')].map(r => r.firstChild.textContent)")
    assert rows == ["bob"]
    browser.open(page, "#")
    # A click on a denied cell of the overview: why dave is refused.
    browser.click(f"#matrix tbody tr[data-source='{customers}'] td[data-reader='3']")
    assert browser.js("return document.getElementById('e-title').textContent") == "dave reading main.customers: DENIED"
    assert "not member of group `Contractors` -> not met" in browser.js("return document.getElementById('e-text').textContent")


def test_screenshot(browser, page, tmp_path):
    browser.open(page)
    browser.open(page, f"#source={source_index(browser, 'main.customers')}&pick=0")
    shot = browser.screenshot()
    shot.save(tmp_path / "report.png")
    assert shot.size == (1280, browser.js("return window.innerHeight"))
    colours = set(shot.getdata())
    # The overview's colours are drawn: denied (pink), masked (amber), as stored (green).
    for name, rgb in {"denied": (0xFD, 0xE7, 0xE9), "restricted": (0xFF, 0xF4, 0xD6), "open": (0xE6, 0xF4, 0xEA)}.items():
        assert rgb in colours, f"no {name} cell in the screenshot"
    # The detail table is on screen: its first row (alice) is below the overview.
    top = browser.js("return document.querySelector('#d-table tbody tr').getBoundingClientRect().top")
    assert 0 < top < shot.size[1]


def test_hostile_names_stay_text(browser, tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "sources:\n"
        "  - name: '<img src=x onerror=\"window.pwned=1\">'\n"
        "    tags: [T]\n"
        "    columns:\n"
        "      - {name: '<svg onload=\"window.pwned=2\">', type: text, tags: [P]}\n"
    )
    policies = tmp_path / "policies.yaml"
    policies.write_text(
        "name: all\ntype: subscription\nactions: {type: anyone}\n---\n"
        "name: '<b onmouseover=\"window.pwned=3\">'\ntype: data\nrules:\n"
        "  - {type: mask, columns: {tags: [P]}, mask: {type: null}}\n"
    )
    users = tmp_path / "users.yaml"
    users.write_text("users:\n  - {name: '</script><script>window.pwned=4</script>', groups: ['<i>g</i>']}\n")
    out = tmp_path / "hostile.html"
    veil("report", "--policies", policies, "--users", users, "--catalog", catalog, "-o", out)
    browser.open(out, "#source=0&pick=0")
    assert browser.js("return window.pwned === undefined")
    assert browser.js("return document.querySelectorAll('img, svg, b, i').length") == 0
    assert browser.js("return document.getElementById('e-title').textContent").startswith(
        "</script><script>window.pwned=4</script> reading <img src=x"
    )
