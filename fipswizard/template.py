"""New VMs born FIPS: patch an ARM template, print a Bicep snippet, a cloud-init section.

Every Linux `Microsoft.Compute/virtualMachines` resource gets
`properties.additionalCapabilities.enableFips1403Encryption: true` (a boolean) and an
apiVersion whose schema types it. The property is a boolean first defined in Compute API
2025-04-01 (Azure/bicep-types-az generated/compute_1/microsoft.compute/2025-04-01/types.md);
the older how-to revision's sample (`"apiVersion": "2022-03-01"`, the string `"true"`) is wrong
(MicrosoftDocs/azure-compute-docs articles/virtual-machines/extensions/agent-linux-fips.md).

The template is edited as text, at the byte spans of the values we change, so everything else
(key order, indentation, comments, number spelling) stays byte for byte. ARM accepts `//` and
`/* */` comments in templates (learn.microsoft.com azure-resource-manager/templates/syntax
"Comments"), so the reader here skips them where `json.loads` would fail.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from fipswizard.errors import BadInput
from fipswizard.versions import COMPUTE_API

FIPS_API = COMPUTE_API  # the first Compute api-version whose schema has the boolean
VM_TYPE = "microsoft.compute/virtualmachines"
FLAG = "enableFips1403Encryption"

# cloud-init's Ubuntu Pro module (cloudinit/config/cc_ubuntu_pro.py, docs "Ubuntu Pro"):
# `ubuntu_pro.enable` lists the services `pro enable` turns on at first boot. Pro images on
# Azure attach themselves, so no token is needed (and none may be written here). FIPS mode
# takes effect after a reboot, which cc_power_state_change performs once cloud-init is done.
UBUNTU_PRO_CLOUD_INIT = """#cloud-config
ubuntu_pro:
  enable:
    - fips-updates
power_state:
  mode: reboot
  message: rebooting into the FIPS kernel enabled by ubuntu_pro
  condition: true
