"""The FastAPI + uvicorn peer of `mlrun server` for bench/server_bench.sh: the same
GET /jobs/{id}/status (bearer token checked by its sha256, the job scoped to its owner, the
task's status mapped like app/job_ops.cpp) read from the same store: the SQLite default
(MLRUN_HOME/store.db, one read-only connection per worker thread, as mlrun keeps one handle
per thread) or, without it, the folder store's JSON files.
Run: MLRUN_HOME=... /usr/bin/python3 -m uvicorn server_fastapi:app --port N"""
import hashlib
import json
import os
import sqlite3
import threading

from fastapi import FastAPI, Header, HTTPException

HOME = os.environ["MLRUN_HOME"]
DB = os.path.join(HOME, "store.db")
STATES = {"draft": "queued", "queued": "queued", "in_progress": "running", "completed": "completed",
          "published": "completed", "failed": "failed", "aborted": "aborted"}
app = FastAPI()
local = threading.local()


def db():
    if not hasattr(local, "db"):
        local.db = sqlite3.connect(f"file:{DB}?mode=ro", uri=True, check_same_thread=False)
    return local.db


def read_file(path):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return None


def record(kind, id):
    if os.path.exists(DB):
        row = db().execute("SELECT json FROM records WHERE kind = ? AND id = ?", (kind, id)).fetchone()
        return json.loads(row[0]) if row else None
    return read_file(os.path.join(HOME, "records", kind, id + ".json"))


def task(id):
    if os.path.exists(DB):
        row = db().execute("SELECT record FROM tasks WHERE id = ?", (id,)).fetchone()
        return json.loads(row[0]) if row else None
    return read_file(os.path.join(HOME, "tasks", id, "task.json"))


@app.get("/jobs/{job_id}/status")
def status(job_id: str, authorization: str = Header(default="")):
    if not authorization.startswith("Bearer "):
        raise HTTPException(401, "a bearer token is required")
    token = record("server_tokens", hashlib.sha256(authorization[7:].encode()).hexdigest())
    if not token or token.get("revoked_ms"):
        raise HTTPException(401, "unknown or revoked token")
    if not job_id.isalnum():
        raise HTTPException(404, "unknown job")
    job = record("server_jobs", job_id)
    if not job or (token.get("role") != "admin" and job.get("owner") != token.get("name")):
        raise HTTPException(404, "unknown job")
    t = task(job["task_id"]) or {}
    return {"id": job["id"], "challenge": job.get("challenge", ""), "submission_id": job.get("submission_id", ""),
            "created_ms": job.get("created_ms", 0), "status": STATES.get(t.get("status"), "queued"),
            "started_ms": t.get("started_ms", 0), "finished_ms": t.get("finished_ms", 0),
            "attempts": t.get("attempts", 0), "error": t.get("error", ""), "run_id": job.get("run_id", "")}
