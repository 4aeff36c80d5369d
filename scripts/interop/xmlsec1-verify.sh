#!/bin/sh
# xmlsec1-verify.sh checks the ds:Signature(s) of a signed SAML Response with
# xmlsec1, trusting ONLY the given certificate: --enabled-key-data key-name
# stops xmlsec1 from taking keys out of KeyInfo, which would make any
# self-signed forgery verify. s3fed's tests use it to show that an
# independent verifier accepts what `s3fed idp sign` produces.
#
# usage: xmlsec1-verify.sh CERT.pem SIGNED.xml [response|assertion|both]
#   the third argument names the signatures that must be present and verify
#   (default both). Exit status 0 only if all of them verify.
set -eu

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 CERT.pem SIGNED.xml [response|assertion|both]" >&2
	exit 2
fi
cert=$1 in=$2 mode=${3:-both}

resp_sig="/*/*[local-name()='Signature']"
assertion_sig="/*/*[local-name()='Assertion']/*[local-name()='Signature']"

verify() { # verify XPATH NAME
	if ! out=$(xmlsec1 --verify --enabled-key-data key-name --pubkey-cert-pem "$cert" \
		--id-attr:ID urn:oasis:names:tc:SAML:2.0:protocol:Response \
		--id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion \
		--node-xpath "$1" "$in" 2>&1); then
		printf '%s\n' "$out" >&2
		echo "xmlsec1-verify: $2 signature does NOT verify" >&2
		exit 1
	fi
	echo "xmlsec1-verify: $2 signature OK"
}

case $mode in
response) verify "$resp_sig" Response ;;
assertion) verify "$assertion_sig" Assertion ;;
both)
	verify "$assertion_sig" Assertion
	verify "$resp_sig" Response
	;;
*)
	echo "$0: unknown mode $mode (want response, assertion or both)" >&2
	exit 2
	;;
esac
