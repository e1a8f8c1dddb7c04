#!/usr/bin/env python3
"""The submission server's web page driven in a real browser (issue 13): headless chromium
under the DevTools protocol over --remote-debugging-pipe (NUL-separated JSON on fds 3/4, so
only the standard library is needed). It starts its own redis-server (free loopback port,
--appendonly yes, temp dir), `mlrun server` and an agent on that broker, then, as a user
would: types the token and clicks "Use token", picks the file (DOM.setFileInputFiles), clicks
Submit, and polls the page until "My jobs" shows the job completed and the leaderboard lists
it. With the ML kinds (libmlrun_tasks.so beside mlrun) the challenge is a small Titanic
pipeline (preprocess, logreg, summary), so the job must appear on the leaderboard; without
them it is the exec template and the leaderboard part is skipped (said on the last line).
Exit 0 also when chromium or redis-server is missing (skipped, said so).
    tests/server/web_page_browser.py build/mlrun
"""
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))
PIPELINE = """name: titanic_web
project: server/titanic_web
primary_metric: roc_auc
steps:
  - name: preprocess
    template: preprocess
    params:
      data.path: titanic3.arff
      data.target: survived
      data.drop: [boat, body, home.dest, name, ticket, cabin]
      seed: 42
  - name: train
    template: train_model
    parents: [preprocess]
    foreach: {model.kind: [logreg]}
    params: {seed: 42, model.epochs: 3}
  - name: summary
    template: summary
    parents: [train]
    trigger: all_done
    params: {bootstrap: {resamples: 0}}
"""


