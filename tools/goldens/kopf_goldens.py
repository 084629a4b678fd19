"""
Writes tests/_fixtures/goldens/kopf-1.45.2.json: inputs and what Python Kopf itself makes of
them (annotation keys, progress and diff-base patches, essences, finalizer JSON patches, the
requests it sends), so tests/unit/persistence/goldens_test.ts can hold our port to it.

Run with the Python that has Kopf 1.45.2 installed (see tools/goldens/README.md):
    /root/.cache/kopf-deno/kopf-venv/bin/python tools/goldens/kopf_goldens.py [OUTPUT]
The output is deterministic: fixed timestamps, no randomness, sets sorted; it is formatted
with tools/deno fmt, as every JSON file of the repository.
"""
import asyncio
import copy
import datetime
import hashlib
import importlib.metadata
import json
import logging
import pathlib
import subprocess
import sys
from typing import Any

import jsonpatch

import kopf
from kopf._cogs.clients import patching
from kopf._cogs.configs import configuration, diffbase, progress
from kopf._cogs.structs import diffs, dicts, finalizers, patches, references
from kopf._core.actions import progression

from kopf_inputs import (
    BODIES, DIFFBASE_STORAGES, EXTRA_FIELDS, FINALIZER, HANDLER_IDS, JSON_PATCH_SCENARIOS,
    PREFIXES, PROGRESS_SCENARIOS, PROGRESS_STORAGES, RECORDS, T0, T1, T2, UTC,
)

KOPF_VERSION = "1.45.2"
ROOT = pathlib.Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "tests" / "_fixtures" / "goldens" / f"kopf-{KOPF_VERSION}.json"


# ---------------------------------------------------------------------------------------------
# Storages and transformation functions from their JSON descriptions, so that the TypeScript
# side can rebuild the same.

def progress_storage(spec: dict[str, Any]) -> progress.ProgressStorage:
    kwargs = {snake(key): value for key, value in spec.items() if key not in ("kind", "storages")}
    match spec["kind"]:
        case "annotations":
            return progress.AnnotationsProgressStorage(**kwargs)
        case "status":
            return progress.StatusProgressStorage(**kwargs)
        case "smart":
            return progress.SmartProgressStorage(**kwargs)
        case "multi":
            return progress.MultiProgressStorage([progress_storage(s) for s in spec["storages"]])
    raise ValueError(spec)


def diffbase_storage(spec: dict[str, Any]) -> diffbase.DiffBaseStorage:
    kwargs = {snake(key): value for key, value in spec.items() if key not in ("kind", "storages")}
    match spec["kind"]:
        case "annotations":
            return diffbase.AnnotationsDiffBaseStorage(**kwargs)
        case "status":
            return diffbase.StatusDiffBaseStorage(**kwargs)
        case "multi":
            return diffbase.MultiDiffBaseStorage([diffbase_storage(s) for s in spec["storages"]])
    raise ValueError(spec)


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def fields(specs: list[Any]) -> list[Any]:
    return [tuple(spec) if isinstance(spec, list) else spec for spec in specs]


def make_fn(spec: dict[str, Any]) -> patches.PatchFn:
    match spec["fn"]:
        case "appendFinalizer":
            return lambda body: finalizers.block_deletion(body, spec["finalizer"])
        case "removeFinalizer":
            return lambda body: finalizers.allow_deletion(body, spec["finalizer"])
        case "set":
            return lambda body: dicts.ensure(body, tuple(spec["path"]), copy.deepcopy(spec["value"]))
        case "delete":
            def delete(body: dict[str, Any]) -> None:
                parent = dicts.resolve(body, tuple(spec["path"][:-1]), None)
                if isinstance(parent, dict):
                    parent.pop(spec["path"][-1], None)
            return delete
        case "insert":
            return lambda body: dicts.resolve(body, tuple(spec["path"])).insert(
                spec["index"], copy.deepcopy(spec["value"]))
    raise ValueError(spec)


def make_patch(doc: dict[str, Any], fns: list[dict[str, Any]], body: Any = None) -> patches.Patch:
    return patches.Patch(copy.deepcopy(doc), body=body, fns=[make_fn(fn) for fn in fns])


# ---------------------------------------------------------------------------------------------
# Sections.

def blake2b_cases() -> list[dict[str, Any]]:
    texts = ["", "abc", "create_fn", "x" * 127, "y" * 128, "z" * 129, "ü" * 100 + "🚀" * 50]
    return [{"text": text, "digestSize": size,
             "hex": hashlib.blake2b(text.encode("utf-8"), digest_size=size).hexdigest()}
            for text in texts for size in (1, 4, 32, 64)]


