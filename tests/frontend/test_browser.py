"""The frontend example (examples/frontend/) in a real browser, against both local APIs with API
keys on: from an allowed origin every answer, errors included, is readable JSON with its
X-Request-Id (and a 429's Retry-After); from an origin not in corsOrigins the browser blocks every
call.

Chromium and chromedriver are the distribution's (`make browser` installs them; `.ci/run` does
in CI); nothing is downloaded at run time. Without them the test is skipped, saying so. The
page is served on http://127.0.0.1:5173, an origin of both dev stacks' corsOrigins, and the APIs
take their CORS from those stack files, as `make run` does: preflights answered with the
authorizer on (pitfalls 10, 11), API Gateway's own 401 and 403 readable (pitfall 42).
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug.exceptions import NotFound
from werkzeug.middleware.shared_data import SharedDataMiddleware
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from local_api import PROJECT_DIR
from local_api.stack import load_cors_origins
from tests.backend.openai_stub import OpenAIStub
from tests.local_api.support import write_sample_database
from tests.local_apis import local_apis, start_local_api

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PAGE_DIR = PROJECT_DIR / "examples" / "frontend"
# In both dev stacks' corsOrigins (Pulumi.dev.yaml, spendsense/Pulumi.dev.yaml).
ALLOWED_PORT = 5173
DEV_CORS_ORIGINS = load_cors_origins("dev", PROJECT_DIR)
KEY = "browser-key-3f9a0c6e1b7d2548"
# Room for one short analysis's worst case (its prompt, 2,000 completion tokens), not a long one's.
BUDGET = {"OPENAI_MAX_TOKENS": "2000", "IRIS_LLM_DAILY_TOKEN_BUDGET": "3000"}
SHORT_TEXT = "Sepal 5.1 cm, petal 1.4 cm: which iris?"
LONG_TEXT = "petal " * 200
INSIGHTS = (
    "weekly-recap",
    "spending-analysis",
    "budget-tracking",
    "budget-suggestion",
    "net-worth",
)

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason=f"the browser test needs Chromium ({CHROMIUM}) and its driver ({CHROMEDRIVER}), "
    "which are not installed: `make browser` installs them (CI's .ci/run does)",
)


def _serve_thread(app: Any, port: int) -> Any:
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As the server will bind it: a port left in TIME_WAIT by a closed server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class PageServer:
    """examples/frontend/ as a static site, and the stack outputs the test writes at
    /stacks/<name>.json, as `pulumi stack output --json` would."""

    def __init__(self) -> None:
        self.outputs: dict[str, dict[str, Any]] = {}
        self.app = SharedDataMiddleware(self._outputs, {"/": str(PAGE_DIR)})

    def _outputs(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        name = request.path.removeprefix("/stacks/").removesuffix(".json")
        if request.path.startswith("/stacks/") and name in self.outputs:
            response = Response(json.dumps(self.outputs[name]), mimetype="application/json")
        elif request.path == "/":
            response = Response((PAGE_DIR / "index.html").read_bytes(), mimetype="text/html")
        else:
            response = NotFound()
        return response(environ, start_response)


@pytest.fixture(scope="module")
def pages() -> Iterator[tuple[PageServer, str, str]]:
    """The page server on an allowed origin and on one that is not: (server, allowed, other)."""
    page = PageServer()
    allowed_port = ALLOWED_PORT if _port_is_free(ALLOWED_PORT) else 0
    allowed = _serve_thread(page.app, allowed_port)
    other = _serve_thread(page.app, 0)
    yield page, f"http://127.0.0.1:{allowed.server_port}", f"http://127.0.0.1:{other.server_port}"
    for server in (allowed, other):
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def stacks(
    pages: tuple[PageServer, str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Four local APIs with API keys: IRIS with a model (and a small token budget) and without
    one, SpendSense (split) over the sample database and (single) over a file that is none."""
    page, allowed, _ = pages
    directory = tmp_path_factory.mktemp("browser-apis")
    broken = directory / "broken.db"
    broken.write_bytes(b"not an SQLite database")
    # The stacks' own CORS origins, unless the port of theirs is taken (say, by a dev server).
    stack_origins = allowed.endswith(f":{ALLOWED_PORT}")
    cors = () if stack_origins else ("--cors-origins", allowed)
    origins = list(DEV_CORS_ORIGINS) if stack_origins else [allowed]
    model = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    model.start()
    stub = OpenAIStub(base_url=model.url_for("/v1"))
    model.expect_request("/v1/chat/completions").respond_with_handler(stub.handle)
    iris_keys = {"IRIS_API_KEYS": KEY, "IRIS_LLM_PROVIDER": "openai"}
    spendsense_keys = {"SPENDSENSE_API_KEYS": KEY}
    apis = {
        "iris": start_local_api(
            directory / "iris.log",
            *cors,
            environ={
                **iris_keys,
                **BUDGET,
                "OPENAI_API_KEY": stub.api_key,
                "OPENAI_BASE_URL": stub.base_url,
            },
        ),
        "iris-no-model": start_local_api(directory / "iris-no-model.log", *cors, environ=iris_keys),
        "spendsense": start_local_api(
            directory / "spendsense.log",
            *("--app", "spendsense", "--deployment", "split", *cors),
            environ={**spendsense_keys, "DB_PATH": str(write_sample_database(directory))},
        ),
        "spendsense-no-data": start_local_api(
            directory / "spendsense-no-data.log",
            *("--app", "spendsense", "--deployment", "single", *cors),
            environ={**spendsense_keys, "DB_PATH": str(broken)},
        ),
    }
    try:
        with local_apis(*apis.values()) as urls:
            for name, url in zip(apis, urls, strict=True):
                page.outputs[name] = outputs(name, url, origins)
            yield
    finally:
        model.stop()


