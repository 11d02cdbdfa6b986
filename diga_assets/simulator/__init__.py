"""A local stand-in for the Diga API: a deterministic synthetic company served over real HTTP.

``World`` generates the company (agents, phones, contacts, calls) from a seed and a clock, under
one of two status models: ``seed`` follows the published pages of ``/v1/call/`` and ``/v1/phone/``,
``current`` Diga's live OpenAPI document, calls' transcripts (``/v1/call/{id}/message``)
included. ``DigaSimulator`` serves it on loopback; ``FaultConfig`` and ``Fault`` make it
misbehave on purpose. The ``simulate`` click command runs it for demos.
"""

from diga_assets.simulator.faults import Fault, FaultConfig
from diga_assets.simulator.server import DigaSimulator, RequestRecord
from diga_assets.simulator.world import ListQuery, Page, World

__all__ = ["DigaSimulator", "Fault", "FaultConfig", "ListQuery", "Page", "RequestRecord", "World"]
