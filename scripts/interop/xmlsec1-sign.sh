#!/bin/sh
# xmlsec1-sign.sh signs a SAML Response template with xmlsec1, the reference
# XML-DSig implementation, so s3fed's validator can be tested against
# signatures it did not make itself.
#
# usage: xmlsec1-sign.sh MODE KEY.pem CERT.pem TEMPLATE.xml > signed.xml
#   MODE      response | assertion | both
#   TEMPLATE  a Response whose signed elements carry an empty ds:Signature
#             template right after their Issuer (see signature-template.xml);
#             with MODE both the Assertion is signed first, so the Response
#             signature covers the signed Assertion.
set -eu

if [ $# -ne 4 ]; then
	echo "usage: $0 response|assertion|both KEY.pem CERT.pem TEMPLATE.xml" >&2
	exit 2
fi
mode=$1 key=$2 cert=$3 in=$4

resp_sig="/*/*[local-name()='Signature']"
assertion_sig="/*/*[local-name()='Assertion']/*[local-name()='Signature']"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sign() { # sign XPATH IN OUT
	xmlsec1 --sign --privkey-pem "$key,$cert" \
		--id-attr:ID urn:oasis:names:tc:SAML:2.0:protocol:Response \
		--id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion \
		--node-xpath "$1" --output "$3" "$2"
}

case $mode in
response) sign "$resp_sig" "$in" "$tmp/out.xml" ;;
assertion) sign "$assertion_sig" "$in" "$tmp/out.xml" ;;
both)
	sign "$assertion_sig" "$in" "$tmp/a.xml"
	sign "$resp_sig" "$tmp/a.xml" "$tmp/out.xml"
	;;
*)
	echo "$0: unknown mode $mode (want response, assertion or both)" >&2
	exit 2
	;;
esac
cat "$tmp/out.xml"
