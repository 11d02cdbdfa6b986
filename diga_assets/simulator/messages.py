"""A call's transcript, as ``GET /v1/call/{id}/message`` serves it under the ``current`` model.

A transcript is derived from the call it belongs to (its :class:`~diga_assets.simulator.calls.CallCore`:
when it was answered, how long it lasted, how it ended) and from a random stream named after the
world's seed and the call's id. Nothing about the calls is drawn from that stream, so a world's
calls are the same whether or not anyone reads a transcript, and a transcript is built only when
it is asked for (a world may hold a million calls). A small cache keeps the last few, so a client
paging through one transcript does not rebuild it for every page.

What a call's transcript holds, by how the call stands (records follow ``MessageResponse``):

- ``dialing`` or ``in_queue``: nobody has spoken yet, so the endpoint answers 404
  ``NO_MESSAGES_FOR_CALL``.
- ``in_progress``: the messages created so far (the transcript is cut at the clock); before the
  greeting, 404 ``NO_MESSAGES_FOR_CALL``.
- ``completed`` after a conversation (``sim_customer_hangup``, ``sim_agent_hangup``,
  ``sim_transferred``): an ``assistant`` greeting, then ``user`` and ``assistant`` turns in
  alternation, sometimes a ``tool`` message between a user turn and the reply (a function the
  agent calls: ``FunctionSchema``). An agent that ends the call adds a ``hangup`` tool message,
  a transfer a ``transfer`` one (``CallToolSchema``). Every ``created_date`` lies within the
  call's ``start_time`` and ``end_time``, strictly increasing; there are more turns the longer
  the call.
- ``completed``, short (under :data:`SHORT_CALL_SECONDS`): a share has no transcript at all (the
  line was silent or dropped before anything was transcribed); when the caller hung up
  (``sim_customer_hangup``), the rest hold only the greeting, or the greeting and one user
  message right after it.
- ``completed`` by voicemail or phone-menu detection (``voicemail_left``,
  ``answering_machine_detected``, ``mailbox_unavailable``, ``ivr_no_answer``,
  ``ivr_unreachable``), or never answered (``sim_no_answer``, ``sim_error``): 404
  ``NO_MESSAGES_FOR_CALL``. Diga's docs do not say whether a machine's greeting or the message
  left on it is transcribed; the simulator says no conversation took place.
- a planted call (``World.add_call``): 404 ``NO_MESSAGES_FOR_CALL``.

A transcript is ordered by ``created_date`` (``order=asc`` serves it oldest first; the API's
default is ``desc``), each instant spelled in one of the equivalent RFC 3339 forms the calls use;
``after``/``before`` must name a message of the same transcript that exists now.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from diga_assets.simulator.calls import DOCUMENTED_END_REASONS, CallCore
from diga_assets.simulator.company import seeded_random
from diga_assets.simulator.instants import DAY_US, N_SPELLINGS, InstantFormatter, uuid_from_int

# Calls shorter than this (seconds) may have no transcript, or end right after the greeting.
SHORT_CALL_SECONDS = 30
# Of short calls: the share with no transcript at all, then (callers who hung up only) the share
# that holds the greeting alone; the rest of those hold the greeting and one user message.
_SHORT_NONE = 0.25
_SHORT_GREETING_ONLY = 0.35
# Seconds of conversation per exchange (a user turn and the reply), drawn per call.
_SECONDS_PER_EXCHANGE = (10.0, 18.0)
# A long call's transcript stops growing here (about 300 messages: three pages at the default limit).
_MAX_EXCHANGES = 150
# The share of exchanges in which the agent calls a function before replying.
_FUNCTION_CALL_SHARE = 0.12
# Transcripts kept built; a client paging through one reads it many times in a row.
_CACHE_SIZE = 256

_CONVERSATION_ENDINGS = frozenset({"sim_customer_hangup", "sim_agent_hangup", "sim_transferred"})
_NO_CONVERSATION = frozenset(DOCUMENTED_END_REASONS)

_GREETINGS_INBOUND = (
    "Hola, gracias por llamar. Soy el asistente virtual, ¿en qué puedo ayudarle?",
    "Buenos días, le atiende el asistente de la clínica. ¿Qué necesita?",
    "Hola, ha llamado a atención al cliente. Cuénteme, ¿en qué le ayudo?",
)
_GREETINGS_OUTBOUND = (
    "Hola{name}, le llamo de parte de la clínica para confirmar su cita. ¿Tiene un momento?",
    "Buenas tardes{name}, le llamo por su pedido. ¿Es buen momento para hablar?",
    "Hola{name}, soy el asistente virtual. Le llamo por una breve encuesta de satisfacción.",
)
_FIRST_USER_TURNS = ("¿Perdón? ¿Quién es?", "No me interesa, gracias.", "Ahora no puedo, adiós.", "¿Sí? ¿Hola?")
_USER_TURNS = (
    "Quería pedir una cita para la semana que viene.",
    "Sí, dígame.",
    "¿Qué horarios tienen por la tarde?",
    "El martes me vendría mejor.",
    "No recibí el pedido todavía.",
    "¿Cuánto cuesta la revisión?",
    "Vale, de acuerdo.",
    "¿Me lo puede repetir, por favor?",
    "Prefiero por la mañana.",
    "Sí, es correcto.",
    "Tengo una duda con la factura.",
    "¿Puedo cambiar la fecha?",
)
_ASSISTANT_TURNS = (
    "Claro, déjeme comprobarlo.",
    "Tenemos hueco el martes a las diez o el jueves a las cinco.",
    "Perfecto, queda anotado.",
    "Entiendo. ¿Me confirma su nombre completo?",
    "La revisión tiene un coste de cuarenta euros.",
    "Su pedido salió ayer y llegará en dos días laborables.",
    "Por supuesto, se lo repito.",
    "¿Hay algo más en lo que pueda ayudarle?",
    "De acuerdo, he cambiado la fecha.",
    "Le envío la confirmación por SMS.",
)
_LAST_USER_TURNS = ("Nada más, gracias. Adiós.", "Vale, gracias.", "Perfecto, hasta luego.")
_FAREWELLS = ("Gracias por su llamada, que tenga un buen día.", "Hasta luego, un saludo.")
_TRANSFER_LINES = ("Le paso con un compañero, un momento por favor.", "Le transfiero con recepción.")
_FUNCTIONS = (
    ("consultar_disponibilidad", ("fecha", "franja")),
    ("reservar_cita", ("fecha", "hora")),
    ("buscar_pedido", ("pedido",)),
    ("registrar_incidencia", ("motivo",)),
)
_FUNCTION_STATUSES = ("success",) * 8 + ("error", "cancelled")
_FRANJAS = ("mañana", "tarde")
_MOTIVOS = ("factura", "retraso", "cambio de cita")


@dataclass(frozen=True)
class Transcript:
    """A call's whole transcript, oldest first: what it holds once the call has ended.

    ``instants`` are the messages' ``created_date`` as integer microseconds (strictly
    increasing), ``encoded`` the served JSON of each record.
    """

    instants: tuple[int, ...]
    ids: tuple[str, ...]
    records: tuple[dict[str, Any], ...]
    encoded: tuple[bytes, ...]

    def visible_count(self, now: int) -> int:
        """How many messages exist at ``now`` (a call in progress has only the first ones)."""
        return bisect_right(self.instants, now)


EMPTY = Transcript((), (), (), ())


class UnknownCallError(LookupError):
    """No visible call has this id: the API answers 404 ``CALL_NOT_FOUND``."""

    def __init__(self, call_id: str) -> None:
        super().__init__(f"no visible call has the id {call_id!r}")
        self.call_id = call_id


class NoMessagesError(LookupError):
    """The call exists but has no message yet, or none at all: the API answers 404
    ``NO_MESSAGES_FOR_CALL`` (an empty transcript, not a failure)."""

    def __init__(self, call_id: str) -> None:
        super().__init__(f"call {call_id!r} has no messages")
        self.call_id = call_id


class Transcripts:
    """Builds calls' transcripts on demand, from the world's seed and each call. Not thread-safe:
    the world serializes access."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._fmt = InstantFormatter()
        self._cache: OrderedDict[str, Transcript] = OrderedDict()

    def transcript(self, core: CallCore) -> Transcript:
        """The call's whole transcript (empty when the call has none); the clock cuts it later."""
        cached = self._cache.get(core.id)
        if cached is not None:
            self._cache.move_to_end(core.id)
            return cached
        built = self.build(core)
        self._cache[core.id] = built
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return built

    def build(self, core: CallCore) -> Transcript:
        """Build the call's transcript without caching it (for a walk over many calls)."""
        if not core.connected or core.end_reason in _NO_CONVERSATION or core.duration <= 0:
            return EMPTY
        rng = seeded_random(self._seed, "messages", core.id)
        turns = _turns(core, rng, self._fmt)
        if not turns:
            return EMPTY
        instants = _instants(core, len(turns), rng)
        fmt = self._fmt
        records = []
        for at, (role, content, tool_call) in zip(instants, turns, strict=True):
            records.append(
                {
                    "id": uuid_from_int(rng.getrandbits(128)),
                    "created_date": fmt(at, rng.randrange(N_SPELLINGS)),
                    "role": role,
                    "content": content,
                    "tool_call": tool_call,
                }
            )
        return Transcript(
            instants=tuple(instants),
            ids=tuple(r["id"] for r in records),
            records=tuple(records),
            encoded=tuple(orjson.dumps(r) for r in records),
        )


