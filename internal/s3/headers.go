package s3

import (
	"net/http"
	"strings"
)

// setAmzHeader sets an x-amz-* response header under the lowercase name AWS
// sends (x-amz-request-id, x-amz-meta-color). Header.Set would canonicalise
// it to X-Amz-Meta-Color, and clients that keep names as received show
// that: boto3 keys user metadata by the received name, so Metadata["color"]
// fails. The map key is assigned directly so the name goes on the HTTP/1.1
// wire as given (HTTP/2 lowercases every name anyway); a canonical spelling
// set earlier is dropped so the header is never sent twice.
//
// Every x-amz-* response header goes through here.
func setAmzHeader(h http.Header, name, value string) {
	name = strings.ToLower(name)
	delete(h, http.CanonicalHeaderKey(name))
	h[name] = []string{value}
}
