#!/bin/sh
# install-test-deps.sh installs every Debian package the s3fed test suite
# drives as an independent peer (xmlsec1 and python3-saml for SAML interop,
# python3-jwt for OIDC interop, awscli / python3-boto3 / s3cmd / rclone / curl
# for S3 and STS clients, openssl for certificates). It is idempotent: packages
# already installed are left alone and `apt-get update` runs only when
# something is actually missing, so CI can call it on every run at almost no
# cost.
set -eu

PACKAGES="xmlsec1 python3-onelogin-saml2 python3-lxml python3-jwt python3-cryptography python3-boto3 awscli s3cmd rclone curl openssl postgresql-client"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "install-test-deps: all packages present"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi

echo "install-test-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
$SUDO apt-get install -y -q --no-install-recommends $missing
