"""Benchmark ``npsdiag analyze`` on hostile inputs of growing size: is the time linear?

Each scenario generates its input in a temporary folder at several sizes, runs the real
``npsdiag`` command on it as a subprocess (``python -m npsdiag``, so ``PYTHONPATH`` can point
at another checkout to compare), and prints the wall time, the peak resident set of that
process, and the time per unit of input above the *floor*: the same command on the smallest
input of the scenario (N = 1), which is mostly starting Python and loading the catalog. Linear
scaling shows as a flat last column; quadratic scaling as one that doubles with the size.

Scenarios:

* ``xml-data``: one XML export holding one NPS Security 6273 event with N
  ``<Data Name="A">`` elements (the same name each time).
* ``zip-members``: a support bundle holding N small members (each a ``wevtutil`` text dump of
  one 6273 event), N up to 9,999, just under the bundle's member limit.
* ``redact``: one extension event whose message names N distinct IP addresses and N distinct
  e-mail addresses, analysed with ``--redact`` (and without it, for reference).

Usage::

    python benchmarks/bench_hostile.py                      # every scenario, default sizes
    python benchmarks/bench_hostile.py --scenario redact    # one scenario
    python benchmarks/bench_hostile.py --quick              # smaller sizes
    python benchmarks/bench_hostile.py --timeout 120        # give up on a run after 120 s
    python benchmarks/bench_hostile.py --scenario zip-members --sizes 9999
    PYTHONPATH=/path/to/other/checkout python benchmarks/bench_hostile.py   # compare
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

NS = "http://schemas.microsoft.com/win/2004/08/events/event"
SECURITY_SYSTEM = (
    "<System><Provider Name='Microsoft-Windows-Security-Auditing' "
    "Guid='{54849625-5478-4994-A5BA-3E3B0328C30D}'/><EventID>6273</EventID><Version>1</Version>"
    "<Level>0</Level><Task>12552</Task><Opcode>0</Opcode><Keywords>0x8010000000000000</Keywords>"
    "<TimeCreated SystemTime='2024-05-01T10:00:00.000000Z'/><EventRecordID>1</EventRecordID>"
    "<Channel>Security</Channel><Computer>nps01.contoso.com</Computer></System>"
)
EXTENSION_SYSTEM = (
    "<System><Provider Name='Microsoft-AzureMfa-AuthZ' "
    "Guid='{7237ED00-E119-430B-AB0F-C63360C8EE81}'/><EventID>3</EventID><Version>0</Version>"
    "<Level>2</Level><Task>0</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords>"
    "<TimeCreated SystemTime='2024-05-01T10:00:00.000000Z'/><EventRecordID>1</EventRecordID>"
    "<Channel>AuthZAdminCh</Channel><Computer>nps01.contoso.com</Computer></System>"
)
TEXT_DUMP = (
    "Event[0]:\r\n  Log Name: Security\r\n  Source: Microsoft-Windows-Security-Auditing\r\n"
    "  Date: 2024-05-01T10:{minute:02d}:{second:02d}.000Z\r\n  Event ID: 6273\r\n"
    "  Task: Network Policy Server\r\n  Level: Information\r\n  Keyword: Audit Failure\r\n"
    "  Computer: NPS01.contoso.com\r\n  Description:\r\n"
    "Network Policy Server denied access to a user.\r\n\r\nUser:\r\n"
    "\tSecurity ID:\t\t\tNULL SID\r\n\tAccount Name:\t\t\tuser{index}@contoso.com\r\n"
    "\r\nAuthentication Details:\r\n\tReason Code:\t\t\t16\r\n"
    "\tReason:\t\t\t\tAuthentication failed due to a user credentials mismatch.\r\n"
)


def xml_data(folder: Path, count: int) -> list[str]:
    """One 6273 event with ``count`` Data elements of the same name."""
    data = "".join(f"<Data Name='A'>value {index}</Data>" for index in range(count))
    event = (
        f"<Event xmlns='{NS}'>{SECURITY_SYSTEM}<EventData>"
        f"<Data Name='SubjectUserName'>alice</Data>{data}</EventData></Event>"
    )
    path = folder / f"data-{count}.xml"
    path.write_text(f"<?xml version='1.0' encoding='UTF-8'?>\n<Events>{event}</Events>\n")
    return [str(path)]


def zip_members(folder: Path, count: int) -> list[str]:
    """A bundle of ``count`` one-event text dumps."""
    path = folder / f"members-{count}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(count):
            text = TEXT_DUMP.format(minute=index // 60 % 60, second=index % 60, index=index)
            archive.writestr(f"dumps/event-{index:05d}.log", text)
    return [str(path)]


def redact_values(folder: Path, count: int) -> list[str]:
    """One extension event naming ``count`` IP addresses and ``count`` e-mail addresses."""
    values = " ".join(
        f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256} u{index}@contoso.com"
        for index in range(count)
    )
    message = (
        "NPS Extension for Azure MFA: CID: 32e83cbf-484d-49aa-9adb-71528f5eb94d : Exception in "
        "Authentication Ext for User alice@contoso.com :: ErrorCode:: ESTS_TOKEN_ERROR Msg:: "
        f"clients {values}"
    )
    event = (
        f"<Event xmlns='{NS}'>{EXTENSION_SYSTEM}<EventData><Data>{message}</Data></EventData>"
        "</Event>"
    )
    path = folder / f"values-{count}.xml"
    path.write_text(f"<?xml version='1.0' encoding='UTF-8'?>\n<Events>{event}</Events>\n")
    return [str(path)]


Scenario = tuple[Callable[[Path, int], list[str]], tuple[str, ...], str]
SCENARIOS: dict[str, list[Scenario]] = {
    "xml-data": [(xml_data, (), "Data element")],
    "zip-members": [(zip_members, (), "member")],
    "redact": [(redact_values, ("--redact",), "value pair"), (redact_values, (), "value pair")],
}
SIZES = {
    "xml-data": (3750, 7500, 15000, 30000, 60000),
    "zip-members": (1250, 2500, 5000, 9999),
    "redact": (2500, 5000, 10000, 20000, 50000),
}
QUICK_SIZES = {
    "xml-data": (3750, 7500, 15000),
    "zip-members": (1250, 2500, 5000),
    "redact": (2500, 5000, 10000),
}


def run(arguments: list[str], timeout: float) -> tuple[float, float, int] | None:
    """Wall seconds, peak RSS (MiB) and exit code of one run; None when it timed out."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "npsdiag", *arguments],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            return None
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code
    if code not in (0, 1):
        error = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise SystemExit(f"npsdiag {' '.join(arguments)} exited {code}: {error.strip()}")
    return elapsed, usage.ru_maxrss / 1024, code


