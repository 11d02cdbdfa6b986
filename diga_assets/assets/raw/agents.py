"""``diga_agents``: the agents, their names and versions as observed, one snapshot per day."""

from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from diga_assets.api.agents import AGENT_VERSIONS
from diga_assets.api.client import DigaClient
from diga_assets.api.records import RecordError
from diga_assets.assets.common import DigaGraph
from diga_assets.assets.raw.common import RecordContractError
from diga_assets.assets.raw.snapshots import Listing, Snapshot, build_snapshot_asset
from diga_assets.names import AGENTS_DATASET, DIGA_AGENTS
from diga_assets.resources import DigaApiResource


def fetch_agents_snapshot(client: DigaClient) -> Snapshot:
    """Every agent with its versions, one row per (agent, version), stamped with one ``observed_at``."""
    observed_at = datetime.now(UTC)
    records, attempts = client.get_agents()
    try:
        table = AGENT_VERSIONS.to_table(records, observed_at)
    except RecordError as exc:
        raise RecordContractError(f"{exc}; in the answer to GET {AGENT_VERSIONS.endpoint}") from exc
    return Snapshot(table, observed_at, {"requests": attempts, "retries": attempts - 1})


def _fetch(client: DigaClient, diga: DigaApiResource) -> Snapshot:
    return fetch_agents_snapshot(client)


def _describe(table: pa.Table) -> dict[str, Any]:
    """How many agents and versions, and how many agents have no name."""
    agents = table.select(["agent_id", "agent_name"]).group_by("agent_id").aggregate([("agent_name", "max")])
    return {
        "agents": agents.num_rows,
        "agent_versions": pc.count(table.column("version_id")).as_py(),
        "agents_without_name": agents.num_rows - pc.count(agents.column("agent_name_max")).as_py(),
    }


AGENT_SNAPSHOTS = Listing(
    asset=DIGA_AGENTS,
    dataset=AGENTS_DATASET,
    schema=AGENT_VERSIONS.arrow_schema,
    description="""The agents as observed, so charts and tables can name them: one row per (agent, version)
with the agent's name, the version's name and number and whether it is published or a draft,
from ``GET /v1/agent/versions-dropdown/dashboard`` (an agent without versions: one row, the
version columns NULL).

Like the phone register, the API only knows agents as they are now: a past day's partition
holds what was observed when it ran, with the real ``observed_at``, and a partition already
holding an observation closer to its day is kept.""",
    shows="the agents",
    fetch=_fetch,
    describe=_describe,
)


def build_agents_asset(graph: DigaGraph) -> dg.AssetsDefinition:
    """``diga_agents`` on the graph's daily partitions."""
    return build_snapshot_asset(graph, AGENT_SNAPSHOTS)
