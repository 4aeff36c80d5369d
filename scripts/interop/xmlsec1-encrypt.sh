#!/bin/sh
# xmlsec1-encrypt.sh encrypts the Assertion of a SAML Response with xmlsec1,
# the reference XML Encryption implementation, so s3fed's decryption can be
# tested against ciphertexts it did not make itself.
#
# usage: xmlsec1-encrypt.sh CERT.pem KEY_TRANSPORT DATA_ALGORITHM IN.xml > out.xml
#   CERT.pem        the SP encryption certificate (its RSA key wraps the content key)
#   KEY_TRANSPORT   rsa-oaep-mgf1p | rsa-1_5
#   DATA_ALGORITHM  aes128-gcm | aes256-gcm | aes128-cbc | aes192-cbc | aes256-cbc | tripledes-cbc
#   IN.xml          a Response whose saml:Assertion sits inside an (otherwise empty)
#                   saml:EncryptedAssertion; the Assertion must declare every
#                   namespace it uses (xmlsec1 serialises the element alone)
# The Assertion is replaced by an EncryptedData built from
# encryption-template.xml: a fresh content key wrapped to CERT in an
# EncryptedKey inside the EncryptedData's KeyInfo, with CERT in the
# EncryptedKey's KeyInfo. (xmlsec1 1.2 has no xmlenc11 rsa-oaep; the
# python3-encrypt.py helper covers it.)
set -eu

if [ $# -ne 4 ]; then
	echo "usage: $0 CERT.pem rsa-oaep-mgf1p|rsa-1_5 DATA_ALGORITHM IN.xml" >&2
	exit 2
fi
cert=$1 kt=$2 data=$3 in=$4
here=$(dirname "$0")

case $kt in
rsa-oaep-mgf1p)
	kt_uri="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	kt_params='<ds:DigestMethod xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/>'
	;;
rsa-1_5)
	kt_uri="http://www.w3.org/2001/04/xmlenc#rsa-1_5"
	kt_params=""
	;;
*)
	echo "$0: unknown key transport $kt" >&2
	exit 2
	;;
esac
case $data in
aes128-gcm | aes256-gcm) data_uri="http://www.w3.org/2009/xmlenc11#$data" ;;
aes128-cbc | aes192-cbc | aes256-cbc | tripledes-cbc) data_uri="http://www.w3.org/2001/04/xmlenc#$data" ;;
*)
	echo "$0: unknown data algorithm $data" >&2
	exit 2
	;;
esac
case $data in
aes128-*) session=aes-128 ;;
aes192-*) session=aes-192 ;;
aes256-*) session=aes-256 ;;
tripledes-*) session=des-192 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e "s|{{DATA_ALGORITHM}}|$data_uri|" -e "s|{{KEY_TRANSPORT}}|$kt_uri|" -e "s|{{KEY_TRANSPORT_PARAMS}}|$kt_params|" \
	"$here/encryption-template.xml" >"$tmp/template.xml"

xmlsec1 --encrypt --pubkey-cert-pem "$cert" --session-key "$session" \
	--xml-data "$in" --node-xpath "/*/*[local-name()='EncryptedAssertion']/*[local-name()='Assertion']" \
	--output "$tmp/out.xml" "$tmp/template.xml"
cat "$tmp/out.xml"