def outputs(name: str, url: str, cors_origins: list[str]) -> dict[str, Any]:
    """What `pulumi stack output --json` writes for such a stack (the keys the page reads)."""
    if name.startswith("iris"):
        return {
            "analyzeUrl": f"{url}/api/iris/analyze",
            "apiUrl": url,
            "corsOrigins": cors_origins,
            "healthUrl": f"{url}/health",
        }
    return {"apiUrl": url, "functionNames": {"api": f"{name}-api"}, "healthUrl": f"{url}/health"}


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    # The driver is named, so Selenium Manager never looks for (or downloads) one.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """The example page in the browser: type, submit, read the answer it shows."""

    def __init__(self, driver: Any, origin: str, iris: str, spendsense: str) -> None:
        self.driver = driver
        driver.get(f"{origin}/?iris=/stacks/{iris}.json&spendsense=/stacks/{spendsense}.json")
        self._wait(lambda: self._js("return document.querySelector('#stacks').dataset.ready"))

    def analyze(self, text: str, key: str = "") -> dict[str, str]:
        self._type("#text", text)
        return self._submit("#analyze", key)

    def insight(self, name: str, key: str = "", user_id: str = "u-001", as_of: str = "") -> dict:
        self._js(f"document.querySelector('#insight').value = {json.dumps(name)}")
        self._type("#user-id", user_id)
        self._type("#as-of", as_of)
        return self._submit("#get-insight", key)

    def stacks_note(self) -> str:
        return self._js("return document.querySelector('#stacks').textContent")

    def _submit(self, button: str, key: str) -> dict[str, str]:
        self._type("#api-key", key)
        shown = self._js("return document.querySelectorAll('#results li').length")
        self.driver.find_element("css selector", button).click()
        self._wait(
            lambda: self._js("return document.querySelectorAll('#results li').length") > shown
        )
        return self._js(
            "const item = document.querySelector('#results li');"
            "return {...item.dataset, text: item.textContent};"
        )

    def _type(self, selector: str, value: str) -> None:
        # Set as a paste would: typing a long text key by key takes seconds.
        element = self.driver.find_element("css selector", selector)
        self.driver.execute_script("arguments[0].value = arguments[1]", element, value)

    def _js(self, script: str) -> Any:
        return self.driver.execute_script(script)

    def _wait(self, condition: Any) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, 30).until(lambda _: condition())


def error(shown: dict[str, str]) -> tuple[str, str, str]:
    return shown["outcome"], shown["status"], shown["code"]


# One test, so that pytest-xdist never starts the APIs and the browser on both workers.
def test_every_answer_is_readable_from_an_allowed_origin_and_none_from_another(
    browser: Any, pages: tuple[PageServer, str, str], stacks: None
) -> None:
    _, allowed, other = pages
    from_allowed_origin(browser, allowed)
    from_another_origin(browser, other)


def from_allowed_origin(browser: Any, allowed: str) -> None:
    page = Page(browser, allowed, "iris", "spendsense")
    assert "not in its corsOrigins" not in page.stacks_note()

    # API Gateway's own answers: readable, in its shape, without a request id.
    for shown in (page.analyze(SHORT_TEXT), page.insight("net-worth")):
        assert error(shown) == ("error", "401", ""), shown
        assert "Unauthorized" in shown["text"] and not shown["requestId"], shown
    for shown in (page.analyze(SHORT_TEXT, "wrong-key"), page.insight("net-worth", "wrong-key")):
        assert error(shown) == ("error", "403", ""), shown
        assert "Forbidden" in shown["text"] and not shown["requestId"], shown

    answers = [page.analyze(SHORT_TEXT, KEY), *(page.insight(name, KEY) for name in INSIGHTS)]
    for shown in answers:
        assert (shown["outcome"], shown["status"]) == ("answer", "200"), shown
        assert shown["requestId"] and shown["requestId"] in shown["text"], shown
    assert '"cached": false' in answers[0]["text"]
    assert '"netWorthCents"' in answers[-1]["text"]

    refused = page.analyze(LONG_TEXT, KEY)
    assert error(refused) == ("error", "429", "llm_budget_exhausted"), refused
    assert int(refused["retryAfter"]) >= 1 and "retry" in refused["text"], refused
    errors = {
        ("400", "invalid_query"): page.insight("weekly-recap", KEY, as_of="0001-12-31"),
        ("404", "user_not_found"): page.insight("weekly-recap", KEY, user_id="u-404"),
        ("429", "llm_budget_exhausted"): refused,
    }

    unavailable = Page(browser, allowed, "iris-no-model", "spendsense-no-data")
    errors[("503", "llm_not_configured")] = unavailable.analyze(SHORT_TEXT, KEY)
    errors[("503", "data_unavailable")] = unavailable.insight("net-worth", KEY)
    for (status, code), shown in errors.items():
        assert error(shown) == ("error", status, code), shown
        assert shown["requestId"] and shown["requestId"] in shown["text"], shown
        assert code in shown["text"], shown


def from_another_origin(browser: Any, other: str) -> None:
    page = Page(browser, other, "iris", "spendsense")
    assert "not in its corsOrigins" in page.stacks_note()

    calls = {
        "analyze with a key": page.analyze(SHORT_TEXT, KEY),
        "analyze without": page.analyze(SHORT_TEXT),
        "insight with a key": page.insight("net-worth", KEY),
        "insight without": page.insight("net-worth"),
    }

    for call, shown in calls.items():
        assert (shown["outcome"], shown["status"]) == ("blocked", ""), (call, shown)
        assert "corsOrigins" in shown["text"], (call, shown)
