"""The FastAPI + uvicorn peer of `mlrun server` for bench/server_bench.sh: the same
GET /jobs/{id}/status (bearer token checked by its sha256, the job scoped to its owner, the
task's status mapped like app/job_ops.cpp) read from the same folder store.
Run: MLRUN_HOME=... /usr/bin/python3 -m uvicorn server_fastapi:app --port N"""
import hashlib
import json
import os

from fastapi import FastAPI, Header, HTTPException

HOME = os.environ["MLRUN_HOME"]
STATES = {"draft": "queued", "queued": "queued", "in_progress": "running", "completed": "completed",
          "published": "completed", "failed": "failed", "aborted": "aborted"}
app = FastAPI()


def read(path):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        return None


@app.get("/jobs/{job_id}/status")
def status(job_id: str, authorization: str = Header(default="")):
    if not authorization.startswith("Bearer "):
        raise HTTPException(401, "a bearer token is required")
    digest = hashlib.sha256(authorization[7:].encode()).hexdigest()
    token = read(os.path.join(HOME, "records", "server_tokens", digest + ".json"))
    if not token or token.get("revoked_ms"):
        raise HTTPException(401, "unknown or revoked token")
    if not job_id.isalnum():
        raise HTTPException(404, "unknown job")
    job = read(os.path.join(HOME, "records", "server_jobs", job_id + ".json"))
    if not job or (token.get("role") != "admin" and job.get("owner") != token.get("name")):
        raise HTTPException(404, "unknown job")
    task = read(os.path.join(HOME, "tasks", job["task_id"], "task.json")) or {}
    return {"id": job["id"], "challenge": job.get("challenge", ""), "submission_id": job.get("submission_id", ""),
            "created_ms": job.get("created_ms", 0), "status": STATES.get(task.get("status"), "queued"),
            "started_ms": task.get("started_ms", 0), "finished_ms": task.get("finished_ms", 0),
            "attempts": task.get("attempts", 0), "error": task.get("error", ""), "run_id": job.get("run_id", "")}
