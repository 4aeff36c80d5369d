#!/usr/bin/python3
"""Sign or verify a JWT with python3-jwt (PyJWT), an independent JOSE
implementation, for s3fed's OIDC interop tests.

  python3-jwt.py sign   --key K.pem --alg RS256 [--kid KID] < claims.json > token
  python3-jwt.py verify --jwks JWKS.json --alg RS256 --aud AUD --iss ISS < token

sign: signs the JSON claims object read from stdin with the PEM private key
(PKCS#8), putting kid in the header when given, and prints the compact token.

verify: verifies the token read from stdin with the JWK of the set whose kid
matches the token's (or the only key), requiring exp, iat, iss, aud and sub,
and prints the claims as JSON. Exit status 0 only when it verifies.

Run it with Debian's /usr/bin/python3 (python3-jwt, python3-cryptography).
"""
import argparse
import json
import sys

import jwt


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["sign", "verify"])
    p.add_argument("--key")
    p.add_argument("--jwks")
    p.add_argument("--alg", required=True)
    p.add_argument("--kid")
    p.add_argument("--aud")
    p.add_argument("--iss")
    a = p.parse_args()
    data = sys.stdin.read()
    if a.cmd == "sign":
        with open(a.key, "rb") as f:
            key = f.read()
        headers = {"kid": a.kid} if a.kid else None
        sys.stdout.write(jwt.encode(json.loads(data), key, algorithm=a.alg, headers=headers))
        return 0
    token = data.strip()
    with open(a.jwks) as f:
        jwks = jwt.PyJWKSet.from_json(f.read())
    kid = jwt.get_unverified_header(token).get("kid")
    keys = [k for k in jwks.keys if kid is None or k.key_id == kid]
    if len(keys) != 1:
        print("no single key for kid %r" % kid, file=sys.stderr)
        return 1
    claims = jwt.decode(token, keys[0].key, algorithms=[a.alg], audience=a.aud, issuer=a.iss,
                        options={"require": ["exp", "iat", "iss", "aud", "sub"]})
    json.dump(claims, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
