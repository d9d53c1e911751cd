"""Load the feeder a federation file describes, exactly as the grid federate runs it.

Shared by the grid federate, the builder (which attaches households to an existing feeder's load
buses) and ``tefed powerflow`` (which solves one snapshot for validation), so the three always
see the same circuit.

A feeder section of the grid configuration (`tefed.contract.role_configs.FeederConfig`) is
one of

- `GeneratedFeederConfig` (``source: generated``) — a project-generated residential LV feeder,
  European 400/230 V (`tefed.io.feeders.generator`, ``radial_lv``) or North American
  split-phase 120/240 V (`tefed.io.feeders.split_phase`, ``split_phase_lv``), from a design and
  a seed; or the CIGRE LV benchmark's residential sub-network
  (`tefed.io.feeders.cigre_residential`, ``cigre_lv_residential``) with households on its nodes;
- `OpenDssFeederConfig` (``source: opendss``) — any OpenDSS master file, its ``master`` path
  relative to the federates' working directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tefed.contract.role_configs import (
    FeederConfig,
    GeneratedFeederConfig,
)
from tefed.domain.network.feeder_topology import bus_name
from tefed.io.feeders.cigre_residential import (
    CigreResidentialDesign,
    generate_cigre_residential_feeder,
)
from tefed.io.feeders.generator import LvFeederDesign, generate_lv_feeder
from tefed.io.feeders.household_placement import (
    explicit_placement,
    phases_by_bus,
    place_households,
)
from tefed.io.feeders.layout import GeneratedFeeder
from tefed.io.feeders.split_phase import SplitPhaseFeederDesign, generate_split_phase_feeder

#: Generators of residential LV feeders by the name a scenario uses: design type and function.
GENERATORS = {
    "radial_lv": (LvFeederDesign, generate_lv_feeder),
    "split_phase_lv": (SplitPhaseFeederDesign, generate_split_phase_feeder),
    "cigre_lv_residential": (CigreResidentialDesign, generate_cigre_residential_feeder),
}


@dataclass(frozen=True)
class LoadedFeeder:
    """A feeder compiled in this process's OpenDSS engine.

    Attributes
    ----------
    dss_text : str
        For the run's record: the OpenDSS script of a generated feeder, or, for an OpenDSS
        file, a comment naming the master file followed by the extra commands.
    generated_households : pandas.DataFrame or None
        For a generated feeder, its household table (``bus``, ``phase``, ``connection``,
        ``distance_m`` …); None for an OpenDSS file.
    existing_loads : str
        ``keep``, ``replace`` or ``scale`` (generated feeders have no loads of their own).
    existing_load_scale : float
        Factor on kept loads when ``existing_loads`` is ``scale`` [-].
    """

    dss_text: str
    generated_households: pd.DataFrame | None
    existing_loads: str
    existing_load_scale: float


def load_feeder(feeder: FeederConfig, base_dir: str | Path = ".", engine=None) -> LoadedFeeder:
    """Compile the feeder described by a grid configuration's ``feeder`` section.

    Parameters
    ----------
    feeder : GeneratedFeederConfig or OpenDssFeederConfig
        The grid configuration's ``feeder`` section.
    base_dir : str or pathlib.Path
        Folder a relative ``master`` path resolves against.
    engine : optional
        OpenDSS engine to compile into (`separate_engine`); default: the process's own.

    Raises
    ------
    ValueError
        If the file is missing, or OpenDSS rejects the feeder (with OpenDSS's own message,
        file and line), or a generated feeder's design is invalid.
    """
    # Here: OpenDSS loads (0.3 s) only where a feeder is compiled, not for generated ones.
    from tefed.io.opendss.model import compile_feeder

    if isinstance(feeder, GeneratedFeederConfig):
        generated = generate_feeder(feeder)
        compile_feeder(script_text=generated.dss_text, engine=engine)
        return LoadedFeeder(generated.dss_text, generated.households, "keep", 1.0)
    master = Path(base_dir) / feeder.master
    compile_feeder(
        master_path=master,
        commands=list(feeder.commands),
        regulators=feeder.regulators,
        engine=engine,
    )
    record = "\n".join([f"! compiled from {master.resolve()}", *feeder.commands]) + "\n"
    return LoadedFeeder(record, None, feeder.existing_loads, feeder.existing_load_scale)


def generate_feeder(feeder: GeneratedFeederConfig) -> GeneratedFeeder:
    """Build (without compiling) the generated feeder a ``source: generated`` section names."""
    design_type, generate = GENERATORS[feeder.generator]
    # The federation file holds JSON lists; the designs take tuples.
    design = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in feeder.design.items()
    }
    return generate(design_type(**design), seed=feeder.seed)


def attach_households(
    feeder: FeederConfig,
    n_households: int,
    placement: str,
    household_nodes: list[str],
    base_dir: str | Path = ".",
) -> pd.DataFrame:
    """Where each household connects: bus, phase and connection, one row per household.

    Parameters
    ----------
    feeder : GeneratedFeederConfig or OpenDssFeederConfig
        The grid configuration's ``feeder`` section.
    n_households : int
        Number of households.
    placement : {"balanced", "proportional", "one_per_load", "explicit"}
        How households attach to an OpenDSS feeder's load buses (ignored for generated feeders,
        which place their own households).
    household_nodes : list of str
        ``bus.phase`` of each household for the ``explicit`` placement.
    base_dir : str or pathlib.Path
        Folder a relative ``master`` path resolves against.

    Returns
    -------
    pandas.DataFrame
        Columns ``bus``, ``phase`` (1–3) and ``connection`` (``ln`` or ``split``).

    Raises
    ------
    ValueError
        If the feeder cannot be loaded, or a household names a bus or phase the feeder does not
        have (naming both).
    """
    if isinstance(feeder, GeneratedFeederConfig):
        table = generate_feeder(feeder).households
        if len(table) != n_households:
            raise ValueError(
                f"the generated feeder has {len(table)} households; expected {n_households}"
            )
        return table[["bus", "phase", "connection"]].reset_index(drop=True)
    from tefed.io.opendss.model import feeder_load_points, feeder_nodes

    load_feeder(feeder, base_dir)
    if placement == "explicit":
        if len(household_nodes) != n_households:
            raise ValueError(
                f"household_nodes lists {len(household_nodes)} nodes; expected one per "
                f"household ({n_households})"
            )
        placed = explicit_placement(household_nodes, feeder_nodes())
    else:
        points = feeder_load_points()
        if points.empty:
            raise ValueError(
                "the feeder has no loads to attach households to; use placement 'explicit' "
                "with household_nodes"
            )
        placed = place_households(points, n_households, placement)
    placed = placed.reset_index(drop=True)
    _reached_by_the_source(placed["bus"].astype(str).tolist())
    placed["phase"] = placed["phase"].astype(np.int64)
    placed["connection"] = "ln"
    return placed[["bus", "phase", "connection"]]


def feeder_phases_by_bus(feeder: FeederConfig, base_dir: str | Path = ".") -> dict[str, set[int]]:
    """The phases of every bus of a feeder, compiled in this process's OpenDSS engine.

    Parameters
    ----------
    feeder : GeneratedFeederConfig or OpenDssFeederConfig
        The grid configuration's ``feeder`` section.
    base_dir : str or pathlib.Path
        Folder a relative ``master`` path resolves against.

    Returns
    -------
    dict of str to set of int
        Nodes of each bus (lowercase), as `tefed.io.feeders.household_placement.phases_by_bus`
        gives them; check a connection with ``missing_phases``.

    Raises
    ------
    ValueError
        If the feeder cannot be loaded (`load_feeder`).
    """
    from tefed.io.opendss.model import feeder_nodes

    load_feeder(feeder, base_dir)
    return phases_by_bus(feeder_nodes())


def _reached_by_the_source(buses: list[str]) -> None:
    """ValueError naming the households' buses that no line or transformer connects to the
    source of the feeder loaded (a bus name mistyped in one element cuts off what lies beyond
    it: OpenDSS then solves those buses at 0 V, and a run would bill households there)."""
    from tefed.io.opendss.model import cut_off_buses

    cut_off, elements = cut_off_buses(buses)
    if cut_off:
        count = sum(bus_name(bus) in cut_off for bus in buses)
        named = ", ".join(elements[:5]) + (", …" if len(elements) > 5 else "")
        raise ValueError(
            f"{count} household(s) on bus(es) {', '.join(map(repr, cut_off))} that the source "
            "does not reach: no chain of lines and transformers connects them to it"
            f"{f' (cut off with them: {named})' if named else ''}; expected every "
            "household's bus connected to the source (check the bus names of the elements "
            "between them for a typo)"
        )


def household_attachment(table: pd.DataFrame) -> pd.DataFrame:
    """The loads to create for a federation's household table, as `OpenDssFeeder` takes them.

    Parameters
    ----------
    table : pandas.DataFrame
        The federation file's household table (``household_id``, ``bus``, ``phase``,
        ``connection``).

    Returns
    -------
    pandas.DataFrame
        Columns ``name`` (``hh_<household_id>``), ``bus`` (lower case), ``phase`` and
        ``connection``, one row per household in table order.
    """
    return pd.DataFrame(
        {
            "name": ["hh_" + str(household) for household in table["household_id"]],
            "bus": np.array([bus_name(name) for name in table["bus"]], dtype=object),
            "phase": table["phase"].astype(np.int64).to_numpy(),
            "connection": table["connection"].astype(str).to_numpy(),
        }
    )
