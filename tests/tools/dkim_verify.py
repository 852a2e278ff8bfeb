#!/usr/bin/python3
"""Verifies a received message's DKIM signature with dkimpy, an implementation independent of ours.

Usage: dkim_verify.py DOMAIN SELECTOR KEYTYPE PUBLIC_KEY_B64 < message
The DNS lookup is answered by a stub that serves only SELECTOR._domainkey.DOMAIN, so the test
needs no network. Prints "pass" and exits 0, or prints why and exits 1.
"""
import logging
import sys

import dkim

domain, selector, key_type, public_key = sys.argv[1:5]
record = f"v=DKIM1; k={key_type}; p={public_key}".encode()
wanted = f"{selector}._domainkey.{domain}."


def stub_dns(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    return record if name.rstrip(".") + "." == wanted else None


message = sys.stdin.buffer.read()
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
ok = dkim.verify(message, logger=logging.getLogger("dkim"), dnsfunc=stub_dns)
print("pass" if ok else "fail")
sys.exit(0 if ok else 1)
