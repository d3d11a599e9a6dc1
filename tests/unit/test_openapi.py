"""`/openapi.json` declares the bearer scheme, every status each route answers, and the
bounds of every integer a client sends."""

from typing import Any

from edge.main import create_app
from edge.routers.jobs import SubmitRoute, router
from edge.settings import Settings

MAX_SAFE = 2**53 - 1


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = create_app(Settings(api_keys="key:user")).openapi()
    return spec


def test_the_bearer_scheme_and_every_status_are_declared() -> None:
    spec = _spec()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            statuses = set(operation["responses"])
            if path in ("/healthz", "/readyz") or path.startswith("/docs"):
                continue
            assert {"401", "503"} <= statuses, (method, path, statuses)
            assert operation.get("security") == [{"HTTPBearer": []}], (method, path)
    events = spec["paths"]["/v1/jobs/{job_id}/events"]["get"]["responses"]
    assert {"200", "400", "404", "410", "422", "503"} <= set(events)
    assert "503" in spec["paths"]["/readyz"]["get"]["responses"]


def test_every_integer_a_client_sends_has_a_range() -> None:
    spec = _spec()
    schemas = spec["components"]["schemas"]

    def bounded(schema: dict[str, Any]) -> bool:
        options = schema.get("anyOf", [schema])
        return all(
            option.get("type") != "integer" or ("maximum" in option and "minimum" in option)
            for option in options
        )

    for name in ("ChatCompletionRequest", "EmbeddingsRequest"):
        for field, schema in schemas[name]["properties"].items():
            assert bounded(schema), (name, field, schema)
    for path, methods in spec["paths"].items():
        for operation in methods.values():
            for parameter in operation.get("parameters", []):
                assert bounded(parameter["schema"]), (path, parameter)
    after = spec["paths"]["/v1/jobs/{job_id}/events"]["get"]["parameters"][1]["schema"]
    assert after["anyOf"][0]["maximum"] == MAX_SAFE


def test_post_v1_jobs_is_on_the_apps_own_router_and_documented_as_before() -> None:
    # FastAPI matches an included router's routes as a group; the busiest route is matched
    # on the app's own router, ahead of the jobs router (edge.routers.jobs.add_submit_route).
    app = create_app(Settings(api_keys="key:user"))
    routes = app.router.routes
    (submit,) = [n for n, route in enumerate(routes) if isinstance(route, SubmitRoute)]
    (jobs_router,) = [
        n for n, route in enumerate(routes) if getattr(route, "original_router", None) is router
    ]
    assert submit == jobs_router - 1
    assert not any(isinstance(route, SubmitRoute) for route in router.routes)
    spec = app.openapi()
    operation = spec["paths"]["/v1/jobs"]["post"]
    assert operation["tags"] == ["jobs"]
    assert operation["operationId"] == "create_job_v1_jobs_post"
    assert set(operation["responses"]) == {"202", "400", "401", "404", "413", "422", "429", "503"}
    assert list(spec["paths"]["/v1/jobs"]) == ["post", "get"]
    paths = list(spec["paths"])  # where the jobs router's paths have always been
    assert paths.index("/v1/queue") + 1 == paths.index("/v1/jobs")
