"""A small Azure Resource Graph: `POST /providers/Microsoft.ResourceGraph/resources`.

Request and answer shapes follow the ARG REST reference ("Resources - Resources", api-version
2022-10-01, azure-rest-api-specs resourcegraph/.../2022-10-01/resourcegraph.json): the body
is `{"subscriptions": [...], "query": KQL, "options": {"$top", "$skip", "$skipToken",
"resultFormat"}}`; the answer `{"totalRecords", "count", "data": [...], "facets": [],
"resultTruncated": "false", "$skipToken"?}` with `data` an array of objects (objectArray, the
default). Rows carry `type` in lower case (ARG normalises it, which is why queries say
`type =~ ...`). A page is at most 1000 rows ("Working with large Azure resource data sets":
default and maximum 1000); the next page is asked for with `options.$skipToken`.

Throttling: ARG gives each user a quota per window and reports it in
`x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after` (hh:mm:ss); past it, 429
("Guidance for throttled requests", learn.microsoft.com/azure/governance/resource-graph/
concepts/guidance-for-throttled-requests: 15 requests per 5 seconds by default).

The supported KQL subset (anything else is refused with ARG's InvalidQuery/ParserFailure):
    Resources | ComputeResources (scale-set instances)
    | where <cond> [and|or <cond>]...   (parentheses allowed; several `where` lines AND)
    | project col, col                   | order by col [asc|desc]
  cond: FIELD == 'v' | FIELD =~ 'v' | FIELD != 'v' | FIELD !~ 'v' | FIELD in ('a', 'b') |
        FIELD in~ (...) | FIELD !in (...) | FIELD !in~ (...) | isempty(FIELD) | isnotempty(FIELD)
  FIELD: id, name, type, location, resourceGroup, subscriptionId, tags['k'] / tags["k"] /
         tags.k, properties.a.b (a path into the VM model).
"""

from __future__ import annotations

import json
import re
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fipswizard.sandbox.arm_list import scale_set_instance_rows
from fipswizard.sandbox.views import vm_json
from fipswizard.sandbox.wire import ArmError, Request, Response, json_response

if TYPE_CHECKING:
    from fipswizard.sandbox.core import SandboxAzure

MAX_PAGE = 1000
QUOTA, WINDOW = 15, 5.0
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")|(?P<op>!in~|!in|in~|=~|!~|==|!=)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[|(),\[\].]))"
)


@dataclass
class _Quota:
    window_start: float
    used: int = 0


_QUOTAS: weakref.WeakKeyDictionary[SandboxAzure, _Quota] = weakref.WeakKeyDictionary()


class _QueryError(ArmError):
    """ARG's answer to a query it cannot parse: InvalidQuery with a ParserFailure detail."""

    def __init__(self, problem: str, pos: int) -> None:
        super().__init__(400, "BadRequest", f"Query is invalid: {problem}")
        self.problem, self.pos = problem, pos

    def response(self) -> Response:
        details = [
            {
                "code": "InvalidQuery",
                "message": "Query is invalid. Please refer to the documentation for the Azure "
                "Resource Graph service and fix the error before retrying.",
            },
            {
                "code": "ParserFailure",
                "message": self.problem,
                "line": 1,
                "characterPositionInLine": self.pos,
            },
        ]
        error = {"code": self.code, "message": self.message, "details": details}
        return json_response(400, {"error": error})


def _bad_query(message: str, pos: int) -> ArmError:
    return _QueryError(message, pos)


class _Query:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise _bad_query(f"unexpected {text[pos:].strip()[:10]!r}", pos)
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind), m.start(kind)))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "", -1)

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        tok = self.peek()
        if tok[0] == "end" or (value is not None and tok[1].lower() != value):
            raise _bad_query(f"expected {value or 'more'}, found {tok[1] or 'the end'!r}", tok[2])
        self.i += 1
        return tok

    def field(self) -> list[str]:
        kind, word, pos = self.take()
        if kind != "word":
            raise _bad_query(f"expected a column, found {word!r}", pos)
        path = [word]
        while self.peek()[1] in (".", "["):
            if self.take()[1] == ".":
                path.append(self.take()[1])
            else:
                k, key, p = self.take()
                if k != "str":
                    raise _bad_query("expected a quoted key inside [ ]", p)
                path.append(json.loads('"' + key[1:-1] + '"'))
                self.take("]")
        return path

    def value(self) -> str:
        kind, text, pos = self.take()
        if kind != "str":
            raise _bad_query(f"expected a quoted string, found {text!r}", pos)
        return str(json.loads('"' + text[1:-1].replace('"', '\\"') + '"'))

    def expr(self) -> Any:
        left = self.conj()
        while self.peek()[1].lower() == "or":
            self.take()
            left = ("or", left, self.conj())
        return left

    def conj(self) -> Any:
        left = self.atom()
        while self.peek()[1].lower() == "and":
            self.take()
            left = ("and", left, self.atom())
        return left

    def atom(self) -> Any:
        kind, word, pos = self.peek()
        if word == "(":
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        if word.lower() in ("isempty", "isnotempty"):
            self.take()
            self.take("(")
            path = self.field()
            self.take(")")
            return (word.lower(), path)
        path = self.field()
        kind, op, pos = self.take()
        if op.lower() in ("in", "in~", "!in", "!in~"):
            self.take("(")
            values = [self.value()]
            while self.peek()[1] == ",":
                self.take()
                values.append(self.value())
            self.take(")")
            return (op.lower(), path, values)
        if op not in ("==", "=~", "!=", "!~"):
            raise _bad_query(f"operator {op!r} is not supported here", pos)
        return (op, path, [self.value()])


