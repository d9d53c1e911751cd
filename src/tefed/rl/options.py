"""Settings of a learning environment, as one typed model (its fields are its documentation)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Where the environment's decisions fall: every market interval (at its gate closure) or every
#: grid step.
StepKind = Literal["market_interval", "grid_step"]
#: How actions are given: a Box of fractions, or a MultiDiscrete of levels of the same fractions.
ActionKind = Literal["continuous", "discrete"]


class EnvOptions(BaseModel):
    """How a learning environment steps, acts, observes and rewards.

    The observation and action spaces these settings give are listed in
    ``docs/learning-agents.md``.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    step: StepKind = Field(
        "market_interval",
        description="market_interval: one decision per interval, at its gate closure (orders and "
        "the battery set-point for that interval); grid_step: one decision per grid step (the "
        "battery set-point for the step; orders only at gate closures)",
    )
    action: ActionKind = Field(
        "continuous",
        description="continuous: a Box of five fractions; discrete: a MultiDiscrete of "
        "`action_levels` levels of each fraction",
    )
    action_levels: int = Field(
        5, ge=2, le=101, description="levels of each fraction of a discrete action"
    )
    max_order_power_kw: float = Field(
        5.0,
        gt=0,
        le=1000,
        description="an order's quantity at fraction 1, as average power over the interval [kW]",
    )
    forecast_intervals: int = Field(
        4, ge=1, le=96, description="price forecasts observed, from the interval ordered for"
    )
    voltage_penalty_usd_per_pu_h: float = Field(
        0.0,
        ge=0,
        description="reward penalty per per-unit of service voltage outside the band, per hour "
        "[USD/(pu·h)]; 0: no penalty",
    )
    voltage_band_pu: tuple[float, float] = Field(
        (0.95, 1.05), description="service voltage band without penalty [pu] (ANSI C84.1)"
    )
    step_timeout_s: float = Field(
        120.0,
        gt=0,
        description="longest wait for the federation to reach the next decision [s]; past it "
        "the episode ends with an error naming the wait",
    )
    federates: Literal["threads", "processes"] = Field(
        "threads",
        description="threads: the built-in federates (price feed, ems, grid, market) run in "
        "threads of the learner host process, all on one HELICS core with the learned "
        "households (their time grants stay in the process); processes: each in a process of "
        "its own, as `tefed run` starts them",
    )
    write_report: bool = Field(
        False, description="write each episode's run report (plots, summary) as `tefed run` does"
    )
