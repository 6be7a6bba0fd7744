"""Write a scenario to disk: the five .evtx logs and the support bundle .zip.

The bundle is laid out the way Microsoft's health-check script (MFA_NPS_Troubleshooter.ps1,
"Collect logs") leaves ``C:\\NPS`` before it zips it (facts §5.1):

* ``<COMPUTER>_AuthNOptCh.evtx``, ``<COMPUTER>_AuthZOptCh.evtx``,
  ``<COMPUTER>_AuthZAdminCh.evtx`` (``wevtutil epl``);
* ``NPS_EventLog.log``: Security 6272/6273/6274 as ``wevtutil qe ... /f:text`` output,
  saved by PowerShell's ``Out-File``;
* ``BeforeRegAdd_AzureMFA.txt``, ``AfterRegAdd_AzureMFA.txt``, ``BeforeRegAdd_AuthSrv.txt``,
  ``AfterRegAdd_AuthSrv.txt`` (``REG QUERY`` redirected with ``>``; the script sets
  VERBOSE_LOG to TRUE between the two dumps).

The script also zips ETW traces (``.etl``/``.cab``); the generator leaves them out
rather than invent binary trace content. The System and Security .evtx files are
written to the folder only, as the script does not collect them.

Text files are UTF-16LE with a byte order mark and CRLF line ends: in Windows
PowerShell 5.1 both ``Out-File`` and ``>`` write that encoding by default (inferred;
the script does not name an encoding).

Everything is deterministic: the zip's member times come from the scenario clock,
members are sorted, and compression is fixed (deflate at zlib's default level; the
compressed bytes can differ with another zlib build, the member contents cannot).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from npsdiag.errors import UsageError
from npsdiag.synth import messages
from npsdiag.synth.evtx_writer import EvtxWriter
from npsdiag.synth.generate import EXTENSION_LOGS, LOGS, SECURITY, generate
from npsdiag.synth.records import EventRecord
from npsdiag.synth.scenario import RegValue, Scenario

__all__ = [
    "BUNDLE_SUFFIX",
    "REGENERATE_COMMAND",
    "SampleFiles",
    "WrittenSample",
    "bundle_name",
    "evtx_name",
    "md5_of",
    "reg_query_text",
    "registry_dumps",
    "samples_readme",
    "wevtutil_text",
    "write_bundle",
    "write_folder",
    "write_samples",
]

BUNDLE_SUFFIX = "_NpsLogging.zip"
_EVENT_LOG_MEMBER = "NPS_EventLog.log"
_NPS_EVENT_IDS = frozenset({6272, 6273, 6274})
_BOM = "\ufeff"
_CRLF = "\r\n"
_COPY_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class SampleFiles:
    """What a write produced.

    Attributes:
        files: the files written, in a stable order (the .evtx logs, then the zip).
        counts: events written per log.
    """

    files: tuple[Path, ...]
    counts: Counter[str]


def evtx_name(scenario: Scenario, log: str) -> str:
    """File name of a log: ``<COMPUTER>_<channel>.evtx`` for the extension channels
    (``wevtutil epl ... %computername%_AuthZOptCh.evtx``), ``<log>.evtx`` otherwise."""
    if log in EXTENSION_LOGS:
        return f"{scenario.computer}_{log}.evtx"
    return f"{log}.evtx"


def bundle_name(scenario: Scenario) -> str:
    """``<yyyyMMdd_HHmmss>_NpsLogging.zip`` from the scenario's end (collection) time."""
    return scenario.end.strftime("%Y%m%d_%H%M%S") + BUNDLE_SUFFIX


# ------------------------------------------------------------------------ text dumps


def _reg_data(value: RegValue) -> str:
    if value.kind == "REG_DWORD":
        return f"0x{value.data:x}"
    if isinstance(value.data, tuple):
        return "\\0".join(value.data)  # REG QUERY shows REG_MULTI_SZ separators as \0
    return str(value.data)


def reg_query_text(key: str, values: Sequence[RegValue]) -> str:
    """``REG QUERY <key>`` output: a blank line, the key, one line per value, a blank line."""
    lines = ["", key]
    lines += [f"    {value.name}    {value.kind}    {_reg_data(value)}" for value in values]
    lines.append("")
    return _CRLF.join(lines) + _CRLF