# (role, content, tool_call) of one message, before it gets its id and instant.
_Turn = tuple[str, str | None, dict[str, Any] | None]


def _turns(core: CallCore, rng: random.Random, fmt: InstantFormatter) -> list[_Turn]:
    """What is said, in order; empty when nothing was transcribed."""
    name = ""
    variables = core.dynamic_variables or {}
    if isinstance(variables.get("customer_name"), str):
        name = f", {variables['customer_name']}"
    greetings = _GREETINGS_OUTBOUND if core.call_type == "outbound" else _GREETINGS_INBOUND
    greeting: _Turn = ("assistant", rng.choice(greetings).format(name=name), None)
    if core.duration < SHORT_CALL_SECONDS:
        draw = rng.random()
        if draw < _SHORT_NONE:
            return []
        if core.end_reason == "sim_customer_hangup":
            if draw < _SHORT_NONE + _SHORT_GREETING_ONLY:
                return [greeting]
            return [greeting, ("user", rng.choice(_FIRST_USER_TURNS), None)]
    if core.end_reason not in _CONVERSATION_ENDINGS:
        # An ending this module does not know: say nothing rather than invent a conversation.
        return []
    exchanges = round(core.duration / rng.uniform(*_SECONDS_PER_EXCHANGE))
    exchanges = max(1, min(_MAX_EXCHANGES, exchanges))
    turns = [greeting]
    for index in range(exchanges):
        last = index == exchanges - 1
        if last and core.end_reason == "sim_customer_hangup":
            turns.append(("user", rng.choice(_LAST_USER_TURNS), None))
            if rng.random() < 0.5:  # the caller hangs up before or after the agent's goodbye
                turns.append(("assistant", rng.choice(_FAREWELLS), None))
            break
        turns.append(("user", rng.choice(_USER_TURNS), None))
        if rng.random() < _FUNCTION_CALL_SHARE:
            turns.append(("tool", None, _function_call(core, rng, fmt)))
        if last and core.end_reason == "sim_transferred":
            turns.append(("assistant", rng.choice(_TRANSFER_LINES), None))
            turns.append(("tool", None, _call_tool("transfer", {"destination": "recepcion"})))
        elif last and core.end_reason == "sim_agent_hangup":
            turns.append(("assistant", rng.choice(_FAREWELLS), None))
            turns.append(("tool", None, _call_tool("hangup", {"reason": "conversation_finished"})))
        else:
            turns.append(("assistant", rng.choice(_ASSISTANT_TURNS), None))
    return turns