def _get(row: dict[str, Any], path: list[str]) -> Any:
    cur: Any = row
    for n, part in enumerate(path):
        if not isinstance(cur, dict):
            return None
        if n == 0:  # column names are case-insensitive in KQL's Resources table
            cur = next((v for k, v in cur.items() if k.lower() == part.lower()), None)
        else:
            cur = cur.get(part)
    return cur


def _holds(cond: Any, row: dict[str, Any]) -> bool:
    op = str(cond[0])
    if op in ("and", "or"):
        a, b = _holds(cond[1], row), _holds(cond[2], row)
        return (a and b) if op == "and" else (a or b)
    value = _get(row, cond[1])
    if op in ("isempty", "isnotempty"):
        return bool((value in (None, "", {}, [])) == (op == "isempty"))
    text = "" if value is None else str(value)
    fold = op.endswith("~")
    wanted = [str(v).lower() if fold else str(v) for v in cond[2]]
    found = (text.lower() if fold else text) in wanted
    return not found if op.startswith("!") else found


def _row(vm_body: dict[str, Any], tenant: str) -> dict[str, Any]:
    return {
        "id": vm_body["id"],
        "name": vm_body["name"],
        "type": vm_body["type"].lower(),
        "tenantId": tenant,
        "kind": "",
        "location": vm_body["location"],
        "resourceGroup": vm_body["id"].split("/")[4].lower(),  # ARG lower-cases it: UNCONFIRMED
        "subscriptionId": vm_body["id"].split("/")[2],
        "tags": vm_body.get("tags", {}),
        "properties": vm_body["properties"],
    }


def _run(text: str, tables: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    q = _Query(text)
    kind, table, pos = q.take()
    if table.lower() not in tables:
        raise _bad_query(f"the sandbox has the tables {sorted(tables)}, not {table!r}", pos)
    rows = tables[table.lower()]
    while q.peek()[0] != "end":
        q.take("|")
        _, verb, pos = q.take()
        if verb.lower() == "where":
            cond = q.expr()
            rows = [r for r in rows if _holds(cond, r)]
        elif verb.lower() == "project":
            cols = [q.field()]
            while q.peek()[1] == ",":
                q.take()
                cols.append(q.field())
            rows = [{c[-1]: _get(r, c) for c in cols} for r in rows]
        elif verb.lower() in ("order", "sort"):
            q.take("by")
            col = q.field()
            desc = q.peek()[1].lower() == "desc"
            if q.peek()[1].lower() in ("asc", "desc"):
                q.take()
            rows.sort(key=lambda r: str(_get(r, col) or "").lower(), reverse=desc)
        else:
            raise _bad_query(f"the operator {verb!r} is not in the sandbox's KQL subset", pos)
        if q.peek()[0] != "end" and q.peek()[1] != "|":
            raise _bad_query(f"unexpected {q.peek()[1]!r}", q.peek()[2])
    return rows


def _quota_headers(az: SandboxAzure) -> dict[str, str]:
    now = az.now()
    quota = _QUOTAS.get(az)
    if quota is None or now - quota.window_start >= WINDOW:
        quota = _QUOTAS[az] = _Quota(now)
    resets = max(0.0, quota.window_start + WINDOW - now)
    hms = f"00:00:{int(-(-resets // 1)):02d}"
    if quota.used >= QUOTA:
        raise ArmError(
            429,
            "RateLimiting",
            "Please provide below info when asking for support: the client has been "
            "throttled; retry after the quota resets.",
            {"x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": hms},
        )
    quota.used += 1
    return {
        "x-ms-user-quota-remaining": str(QUOTA - quota.used),
        "x-ms-user-quota-resets-after": hms,
    }


def query_resources(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    headers = _quota_headers(az)
    try:
        body = json.loads(req.body or b"{}")
    except ValueError:
        raise ArmError(400, "InvalidRequestContent", "The request content is not JSON.") from None
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise ArmError(400, "BadRequest", "The request body must have a string 'query'.")
    options = body.get("options") or {}
    subs = body.get("subscriptions") or [s.id for s in az.estate.subscriptions.values()]
    wanted = {str(s).lower() for s in subs}
    iso = az.iso(az.now())
    rows = [
        _row(vm_json(vm, iso), "sandbox-tenant")
        for vm in sorted(az.estate.vms.values(), key=lambda v: (v.subscription, v.name.lower()))
        if vm.subscription.lower() in wanted
    ]
    # ComputeResources holds scale-set instances (ARG table reference, "ComputeResources")
    instances = [
        r for r in scale_set_instance_rows(az) if str(r["subscriptionId"]).lower() in wanted
    ]
    rows = _run(body["query"], {"resources": rows, "computeresources": instances})
    top = min(int(options.get("$top") or MAX_PAGE), MAX_PAGE)
    start = int(options.get("$skip") or 0)
    token = options.get("$skipToken")
    if token:
        try:
            start = int(json.loads(token)["next"])
        except (ValueError, KeyError, TypeError):
            raise ArmError(400, "BadRequest", f"The $skipToken '{token}' is not valid.") from None
    page = rows[start : start + top]
    answer: dict[str, Any] = {
        "totalRecords": len(rows),
        "count": len(page),
        "data": page,
        "facets": [],
        "resultTruncated": "false",
    }
    if start + top < len(rows):
        answer["$skipToken"] = json.dumps({"next": start + top})
    return json_response(200, answer, headers)