def key_cases() -> list[dict[str, Any]]:
    cases = []
    for prefix in PREFIXES:
        with_v1 = progress.AnnotationsProgressStorage(prefix=prefix, v1=True)
        without_v1 = progress.AnnotationsProgressStorage(prefix=prefix, v1=False)
        for key in HANDLER_IDS:
            cases.append({
                "prefix": prefix, "key": key,
                "suffix": with_v1.make_suffix(key),
                "v1Key": with_v1.make_v1_key(key),
                "v2Key": with_v1.make_v2_key(key),
                "keys": list(with_v1.make_keys(key)),
                "keysWithoutV1": list(without_v1.make_keys(key)),
                "keysOfDeploymentReplicaSet": list(
                    with_v1.make_keys(key, body=kopf.Body(BODIES["replicaset-of-deployment"]))),
            })
    return cases


def marked_prefix_cases() -> list[dict[str, Any]]:
    storage = diffbase.AnnotationsDiffBaseStorage()
    cases = []
    for name, body in BODIES.items():
        annotations = list(body.get("metadata", {}).get("annotations", {}))
        cases.append({"body": name, "keys": annotations,
                      "prefixes": sorted(storage._detect_marked_prefixes(annotations))})
    return cases


def progress_cases() -> list[dict[str, Any]]:
    cases = []
    for storage_name, spec in PROGRESS_STORAGES.items():
        # The ReplicaSet's keys are marked only in annotations; the own marker matters only
        # to a custom prefix.
        body_names = ["plain", "crowded"]
        body_names += ["replicaset-of-deployment"] if spec["kind"] != "status" else []
        body_names += ["marked-own-prefix"] if "prefix" in spec else []
        for body_name in body_names:
            for scenario, steps in PROGRESS_SCENARIOS:
                storage = progress_storage(spec)
                body = kopf.Body(copy.deepcopy(BODIES[body_name]))
                patch = patches.Patch()
                for step in steps:
                    match step["op"]:
                        case "store":
                            storage.store(key=step["key"], record=RECORDS[step["record"]],
                                          body=body, patch=patch)
                        case "purge":
                            storage.purge(key=step["key"], body=body, patch=patch)
                        case "touch":
                            storage.touch(body=body, patch=patch, value=step["value"])
                storage.flush()
                cases.append({"storage": storage_name, "body": body_name, "scenario": scenario,
                              "patch": dict(patch)})
    return cases


def progress_fetch_cases() -> list[dict[str, Any]]:
    cases = []
    for storage_name, spec in PROGRESS_STORAGES.items():
        storage = progress_storage(spec)
        for body_name, body in BODIES.items():
            for key in ("create_fn", "update_fn", "something"):
                found = storage.fetch(key=key, body=kopf.Body(body))
                cases.append({"storage": storage_name, "body": body_name, "key": key,
                              "record": found})
    return cases


def progress_clear_cases() -> list[dict[str, Any]]:
    cases = []
    builder = diffbase.AnnotationsDiffBaseStorage(prefix="unrelated.example.com")
    for storage_name, spec in PROGRESS_STORAGES.items():
        for body_name in ("plain", "crowded", "marked-own-prefix"):
            body = BODIES[body_name]
            for extra in (EXTRA_FIELDS[0], EXTRA_FIELDS[2]) if body_name == "crowded" else [[]]:
                essence = builder.build(body=kopf.Body(body), extra_fields=fields(extra))
                essence.setdefault("metadata", {}).setdefault("annotations", {}).update({
                    "kopf.zalando.org/create_fn": "{}",
                    "my-operator.example.com/create_fn": "{}",
                    "example.com/note": "keep",
                })
                cleared = progress_storage(spec).clear(essence=copy.deepcopy(essence))
                cases.append({"storage": storage_name, "essence": essence, "cleared": cleared})
    return cases


def diffbase_cases() -> list[dict[str, Any]]:
    cases = []
    for storage_name, spec in DIFFBASE_STORAGES.items():
        storage = diffbase_storage(spec)
        for body_name, raw in BODIES.items():
            # The extra fields matter where there is a status and foreign annotations.
            for extra in EXTRA_FIELDS if body_name == "crowded" else EXTRA_FIELDS[:1]:
                body = kopf.Body(copy.deepcopy(raw))
                essence = storage.build(body=body, extra_fields=fields(extra))
                patch = patches.Patch()
                storage.store(body=body, patch=patch, essence=essence)
                cases.append({"storage": storage_name, "body": body_name, "extraFields": extra,
                              "essence": essence, "patch": dict(patch),
                              "fetched": storage.fetch(body=body)})
    return cases


