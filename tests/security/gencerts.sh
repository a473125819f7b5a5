#!/usr/bin/env bash
# Generates the certificates the security scenarios use, in $1 (PEM; plus PKCS12 trust/key stores
# for Apache ZooKeeper and zkCli): a CA, a server certificate for 127.0.0.1/localhost, a second
# server certificate (rotation), two client certificates (x509 ACL), one from an untrusted CA
# and an expired one.
set -euo pipefail
D=$1
mkdir -p "$D"
cd "$D"
o() { openssl "$@" >/dev/null 2>&1; }
ca() { # name subject
  o req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days 30 -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
leaf() { # name subject ca ext days
  o req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2"
  printf '%s\n' "$4" >"$1.ext"
  o x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial -days "${5:-30}" -extfile "$1.ext" -out "$1.crt"
  cat "$1.crt" "$1.key" >"$1.pem" # ZooKeeper's PEM key store: certificate and key in one file
}
SAN="subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth
basicConstraints=CA:FALSE"
CLI="extendedKeyUsage=clientAuth
basicConstraints=CA:FALSE"
ca ca "/CN=rzk-test-ca"
ca evilca "/CN=untrusted-ca"
leaf server "/CN=server1/O=rzk-test" ca "$SAN"
leaf server2 "/CN=server2/O=rzk-test" ca "$SAN"
leaf client "/C=US/O=rzk\, Inc./OU=dev/CN=client1" ca "$CLI"
leaf client2 "/O=rzk-test/CN=client2" ca "$CLI"
leaf evil "/CN=client1/O=rzk-test" evilca "$CLI"
# Expired: valid for the day before yesterday only.
o req -newkey rsa:2048 -nodes -keyout expired.key -out expired.csr -subj "/CN=expired/O=rzk-test"
printf '%s\n' "$CLI" >expired.ext
o x509 -req -in expired.csr -CA ca.crt -CAkey ca.key -CAcreateserial -not_before "$(date -u -d '-3 days' +%Y%m%d%H%M%SZ)" \
  -not_after "$(date -u -d '-2 days' +%Y%m%d%H%M%SZ)" -extfile expired.ext -out expired.crt 2>/dev/null ||
  o x509 -req -in expired.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days -1 -extfile expired.ext -out expired.crt
cat expired.crt expired.key >expired.pem
# Subject DNs in RFC 2253 (what Java's X500Principal.getName() prints for these simple names).
for c in client client2; do
  openssl x509 -in $c.crt -noout -subject -nameopt RFC2253 | sed 's/^subject=//' >$c.dn
done
# PKCS12 for the Java client (zkCli).
for c in client; do
  o pkcs12 -export -in $c.crt -inkey $c.key -out $c.p12 -passout pass:secret
done
keytool -importcert -noprompt -alias ca -file ca.crt -keystore ca.p12 -storetype PKCS12 -storepass secret >/dev/null 2>&1 || true
# The server key and the CA as Java key/trust stores (JKS and PKCS12), as Java deployments and
# kazoo's own test harness configure them.
o pkcs12 -export -in server.crt -inkey server.key -certfile ca.crt -name server -out server.p12 -passout pass:secret
keytool -importkeystore -noprompt -srckeystore server.p12 -srcstoretype PKCS12 -srcstorepass secret \
  -destkeystore server.jks -deststoretype JKS -deststorepass secret >/dev/null 2>&1
keytool -importcert -noprompt -alias ca -file ca.crt -keystore ca.jks -storetype JKS -storepass secret >/dev/null 2>&1
