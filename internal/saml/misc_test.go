package saml

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"go/parser"
	"go/token"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// The validator must never reach the network or the file system on behalf of a message
// (external entities, KeyInfo RetrievalMethod, x5u, ...): the package imports nothing that could.
func TestNoNetworkOrFileImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if p == "os" || p == "os/exec" || p == "net" || strings.HasPrefix(p, "net/") || strings.Contains(p, "sql") {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}

// maxSizeResponse is a valid signed Response just under MaxDecodedSize (many attribute values, as
// a large group list would be).
func maxSizeResponse(t testing.TB) []byte {
	var attrs []attrKV
	attrs = append(attrs, attrKV{tRole, []string{"reader-role"}})
	var last []byte
	for n := 0; ; n++ {
		vals := make([]string, 10)
		for i := range vals {
			vals[i] = fmt.Sprintf("group-%06d-%s", n*10+i, strings.Repeat("x", 400))
		}
		attrs = append(attrs, attrKV{fmt.Sprintf("urn:groups:%d", n), vals})
		x := xmlOf(t, resp{attrs: attrs}, signBoth)
		if len(x) > MaxDecodedSize {
			return last
		}
		last = x
	}
}

func TestMaximumSizeResponse(t *testing.T) {
	keys(t)
	x := maxSizeResponse(t)
	if len(x) > MaxDecodedSize {
		t.Fatalf("fixture is %d bytes", len(x))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	a, err := Validate(context.Background(), b64(x), testConfig(t))
	runtime.ReadMemStats(&after)
	if err != nil || a == nil {
		t.Fatalf("max-size response refused: %v", err)
	}
	// Budget for one maximum-size exchange: the document, a handful of tree copies inside
	// goxmldsig and the canonical forms. Measured about 6 MB; 32 MB leaves room for Go versions.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Fatalf("validating a %d-byte response allocated %d bytes", len(x), alloc)
	} else {
		t.Logf("%d-byte response: %d bytes allocated, %d attributes", len(x), alloc, len(a.Attributes))
	}
	if _, err := os.Stat("testdata"); err != nil {
		t.Fatal(err)
	}
}

func countElements(el *etree.Element) int {
	n := 1
	for _, c := range el.ChildElements() {
		n += countElements(c)
	}
	return n
}

// responseWithElements is a both-signed Response with exactly n elements (n >= ~60).
func responseWithElements(t *testing.T, n int) []byte {
	t.Helper()
	base := countElements(parseDoc(t, xmlOf(t, resp{}, signBoth)).Root())
	vals := make([]string, n-base)
	for i := range vals {
		vals[i] = "g" + strconv.Itoa(i)
	}
	r := resp{attrs: []attrKV{{tRole, []string{"reader-role"}}, {tPrincip, append([]string{"alice@example.com"}, vals...)}}}
	x := xmlOf(t, r, signBoth)
	if got := countElements(parseDoc(t, x).Root()); got != n {
		t.Fatalf("built %d elements, want %d", got, n)
	}
	return x
}

func TestElementLimitBoundary(t *testing.T) {
	keys(t)
	if _, err := ValidateXML(context.Background(), responseWithElements(t, MaxElements), testConfig(t)); err != nil {
		t.Fatalf("a signed response with exactly MaxElements elements is refused: %v", err)
	}
	a, err := ValidateXML(context.Background(), responseWithElements(t, MaxElements+1), testConfig(t))
	expectCode(t, a, err, CodeInvalidResponse)
	if !strings.Contains(err.Error(), "elements") {
		t.Fatalf("refused for the wrong reason: %v", err)
	}
}

func TestSPURLs(t *testing.T) {
	for _, pub := range []string{"http://127.0.0.1:9001", "http://127.0.0.1:9001/"} {
		if got := ACSURL(pub); got != tACS {
			t.Errorf("ACSURL(%q) = %q", pub, got)
		}
		if got := AudienceURL(pub, "abc123"); got != tAudience {
			t.Errorf("AudienceURL(%q) = %q", pub, got)
		}
	}
}

func TestPanicBecomesRefusal(t *testing.T) {
	keys(t)
	cfg := testConfig(t)
	cfg.Now = func() time.Time { panic("boom") }
	before := recoveredPanics.Load()
	a, err := ValidateXML(context.Background(), xmlOf(t, resp{}, signBoth), cfg)
	expectCode(t, a, err, CodeInvalidResponse)
	if recoveredPanics.Load() != before+1 {
		t.Fatal("panic not counted")
	}
	recoveredPanics.Add(-1) // this one was deliberate
}

// Validate is called concurrently by the HTTP layer with one Config per federation config.
func TestConcurrentValidation(t *testing.T) {
	keys(t)
	cfg := testConfig(t)
	xs := make([][]byte, 8)
	for i := range xs {
		xs[i] = xmlOf(t, resp{}, []how{signBoth, signAsrtOnly, signRespOnly}[i%3])
	}
	errs := make(chan error, len(xs)*2)
	for _, x := range xs {
		for range 2 { // the second use of each response must be a replay
			go func() {
				_, err := ValidateXML(context.Background(), x, cfg)
				errs <- err
			}()
		}
	}
	ok, replayed := 0, 0
	for range len(xs) * 2 {
		err := <-errs
		switch e, isE := err.(*Error); {
		case err == nil:
			ok++
		case isE && e.Code == CodeReplayed:
			replayed++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != len(xs) || replayed != len(xs) {
		t.Fatalf("ok=%d replayed=%d", ok, replayed)
	}
}

func TestRoundTripCacheBounds(t *testing.T) {
	el := etree.NewElement("x:Bound")
	el.CreateAttr("xmlns:x", "urn:"+strings.Repeat("long", roundTripKeyMax))
	var r roundTripper
	if err := r.check(el); err != nil {
		t.Fatal(err)
	}
	if _, cached := roundTripCache.Load(r.key.String()); cached {
		t.Fatal("a key longer than roundTripKeyMax was cached")
	}
	saved := roundTripCacheSize.Load()
	roundTripCacheSize.Store(roundTripCacheMax)
	defer roundTripCacheSize.Store(saved)
	el2 := etree.NewElement("FullCacheShape")
	if err := r.check(el2); err != nil {
		t.Fatal(err)
	}
	if _, cached := roundTripCache.Load(r.key.String()); cached {
		t.Fatal("a shape was cached beyond roundTripCacheMax")
	}
}

func TestKeyLimits(t *testing.T) {
	keys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1024), NotBefore: tNow.Add(-time.Hour), NotAfter: tNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, small.Public(), small)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	weak := &testKey{key: small, cert: cert}
	t.Run("1024-bit RSA cert in the config is skipped", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.Certificates = []*x509.Certificate{cert}
		a, err := ValidateXML(context.Background(), xmlOf(t, resp{}, how{resp: &signOpts{key: weak}}), cfg)
		expectCode(t, a, err, CodeUntrustedKey)
	})
	t.Run("KeyInfo beyond the certificates looked at still verifies by trying every trusted cert", func(t *testing.T) {
		h := how{asrt: &signOpts{keyInfo: func(ki *etree.Element) {
			xd := ki.CreateElement("ds:X509Data")
			for range maxKeyInfoCer {
				xd.CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(keyEvil.cert.Raw))
			}
			xd.CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(keyIdP.cert.Raw))
		}}}
		mustValidate(t, xmlOf(t, resp{}, h), testConfig(t))
	})
}