def registry_dumps(scenario: Scenario) -> dict[str, str]:
    """The four REG QUERY dumps of the bundle, by member name."""
    registry = scenario.registry
    before = list(registry.azure_mfa)
    after = list(before)
    verbose = RegValue("VERBOSE_LOG", "REG_SZ", "TRUE")
    index = next((i for i, value in enumerate(after) if value.name == "VERBOSE_LOG"), None)
    if index is None:
        after.append(verbose)  # REG ADD creates it at the end
    else:
        after[index] = verbose
    auth_srv = reg_query_text(registry.auth_srv_key, registry.auth_srv)
    return {
        "BeforeRegAdd_AzureMFA.txt": reg_query_text(registry.azure_mfa_key, before),
        "AfterRegAdd_AzureMFA.txt": reg_query_text(registry.azure_mfa_key, after),
        "BeforeRegAdd_AuthSrv.txt": auth_srv,
        "AfterRegAdd_AuthSrv.txt": auth_srv,
    }


def _field_text(value: object) -> str:
    return "" if value is None else str(value)


def wevtutil_text(index: int, record: EventRecord, zone: tzinfo | None = None) -> str:
    """One ``Event[n]:`` block of ``wevtutil qe Security /f:text`` for a 6272/6273/6274.

    Header lines follow wevtutil's text format (two-space indent, date with seven fraction
    digits: UTC with a ``Z``, or, with ``zone``, the server's local time without a zone as
    older Windows prints it); the description is the rendered message; a blank line follows.
    """
    fields: dict[str, str] = {}
    for item in record.data:
        if isinstance(item, tuple):
            name, value = item
            fields[name] = _field_text(value)
    time = record.time if zone is None else record.time.astimezone(zone)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.") + f"{time.microsecond:06d}0"
    if zone is None:
        stamp += "Z"
    keyword = "Audit Success" if record.event_id == 6272 else "Audit Failure"
    lines = [
        f"Event[{index}]:",
        f"  Log Name: {record.channel}",
        f"  Source: {record.provider}",
        f"  Date: {stamp}",
        f"  Event ID: {record.event_id}",
        "  Task: Network Policy Server",
        "  Level: Information",
        "  Opcode: Info",
        f"  Keyword: {keyword}",
        "  User: N/A",
        "  User Name: N/A",
        f"  Computer: {record.computer}",
        "  Description:",
        *messages.render_security_message(record.event_id, fields),
        "",
    ]
    return _CRLF.join(lines) + _CRLF


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


# ---------------------------------------------------------------------------- writing


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def write_folder(
    scenario: Scenario,
    folder: str | os.PathLike[str],
    *,
    max_events: int | None = None,
    bundle: bool = True,
) -> SampleFiles:
    """Write the five .evtx logs of ``scenario`` into ``folder``, and the bundle zip.

    The events are generated once and streamed into all files together, so memory
    stays flat however many events there are.

    Args:
        scenario: the validated scenario.
        folder: created if missing; existing files of the same names are replaced.
        max_events: stop after this many events (all logs together).
        bundle: also write ``<yyyyMMdd_HHmmss>_NpsLogging.zip``.

    Raises:
        UsageError: the folder cannot be written.
        EvtxWriteError: a record cannot be encoded (a bug in a scenario's values).
    """
    target = Path(folder)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create {target}: {error.strerror or error}") from None
    paths = {log: target / evtx_name(scenario, log) for log in LOGS}
    event_log = target / f".{_EVENT_LOG_MEMBER}.partial"
    partials = [_partial(path) for path in paths.values()] + [event_log]
    try:
        counts = _write_logs(scenario, paths, event_log if bundle else None, max_events)
        for path in paths.values():
            _partial(path).replace(path)
        files = [paths[log] for log in LOGS]
        if bundle:
            zip_path = target / bundle_name(scenario)
            _write_zip(scenario, zip_path, paths, event_log)
            files.append(zip_path)
    except OSError as error:
        raise UsageError(f"cannot write to {target}: {error.strerror or error}") from None
    finally:
        for partial in partials:
            partial.unlink(missing_ok=True)
    return SampleFiles(tuple(files), counts)


