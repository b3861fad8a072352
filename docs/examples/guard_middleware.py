"""The guard inside an existing FastAPI (or Starlette) model server: GuardMiddleware guards
POST /predict and /predict_proba, passes every other route through, and counts into a
GuardMetrics that the app serves at /metrics. The client here calls the app in-process
(httpx's ASGI transport); under uvicorn it behaves the same.

Run: python docs/examples/guard_middleware.py OUT_DIR
"""

import asyncio
from typing import Any

import httpx
import numpy as np
from fastapi import FastAPI, Response

from redwatch.demo.models import train_credit_gbm
from redwatch.guard import GuardEvent, GuardPipeline, default_policy
from redwatch.guard.context import StageContext
from redwatch.guard.http import GuardMetrics, GuardMiddleware
from redwatch.guard.http.metrics import CONTENT_TYPE
from redwatch.targets.spec import InputSpec

demo = train_credit_gbm(seed=0)
app = FastAPI()


@app.post("/predict_proba")
def predict_proba(body: dict[str, Any]) -> dict[str, Any]:
    """The app's own endpoint, unchanged: it sees only rows the guard let through."""
    proba = demo.model.predict_proba(np.asarray(body["instances"], dtype=float))
    return {"labels": proba.argmax(axis=1).tolist(), "probabilities": proba.tolist()}


metrics = GuardMetrics()


@app.get("/metrics")
def serve_metrics() -> Response:
    return Response(metrics.render(), media_type=CONTENT_TYPE)


context = StageContext(
    spec=InputSpec.from_data(demo.x_train, demo.feature_names),
    predict_proba=demo.model.predict_proba,  # for stages that query the model (detectors)
    classes=demo.model.classes_,
    reference=demo.x_train,
)
pipeline = GuardPipeline(default_policy(), context)
_ = pipeline.stages  # build the stages now, so that a bad policy fails at start-up
seen: list[GuardEvent] = []
app.add_middleware(GuardMiddleware, pipeline=pipeline, sink=seen.extend, metrics=metrics)


async def main() -> None:
    """Three calls: a clean one, a malformed one, and a scrape of the metrics."""
    transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        rows = {"instances": demo.x_test[:2].tolist()}
        answer = await client.post("/predict_proba", json=rows)
        print(answer.status_code, answer.json())
        bad = await client.post("/predict_proba", json={"instances": [[0.0, 1.0]]})
        print(bad.status_code, bad.json())
        scrape = (await client.get("/metrics")).text
    print(
        [line for line in scrape.splitlines() if line.startswith("redwatch_guard_requests_total")]
    )


asyncio.run(main())
print(f"{len(seen)} events reached the sink:", [f"{e.stage}/{e.kind}" for e in seen])
