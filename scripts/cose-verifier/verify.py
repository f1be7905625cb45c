"""An independent check of natlis certificates: pycose (COSE Sign1, ES256) and the base45
package from PyPI — no natlis code. Reads the QR text of a certificate and the published key
list (/public/keys as JSON), verifies the signature, then forges the same certificate with a
changed name and checks that the signature refuses it. Prints one JSON object:
{"genuine": bool, "kid": ..., "claims": {...}, "tampered_refused": bool, "tampered": "NC1:..."}
Usage: python verify.py PAYLOAD_FILE KEYS_FILE
"""
import base64
import json
import sys
import zlib

import base45
import cbor2
from pycose.headers import KID
from pycose.keys import EC2Key
from pycose.keys.curves import P256
from pycose.messages import Sign1Message


def b64url(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def key_for(kid, keys):
    for k in keys["keys"]:
        if b64url(k["kid"]) == kid and k.get("revoked_at") is None:
            return EC2Key(crv=P256, x=b64url(k["x"]), y=b64url(k["y"]))
    raise SystemExit(json.dumps({"error": "no published key for kid " + kid.hex()}))


def main():
    text = open(sys.argv[1], encoding="utf-8").read().strip()
    keys = json.load(open(sys.argv[2], encoding="utf-8"))
    if not text.startswith("NC1:"):
        raise SystemExit(json.dumps({"error": "not an NC1 payload"}))
    cose = zlib.decompress(base45.b45decode(text[4:]))
    msg = Sign1Message.decode(cose)
    kid = msg.phdr[KID]
    msg.key = key_for(kid, keys)
    genuine = msg.verify_signature()
    claims = cbor2.loads(msg.payload)
    content = claims[-65537]
    shown = {"iss": claims[1], "exp": claims[4], "iat": claims[6], "cti": claims[7].hex(), **content}

    # The same message with another name, its signature kept: must not verify.
    forged_claims = dict(claims)
    forged_claims[-65537] = dict(content, n="李*")
    forged = Sign1Message.decode(cose)
    forged.payload = cbor2.dumps(forged_claims)
    forged.key = key_for(kid, keys)
    refused = not forged.verify_signature()
    # Re-encoded as a QR text with the original signature (for the service to refuse too).
    raw = cbor2.loads(cose)
    raw.value[2] = forged.payload
    tampered = "NC1:" + base45.b45encode(zlib.compress(cbor2.dumps(raw))).decode()
    print(json.dumps({"genuine": genuine, "kid": kid.hex(), "claims": shown,
                      "tampered_refused": refused, "tampered": tampered}, ensure_ascii=False))


main()