def log(msg):
    print("web_page_browser: " + msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """chromium with the DevTools protocol on a pipe; call() sends a command to the page's
    session and returns its result (RuntimeError on a protocol error or a timeout)."""

    def __init__(self, profile, width=1280, height=1600):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire():  # in the child: fd 3 = commands in, fd 4 = answers out
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--remote-debugging-pipe",
             "--user-data-dir=" + profile, f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(profile + ".log", "wb"),
            preexec_fn=wire, close_fds=False)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buf = b""
        self.next_id = 0
        self.session = None
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self.next_id:  # events (no id) are not needed
                    if "error" in answer:
                        raise RuntimeError(f"{method}: {answer['error']}")
                    return answer.get("result", {})
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_browser], [], [], left)[0]:
                raise RuntimeError(f"{method}: no answer from chromium in {timeout} s")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError(f"{method}: chromium closed the pipe")
            self.buf += chunk

    def eval(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def click(self, element_id):
        """A real left click (mouse pressed + released) at the element's centre."""
        box = self.eval(f"""(() => {{ const e = document.getElementById({json.dumps(element_id)});
            e.scrollIntoView({{block: "center"}}); const r = e.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2]; }})()""")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent",
                      {"type": kind, "x": box[0], "y": box[1], "button": "left", "clickCount": 1})

    def type_into(self, element_id, text):
        """Clicks the field, selects what it holds and types `text` over it (a key event path)."""
        self.click(element_id)
        self.eval(f"document.getElementById({json.dumps(element_id)}).select()")
        self.call("Input.insertText", {"text": text})

    def set_file(self, element_id, path):
        root = self.call("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = self.call("DOM.querySelector", {"nodeId": root, "selector": "#" + element_id})["nodeId"]
        self.call("DOM.setFileInputFiles", {"nodeId": node, "files": [path]})

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


PAGE_STATE = """JSON.stringify((() => {
  const rows = (id) => [...document.querySelectorAll("#" + id + " tbody tr")].map(
      (tr) => [...tr.cells].map((td) => td.textContent));
  return {who: document.getElementById("who").textContent, msg: document.getElementById("msg").textContent,
          challenges: [...document.getElementById("challenge").options].map((o) => o.textContent),
          jobs: rows("jobs"), leaderboard: rows("leaderboard")};
})())"""


def main():
    mlrun = os.path.abspath(sys.argv[1])
    if shutil.which("chromium") is None:
        log("chromium missing: skipped (scripts/setup.sh installs it)")
        return 0
    if shutil.which("redis-server") is None:
        log("redis-server missing: skipped (scripts/setup.sh installs it)")
        return 0
    with_ml = os.path.exists(os.path.join(os.path.dirname(mlrun), "libmlrun_tasks.so"))
    work = tempfile.mkdtemp(prefix="web_page_browser_")
    procs = []
    browser = None
    try:
        rport = free_port()
        os.makedirs(os.path.join(work, "redis"))
        procs.append(subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(rport), "--dir", os.path.join(work, "redis"),
             "--appendonly", "yes", "--save", ""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", rport), 0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                time.sleep(0.1)
        env = dict(os.environ, MLRUN_HOME=os.path.join(work, ".mlrun"), MLRUN_BROKER=f"redis://127.0.0.1:{rport}/0",
                   MLRUN_QUEUE_URI="", MLRUN_TRACKING_URI="", MLFLOW_TRACKING_URI="")
        token = subprocess.run([mlrun, "server", "token", "create", "webuser"], env=env, cwd=work, check=True,
                               capture_output=True, text=True).stdout.strip()
        if with_ml:
            challenge = os.path.join(work, "titanic_web.yaml")
            with open(challenge, "w") as f:
                f.write(PIPELINE)
            upload = os.path.join(SOURCE, "examples", "titanic", "titanic3.arff")
            expected_challenge = "titanic_web"
        else:
            challenge = "exec"
            upload = os.path.join(work, "t.csv")
            with open(upload, "w") as f:
                f.write("a,b,survived\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
            expected_challenge = "exec"
        server_out = open(os.path.join(work, "server.out"), "w+")
        procs.append(subprocess.Popen([mlrun, "server", "--listen", "127.0.0.1:0", "--templates", challenge],
                                      env=env, cwd=work, stdout=server_out,
                                      stderr=open(os.path.join(work, "server.log"), "w")))
        url = ""
        for _ in range(200):
            server_out.seek(0)
            text = server_out.read()
            if "listening on " in text:
                url = text.split("listening on ", 1)[1].split()[0]
                break
            time.sleep(0.1)
        if not url:
            log("the server did not start: " + open(os.path.join(work, "server.log")).read()[-2000:])
            return 1
        procs.append(subprocess.Popen([mlrun, "agent", "daemon", "--queue", "server", "-q"], env=env, cwd=work,
                                      stdout=open(os.path.join(work, "agent.out"), "w"), stderr=subprocess.STDOUT))

        try:
            browser = Browser(os.path.join(work, "profile"))
        except (RuntimeError, OSError) as e:
            log(f"chromium did not answer the DevTools protocol: {e}; its log: "
                + open(os.path.join(work, "profile.log"), errors="replace").read()[-2000:])
            return 1
        browser.call("Page.navigate", {"url": url + "/"})
        deadline = time.monotonic() + 20
        while browser.eval("document.readyState") != "complete" or not browser.eval("!!document.getElementById('use')"):
            if time.monotonic() > deadline:
                log("the page did not load")
                return 1
            time.sleep(0.1)
        browser.type_into("token", token)
        browser.click("use")
        state = wait_for(browser, lambda s: "signed in as webuser" in s["who"] and expected_challenge in s["challenges"],
                         20, "signed in with the challenge listed")
        if state is None:
            return 1
        browser.type_into("name", "browser-sub")
        browser.set_file("file", upload)
        browser.click("submit")
        state = wait_for(browser, lambda s: s["msg"].startswith("job "), 30, "the job made (message 'job ID ...')")
        if state is None:
            return 1
        job = state["msg"].split()[1]
        log(f"submitted through the form: job {job} ({state['msg']})")
        budget = 240 if with_ml else 60
        state = wait_for(browser, lambda s: any(r[0] == job and r[2] in ("completed", "failed", "aborted")
                                                for r in s["jobs"]), budget, f"job {job} ended in My jobs")
        if state is None:
            dump_logs(work, url, token, job)
            return 1
        row = next(r for r in state["jobs"] if r[0] == job)
        if row[1:3] != [expected_challenge, "completed"]:
            log(f"job row {row}: expected [{job}, {expected_challenge}, completed, ...]")
            dump_logs(work, url, token, job)
            return 1
        log(f"job {job} completed on the page: {row}")
        if not with_ml:
            log("ok (leaderboard part skipped: the ML kinds are not built, the exec challenge has no leaderboard)")
            return 0
        state = wait_for(browser, lambda s: any(r[4] == job for r in s["leaderboard"]), 20,
                         f"job {job} on the leaderboard")
        if state is None:
            return 1
        lb = next(r for r in state["leaderboard"] if r[4] == job)
        if lb[0] != "1" or lb[1] != "browser-sub" or not lb[3]:
            log(f"leaderboard row {lb}: expected rank 1, submission browser-sub, a score")
            return 1
        log(f"ok: job {job} completed and ranked on the leaderboard: {lb}")
        return 0
    finally:
        if browser:
            browser.close()
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)


def wait_for(browser, done, seconds, what):
    """Polls the page's state until done(state); the state, or None (said why) after `seconds`."""
    deadline = time.monotonic() + seconds
    state = {}
    while time.monotonic() < deadline:
        state = json.loads(browser.eval(PAGE_STATE))
        if done(state):
            return state
        time.sleep(0.25)
    log(f"timed out after {seconds} s waiting for: {what}; page state: {json.dumps(state)}")
    return None


def dump_logs(work, url, token, job):
    try:
        req = urllib.request.Request(f"{url}/jobs/{job}/logs?tail=3000", headers={"Authorization": "Bearer " + token})
        log("job log tail: " + urllib.request.urlopen(req, timeout=10).read().decode(errors="replace"))
    except OSError as e:
        log(f"job log: {e}")
    for name in ("agent.out", "server.log"):
        try:
            log(f"{name}: " + open(os.path.join(work, name)).read()[-2000:])
        except OSError:
            pass


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:  # a DevTools call that failed or timed out
        log(f"FAILED: {e}")
        sys.exit(1)
