"""Managed Run Command (`{vm}/runCommands/{name}`): the channel for scripts that get secrets.

Why not action Run Command for secrets: Azure inlines action `parameters` into the script as
`export NAME=value` (azure-cli#10400) and RunCommandLinux keeps that script at
/var/lib/waagent/run-command/download/<n>/script.sh until the extension is removed
(Azure/run-command-extension-linux main/cmds.go). Managed Run Command takes
`protectedParameters`, which reach the guest encrypted in the extension's protected settings;
RunCommandHandlerLinux sets each named one as an environment variable of the script
(Azure/run-command-handler-linux internal/exec/exec.go `SetEnvironmentVariables`) and writes
only the script text to its download folder (MicrosoftDocs run-command-managed.md: "Passing
secrets (parameters, passwords) in a secure manner").

Resource shape: azure-rest-api-specs ComputeRP 2025-04-01 `runCommand.json`
(`VirtualMachineRunCommand`: `location`, `tags`, `properties.source.script`,
`protectedParameters[{name,value}]`, `asyncExecution`, `timeoutInSeconds`,
`treatFailureAsDeploymentFailure`; read-only `instanceView` {`executionState`,
`executionMessage`, `exitCode`, `output`, `error`, `startTime`, `endTime`} with
`$expand=instanceView`). Our resources are named `fipswizard-<random>` and tagged
`{"fipswizard": "run-command"}` so that a later run can delete what a killed run left behind,
and nothing else.
"""

from __future__ import annotations

import secrets as pysecrets
from collections.abc import Mapping
from typing import Any

from fipswizard.secrets import Secret

TAG = {"fipswizard": "run-command"}
TERMINAL = {"succeeded", "failed", "timedout", "canceled", "cancelled"}


def new_name() -> str:
    return f"fipswizard-{pysecrets.token_hex(6)}"


def ours(resource: Any) -> bool:
    """Did fipswizard create this run command (our tag, exactly)?"""
    tags = resource.get("tags") if isinstance(resource, dict) else None
    return isinstance(tags, dict) and tags.get("fipswizard") == TAG["fipswizard"]


def body(location: str, script: str, env: Mapping[str, Secret], timeout: float) -> dict[str, Any]:
    """The PUT body; protected values are revealed here and nowhere else."""
    return {
        "location": location,
        "tags": dict(TAG),
        "properties": {
            "source": {"script": script},
            "protectedParameters": [{"name": k, "value": v.reveal()} for k, v in env.items()],
            # Wait for the script in the PUT's own operation; a failing script is a result to
            # read from the instance view, not a failed deployment.
            "asyncExecution": False,
            "timeoutInSeconds": max(1, int(timeout)),
            "treatFailureAsDeploymentFailure": False,
        },
    }


def instance_view(resource: Any) -> dict[str, Any]:
    props = resource.get("properties") if isinstance(resource, dict) else None
    view = props.get("instanceView") if isinstance(props, dict) else None
    return view if isinstance(view, dict) else {}


def finished(resource: Any) -> bool:
    return str(instance_view(resource).get("executionState", "")).lower() in TERMINAL