def pipeline_cases() -> list[dict[str, Any]]:
    """What processing does: build the essence, clear the progress from it, store it."""
    cases = []
    for progress_name in ("smart", "annotations-prefixed", "status"):
        for diffbase_name in ("annotations", "annotations-prefixed", "status"):
            for body_name, raw in BODIES.items():
                body = kopf.Body(copy.deepcopy(raw))
                diffbase_ = diffbase_storage(DIFFBASE_STORAGES[diffbase_name])
                progress_ = progress_storage(PROGRESS_STORAGES[progress_name])
                essence = progress_.clear(essence=diffbase_.build(body=body))
                patch = patches.Patch()
                diffbase_.store(body=body, patch=patch, essence=essence)
                cases.append({"progress": progress_name, "diffbase": diffbase_name,
                              "body": body_name, "essence": essence, "patch": dict(patch)})
    return cases


def finalizer_cases() -> list[dict[str, Any]]:
    lists = {
        "no metadata": None,
        "no finalizers": [],
        "other finalizers": ["example.com/a", "example.com/b"],
        "ours only": [FINALIZER],
        "ours in the middle": ["example.com/a", FINALIZER, "example.com/b"],
        "ours twice": [FINALIZER, "example.com/a", FINALIZER],
    }
    cases = []
    for name, finalizer_list in lists.items():
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap"}
        if finalizer_list is not None:
            body["metadata"] = {"name": "x", "resourceVersion": "7"}
            if finalizer_list:
                body["metadata"]["finalizers"] = finalizer_list
        for action in ("appendFinalizer", "removeFinalizer"):
            patch = make_patch({}, [{"fn": action, "finalizer": FINALIZER}])
            cases.append({
                "name": name, "body": body, "action": action,
                "ongoing": finalizers.is_deletion_ongoing(kopf.Body(body)),
                "blocked": finalizers.is_deletion_blocked(kopf.Body(body), FINALIZER),
                "ops": patch.as_json_patch(body),
            })
    return cases


def json_patch_cases() -> list[dict[str, Any]]:
    cases = []
    for name, body_name, doc, fns in JSON_PATCH_SCENARIOS:
        body = BODIES[body_name]
        patch = make_patch(doc, fns)
        cases.append({"name": name, "body": body_name, "merge": doc, "fns": fns,
                      "ops": patch.as_json_patch(copy.deepcopy(body))})
    return cases