def write_bundle(
    scenario: Scenario, zip_path: str | os.PathLike[str], *, max_events: int | None = None
) -> SampleFiles:
    """Write only the support bundle, to ``zip_path`` (any name ending in .zip).

    Raises:
        UsageError: the target cannot be written.
    """
    target = Path(zip_path)
    with tempfile.TemporaryDirectory(prefix="npsdiag-bundle-") as work:
        written = write_folder(scenario, work, max_events=max_events, bundle=True)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(written.files[-1], _partial(target))
            _partial(target).replace(target)
        except OSError as error:
            _partial(target).unlink(missing_ok=True)
            raise UsageError(f"cannot write {target}: {error.strerror or error}") from None
    return SampleFiles((target,), written.counts)


def _write_logs(
    scenario: Scenario,
    paths: dict[str, Path],
    event_log: Path | None,
    max_events: int | None,
) -> Counter[str]:
    counts: Counter[str] = Counter()
    with ExitStack() as stack:
        writers = {}
        for log, path in paths.items():
            stream = stack.enter_context(open(_partial(path), "wb"))
            writers[log] = stack.enter_context(EvtxWriter(stream))
        text: BinaryIO | None = None
        if event_log is not None:
            text = stack.enter_context(open(event_log, "wb"))
            text.write(_utf16(_BOM))
        shown = 0
        zone = ZoneInfo(scenario.local_time_zone) if scenario.local_time_zone else None
        for event in generate(scenario, max_events=max_events):
            writers[event.log].write(event.record)
            counts[event.log] += 1
            if (
                text is not None
                and event.log == SECURITY
                and event.record.event_id in _NPS_EVENT_IDS
            ):
                text.write(_utf16(wevtutil_text(shown, event.record, zone)))
                shown += 1
    return counts


def _zip_info(name: str, scenario: Scenario) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=scenario.end.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 0  # made on Windows, whatever platform regenerates it
    info.external_attr = 0
    return info


def _write_zip(scenario: Scenario, zip_path: Path, paths: dict[str, Path], event_log: Path) -> None:
    members: list[tuple[str, Path | bytes]] = [
        (evtx_name(scenario, log), paths[log]) for log in EXTENSION_LOGS
    ]
    members.append((_EVENT_LOG_MEMBER, event_log))
    members += [(name, _utf16(_BOM + text)) for name, text in registry_dumps(scenario).items()]
    partial = _partial(zip_path)
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, content in sorted(members, key=lambda member: member[0]):
                _add_member(archive, _zip_info(name, scenario), content)
        partial.replace(zip_path)
    finally:
        partial.unlink(missing_ok=True)


def _add_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, content: Path | bytes) -> None:
    if isinstance(content, bytes):
        archive.writestr(info, content)
        return
    # Known size up front lets zipfile decide on ZIP64 itself (only for huge members).
    info.file_size = content.stat().st_size
    with open(content, "rb") as source, archive.open(info, "w") as member:
        shutil.copyfileobj(source, member, _COPY_BLOCK)


