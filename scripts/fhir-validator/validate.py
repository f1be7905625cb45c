#!/usr/bin/env python3
"""Validates FHIR R4 resources with fhir.resources (an implementation independent of natlis).

    validate.py FILE...    validate each file (a Bundle or any resource); exit 1 if any is invalid
    validate.py --serve    read one JSON document per line on stdin, answer one line each:
                           "ok" or "invalid: <what fhir.resources said, on one line>"

Besides the structural model checks of fhir.resources (types, cardinalities, choice types,
required elements, primitive formats), it checks what fhir.resources leaves to a server:
the codes of the R4 elements with a *required* binding that natlis's resources carry (from the
R4 specification's value sets), the Observation invariant obs-6, that every entry of a batch or
transaction has a request whose url names the resource type it carries, and that a Bundle's
fullUrls are unique.
"""
import json
import sys

from fhir.resources import __fhir_version__, construct_fhir_element

if __fhir_version__ != "4.0.1":
    sys.exit(f"validate.py: fhir.resources speaks FHIR {__fhir_version__}, not R4 (4.0.1)")


# R4 (4.0.1) required bindings: resource type → element path → the codes allowed.
REQUIRED = {
    "Bundle": {"type": {"document", "message", "transaction", "transaction-response", "batch",
                        "batch-response", "history", "searchset", "collection"}},
    "Observation": {"status": {"registered", "preliminary", "final", "amended", "corrected",
                               "cancelled", "entered-in-error", "unknown"}},
    "DiagnosticReport": {"status": {"registered", "partial", "preliminary", "final", "amended",
                                    "corrected", "appended", "cancelled", "entered-in-error",
                                    "unknown"}},
    "Patient": {"gender": {"male", "female", "other", "unknown"}},
    "Specimen": {"status": {"available", "unavailable", "unsatisfactory", "entered-in-error"}},
}
METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}
TELECOM = {"phone", "fax", "email", "pager", "url", "sms", "other"}


def bindings(resource, where):
    """What breaks a required binding (or obs-6) in one resource, or None."""
    kind = resource.get("resourceType")
    for element, allowed in REQUIRED.get(kind, {}).items():
        if element in resource and resource[element] not in allowed:
            return f"{where}{kind}.{element}: {resource[element]!r} is not in the required value set"
    for i, t in enumerate(resource.get("telecom") or []):
        if "system" in t and t["system"] not in TELECOM:
            return f"{where}{kind}.telecom[{i}].system: {t['system']!r} is not in the required value set"
    if kind == "Observation":
        has_value = any(k.startswith("value") for k in resource)
        if has_value and "dataAbsentReason" in resource:
            return f"{where}Observation: obs-6: dataAbsentReason with a value"
        for i, c in enumerate(resource.get("component") or []):
            if any(k.startswith("value") for k in c) and "dataAbsentReason" in c:
                return f"{where}Observation.component[{i}]: obs-6: dataAbsentReason with a value"
    return None


def check(doc):
    """Returns None if doc is a valid R4 resource, else what is wrong."""
    kind = doc.get("resourceType") if isinstance(doc, dict) else None
    if not kind:
        return "not a FHIR resource: no resourceType"
    try:
        construct_fhir_element(kind, doc)
    except Exception as e:  # the model's ValidationError, or an unknown resource type
        return " ".join(str(e).split())
    problem = bindings(doc, "")
    if problem:
        return problem
    if kind == "Bundle":
        seen = set()
        for i, entry in enumerate(doc.get("entry") or []):
            problem = bindings(entry.get("resource") or {}, f"entry {i}: ")
            if problem:
                return problem
            method = (entry.get("request") or {}).get("method")
            if method is not None and method not in METHODS:
                return f"entry {i}: request.method {method!r} is not in the required value set"
            full = entry.get("fullUrl")
            if full in seen:
                return f"entry {i}: fullUrl {full} repeats"
            seen.add(full)
            if doc.get("type") in ("batch", "transaction"):
                req = entry.get("request") or {}
                rtype = (entry.get("resource") or {}).get("resourceType")
                url = req.get("url", "")
                if rtype and req.get("method") in ("POST", "PUT") and url.split("/")[0].split("?")[0] != rtype:
                    return f"entry {i}: request url {url!r} does not name {rtype}"
    return None


def main(argv):
    if argv[1:] == ["--serve"]:
        for line in sys.stdin:
            try:
                problem = check(json.loads(line))
            except ValueError as e:
                problem = f"not JSON: {e}"
            sys.stdout.write("ok\n" if problem is None else f"invalid: {problem}\n")
            sys.stdout.flush()
        return 0
    if len(argv) < 2:
        sys.exit(__doc__)
    bad = 0
    for path in argv[1:]:
        with open(path, "rb") as f:
            problem = check(json.load(f))
        print(f"{path}: {'ok' if problem is None else 'invalid: ' + problem}")
        bad += problem is not None
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