class FakeServer:
    """Records the PATCH requests and answers them as a server would (new resourceVersion)."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = copy.deepcopy(body)
        self.requests: list[dict[str, Any]] = []

    async def patch(self, *, url: str, headers: dict[str, str], payload: Any,
                    **_: Any) -> dict[str, Any]:
        subresource = "status" if url.endswith("/status") else None
        content_type = headers["Content-Type"]
        self.requests.append({"subresource": subresource, "contentType": content_type,
                              "payload": copy.deepcopy(payload)})
        if content_type == "application/json-patch+json":
            self.body = jsonpatch.apply_patch(self.body, payload)
        else:
            self.body = merge(self.body, payload)
        version = int(self.body["metadata"]["resourceVersion"]) + 1
        self.body["metadata"]["resourceVersion"] = str(version)
        return copy.deepcopy(self.body)


def merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def request_cases() -> list[dict[str, Any]]:
    cases = []
    scenarios = [(name, body, doc, fns) for name, body, doc, fns in JSON_PATCH_SCENARIOS
                 if name != "nothing"]
    scenarios += [
        ("store progress and diff-base", "crowded",
         {"metadata": {"annotations": {"kopf.zalando.org/create_fn": None,
                                       "kopf.zalando.org/last-handled-configuration": "{}\n"}},
          "status": {"create_fn": {"result": 1}}}, []),
        ("status set to null", "crowded", {"status": None}, []),
        ("remove finalizer on deletion", "deleting", {},
         [{"fn": "removeFinalizer", "finalizer": FINALIZER}]),
    ]
    resource_with = references.Resource(group="kopf.dev", version="v1", plural="kopfexamples",
                                        namespaced=True, subresources=frozenset({"status"}))
    resource_without = references.Resource(group="kopf.dev", version="v1",
                                           plural="kopfexamples", namespaced=True)
    settings = configuration.OperatorSettings()
    logger = logging.getLogger("goldens")
    for name, body_name, doc, fns in scenarios:
        for has_status, resource in ((True, resource_with), (False, resource_without)):
            server = FakeServer(BODIES[body_name])
            original = patching.api.patch
            patching.api.patch = server.patch  # type: ignore[assignment]
            try:
                patch = make_patch(doc, fns, body=kopf.Body(copy.deepcopy(BODIES[body_name])))
                _, remaining = asyncio.run(patching.patch_obj(
                    settings=settings, resource=resource, namespace="default", name="example",
                    patch=patch, logger=logger))
            finally:
                patching.api.patch = original  # type: ignore[assignment]
            cases.append({"name": name, "body": body_name, "merge": doc, "fns": fns,
                          "hasStatusSubresource": has_status, "requests": server.requests,
                          "fnsLeft": remaining is not None})
    return cases


def diff_cases() -> list[dict[str, Any]]:
    pairs: list[tuple[Any, Any]] = [
        ({}, {}),
        (None, None),
        (None, {"spec": {"a": 1}}),
        ({"spec": {"a": 1}}, None),
        ("x", "y"),
        ({"a": 1}, {"a": None}),
        ({"a": None}, {}),
        ({"spec": {"a": 1, "b": [1, 2], "c": {"d": 1}}},
         {"spec": {"a": 2, "b": [1, 2, 3], "c": {"d": 1, "e": 2}, "f": {"g": 1}}}),
        ({"spec": {"a": {"b": {"c": 1}}}}, {"spec": {"a": "scalar"}}),
        ({"spec": [1, 2]}, {"spec": {"0": 1}}),
        ({"metadata": {"labels": {"a": "1"}}, "spec": {}}, {"spec": {"x": 1}}),
    ]
    cases = []
    for a, b in pairs:
        d = diffs.diff(a, b)
        reductions = {}
        for path in (["spec"], ["spec", "a"], ["spec", "c", "e"], ["spec", "f", "g"],
                     ["metadata", "labels"], ["absent"]):
            reductions[".".join(path)] = sorted_diff(diffs.reduce(d, tuple(path)))
        cases.append({"a": a, "b": b, "diff": sorted_diff(d), "reduced": reductions})
    return cases


def sorted_diff(d: diffs.Diff) -> list[list[Any]]:
    items = [[str(op), list(field), old, new] for op, field, old, new in d]
    return sorted(items, key=lambda item: json.dumps(item[:2]))


def timestamp_cases() -> list[dict[str, Any]]:
    moments = [T0, T1, T2, datetime.datetime(2026, 12, 31, 23, 59, 59, 1, tzinfo=UTC)]
    return [{"iso": moment.isoformat(), "formatted": progression.format_iso8601(moment)}
            for moment in moments]


def main() -> None:
    installed = importlib.metadata.version("kopf")
    if installed != KOPF_VERSION:
        sys.exit(f"kopf_goldens: Kopf {KOPF_VERSION} is needed, but {installed} is installed")
    output = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    data = {
        "kopf": installed,
        "jsonpatch": importlib.metadata.version("jsonpatch"),
        "finalizer": FINALIZER,
        "bodies": BODIES,
        "records": RECORDS,
        "progressStorages": PROGRESS_STORAGES,
        "progressScenarios": dict(PROGRESS_SCENARIOS),
        "diffbaseStorages": DIFFBASE_STORAGES,
        "blake2b": blake2b_cases(),
        "keys": key_cases(),
        "markedPrefixes": marked_prefix_cases(),
        "progress": progress_cases(),
        "progressFetch": progress_fetch_cases(),
        "progressClear": progress_clear_cases(),
        "diffbase": diffbase_cases(),
        "pipeline": pipeline_cases(),
        "finalizers": finalizer_cases(),
        "jsonPatches": json_patch_cases(),
        "requests": request_cases(),
        "diffs": diff_cases(),
        "timestamps": timestamp_cases(),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    # The repository's formatter owns the layout of JSON files; run it so `deno fmt --check` passes.
    deno = ROOT / "tools" / "deno"
    if deno.exists():
        subprocess.run([str(deno), "fmt", "--quiet", str(output)], check=True, cwd=ROOT)
    print(f"kopf_goldens: wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")


if __name__ == "__main__":
    main()