def md5_of(path: Path) -> str:
    """Hex md5 of a file, read in blocks."""
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(_COPY_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------- samples

#: The documented command that regenerates the repository's samples/ folder.
REGENERATE_COMMAND = "npsdiag samples --all samples"
_GENERATED_PATTERNS = ("*.evtx", "*" + BUNDLE_SUFFIX)


@dataclass(frozen=True, slots=True)
class WrittenSample:
    """One scenario written by :func:`write_samples`."""

    scenario: Scenario
    written: SampleFiles


def write_samples(
    outdir: str | os.PathLike[str], scenarios: Sequence[Scenario]
) -> list[WrittenSample]:
    """Write each scenario to ``outdir/<name>/`` and describe them all in ``outdir/README.md``.

    Generated files left over from an earlier run (``*.evtx``, ``*_NpsLogging.zip``) are
    removed from each scenario folder first, so a renamed bundle cannot linger.

    Raises:
        UsageError: the folder cannot be written.
    """
    root = Path(outdir)
    results = []
    for scenario in scenarios:
        folder = root / scenario.name
        if folder.is_dir():
            for pattern in _GENERATED_PATTERNS:
                for stale in folder.glob(pattern):
                    stale.unlink()
        results.append(WrittenSample(scenario, write_folder(scenario, folder)))
    readme = samples_readme(results, root)
    try:
        (root / "README.md").write_bytes(readme.encode("utf-8"))
    except OSError as error:
        raise UsageError(f"cannot write {root / 'README.md'}: {error.strerror or error}") from None
    return results


def _md_cell(text: str) -> str:
    # Scenario text is user data: keep it from breaking the Markdown table or markup.
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace("`", "'")


def samples_readme(samples: Sequence[WrittenSample], root: Path) -> str:
    """The samples/README.md text: how to regenerate, then one section per scenario."""
    import zlib

    lines = [
        "# Sample logs",
        "",
        "Synthetic exports of an NPS server running the MFA extension, generated from the",
        "scenarios in `npsdiag/synth/scenarios/`. No public logs of the extension exist, so",
        "these files are what the tests, the documentation and first-time users run npsdiag",
        "on. Do not edit them by hand; regenerate everything (this README included) with:",
        "",
        "```",
        REGENERATE_COMMAND,
        "```",
        "",
        "Each folder holds the five logs as .evtx files and the support bundle the",
        "health-check script would have collected (`<yyyyMMdd_HHmmss>_NpsLogging.zip`: the",
        "three extension channels, `NPS_EventLog.log` with Security 6272/6273/6274 as",
        "`wevtutil` text, and the four `REG QUERY` dumps; no `.etl` traces).",
        "`Security.evtx` and `System.evtx` are not in the bundle, as the script does not",
        "collect them. `*_AuthNOptCh.evtx` is an empty export in every sample: no event of",
        "that channel has been published, and the generator does not invent one. The file",
        "format and every choice the generator had to make are described in",
        "[docs/samples.md](../docs/samples.md).",
        "",
        "Outputs are byte-for-byte reproducible; the zip's compressed bytes",
        f"depend on the zlib build (these were written with zlib {zlib.ZLIB_RUNTIME_VERSION}).",
        "",
        "| scenario | top problem | affected users | events | bytes |",
        "|---|---|---|---:|---:|",
    ]
    for sample in samples:
        scenario = sample.scenario
        expected = scenario.expected
        total = sum(path.stat().st_size for path in sample.written.files)
        lines.append(
            f"| [{scenario.name}](#{scenario.name}) | {_md_code(expected.top_problem)} | "
            f"{len(expected.users)} | {sum(sample.written.counts.values())} | {total:,} |"
        )
    for sample in samples:
        lines += ["", *_scenario_section(sample, root)]
    return "\n".join(lines) + "\n"


def _md_code(problem: str | None) -> str:
    return f"`{problem}`" if problem else "none"


def _scenario_section(sample: WrittenSample, root: Path) -> list[str]:
    scenario = sample.scenario
    expected = scenario.expected
    users = (
        ", ".join(f"{name} ({_md_cell(scenario.user(name).upn)})" for name in expected.users)
        or "none"
    )
    others = ", ".join(_md_code(problem) for problem in expected.other_problems) or "none"
    lines = [
        f'<a id="{scenario.name}"></a>',
        f"## {scenario.name}: {_md_cell(scenario.title)}",
        "",
        f"**What happened.** {_md_cell(scenario.description)}",
        "",
        f"Server {scenario.fqdn}, {scenario.start:%Y-%m-%d %H:%M} to {scenario.end:%H:%M} UTC, "
        f"scenario file `npsdiag/synth/scenarios/{scenario.name}.yaml`.",
        "",
        "**A correct diagnosis says:**",
        "",
        f"- top problem: {_md_code(expected.top_problem)}",
        f"- affected users: {users}",
        f"- also reported: {others}",
        "",
        _md_cell(expected.diagnosis),
        "",
        "| file | events | bytes | md5 |",
        "|---|---:|---:|---|",
    ]
    counts = sample.written.counts
    logs_by_file = {evtx_name(scenario, log): log for log in LOGS}
    for path in sample.written.files:
        relative = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
        log = logs_by_file.get(path.name)
        events = str(counts.get(log, 0)) if log else "-"
        lines.append(f"| `{relative}` | {events} | {path.stat().st_size:,} | `{md5_of(path)}` |")
    return lines
