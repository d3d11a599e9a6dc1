from typing import Annotated

from fastapi import APIRouter, Query

from contracts.errors import ErrorCode
from contracts.usage import USAGE_RETENTION_DAYS, UsageReport
from edge.deps import CurrentUser, StateDep
from edge.errors import Forbidden, error_responses

router = APIRouter(prefix="/v1/usage", tags=["usage"])

DEFAULT_DAYS = 30


@router.get("", responses=error_responses(400, 401, 403, 422, 429, 503))
async def get_usage(
    state: StateDep,
    user: CurrentUser,
    days: Annotated[
        int,
        Query(ge=1, le=USAGE_RETENTION_DAYS, description="UTC days back, today included."),
    ] = DEFAULT_DAYS,
    everyone: Annotated[
        bool, Query(alias="all", description="Every user's usage (operators only).")
    ] = False,
) -> UsageReport:
    """The caller's tokens and jobs by UTC day and model, charged as each job ended, and its
    token quota in the current window. Operators (`EDGE_OPERATORS`) may ask for every
    user's rows with `all=true`."""
    if everyone and user not in state.settings.operator_set():
        raise Forbidden(ErrorCode.forbidden, "only operators may see every user's usage (all)")
    return await state.quotas.report(user, days, everyone)
