"""GuardMiddleware on a FastAPI model server (the wine model): guarded paths get the
sanitised rows and hardened answers, blocks and crashes are the proxy's JSON errors, and
every other path, method and the app's own refusals pass through untouched."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import httpx
import numpy as np
import pytest
from _guard_http import Recording, assert_error, instances, wine_pipeline
from _guard_keys import api_key
from _guard_models import WineCase, wine_case
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from redwatch.guard import Decision, GuardEvent, GuardRequest, GuardResponse, GuardStage
from redwatch.guard.http import GuardMetrics, GuardMiddleware, ProxySettings
from redwatch.guard.pipeline import GuardPipeline

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def wine() -> WineCase:
    return wine_case()


class Instances(BaseModel):
    """The server's own request model, as a FastAPI user would write it."""

    instances: list[list[float]]


def model_server(model: Any, answer: dict[str, Any] | None = None) -> FastAPI:
    """A plain FastAPI server of `model`; `answer` replaces its predict_proba answer."""
    app = FastAPI()

    @app.post("/predict")
    async def predict(body: Instances) -> dict[str, Any]:
        rows = np.asarray(body.instances)
        if rows.shape[0] > 5:
            raise HTTPException(status_code=413, detail="at most 5 rows, please")
        return {"labels": model.predict(rows).tolist()}

    @app.post("/predict_proba")
    async def predict_proba(body: Instances) -> dict[str, Any]:
        rows = np.asarray(body.instances)
        if answer is not None:
            return answer
        return {
            "probabilities": model.predict_proba(rows).tolist(),
            "classes": model.classes_.tolist(),
        }

    @app.post("/other")
    async def other(body: dict[str, Any]) -> dict[str, Any]:
        return {"echo": body}

    @app.get("/other")
    async def other_get() -> dict[str, str]:
        return {"hello": "world"}

    return app


def guarded(
    app: FastAPI, pipeline: GuardPipeline | None = None, **options: Any
) -> list[GuardEvent]:
    """Add the middleware the way a FastAPI user would; the list its sink fills."""
    events: list[GuardEvent] = []
    app.add_middleware(
        GuardMiddleware,  # type: ignore[arg-type]
        pipeline=pipeline or wine_pipeline(),
        sink=events.extend,
        **options,
    )
    return events


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("10.9.8.7", 4444))
    return httpx.AsyncClient(transport=transport, base_url="http://app")


async def test_guarded_paths_get_sanitised_rows_and_hardened_answers(wine: WineCase) -> None:
    recording = Recording(wine.model)
    app = model_server(recording)
    events = guarded(app)
    row = wine.x[3].copy()
    row[0] = -50.0
    async with client(app) as http:
        labels = await http.post("/predict", json=instances([row]))
        proba = await http.post("/predict_proba", json=instances(wine.x[:4]))
    assert labels.status_code == 200
    assert labels.json() == {"labels": wine.model.predict([recording.seen[0][0]]).tolist()}
    assert recording.seen[0][0][0] == wine.spec.lower[0]
    expected = np.round(wine.model.predict_proba(wine.x[:4]), 4)
    np.testing.assert_allclose(proba.json()["probabilities"], expected)
    assert proba.json()["labels"] == wine.model.predict(wine.x[:4]).tolist()
    assert [e.kind for e in events] == ["spec_violation", "sanitized", "output_hardened"]
    assert {e.client for e in events} == {"ip:10.9.8.7"}


async def test_other_paths_and_methods_pass_through_untouched(wine: WineCase) -> None:
    app = model_server(wine.model)
    events = guarded(app)
    async with client(app) as http:
        echoed = await http.post("/other", json={"instances": [[float("1e9")]], "x": "y"})
        hello = await http.get("/other")
        wrong_method = await http.get("/predict")
        unknown = await http.get("/missing")
    assert echoed.json() == {"echo": {"instances": [[1e9]], "x": "y"}}
    assert hello.json() == {"hello": "world"}
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"detail": "Method Not Allowed"}
    assert unknown.status_code == 404
    assert events == []


