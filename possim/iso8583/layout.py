"""The fields one bitmap announces, as one construct.

A ``Layout`` is the data elements of one bitmap in bitmap order. Like every
part of a message it is a ``construct.Construct``: ``_parse``/``_build`` run
its field codecs one after the other (the interpreted path). Its compile step
pastes each field's generated lines (``codegen``) into one straight-line
function per direction: decoding slices a ``bytes`` object at an offset and
returns a plain dict; encoding joins every prefix and content once. A dialect
compiles a layout the first time it meets a bitmap and keeps it, so a host
answering the same kind of message all day runs one function per message
with no per-field dispatch, no stream object and no ``Container``.
"""

from __future__ import annotations

from typing import Any, BinaryIO, Callable, Mapping, Sequence

from possim.iso8583 import _rt, codegen
from possim.iso8583.codecs import FieldCodec, GeneratedConstruct

ParseAt = Callable[[bytes, int], tuple[dict[str, str], int]]
BuildBytes = Callable[[Mapping[str, str]], bytes]


def _pieces(codecs: Sequence[FieldCodec]) -> list[list[FieldCodec]]:
    """Fields split into groups: runs of consecutive fixed fields that can be read as one, and lone fields."""
    out: list[list[FieldCodec]] = []
    for codec in codecs:
        if out and codegen.fixed_kind(codec.spec) and codegen.fixed_kind(out[-1][-1].spec):
            out[-1].append(codec)
        else:
            out.append([codec])
    return out


def _runs(group: list[FieldCodec]) -> list[tuple[str, list[FieldCodec]]]:
    """A group's fields split where the kind changes (BCD digits, ASCII text, ...)."""
    runs: list[tuple[str, list[FieldCodec]]] = []
    for codec in group:
        kind = codegen.fixed_kind(codec.spec)
        assert kind is not None
        if runs and runs[-1][0] == kind:
            runs[-1][1].append(codec)
        else:
            runs.append((kind, [codec]))
    return runs


def _prologue(codecs: Sequence[FieldCodec]) -> list[str]:
    return list(dict.fromkeys(line for codec in codecs for line in codegen.prologue(codec.spec)))


def parse_source(codecs: Sequence[FieldCodec], name: str) -> str:
    """``name(data, pos) -> ({field: value}, pos after the last field)``, and its helpers."""
    helpers: list[str] = []
    lines = [f"def {name}(data, pos):"]
    for g, group in enumerate(_pieces(codecs)):
        if not codegen.fixed_kind(group[0].spec):
            codec = group[0]
            lines.append(f"    # field {codec.name}: {codec.spec.label()}")
            lines.extend(codegen.decoder_lines(codec.spec, 1))
            lines.append(f"    f{codec.name} = v")
            continue
        # the one-by-one path for this group: exact errors, same values
        slow = f"{name}_g{g}"
        targets = ", ".join(f"f{c.name}" for c in group)
        helpers.append(f"def {slow}(data, pos):")
        for codec in group:
            helpers.extend(codegen.decoder_lines(codec.spec, 1))
            helpers.append(f"    f{codec.name} = v")
        helpers.append(f"    return {targets}, pos")
        size = sum(codegen.wire_size(c.spec) for c in group)
        lines.append(f"    # fields {', '.join(c.name for c in group)}: fixed, {size} bytes, read run by run")
        lines.append("    try:")
        lines.append(f"        if len(data) - pos < {size}: raise _rt.Doubt")
        assigns: list[str] = []
        at = 0
        for r, (kind, run) in enumerate(_runs(group)):
            var = f"r{r}"
            run_lines, values = codegen.run_decode_lines(kind, [c.spec for c in run], f"pos + {at}", var)
            lines.extend("        " + line for line in run_lines)
            assigns.extend(f"        f{c.name} = {value}" for c, value in zip(run, values))
            at += sum(codegen.wire_size(c.spec) for c in run)
        lines.append("    except (_rt.Doubt, ValueError):")
        lines.append(f"        {targets}, pos = {slow}(data, pos)")
        lines.append("    else:")
        lines.extend(assigns)
        lines.append(f"        pos += {size}")
    values = ", ".join(f"{codec.name!r}: f{codec.name}" for codec in codecs)
    lines.append(f"    return {{{values}}}, pos")
    return "\n".join(_prologue(codecs) + helpers + lines) + "\n"


