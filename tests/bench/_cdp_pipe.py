"""A bare Chromium driven over its DevTools pipe, with no domain enabled.

Playwright enables the Network and Runtime domains on every page: each request the page
makes then becomes DevTools events serialised to the driver, and V8 keeps the bookkeeping a
debugger needs. For timing a page as a user's browser runs it, this client only sends
commands (new profile, cookie, viewport, navigate, evaluate) and subscribes to nothing.
Chromium reads commands from fd 3 and writes replies to fd 4, each a JSON text ended by NUL.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time


class CdpPipeBrowser:
    def __init__(self, executable: str, args: list[str]):
        self._profile = tempfile.TemporaryDirectory(prefix="osteolens-cdp-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def place_pipes():  # runs in the child: the pipe ends Chromium expects at fds 3 and 4
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.process = subprocess.Popen(
            [
                executable,
                *args,
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile.name}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=place_pipes,
            pass_fds=(3, 4),
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0

    def send(
        self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30
    ) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
        raise TimeoutError(method)

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self._buffer += chunk
        text, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(text)

    def new_page(self, *, cookies: list[dict], width: int, height: int) -> CdpPage:
        """A tab in a fresh profile (empty HTTP and code caches), with these cookies."""
        context = self.send("Target.createBrowserContext")["browserContextId"]
        self.send("Storage.setCookies", {"cookies": cookies, "browserContextId": context})
        target = self.send("Target.createTarget", {"url": "about:blank", "browserContextId": context})[
            "targetId"
        ]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session,
        )
        return CdpPage(self, context, session)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        for fd in (self._to_chrome, self._from_chrome):
            os.close(fd)
        self._profile.cleanup()


class CdpPage:
    def __init__(self, browser: CdpPipeBrowser, context: str, session: str):
        self.browser, self.context, self.session = browser, context, session

    def goto(self, url: str) -> None:
        self.browser.send("Page.navigate", {"url": url}, self.session)

    def evaluate(self, expression: str):
        # A promise is awaited (Element Timing entries arrive through one).
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        result = self.browser.send("Runtime.evaluate", params, self.session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60, poll: float = 0.05):
        """Evaluate `expression` until it is truthy; returns that value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(poll)
        raise TimeoutError(expression)

    def close(self) -> None:
        self.browser.send("Target.disposeBrowserContext", {"browserContextId": self.context})
