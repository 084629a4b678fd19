"""
The inputs of kopf_goldens.py: bodies, progress records, storage options and scenarios. Plain
data, plus the records built by Kopf's own progression code (fixed times, no clock).
"""
import datetime
from typing import Any

from kopf._core.actions import progression

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
T1 = datetime.datetime(2026, 3, 1, 12, 0, 5, 0, tzinfo=UTC)
T2 = datetime.datetime(2026, 3, 1, 12, 1, 0, 999999, tzinfo=UTC)
FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"

PREFIXES = [
    "kopf.zalando.org",
    "my-operator.example.com",
    "lengthy-operator-name-to-hit-63-chars.example.com",  # 49 characters
    "a-prefix-of-exactly-fifty-five-characters.example.com.x",  # 55: no room for a name at all
    "a-very-long-prefix-that-makes-kopf-slice-from-the-end.example",  # 61: negative arithmetic
]
HANDLER_IDS = [
    "create_fn",
    "create_fn/sub1",
    "fn.with.dots",
    "module.<lambda>",
    "touch-dummy",
    "last-handled-configuration",
    "a" * 55,
    "a" * 63,
    "a" * 64,
    "handler/" + "b" * 70,
    "x/" * 40,
    "ünïcødé-handler",
]


def record(**fields: Any) -> dict[str, Any]:
    """A record as Kopf's progression builds it: all fields, None where unset."""
    state = progression.HandlerState(active=True, basetime=T0, started=T0, **fields)
    return dict(state.for_storage())


RECORDS = {
    "running": record(purpose="create"),
    "delayed": record(
        purpose="update", delayed=T2, retries=1,
        message="Not ready: 'pod' \"x\" ünïcødé ✓ 🚀\nsecond line\ttab",
    ),
    "succeeded": record(purpose="create", stopped=T1, retries=3, success=True,
                        subrefs=["create_fn/sub2", "create_fn/sub1"]),
    "failed": record(purpose="delete", stopped=T1, retries=5, failure=True, message="Boom"),
    "legacy": {"started": "2020-02-14T16:58:25.396364", "retries": 0},
}


def metadata(**extra: Any) -> dict[str, Any]:
    return {"name": "example", "namespace": "default", "uid": "uid-1", "resourceVersion": "100",
            "generation": 1, "creationTimestamp": "2026-03-01T11:59:00Z", **extra}


BODIES: dict[str, dict[str, Any]] = {
    "plain": {
        "apiVersion": "kopf.dev/v1", "kind": "KopfExample",
        "metadata": metadata(),
        "spec": {"field": "value", "items": ["a", "b"], "nested": {"x": 1, "y": None}},
    },
    "empty-stanzas": {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": metadata(labels={}, annotations={}),
        "data": {}, "spec": {}, "status": {},
    },
    "crowded": {
        "apiVersion": "kopf.dev/v1", "kind": "KopfExample",
        "metadata": metadata(
            labels={"app": "demo", "tier": "backend"},
            annotations={
                "example.com/note": "keep me",
                "kubectl.kubernetes.io/last-applied-configuration": '{"spec":{"field":"old"}}\n',
                "kopf.zalando.org/last-handled-configuration": '{"spec":{"field":"old"}}\n',
                "kopf.zalando.org/create_fn": '{"started":"2026-03-01T12:00:00.123456+00:00"}',
                "kopf.zalando.org/touch-dummy": "2026-03-01T12:00:05.000000+00:00",
                "other-op.example.com/kopf-managed": "yes",
                "other-op.example.com/create_fn": '{"retries":1}',
                "sub.kopf.zalando.org/something": "from a subdomain",
                "kopf.example.com/create_fn": "not detected: kopf.* prefixes are not marked",
                "my-operator.example.com/create_fn": '{"retries":2}',
                "my-operator.example.com/last-handled-configuration": '{"spec":{}}\n',
            },
            finalizers=["example.com/other", FINALIZER],
            managedFields=[{"manager": "kubectl", "operation": "Update"}],
        ),
        "spec": {"field": "value", "ünïcødé": "✓ 🚀", "ratio": 0.5, "tiny": 1e-05, "count": 3},
        "data": {"key": "value"},
        "status": {
            "phase": "Running",
            "observed": {"generation": 1},
            "kopf": {
                "progress": {"create_fn": {"started": "2026-03-01T12:00:00.123456+00:00",
                                           "retries": 1}},
                "dummy": "2026-03-01T12:00:05.000000+00:00",
                "last-handled-configuration": '{"spec":{"field":"old"}}',
            },
            "create_fn": {"message": "done"},
        },
    },
    "marked-own-prefix": {
        "apiVersion": "kopf.dev/v1", "kind": "KopfExample",
        "metadata": metadata(annotations={
            "my-operator.example.com/kopf-managed": "yes",
            "my-operator.example.com/create_fn": '{"retries":2}',
            "example.com/note": "keep me",
        }),
        "spec": {"field": "value"},
    },
    "replicaset-of-deployment": {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": metadata(
            ownerReferences=[{"apiVersion": "apps/v1", "kind": "Deployment", "name": "d",
                              "uid": "uid-d", "controller": True}],
            annotations={"kopf.zalando.org/create_fn-ofDRS": '{"retries":4}',
                         "kopf.zalando.org/create_fn": '{"retries":9}'},
        ),
        "spec": {"replicas": 1},
    },
    "no-metadata": {"spec": {"field": "value"}},
    "deleting": {
        "apiVersion": "kopf.dev/v1", "kind": "KopfExample",
        "metadata": metadata(deletionTimestamp="2026-03-01T12:05:00Z", finalizers=[FINALIZER]),
        "spec": {},
    },
}

