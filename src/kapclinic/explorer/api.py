"""API: PK simulation with the same inputs and outputs as `kapclinic pk simulate`."""

from django.http import HttpRequest
from ninja import Field, Schema
from pydantic import ConfigDict

from kapclinic.accounts.api_auth import GuardedRouter
from kapclinic.accounts.permissions import Action, require
from kapclinic.clinical import pk
from kapclinic.platform import ratelimit
from kapclinic.platform.problems import field_refusal

router = GuardedRouter(tags=["pharmacokinetics"])
# A web request simulates at most this many virtual patients [policy: keeps a 2-core server
# responsive]; larger populations run from the command line. Patients x time points are
# bounded by the PK core (inputs.MAX_WORK), population requests by a rate limit
# (settings.KAPCLINIC_RATE_LIMITS["pk-population"]).
API_MAX_POPULATION = 10_000


class SimulateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    model: str
    route: str
    dose_mg: float | None = None
    dose_mg_per_kg: float | None = None
    weight_kg: float
    duration_min: float | None = None
    hours: float = 24.0
    step_min: float = 1.0
    population: int | None = Field(None, ge=1, le=API_MAX_POPULATION)
    seed: int | None = None
    asian: bool | None = None
    japanese: bool | None = None
    age_years: float | None = None


@router.get("/models")
@require(Action.PK_SIMULATE)
def models(request: HttpRequest):
    return pk.list_models()


@router.post("/simulate")
@require(Action.PK_SIMULATE)
def simulate(request: HttpRequest, payload: SimulateIn):
    if (payload.dose_mg is None) == (payload.dose_mg_per_kg is None):
        raise field_refusal("dose_mg", "give exactly one of dose_mg and dose_mg_per_kg")
    if payload.population is not None:
        try:
            ratelimit.hit("pk-population", request)
        except ratelimit.RateLimited as exc:
            return ratelimit.problem(request, exc)
    try:
        result = pk.simulate(payload.model, payload.route, **payload.model_dump(
            exclude={"model", "route"}))
    except pk.PKInputError as exc:
        raise field_refusal(exc.field, str(exc)) from exc
    return result.to_dict()
