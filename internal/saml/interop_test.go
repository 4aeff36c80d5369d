package saml

import (
	"context"
	"crypto/rsa"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

type rsaKeyStore struct{ k *testKey }

func (s rsaKeyStore) GetKeyPair() (*rsa.PrivateKey, []byte, error) {
	return s.k.key.(*rsa.PrivateKey), s.k.cert.Raw, nil
}

// goxmldsigSign signs el with goxmldsig's own SigningContext and places the Signature where the
// SAML schema wants it (right after Issuer), as a real IdP does.
func goxmldsigSign(t *testing.T, el *etree.Element, ctx *dsig.SigningContext) {
	t.Helper()
	pctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		t.Fatal(err)
	}
	det, err := etreeutils.NSDetatch(pctx, el)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := ctx.ConstructSignature(det, true)
	if err != nil {
		t.Fatal(err)
	}
	el.InsertChildAt(child(el, "Issuer").Index()+1, sig)
}

// Signatures made by goxmldsig's NewDefaultSigningContext (switched to exclusive c14n) verify;
// its default inclusive c14n 1.1 and its SignEnveloped placement (Signature appended as the last
// child, against the schema order) are refused with clear codes.
func TestGoxmldsigSigningContext(t *testing.T) {
	keys(t)
	newCtx := func(exc bool) *dsig.SigningContext {
		c := dsig.NewDefaultSigningContext(rsaKeyStore{keyIdP})
		if exc {
			c.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
		}
		return c
	}
	t.Run("exc-c14n, both signed", func(t *testing.T) {
		doc, r, a := (&resp{}).build()
		goxmldsigSign(t, a, newCtx(true))
		goxmldsigSign(t, r, newCtx(true))
		got := mustValidate(t, serialize(t, doc), testConfig(t))
		if !got.ResponseSigned || !got.AssertionSigned {
			t.Fatal("signature flags")
		}
	})
	t.Run("default c14n 1.1 refused", func(t *testing.T) {
		doc, _, a := (&resp{}).build()
		goxmldsigSign(t, a, newCtx(false))
		got, err := ValidateXML(context.Background(), serialize(t, doc), testConfig(t))
		expectCode(t, got, err, CodeInvalidSignature)
	})
	t.Run("SignEnveloped places the Signature last: refused by schema order", func(t *testing.T) {
		doc, r, a := (&resp{}).build()
		det, err := detach(a)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := newCtx(true).SignEnveloped(det)
		if err != nil {
			t.Fatal(err)
		}
		r.InsertChildAt(a.Index(), signed)
		r.RemoveChild(a)
		got, err := ValidateXML(context.Background(), serialize(t, doc), testConfig(t))
		expectCode(t, got, err, CodeInvalidResponse)
	})
}