async def test_blocks_are_the_proxy_error_bodies(wine: WineCase) -> None:
    key, entry = api_key("svc", "scores")
    stages = [{"name": "auth", "options": {"keys": [entry]}}, {"name": "validate"}]
    app = model_server(wine.model)
    events = guarded(app, wine_pipeline(stages), settings=ProxySettings(max_body_bytes=2048))
    headers = {"authorization": f"Bearer {key}"}
    async with client(app) as http:
        no_key = await http.post("/predict", json=instances(wine.x[:1]))
        bad_json = await http.post("/predict", content=b"{", headers=headers)
        too_big = await http.post("/predict", content=b" " * 4096, headers=headers)
        outside = wine.x[:1].copy()
        outside[0, 1] = 1e6
        spec = await http.post("/predict", json=instances(outside), headers=headers)
        ok = await http.post("/predict", json=instances(wine.x[:1]), headers=headers)
    assert_error(no_key, 401, "auth")
    assert_error(bad_json, 400)
    assert_error(too_big, 413)
    assert "outside the input spec" in assert_error(spec, 422, "validate")
    assert ok.status_code == 200
    assert [(e.stage, e.kind) for e in events] == [
        ("auth", "auth_failed"),
        ("proxy", "bad_request"),
        ("proxy", "payload_too_large"),
        ("validate", "spec_violation"),
    ]


async def test_the_apps_own_refusals_are_relayed_unchanged(wine: WineCase) -> None:
    app = model_server(wine.model)
    events = guarded(app)
    async with client(app) as http:
        response = await http.post("/predict", json=instances(wine.x[:6]))
    assert response.status_code == 413
    assert response.json() == {"detail": "at most 5 rows, please"}
    assert [e.kind for e in events] == []


async def test_an_unusable_app_answer_is_502(wine: WineCase) -> None:
    app = model_server(wine.model, answer={"labels": [0]})
    events = guarded(app)
    async with client(app) as http:
        response = await http.post("/predict_proba", json=instances(wine.x[:1]))
    assert assert_error(response, 502) == "app answer has no probabilities"
    assert [(e.stage, e.kind) for e in events] == [("proxy", "upstream_error")]


class _BadOutput(GuardStage):
    """A response stage with a bug."""

    name: ClassVar[str] = "bad_output"
    description: ClassVar[str] = "raises on responses"

    def on_response(self, request: GuardRequest, response: GuardResponse) -> Decision:
        raise KeyError("oops")


async def test_a_crashing_stage_is_a_one_line_500(
    wine: WineCase, caplog: pytest.LogCaptureFixture
) -> None:
    app = model_server(wine.model)
    pipeline = wine_pipeline([{"name": "bad_output"}], {"bad_output": _BadOutput})
    events = guarded(app, pipeline)
    with caplog.at_level(logging.ERROR, logger="redwatch.guard.http"):
        async with client(app) as http:
            response = await http.post("/predict_proba", json=instances(wine.x[:1]))
    assert assert_error(response, 500) == "internal error (see server log)"
    assert any("oops" in (r.exc_text or "") for r in caplog.records)
    assert [(e.stage, e.kind) for e in events] == [("proxy", "internal_error")]


async def test_custom_paths_and_shared_metrics(wine: WineCase) -> None:
    app = FastAPI()

    @app.post("/v1/score/predict_proba")
    async def score(body: Instances) -> dict[str, Any]:
        return {"probabilities": wine.model.predict_proba(np.asarray(body.instances)).tolist()}

    metrics = GuardMetrics(["/v1/score/predict_proba"])

    @app.get("/metrics")
    async def render() -> Any:
        from starlette.responses import Response

        return Response(metrics.render(), media_type="text/plain")

    stages = [{"name": "output", "options": {"label_only": True}}]
    guarded(app, wine_pipeline(stages), paths=["/v1/score/predict_proba"], metrics=metrics)
    async with client(app) as http:
        answer = (await http.post("/v1/score/predict_proba", json=instances(wine.x[:2]))).json()
        text = (await http.get("/metrics")).text
    assert answer["labels"] == wine.model.predict(wine.x[:2]).tolist()
    assert all(sorted(row) == [0.0, 0.0, 1.0] for row in answer["probabilities"])
    assert 'redwatch_guard_requests_total{path="/v1/score/predict_proba",status="200"}' in text