def measure(
    make: Callable[[Path, int], list[str]],
    options: tuple[str, ...],
    folder: Path,
    count: int,
    timeout: float,
) -> tuple[float, float | None, float]:
    """(input MB, wall seconds or None when over the timeout, peak MiB) of one size."""
    folder.mkdir(parents=True, exist_ok=True)
    inputs = make(folder, count)
    size = sum(Path(path).stat().st_size for path in inputs) / 1e6
    out = folder / "out.json"
    try:
        result = run(["analyze", *inputs, "--json", str(out), "-q", *options], timeout)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if result is None:
        return size, None, 0.0
    return size, result[0], result[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), action="append")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    parser.add_argument("--sizes", type=int, nargs="+", help="these sizes instead")
    args = parser.parse_args()
    chosen = args.scenario or sorted(SCENARIOS)
    work = Path(tempfile.mkdtemp(prefix="npsdiag-bench-hostile-"))
    try:
        for name in chosen:
            sizes = args.sizes or (QUICK_SIZES if args.quick else SIZES)[name]
            for make, options, unit in SCENARIOS[name]:
                _, floor, _ = measure(make, options, work / "floor", 1, args.timeout)
                floor = floor or 0.0
                print(f"\n{name} {' '.join(options)}".rstrip() + f"  (floor, N = 1: {floor:.2f} s)")
                print(
                    f"{'N':>8} {'input MB':>9} {'wall s':>8} {'peak MiB':>9} "
                    f"{'µs per ' + unit + ' above floor':>30}"
                )
                for count in sizes:
                    size, wall, peak = measure(
                        make, options, work / f"{name}-{count}", count, args.timeout
                    )
                    if wall is None:
                        print(f"{count:>8} {size:>9.2f} {'> ' + str(int(args.timeout)):>8}")
                        break
                    per_unit = max(wall - floor, 0.0) / count * 1e6
                    print(f"{count:>8} {size:>9.2f} {wall:>8.2f} {peak:>9.1f} {per_unit:>30.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