"""

RHEL_NOTE = (
    "RHEL: FIPS mode at install time needs `fips=1` on the installer's kernel command line "
    "(Red Hat, 'Installing the system with FIPS mode enabled'), an image-build concern a "
    "marketplace image cannot take; deploy it, then run `fipswizard recipe new --vm {name}` and "
    "`fipswizard apply` (recipe rhel9: fips-mode-setup --enable and a reboot)"
)
FLATCAR_NOTE = (
    "Flatcar: FIPS at first boot is set by Ignition: `fipswizard butane` prints the Butane "
    "config (kernel argument fips=1 and the OpenSSL FIPS provider); use it as the VM's customData"
)


class TemplateError(BadInput):
    """A template we cannot patch: names the file, line, column and key."""


# ---- a JSON reader that remembers where each value is -------------------------------------


@dataclass
class Node:
    value: Any  # the plain Python value
    start: int
    end: int  # text[start:end] is the value's source
    members: dict[str, tuple[int, Node]] = field(default_factory=dict)  # object: key -> (key_at, v)
    items: list[Node] = field(default_factory=list)  # array


class _Reader:
    def __init__(self, text: str, source: str) -> None:
        self.text, self.source, self.i = text, source, 0

    def fail(self, problem: str, at: int | None = None) -> TemplateError:
        at = self.i if at is None else at
        line = self.text.count("\n", 0, at) + 1
        col = at - (self.text.rfind("\n", 0, at) + 1) + 1
        return TemplateError(f"{self.source}:{line}:{col}: {problem}")

    def skip(self) -> None:
        t = self.text
        while self.i < len(t):
            if t[self.i] in " \t\r\n\ufeff":
                self.i += 1
            elif t.startswith("//", self.i):
                end = t.find("\n", self.i)
                self.i = len(t) if end < 0 else end
            elif t.startswith("/*", self.i):
                end = t.find("*/", self.i + 2)
                if end < 0:
                    raise self.fail("a /* comment is never closed")
                self.i = end + 2
            else:
                return

    def value(self) -> Node:
        self.skip()
        t, start = self.text, self.i
        if start >= len(t):
            raise self.fail("the JSON ends where a value was expected")
        ch = t[start]
        if ch == "{":
            return self._object()
        if ch == "[":
            return self._array()
        if ch == '"':
            return Node(self._string(), start, self.i)
        decoder = json.JSONDecoder()
        try:
            val, end = decoder.raw_decode(t, start)
        except json.JSONDecodeError:
            raise self.fail(f"expected a JSON value, found {t[start : start + 12]!r}") from None
        self.i = end
        return Node(val, start, end)

    def _string(self) -> str:
        try:
            val, end = json.JSONDecoder().raw_decode(self.text, self.i)
        except json.JSONDecodeError:
            raise self.fail("a string is not closed or has a bad escape") from None
        self.i = end
        return str(val)

    def _expect(self, ch: str) -> None:
        self.skip()
        if not self.text.startswith(ch, self.i):
            raise self.fail(f"expected {ch!r}")
        self.i += 1

    def _object(self) -> Node:
        node = Node({}, self.i, 0)
        self.i += 1
        self.skip()
        if self.text.startswith("}", self.i):
            self.i += 1
            node.end = self.i
            return node
        while True:
            self.skip()
            key_at = self.i
            if not self.text.startswith('"', key_at):
                raise self.fail("expected a quoted key")
            key = self._string()
            if key in node.members:
                raise self.fail(f"key {key!r} appears twice in one object", key_at)
            self._expect(":")
            child = self.value()
            node.members[key] = (key_at, child)
            node.value[key] = child.value
            self.skip()
            if self.text.startswith(",", self.i):
                self.i += 1
                continue
            self._expect("}")
            node.end = self.i
            return node

    def _array(self) -> Node:
        node = Node([], self.i, 0)
        self.i += 1
        self.skip()
        if self.text.startswith("]", self.i):
            self.i += 1
            node.end = self.i
            return node
        while True:
            child = self.value()
            node.items.append(child)
            node.value.append(child.value)
            self.skip()
            if self.text.startswith(",", self.i):
                self.i += 1
                continue
            self._expect("]")
            node.end = self.i
            return node


def read_json(text: str, source: str) -> Node:
    reader = _Reader(text, source)
    root = reader.value()
    reader.skip()
    if reader.i != len(text):
        raise reader.fail("unexpected text after the template's closing brace")
    return root


# ---- the template shape the patcher relies on ---------------------------------------------


def check_shape(root: Node, source: str, reader_text: str) -> list[tuple[str, Node]]:
    """The VM resources `(path, node)`, after checking the shape we rely on: a top-level object
    with `resources` (an array, or an object of symbolic names for languageVersion 2.0); each
    VM resource an object with string `type` and `apiVersion` and an object `properties`."""
    reader = _Reader(reader_text, source)
    if not isinstance(root.value, dict):
        raise reader.fail("an ARM template is a JSON object", root.start)
    if "resources" not in root.members:
        raise reader.fail("key 'resources': missing (an ARM template lists its resources)", 0)
    found: list[tuple[str, Node]] = []
    _collect(root.members["resources"][1], "resources", reader, found)
    for path, vm in found:
        for key, kind in (("apiVersion", str), ("properties", dict)):
            if key in vm.members and not isinstance(vm.value[key], kind):
                raise reader.fail(
                    f"key '{path}.{key}': found {type(vm.value[key]).__name__}, allowed: "
                    f"{'a string' if kind is str else 'an object'}",
                    vm.members[key][1].start,
                )
        if "apiVersion" not in vm.members:
            raise reader.fail(f"key '{path}.apiVersion': missing", vm.start)
        props = vm.members.get("properties")
        caps = props[1].members.get("additionalCapabilities") if props else None
        if caps is not None and not isinstance(caps[1].value, dict):
            raise reader.fail(
                f"key '{path}.properties.additionalCapabilities': found "
                f"{type(caps[1].value).__name__}, allowed: an object",
                caps[1].start,
            )
    return found


def _collect(node: Node, path: str, reader: _Reader, found: list[tuple[str, Node]]) -> None:
    if isinstance(node.value, list):
        children = [(f"{path}[{n}]", child) for n, child in enumerate(node.items)]
    elif isinstance(node.value, dict):  # languageVersion 2.0: symbolic name -> resource
        children = [(f"{path}.{k}", child) for k, (_, child) in node.members.items()]
    else:
        found_type = type(node.value).__name__
        raise reader.fail(f"key '{path}': found {found_type}, allowed: an array", node.start)
    for child_path, child in children:
        if not isinstance(child.value, dict):
            raise reader.fail(f"key '{child_path}': a resource is an object", child.start)
        rtype = child.value.get("type")
        if not isinstance(rtype, str):
            raise reader.fail(f"key '{child_path}.type': missing or not a string", child.start)
        if rtype.lower() == VM_TYPE:
            found.append((child_path, child))
        if "resources" in child.members:  # child resources nest under their parent
            _collect(child.members["resources"][1], f"{child_path}.resources", reader, found)
        inner = _inline_template(child)
        if inner is not None:  # a nested deployment's inline template deploys VMs too
            _collect(inner, f"{child_path}.properties.template.resources", reader, found)


def _inline_template(resource: Node) -> Node | None:
    """`properties.template.resources` of a Microsoft.Resources/deployments resource
    (learn.microsoft.com azure-resource-manager/templates/linked-templates, "Nested template")."""
    if str(resource.value.get("type", "")).lower() != "microsoft.resources/deployments":
        return None
    props = resource.members.get("properties")
    template = props[1].members.get("template") if props else None
    if template is None or not isinstance(template[1].value, dict):
        return None
    inner = template[1].members.get("resources")
    return inner[1] if inner else None


# ---- deciding what each VM is ---------------------------------------------------------------


def os_family(vm: dict[str, Any]) -> str:
    """linux, windows, or unknown: osProfile's configuration block, else the OS disk's osType,
    else the image publisher (an expression tells us nothing)."""
    props = vm.get("properties") or {}
    os_profile = props.get("osProfile") or {}
    if "linuxConfiguration" in os_profile:
        return "linux"
    if "windowsConfiguration" in os_profile:
        return "windows"
    os_type = str(((props.get("storageProfile") or {}).get("osDisk") or {}).get("osType", ""))
    if os_type.lower() in ("linux", "windows"):
        return os_type.lower()
    publisher = str(_image(vm).get("publisher", "")).lower()
    if publisher.startswith("microsoftwindows"):
        return "windows"
    if publisher in ("canonical", "redhat", "kinvolk", "almalinux", "suse", "debian"):
        return "linux"
    return "unknown"


def _image(vm: dict[str, Any]) -> dict[str, Any]:
    props = vm.get("properties") or {}
    image = (props.get("storageProfile") or {}).get("imageReference") or {}
    return image if isinstance(image, dict) else {}


def distro(vm: dict[str, Any]) -> str:
    """ubuntu-pro, ubuntu, rhel, flatcar or other, from the marketplace image reference.
    Pro images: offer `0001-com-ubuntu-pro-*` or sku `*pro*` (e.g. ubuntu-24_04-lts/ubuntu-pro)."""
    image = {k: str(v).lower() for k, v in _image(vm).items()}
    publisher, offer, sku = image.get("publisher", ""), image.get("offer", ""), image.get("sku", "")
    if publisher == "canonical":
        return "ubuntu-pro" if "pro" in offer.split("-") or "pro" in sku else "ubuntu"
    if publisher == "redhat":
        return "rhel"
    if publisher == "kinvolk":
        return "flatcar"
    return "other"


def _api_ok(api: str) -> bool:
    date = api[:10]
    return not api.startswith("[") and len(date) == 10 and date >= FIPS_API


# ---- the patch ------------------------------------------------------------------------------


@dataclass
class Patched:
    text: str
    changed: list[str]  # one line per VM changed, and how
    notes: list[str]  # VMs left alone and why, distro advice


@dataclass
class _Edit:
    start: int
    end: int
    text: str


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"  # a CRLF file stays CRLF


def _indent_of(text: str, at: int) -> str:
    line_start = text.rfind("\n", 0, at) + 1
    prefix = text[line_start:at]
    return prefix if prefix.strip() == "" else ""


def _insert_member(text: str, obj: Node, member: str) -> _Edit:
    """Insert `"key": value` as the first member of `obj`, in the style of its first member."""
    if obj.members:
        first_at = min(at for at, _ in obj.members.values())
        indent = _indent_of(text, first_at)
        sep = (_newline(text) + indent) if indent else " "
        return _Edit(first_at, first_at, member + "," + (sep if indent else " "))
    return _Edit(obj.start + 1, obj.end - 1, member)


def patch_template(
    text: str, source: str = "<template>", *, api_version: str = FIPS_API, ubuntu_pro: bool = False
) -> Patched:
    if not _api_ok(api_version):
        raise BadInput(f"--api-version {api_version!r}: allowed: {FIPS_API} or later")
    root = read_json(text, source)
    vms = check_shape(root, source, text)
    edits: list[_Edit] = []
    changed: list[str] = []
    notes: list[str] = []
    for path, vm in vms:
        name = str(vm.value.get("name", path))
        family = os_family(vm.value)
        if family != "linux":
            why = "a Windows VM" if family == "windows" else "its OS is not stated"
            notes.append(f"{name} ({path}): left unchanged: {why} (the flag is for Linux VMs)")
            continue
        what = _patch_vm(text, vm, api_version, edits)
        kind = distro(vm.value)
        if kind == "ubuntu-pro" and ubuntu_pro:
            what += _cloud_init(text, vm, name, edits, notes)
        elif kind == "ubuntu-pro":
            notes.append(
                f"{name}: Ubuntu Pro: --ubuntu-pro adds the cloud-init section that "
                "enables fips-updates at first boot"
            )
        elif kind == "rhel":
            notes.append(f"{name}: " + RHEL_NOTE.format(name=name))
        elif kind == "flatcar":
            notes.append(f"{name}: " + FLATCAR_NOTE)
        changed.append(f"{name} ({path}): {what}")
    out = text
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        out = out[: edit.start] + edit.text + out[edit.end :]
    return Patched(out, changed, notes)


def _patch_vm(text: str, vm: Node, api_version: str, edits: list[_Edit]) -> str:
    done: list[str] = []
    api_node = vm.members["apiVersion"][1]
    if not _api_ok(str(api_node.value)):
        edits.append(_Edit(api_node.start, api_node.end, json.dumps(api_version)))
        done.append(f"apiVersion {api_node.value} -> {api_version}")
    flag_member = f'"{FLAG}": true'
    if "properties" not in vm.members:
        props_text = '"properties": {"additionalCapabilities": {' + flag_member + "}}"
        edits.append(_insert_member(text, vm, props_text))
        return ", ".join([*done, f"{FLAG} added"])
    props = vm.members["properties"][1]
    if "additionalCapabilities" not in props.members:
        edits.append(_insert_member(text, props, '"additionalCapabilities": {' + flag_member + "}"))
        done.append(f"{FLAG} added")
    else:
        caps = props.members["additionalCapabilities"][1]
        if FLAG not in caps.members:
            edits.append(_insert_member(text, caps, flag_member))
            done.append(f"{FLAG} added")
        else:
            old = caps.members[FLAG][1]
            if old.value is not True:
                edits.append(_Edit(old.start, old.end, "true"))
                done.append(f"{FLAG} {text[old.start : old.end]} -> true")
    return ", ".join(done) or "already born FIPS"


def _cloud_init(text: str, vm: Node, name: str, edits: list[_Edit], notes: list[str]) -> str:
    """customData for an Ubuntu Pro VM that has none; an existing one is the operator's to merge
    (cloud-init takes one user-data document, and we never rewrite what they wrote)."""
    props = vm.members["properties"][1]
    os_profile = props.members.get("osProfile")
    if os_profile is None or not isinstance(os_profile[1].value, dict):
        notes.append(f"{name}: no osProfile: add the cloud-init below as its customData")
        return ""
    if "customData" in os_profile[1].members:
        notes.append(f"{name}: has customData already: merge the ubuntu_pro section below into it")
        return ""
    encoded = base64.b64encode(UBUNTU_PRO_CLOUD_INIT.encode()).decode()
    edits.append(_append_member(text, os_profile[1], f'"customData": "{encoded}"'))
    return ", cloud-init ubuntu_pro (fips-updates) added as customData"


def _append_member(text: str, node: Node, member: str) -> _Edit:
    """Add `member` after the last one, on a line of its own when the object is multi-line, so
    the diff is one added line after the operator's keys."""
    if not node.members:
        return _Edit(node.start + 1, node.end - 1, member)
    last_at, last = max(node.members.values(), key=lambda m: m[1].end)
    indent = _indent_of(text, last_at)
    return _Edit(last.end, last.end, ("," + _newline(text) + indent if indent else ", ") + member)


def bicep_snippet(api_version: str = FIPS_API) -> str:
    """What a Bicep VM resource needs (Bicep types the property from the api-version)."""
    return (
        f"resource vm 'Microsoft.Compute/virtualMachines@{api_version}' = {{\n"
        "  name: vmName\n"
        "  location: location\n"
        "  properties: {\n"
        "    additionalCapabilities: {\n"
        "      enableFips1403Encryption: true // a boolean, typed from Compute 2025-04-01\n"
        "    }\n"
        "    // ... hardwareProfile, storageProfile, osProfile, networkProfile as before\n"
        "  }\n"
        "}\n"
    )