PROGRESS_STORAGES: dict[str, dict[str, Any]] = {
    "annotations": {"kind": "annotations"},
    "annotations-verbose": {"kind": "annotations", "verbose": True},
    "annotations-prefixed": {"kind": "annotations", "prefix": "my-operator.example.com"},
    "annotations-long-prefix": {"kind": "annotations", "prefix": PREFIXES[2], "v1": True},
    "annotations-no-v1": {"kind": "annotations", "prefix": PREFIXES[2], "v1": False},
    "annotations-touch-key": {"kind": "annotations", "touchKey": "wake-up"},
    "status": {"kind": "status"},
    "status-named": {"kind": "status", "name": "my-op"},
    "status-custom": {"kind": "status", "field": ["status", "my.progress"],
                      "touchField": "status.touch"},
    "smart": {"kind": "smart"},
    "smart-prefixed": {"kind": "smart", "prefix": "my-operator.example.com", "name": "my-op"},
    "multi": {"kind": "multi", "storages": [{"kind": "annotations"}, {"kind": "status"}]},
}

DIFFBASE_STORAGES: dict[str, dict[str, Any]] = {
    "annotations": {"kind": "annotations"},
    "annotations-prefixed": {"kind": "annotations", "prefix": "my-operator.example.com"},
    "annotations-custom-key": {"kind": "annotations", "key": "last-seen", "v1": False},
    "annotations-ignoring": {"kind": "annotations",
                             "ignoredFields": ["spec.nested.x", "data.key", "spec.absent.deep"]},
    "status": {"kind": "status"},
    "status-named": {"kind": "status", "name": "my-op"},
    "multi": {"kind": "multi", "storages": [{"kind": "annotations"}, {"kind": "status"}]},
}

EXTRA_FIELDS = [
    [],
    ["status.observed"],
    ["status.kopf.progress", "spec.absent"],
    [["metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"]],
]


PROGRESS_SCENARIOS: list[tuple[str, list[dict[str, Any]]]] = [
    ("store running", [{"op": "store", "key": "create_fn", "record": "running"}]),
    ("store delayed with unicode", [{"op": "store", "key": "create_fn", "record": "delayed"}]),
    ("store succeeded sub-handler",
     [{"op": "store", "key": "create_fn/sub1", "record": "succeeded"}]),
    ("store failed long id", [{"op": "store", "key": "handler/" + "b" * 70, "record": "failed"}]),
    ("store legacy", [{"op": "store", "key": "fn.with.dots", "record": "legacy"}]),
    ("store then purge", [{"op": "store", "key": "create_fn", "record": "running"},
                          {"op": "purge", "key": "create_fn"}]),
    ("purge stored", [{"op": "purge", "key": "create_fn"}]),
    ("purge absent", [{"op": "purge", "key": "update_fn"}]),
    ("touch", [{"op": "touch", "value": "2026-03-01T12:00:05.000000+00:00"}]),
    ("untouch", [{"op": "touch", "value": None}]),
    ("two handlers", [{"op": "store", "key": "create_fn", "record": "succeeded"},
                      {"op": "store", "key": "update_fn", "record": "delayed"},
                      {"op": "purge", "key": "create_fn"}]),
]


JSON_PATCH_SCENARIOS: list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]] = [
    ("nothing", "plain", {}, []),
    ("merge only", "plain", {"spec": {"field": "new", "nested": {"x": None}}}, []),
    ("merge removes the last key", "plain", {"spec": {"nested": {"x": None}}}, []),
    ("merge of null into an absent key under an empty object", "empty-stanzas",
     {"data": {"x": None}}, []),
    ("merge that changes nothing", "plain", {"spec": {"field": "value"}}, []),
    ("labels and status", "crowded",
     {"metadata": {"labels": {"app": None, "new": "1"}}, "status": {"phase": "Done"}}, []),
    ("fn sets and deletes", "crowded", {},
     [{"fn": "set", "path": ["spec", "field"], "value": "new"},
      {"fn": "delete", "path": ["data", "key"]},
      {"fn": "set", "path": ["spec", "added"], "value": {"deep": [1, 2]}}]),
    ("list insert in front", "plain", {},
     [{"fn": "insert", "path": ["spec", "items"], "index": 0, "value": "z"}]),
    ("list insert in the middle", "plain", {},
     [{"fn": "insert", "path": ["spec", "items"], "index": 1, "value": "z"}]),
    ("list replaced", "plain", {},
     [{"fn": "set", "path": ["spec", "items"], "value": ["c", "b", "d", "e"]}]),
    ("objects in lists", "crowded", {},
     [{"fn": "set", "path": ["metadata", "managedFields"],
       "value": [{"manager": "kopf", "operation": "Update"}, {"manager": "x"}]}]),
    ("status by fn", "crowded", {},
     [{"fn": "set", "path": ["status", "phase"], "value": "Done"},
      {"fn": "delete", "path": ["status", "create_fn"]},
      {"fn": "appendFinalizer", "finalizer": "example.com/new"}]),
    ("escaped pointers", "crowded", {},
     [{"fn": "set", "path": ["metadata", "annotations", "a~b/c"], "value": "x"}]),
    ("finalizer with a merge", "plain", {"metadata": {"labels": {"a": "b"}}},
     [{"fn": "appendFinalizer", "finalizer": FINALIZER}]),
    ("value moved to another key", "crowded", {},
     [{"fn": "delete", "path": ["data", "key"]},
      {"fn": "set", "path": ["data", "renamed"], "value": "value"}]),
    ("list reordered", "plain", {}, [{"fn": "set", "path": ["spec", "items"], "value": ["b", "a"]}]),
]