def _function_call(core: CallCore, rng: random.Random, fmt: InstantFormatter) -> dict[str, Any]:
    """A ``FunctionSchema`` tool call: one of the agent's functions, with its arguments."""
    function_name, arguments = rng.choice(_FUNCTIONS)
    day = core.created_us // DAY_US
    values = {
        "fecha": fmt.day_text(day + 1 + rng.randrange(9)),
        "franja": rng.choice(_FRANJAS),
        "hora": f"{rng.randrange(9, 19):02d}:{rng.choice((0, 30)):02d}",
        "pedido": f"PED-{rng.randrange(100_000):05d}",
        "motivo": rng.choice(_MOTIVOS),
    }
    return {
        "type": "function",
        "function_name": function_name,
        "payload": {argument: values[argument] for argument in arguments},
        "status": rng.choice(_FUNCTION_STATUSES),
    }


def _call_tool(tool_name: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A ``CallToolSchema`` tool call that acts on the call itself (it always succeeds here)."""
    return {"type": "call_tool", "tool_name": tool_name, "payload": payload, "status": "success"}


def _instants(core: CallCore, count: int, rng: random.Random) -> list[int]:
    """``count`` strictly increasing instants within [start_time, end_time]: the greeting soon
    after pickup, the rest spread over what is left of the call, one per equal slot."""
    start, end = core.connect_us, core.end_us
    greeting = start + min(rng.randrange(300_000, 1_500_000), (end - start) // 2)
    instants = [greeting]
    rest = count - 1
    if rest:
        slot = (end - greeting) // rest
        for index in range(rest):
            # Inside its slot and never at its very start, so instants never repeat.
            instants.append(greeting + index * slot + 1 + rng.randrange(max(1, slot - 1)))
    return instants