def build_source(codecs: Sequence[FieldCodec], name: str) -> str:
    """``name(fields) -> wire bytes of every field``; ``fields`` must hold exactly the layout's keys."""
    helpers: list[str] = []
    lines = [f"def {name}(fields):"]
    parts: list[str] = []
    for g, group in enumerate(_pieces(codecs)):
        if not codegen.fixed_kind(group[0].spec):
            codec = group[0]
            lines.append(f"    # field {codec.name}: {codec.spec.label()}")
            lines.append(f"    v = fields[{codec.name!r}]")
            lines.extend(codegen.encoder_lines(codec.spec, 1))
            prefix = codegen.prefix_name(codec.spec)
            if prefix:
                parts.append(prefix)
            parts.append(codegen.content_name(codec.spec))
            continue
        runs = _runs(group)
        run_vars = [f"r{g}_{r}" for r in range(len(runs))]
        # the one-by-one path for this group: exact errors, same bytes
        slow = f"{name}_g{g}"
        helpers.append(f"def {slow}(fields):")
        for codec in group:
            helpers.append(f"    v = fields[{codec.name!r}]")
            helpers.extend(codegen.encoder_lines(codec.spec, 1))
        joined = [f"b''.join(({', '.join(codegen.content_name(c.spec) for c in run)},))" for _, run in runs]
        helpers.append(f"    return {', '.join(joined)}{',' if len(joined) == 1 else ''}")
        lines.append(f"    # fields {', '.join(c.name for c in group)}: fixed, written run by run")
        for codec in group:
            lines.append(f"    v{codec.name} = fields[{codec.name!r}]")
        types = " is ".join(f"type(v{c.name})" for c in group) + " is str"
        lengths = " and ".join(f"len(v{c.name}) == {codegen.run_value_length(c.spec)}" for c in group)
        lines.append("    try:")
        lines.append(f"        if not ({types} and {lengths}): raise _rt.Doubt")
        for var, (kind, run) in zip(run_vars, runs):
            lines.extend("        " + line for line in codegen.run_encode_lines(kind, [c.spec for c in run], var))
        lines.append("    except (_rt.Doubt, ValueError):")
        lines.append(f"        {', '.join(run_vars)}{',' if len(run_vars) == 1 else ''} = {slow}(fields)")
        parts.extend(run_vars)
    lines.append(f"    return b''.join(({', '.join(parts)}{',' if len(parts) == 1 else ''}))")
    return "\n".join(_prologue(codecs) + helpers + lines) + "\n"


def _exec(source: str, name: str, label: str) -> Any:
    namespace: dict[str, Any] = {"_rt": _rt}
    exec(compile(source, f"<possim layout {label}>", "exec"), namespace)
    return namespace[name]


class Layout(GeneratedConstruct):
    """Data elements in bitmap order; parses to and builds from ``{field number: value}``."""

    def __init__(self, codecs: Sequence[FieldCodec]) -> None:
        super().__init__()
        self.codecs = tuple(codecs)
        self.keys = tuple(codec.name for codec in self.codecs)
        label = ",".join(self.keys) or "empty"
        self._tag = "_".join(self.keys) or "empty"
        self._parse_src = parse_source(self.codecs, f"_parse_{self._tag}")
        self._build_src = build_source(self.codecs, f"_build_{self._tag}")
        self.parse_at: ParseAt = _exec(self._parse_src, f"_parse_{self._tag}", label)
        self.build_bytes: BuildBytes = _exec(self._build_src, f"_build_{self._tag}", label)

    # -- construct's interpreted path: one codec after the other ---------------------------------------------
    def _parse(self, stream: BinaryIO, context: Any, path: str) -> dict[str, str]:
        return {codec.name: codec._parse(stream, context, path) for codec in self.codecs}

    def _build(self, obj: Mapping[str, str], stream: BinaryIO, context: Any, path: str) -> Mapping[str, str]:
        for codec in self.codecs:
            codec._build(obj[codec.name], stream, context, path)
        return obj

    # -- inside a construct compiled by construct: the same generated functions, run on its stream ----------
    def _generated(self) -> tuple[str, str, str, str]:
        return self._parse_src, f"_parse_{self._tag}", self._build_src, f"_build_{self._tag}"
