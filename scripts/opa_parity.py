#!/usr/bin/env python3
"""OPA parity for the shipped policies.

Evaluates data.jurisgate.decision for every subject jurisdiction x data class
x requester kind x method x region-health combination, plus random (partly
malformed) inputs, under the Open Policy Agent itself (through the
`opa-golib-python-bindings` package, which embeds OPA's Go engine) and under
jurisgate's engine (`jurisgate policy eval --inputs FILE --raw`, one decision
per line). Exits 1 printing the first differences, else prints
`N inputs compared, 0 differences`.

    pip install --ignore-requires-python opa-golib-python-bindings
    cargo build -p jurisgate
    scripts/opa_parity.py [--policies policies/texas policies/clover]
                          [--engine-cmd "target/debug/jurisgate policy"]
"""

import argparse
import glob
import itertools
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile

try:
    from opa_bindings import OpaEngine, OpaUndefinedError, OpaError
except ImportError:
    sys.exit("opa_parity: install OPA's bindings first: "
             "pip install --ignore-requires-python opa-golib-python-bindings")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JURISDICTIONS = ["US", "EU", "JP", "GB", "unknown"]
CLASSES = ["protected", "excepted", "public", "telemetry"]
REQUESTERS = ["user@US", "user@FR", "service@US", "service@SG", "employee@US",
              "employee@DE", "employee@IE+approval", "employee@IE+expired",
              "employee@IE+unverified", "employee", "unknown"]
METHODS = ["GET", "PUT"]
REGIONS = ["us-east", "us-west", "eu-west", "eu-central", "ap-southeast"]
HEALTH = ["all-healthy", "first-down", "all-down", "none"]
NOW = "2026-11-27T18:00:00Z"


def subject(j):
    if j == "unknown":
        return {"jurisdiction": "unknown", "source": "none", "verified": False}
    return {"jurisdiction": j, "source": "jwt", "verified": True, "pseudonym": "hs256:p"}


def requester(spec):
    if spec == "unknown":
        return {"kind": "unknown", "source": "none", "verified": False}
    kind, _, rest = spec.partition("@")
    location, _, approval = rest.partition("+")
    r = {"kind": kind, "id": kind + "-1", "source": "mtls", "verified": True}
    if location:
        r["location"] = location
    if approval:
        r["approval"] = {"id": "APR-17", "scope": "support",
                         "expires": "2026-11-26T00:00:00Z" if approval == "expired" else "2026-11-28T00:00:00Z",
                         "verified": approval != "unverified"}
    return r


def destinations(health):
    if health == "none":
        return []
    pools = [{"pool": "p-" + r, "region": r, "healthy": True} for r in REGIONS[:3]]
    if health == "first-down":
        pools[0]["healthy"] = False
    if health == "all-down":
        for p in pools:
            p["healthy"] = False
    return pools


def make_input(j, cls, req, method, health, n):
    return {
        "request": {"id": "parity-%d" % n, "method": method, "host": "api.example.com",
                    "path": "/v1/things/1", "query": {}, "headers": {}},
        "subject": subject(j),
        "requester": requester(req),
        "resource": {"route": "things", "service": "things", "data_class": cls},
        "destinations": destinations(health),
        "time": NOW,
    }


def random_input(rng, n):
    inp = make_input(rng.choice(JURISDICTIONS + ["", "eu"]), rng.choice(CLASSES + [""]),
                     rng.choice(REQUESTERS), rng.choice(METHODS + ["HEAD", "DELETE", "get"]),
                     rng.choice(HEALTH), n)
    inp["destinations"] = [{"pool": "p%d" % i, "region": rng.choice(REGIONS), "healthy": rng.random() < 0.7}
                           for i in range(rng.randrange(0, 5))]
    # Hostile shapes: missing keys, wrong types, odd times.
    mutations = [
        lambda: inp["subject"].pop("verified", None),
        lambda: inp["requester"].update({"verified": "true"}),
        lambda: inp["requester"].update({"location": None}),
        lambda: inp.update({"time": rng.choice(["", "not a time", "2026-11-29T00:00:00Z", 42])}),
        lambda: inp["resource"].update({"data_class": rng.choice([None, 1, ["protected"]])}),
        lambda: inp.pop("destinations"),
        lambda: inp["subject"].update({"jurisdiction": rng.choice([None, 7, "US"])}),
        lambda: inp["requester"].update({"approval": {"id": "A", "expires": NOW, "verified": True}}),
        lambda: inp["requester"].update({"kind": rng.choice(["employee", "EMPLOYEE", None])}),
    ]
    for m in rng.sample(mutations, rng.randrange(0, 4)):
        m()
    return inp


def opa_engine(policy_dir):
    engine = OpaEngine()
    for path in sorted(glob.glob(os.path.join(policy_dir, "*.rego"))):
        if not path.endswith("_test.rego"):
            with open(path) as f:
                engine.add_policy(os.path.basename(path), f.read())
    data = os.path.join(policy_dir, "data.json")
    if os.path.exists(data):
        with open(data) as f:
            engine.add_data(json.load(f))
    return engine


def opa_decide(engine, inp):
    try:
        return engine.eval_document("jurisgate.decision", inp)
    except OpaUndefinedError:
        return {"undefined": True}
    except OpaError:
        return {"error": True}


def ours_decide(engine_cmd, policy_dir, inputs):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for inp in inputs:
            f.write(json.dumps(inp) + "\n")
        batch = f.name
    try:
        cmd = shlex.split(engine_cmd) + ["eval", "--policy", policy_dir, "--inputs", batch, "--raw"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    finally:
        os.unlink(batch)
    if out.returncode != 0:
        sys.exit("opa_parity: %s failed (exit %d):\n%s" % (" ".join(cmd), out.returncode, out.stderr))
    results = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    if len(results) != len(inputs):
        sys.exit("opa_parity: expected %d decisions, got %d" % (len(inputs), len(results)))
    # Errors compare by kind only: the messages of two engines differ.
    return [{"error": True} if "error" in r and len(r) == 1 else r for r in results]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policies", nargs="+",
                    default=[os.path.join(ROOT, "policies", s) for s in ("texas", "clover")])
    ap.add_argument("--engine-cmd", default=os.path.join(ROOT, "target", "debug", "jurisgate") + " policy")
    ap.add_argument("--random", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    inputs = [make_input(*combo, n) for n, combo in
              enumerate(itertools.product(JURISDICTIONS, CLASSES, REQUESTERS, METHODS, HEALTH))]
    inputs += [random_input(rng, len(inputs) + i) for i in range(args.random)]

    compared, differences = 0, []
    for policy_dir in args.policies:
        engine = opa_engine(policy_dir)
        theirs = [opa_decide(engine, inp) for inp in inputs]
        engine.close()
        ours = ours_decide(args.engine_cmd, policy_dir, inputs)
        before = len(differences)
        for inp, a, b in zip(inputs, theirs, ours):
            compared += 1
            if a != b:
                differences.append((policy_dir, inp, a, b))
        print("%s: %d inputs compared, %d differences"
              % (os.path.relpath(policy_dir, ROOT), len(inputs), len(differences) - before))

    for policy_dir, inp, a, b in differences[:10]:
        print("difference under %s\n  input: %s\n  opa:       %s\n  jurisgate: %s"
              % (policy_dir, json.dumps(inp), json.dumps(a, sort_keys=True), json.dumps(b, sort_keys=True)))
    print("%d inputs compared, %d differences" % (compared, len(differences)))
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
