"""The guest-script protocol: what a script and the engine agree on, defined once.

A leaf module (imports nothing from fipswizard): the runners, the steps, the recipe loader and
the simulated guests in `fipswizard/sandbox/` all read these names, and it is the only product
module the sandbox may import. `recipes/guest/lib.sh` speaks the same protocol in shell
(`fw_done`/`fw_needed`/`fw_refuse`, `fw_mark_reboot`); tests/guest/test_protocol.py checks
that the shell side agrees with these values.
"""

from __future__ import annotations

import re

# Exit codes of a step's script (lib.sh: fw_done exits 0, fw_needed 10, fw_refuse 20).
DONE = 0  # nothing to do / the change holds
NEEDED = 10  # the change is needed (check) or has not taken effect (verify)
REFUSED = 20  # the script will not proceed: the guest is in a state it must not touch
# Exit codes the runners make up when the script's own is unknown.
TIMED_OUT = 124  # like timeout(1)
NO_RC = 125  # Run Command output lost the exit-code line

# A script reports facts on stdout as `key=value` lines; a line may carry several
# space-separated pairs (`marked_at=1 booted_at=2`) when every token is a pair. lib.sh's
# fw_done/fw_needed/fw_refuse print `done=`/`needed=`/`refused=` with the reason.
_KEY = re.compile(r"[a-z_][a-z0-9_-]*")
_PAIRS = re.compile(r"([\w-]+=\S*)( [\w-]+=\S*)+")


def parse_facts(stdout: str, *, one_per_line: bool = False) -> dict[str, str]:
    """The `key=value` facts of a script's output (the last value of a key wins).
    `one_per_line` keeps spaces inside values (the probe prints `os_pretty=Ubuntu 22.04 LTS`)."""
    facts: dict[str, str] = {}
    for line in stdout.splitlines():
        many = not one_per_line and _PAIRS.fullmatch(line)
        for item in line.split(" ") if many else [line]:
            key, sep, value = item.partition("=")
            if sep and _KEY.fullmatch(key):
                facts[key] = value.strip()
    return facts


# Every script's first content line names its origin: `# fipswizard-script: <recipe>/<step>/<phase>`
# (simulated guests pick their handler by it; the runners name the managed run command by it).
MARKER = "# fipswizard-script: "
MARKER_NAME = re.compile(r"^\s*#\s*fipswizard-script:\s*(\S+)", re.MULTILINE)


def marker(name: str) -> str:
    """The marker line for the script `name` ("<recipe>/<step>/<phase>")."""
    return f"{MARKER}{name}"


# Action Run Command returns only the output, no exit code: the engine's wrapper prints the
# script's exit code as the last stdout line (Run Command output is capped at 4 KB, so it goes
# last and the tail is kept).
RC_VAR = "__FW_RC"
RC_LINE = re.compile(rf"^{RC_VAR}=(\d+)\s*$")

# Our own budget, not an Azure figure: the script travels inside the ARM request body; a recipe
# snippet plus lib.sh is ~5-10 KB, a batch of a phase's scripts (guest/batch.py) ~20-40 KB.
MAX_SCRIPT_BYTES = 64 * 1024

# Secrets reach a script only as environment variables `FW_SECRET_<NAME>` (protected parameters
# of a managed run command), never in the script text, argv or the guest's disk.
SECRET_PREFIX = "FW_SECRET_"


def secret_var(name: str) -> str:
    return f"{SECRET_PREFIX}{name.upper()}"


# Non-secret run choices passed to the guest scripts (they travel in the script text).
FLATCAR_EXTENSIONS_VAR = "FW_FLATCAR_EXTENSIONS"
FLATCAR_EXTENSIONS = ("update-agent", "accept-unsupported")  # the first is the default

# lib.sh's fw_mark_reboot creates this file; the reboot step's check reads it.
STATE_DIR = "/var/lib/fipswizard"
REBOOT_MARK = f"{STATE_DIR}/reboot-required"
